// A program outside the teleport tree that uses the installed library (tests/consumer/check.py
// builds it against the source tree as a Meson subproject and against an installed prefix through
// pkg-config). L(x, y) = (x - y²)² + (y - 1)² = ‖φ(x, y)‖² with φ(x, y) = (x - y², y - 1), so
// SO(2) acting on φ(w) keeps L; GD with teleports must end lower than GD without, on equal steps.
#if !defined(HAVE_CBLAS)
#error "teleport's compile flags (-DHAVE_CBLAS=1 -fno-math-errno) did not reach this program"
#endif
#include <array>
#include <iostream>

#include "teleport/teleport.hpp"
#include "teleport/train/optimizers.hpp"

int main() {
    using namespace teleport::expr;
    using namespace teleport::expr::literals;
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;
    const auto loss = teleport::make_function<2>(pow<2>(x - pow<2>(y)) + pow<2>(y - 1_c));
    const auto phi = teleport::groups::make_map<2>(x - pow<2>(y), y - 1_c);
    const auto phi_inverse = teleport::groups::make_map<2>(x + pow<2>(y + 1_c), y + 1_c);
    const auto action = teleport::groups::make_coordinate_action<teleport::groups::so<2>>(phi, phi_inverse);

    const teleport::gd gd{1e-3};
    const teleport::teleport_settings settings;
    std::array<double, 2> plain{-2.0, -1.0};
    std::array<double, 2> teleported = plain;
    const auto a = teleport::optimize_with_teleport(gd, loss, action, plain, 300, teleport::teleport_schedule::never(),
                                                    settings, 1);
    const auto b = teleport::optimize_with_teleport(gd, loss, action, teleported, 300,
                                                    teleport::teleport_schedule::every(50, 0), settings, 1);
    std::cout << "GD:            final loss " << a.steps.back().loss << "\n"
              << "GD + teleport: final loss " << b.steps.back().loss << " (" << b.teleports.size() << " teleports)\n";
    return b.steps.back().loss < a.steps.back().loss ? 0 : 1;
}
