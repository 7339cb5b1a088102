// docs/teleportation.md's example: a loss that is not in the paper, its SO(2) symmetry declared in
// a few lines, and gradient descent with and without teleportation. Built and run as a test.
//
// L(x, y) = (x + y³ − 2)² + (y − 1)² = ‖φ(x, y)‖² with φ(x, y) = (x + y³ − 2, y − 1), which is
// invertible: φ⁻¹(u, v) = (u + 2 − (v + 1)³, v + 1). So g·w = φ⁻¹(g φ(w)) for g ∈ SO(2) keeps L.
#include <array>
#include <cmath>
#include <iostream>

#include "teleport/train/optimizers.hpp"
#include "teleport/teleport.hpp"

int main() {
    using namespace teleport::expr;
    using namespace teleport::expr::literals;
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;

    // the loss and its symmetry: φ and φ⁻¹ as expressions (φ⁻¹ in the variables (u, v) = (x, y))
    const auto loss = teleport::make_function<2>(pow<2>(x + pow<3>(y) - 2_c) + pow<2>(y - 1_c));
    const auto phi = teleport::groups::make_map<2>(x + pow<3>(y) - 2_c, y - 1_c);
    const auto phi_inverse = teleport::groups::make_map<2>(x + 2_c - pow<3>(y + 1_c), y + 1_c);
    const auto action = teleport::groups::make_coordinate_action<teleport::groups::so<2>>(phi, phi_inverse);

    // Algorithm 1: GD with a teleport before steps 9, 59, 109, … (three steps of the safeguarded
    // search, normalized ascent from the identity: no teleport learning rate to tune, and only steps
    // that raise ‖∇L‖²), against plain GD through the same loop. With this small learning rate GD is
    // slow and the steeper points help; with a large one (2e-3 here) the steeper, more curved points
    // make GD unstable — ‖∇L‖² does not see the step GD can take (teleport::lookahead_symmetry does).
    teleport::teleport_settings settings;
    settings.strategy = teleport::normalized_ascent{3, 0.05};
    settings.payoff = {10, false};  // measure each teleport against 10 GD steps without it (not required)
    const teleport::gd gd{3e-4};
    std::array<double, 2> plain{-1.0, -1.5};
    std::array<double, 2> teleported = plain;
    const auto a = teleport::optimize_with_teleport(gd, loss, action, plain, 400, teleport::teleport_schedule::never(),
                                                    settings, 1);
    const auto b = teleport::optimize_with_teleport(gd, loss, action, teleported, 400,
                                                    teleport::teleport_schedule::every(50, 9), settings, 1);
    std::cout << "L = " << loss.to_string() << "\n";
    std::cout << "GD:            final loss " << a.steps.back().loss << "\n";
    std::cout << "GD + teleport: final loss " << b.steps.back().loss << " (" << b.teleports.size() << " teleports)\n";
    // per teleport: the gain in ‖∇L‖², the loss change (invariance), and whether it paid off — the
    // loss after the next 10 GD steps with the teleport against without it (settings.payoff)
    bool invariant = true;
    std::size_t paid = 0;
    for (const auto& t : b.teleports) {
        std::cout << "  before step " << t.step << ": |grad L|^2 " << t.grad_norm_sq_before << " -> "
                  << t.grad_norm_sq_after << ", relative loss change " << t.relative_loss_change;
        if (!t.accepted) std::cout << " (rejected: " << t.rejection << ")";
        else if (t.payoff_measured())
            std::cout << ", loss after " << t.payoff_steps << " steps " << t.loss_with << " with, " << t.loss_without
                      << " without" << (t.paid_off() ? " (paid off)" : " (did not pay off)");
        std::cout << "\n";
        invariant = invariant && t.relative_loss_change <= settings.tolerance;
        paid += t.paid_off() ? 1 : 0;
    }
    std::cout << paid << " of " << b.teleports.size() << " teleports paid off\n";
    // the example fails if a teleport left the level set, did not pay off, or teleporting did not help
    return invariant && paid == b.teleports.size() && b.steps.back().loss < a.steps.back().loss ? 0 : 1;
}
