// teleport/problems/rosenbrock.hpp — the Rosenbrock function (paper eq. 3) and its n-dimensional
// extension, written as expressions: every derivative is generated, none is hand-coded.
#pragma once

#include <cstddef>
#include <stdexcept>

#include "teleport/expression.hpp"
#include "teleport/expr/indexed_sum.hpp"
#include "teleport/groups/action.hpp"

namespace teleport::problems {

namespace rosenbrock_vars {
inline constexpr expr::variable<0, "x_1"> x1{};
inline constexpr expr::variable<1, "x_2"> x2{};
}  // namespace rosenbrock_vars

/// L(x₁, x₂) = 100 (x₁² − x₂)² + (x₁ − 1)², minimum 0 at (1, 1) (paper eq. 3).
inline constexpr auto rosenbrock_expression() {
    using namespace expr::literals;
    using rosenbrock_vars::x1;
    using rosenbrock_vars::x2;
    return 100_c * expr::pow<2>(x1 * x1 - x2) + expr::pow<2>(x1 - 1_c);
}

/// The Rosenbrock loss as a differentiable function of two variables.
inline auto rosenbrock() { return make_function<2>(rosenbrock_expression()); }

/// The SO(2) symmetry of Rosenbrock (paper §4.1): L = ‖φ(x)‖² with φ(x) = (10(x₁² − x₂), x₁ − 1),
/// φ⁻¹(u, v) = (v + 1, (v + 1)² − u/10), and g·x = φ⁻¹(g φ(x)).
inline auto rosenbrock_action() {
    using namespace expr::literals;
    using rosenbrock_vars::x1;
    using rosenbrock_vars::x2;
    const auto phi = groups::make_map<2>(10_c * (x1 * x1 - x2), x1 - 1_c);
    // φ⁻¹ in the variables (u, v) = (x_1, x_2)
    const auto phi_inverse = groups::make_map<2>(x2 + 1_c, expr::pow<2>(x2 + 1_c) - 0.1_c * x1);
    return groups::make_coordinate_action<groups::so<2>>(phi, phi_inverse);
}

/// The summand of the extended Rosenbrock function, 100 (x_{i+1} − x_i²)² + (1 − x_i)², as the body
/// of an indexed sum: variable 0 is x_i, variable 1 is x_{i+1}.
inline constexpr auto extended_rosenbrock_term() {
    using namespace expr::literals;
    constexpr expr::variable<0, "x_i"> xi{};
    constexpr expr::variable<1, "x_{i+1}"> xnext{};
    return 100_c * expr::pow<2>(xnext - xi * xi) + expr::pow<2>(1_c - xi);
}

/// Extended Rosenbrock in n ≥ 2 dimensions:
/// L(x) = Σ_{i=0}^{n−2} 100 (x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at (1, …, 1),
/// as an indexed sum: one generated loop body, whatever n (compile time and code size do not grow
/// with n). This one has n fixed at compile time (std::array points, the fixed-size engine).
template <std::size_t N>
constexpr auto extended_rosenbrock() {
    static_assert(N >= 2, "the extended Rosenbrock function needs at least two variables");
    return expr::indexed_sum(extended_rosenbrock_term(), expr::terms<N - 1>);
}

/// The same with n given at run time (points of n entries: std::vector, std::span, xtensor).
inline auto extended_rosenbrock(std::size_t n) {
    if (n < 2) throw std::invalid_argument("the extended Rosenbrock function needs at least two variables");
    return expr::indexed_sum(extended_rosenbrock_term(), n - 1);
}

/// The extended function unrolled into one expression of N variables (N − 1 summands written out):
/// the cross-check of the indexed sum, and the form the engine compiled before it had loops. Its
/// programs grow with N (N = 128: 136 s and 2.4 GB to compile, docs/performance.md); keep N small.
template <std::size_t N>
constexpr auto extended_rosenbrock_expression() {
    static_assert(N >= 2, "the extended Rosenbrock function needs at least two variables");
    using namespace expr::literals;
    return expr::sum<N - 1>([](auto i) {
        constexpr expr::variable<i()> xi{};
        constexpr expr::variable<i() + 1> xnext{};
        return 100_c * expr::pow<2>(xnext - xi * xi) + expr::pow<2>(1_c - xi);
    });
}

template <std::size_t N>
auto extended_rosenbrock_unrolled() {
    return make_function<N>(extended_rosenbrock_expression<N>());
}

}  // namespace teleport::problems
