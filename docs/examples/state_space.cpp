// docs/guide.md's embedding example: fit a linear state-space model (K = 200 samples) with and
// without teleports along its symmetry. The loss is a recurrence of the symbolic engine
// (problems/teleport/problems/state_space.hpp: one time step written as expressions; the adjoint
// gradient and the forward-over-reverse Hessian-vector product are generated from it); the data come
// from the user's simulation in state_space_fit.hpp, whose hand-written loss object is the
// benchmark's baseline. Built and run as a test.
//
// (A, B, C) ↦ (T A T⁻¹, T B, C T⁻¹), T ∈ GL(3), maps x_k to T x_k and leaves every C x_k, hence L.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "state_space_fit.hpp"
#include "teleport/problems/state_space.hpp"
#include "teleport/teleport.hpp"

namespace tg = teleport::groups;

// What a simulation keeps as members: the loss and the symmetry under names a class can spell.
struct identification {
    teleport::any_loss<15> loss;
    tg::any_action<tg::gl<3>, 15> symmetry;
};

// The template's own tests, at a random point near `p` (far from a stable A the derivatives, and
// the differences' error, are huge): gradient and Hessian-vector product against central
// differences, and the declared symmetry against the loss, L(T·θ) = L(θ) for a random T = e^X.
bool template_checks(const identification& m, std::array<double, 15> p, std::mt19937_64& rng) {
    std::normal_distribution<double> normal(0.0, 0.1);
    std::array<double, 15> v{}, g{}, h{}, fd_g{}, fd_h{}, plus{}, minus{};
    std::array<double, 9> x{};
    for (std::size_t i = 0; i < 15; ++i) p[i] += normal(rng), v[i] = normal(rng);
    for (double& e : x) e = normal(rng);
    const double d = 1e-6;
    for (std::size_t i = 0; i < 15; ++i) {
        plus = minus = p;
        plus[i] += d, minus[i] -= d;
        fd_g[i] = (m.loss.evaluate(plus) - m.loss.evaluate(minus)) / (2 * d);
    }
    for (std::size_t i = 0; i < 15; ++i) plus[i] = p[i] + d * v[i], minus[i] = p[i] - d * v[i];
    m.loss.gradient(plus, g);
    m.loss.gradient(minus, h);
    for (std::size_t i = 0; i < 15; ++i) fd_h[i] = (g[i] - h[i]) / (2 * d);
    m.loss.gradient(p, g);
    m.loss.hessian_vector_product(p, v, h);
    auto error = [](const auto& approximate, const auto& exact) {
        double e = 0, scale = 0;
        for (std::size_t i = 0; i < exact.size(); ++i)
            e = std::max(e, std::abs(approximate[i] - exact[i])), scale = std::max(scale, std::abs(exact[i]));
        return e / scale;
    };
    const double loss = m.loss.evaluate(p), moved = m.loss.evaluate(m.symmetry.apply(tg::exponential<tg::gl<3>>(x).g, p));
    const double eg = error(fd_g, g), eh = error(fd_h, h), el = std::abs(moved - loss) / loss;
    const bool ok = eg <= 1e-6 && eh <= 1e-6 && el <= 1e-10;
    std::printf("checks: gradient %.1e and Hessian-vector product %.1e against central differences, L(T.theta) %.1e "
                "against L(theta) (relative): %s\n", eg, eh, el, ok ? "ok" : "FAILED (fix the loss or the symmetry first)");
    return ok;
}

