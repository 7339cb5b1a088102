// teleport/problems/booth.hpp — the Booth function (paper eq. 4), written as an expression.
#pragma once

#include "teleport/expression.hpp"

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

}  // namespace teleport::problems
