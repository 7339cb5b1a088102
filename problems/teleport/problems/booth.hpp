// teleport/problems/booth.hpp — the Booth function (paper eq. 4), written as an expression.
#pragma once

#include "teleport/expression.hpp"
#include "teleport/groups/action.hpp"

namespace teleport::problems {

namespace booth_vars {
inline constexpr expr::variable<0, "x_1"> x1{};
inline constexpr expr::variable<1, "x_2"> x2{};
}  // namespace booth_vars

/// L(x₁, x₂) = (x₁ + 2x₂ − 7)² + (2x₁ + x₂ − 5)², minimum 0 at (1, 3) (paper eq. 4).
inline constexpr auto booth_expression() {
    using namespace expr::literals;
    using booth_vars::x1;
    using booth_vars::x2;
    return expr::pow<2>(x1 + 2_c * x2 - 7_c) + expr::pow<2>(2_c * x1 + x2 - 5_c);
}

/// The Booth loss as a differentiable function of two variables.
inline auto booth() { return make_function<2>(booth_expression()); }

/// The SO(2) symmetry of Booth: L = ‖φ(x)‖² with φ(x) = (x₁ + 2x₂ − 7, 2x₁ + x₂ − 5),
/// φ⁻¹(u, v) = (−u/3 + 2v/3 + 1, 2u/3 − v/3 + 3), and g·x = φ⁻¹(g φ(x)).
inline auto booth_action() {
    using namespace expr::literals;
    using booth_vars::x1;
    using booth_vars::x2;
    const auto phi = groups::make_map<2>(x1 + 2_c * x2 - 7_c, 2_c * x1 + x2 - 5_c);
    const auto phi_inverse = groups::make_map<2>(expr::c<-1, 3> * x1 + expr::c<2, 3> * x2 + 1_c, expr::c<2, 3> * x1 - expr::c<1, 3> * x2 + 3_c);
    return groups::make_coordinate_action<groups::so<2>>(phi, phi_inverse);
}

}  // namespace teleport::problems