int main(int argc, char** argv) {
    const std::uint64_t seed = argc > 1 ? std::stoull(argv[1]) : 1;
    std::mt19937_64 rng(seed);
    // the "true" system (A's eigenvalues 0.76 ± 0.19i and 0.47), driven by a random ±1 input
    const std::array<double, 15> truth{0.8, 0.2, 0.0, -0.2, 0.7, 0.1, 0.0, 0.1, 0.5, 1.0, 0.5, -0.3, 1.0, 0.0, 0.5};
    const simulation::state_space_fit record = simulation::measure(truth, 200, rng);
    // the loss (1/K) Σ_k (C x_k − y_k)² through x_{k+1} = A x_k + B u_k, generated from one step
    const auto fit = teleport::problems::state_space_fit(record.u, record.y);

    // the start: every parameter of the truth perturbed, in the user's own container
    std::normal_distribution<double> perturbation(0.0, 0.1);
    std::vector<double> start(truth.begin(), truth.end());
    for (double& t : start) t += perturbation(rng);

    // the similarity transform, declared block by block on θ = (A, B, C)
    const identification model{fit, tg::make_representation<tg::gl<3>>(tg::conjugation<3>{}, tg::left<3, 1>{},
                                                                       tg::right_inverse<1, 3>{})};
    // the generated loss is the hand-written one, to rounding
    const double generated = fit.evaluate(start), by_hand = record.evaluate(simulation::params(start.data(), 15));
    if (!(std::abs(generated - by_hand) <= 1e-12 * by_hand)) {
        std::printf("FAILED: the generated loss %.17g differs from the hand-written %.17g\n", generated, by_hand);
        return 1;
    }
    if (!template_checks(model, truth, rng)) return 1;

    // AdaGrad at the learning rate that is best without teleports. One teleport, when the fast
    // first phase is over, maximizing the loss's decrease over AdaGrad's next 10 steps (not ‖∇L‖²:
    // on GL(3) that grows without bound and the run diverges), kept only if the loss 10 steps later
    // is lower than without it. Later teleports gain little and cost more than they save (guide.md).
    const teleport::adagrad optimizer{0.05};
    const std::size_t steps = 3000;
    teleport::teleport_settings settings;  // safeguarded search: normalized ascent from the identity
    settings.payoff = {10, true};
    const auto symmetry = teleport::lookahead_symmetry(model.loss, model.symmetry, 10);
    std::vector<double> plain = start, teleported = start;
    const auto a = teleport::optimize_with_teleport(optimizer, model.loss, symmetry, plain, steps,
                                                    teleport::teleport_schedule::never(), settings, seed);
    const auto b = teleport::optimize_with_teleport(optimizer, model.loss, symmetry, teleported, steps,
                                                    teleport::teleport_schedule::once(500), settings, seed);

    std::printf("%-6s %-12s %s\n", "step", "AdaGrad", "AdaGrad + teleports");
    for (std::size_t k = 0; k <= steps; k += 500) std::printf("%-6zu %-12.3e %.3e\n", k, a.steps[k].loss, b.steps[k].loss);
    bool invariant = true;  // every kept teleport left L unchanged to 1e-10 (relative)
    double look_ahead = 0;
    for (const auto& t : b.teleports) {
        std::printf("teleport before step %zu: objective %.3e -> %.3e, loss %zu steps later %.3e with, %.3e without: %s\n",
                    t.step, t.objective_before, t.objective_after, t.payoff_steps, t.loss_with, t.loss_without,
                    t.accepted ? "kept" : t.rejection.c_str());
        invariant = invariant && !(t.accepted && t.relative_loss_change > 1e-10);
        look_ahead += t.payoff_seconds;
    }
    std::printf("final loss: %.3e without teleports (%.1f ms), %.3e with (%.1f ms, of which the teleport %.1f ms "
                "and its pay-off check %.2f ms)\n", a.steps.back().loss, 1e3 * a.total_seconds, b.steps.back().loss,
                1e3 * b.total_seconds, 1e3 * (b.teleport_seconds - look_ahead), 1e3 * look_ahead);
    if (!invariant) std::printf("FAILED: a kept teleport changed the loss by more than 1e-10 (relative)\n");
    if (b.steps.back().loss > a.steps.back().loss) std::printf("FAILED: the run with teleports ended worse\n");
    return invariant && b.steps.back().loss <= a.steps.back().loss ? 0 : 1;
}
