// What an optimizer needs from a loss: its value and its gradient.
//
// In the style of ensmallen, a differentiable function is any type with
//
//     f.evaluate(x)        -> a floating value, L(x)
//     f.gradient(x, g)     -> writes ∇L(x) into g (same type as x, already sized)
//
// and, optionally, a fused
//
//     f.evaluate_with_gradient(x, g) -> L(x), and writes ∇L(x) into g
//
// which is used whenever present because value and gradient usually share
// most of their work (ensmallen measures about 1.5x from fusing).
//
// Example:
//
//     struct sphere {
//         double evaluate(const std::vector<double>& x) const { return teleport::squared_norm(x); }
//         void gradient(const std::vector<double>& x, std::vector<double>& g) const {
//             for (std::size_t i = 0; i < x.size(); ++i) g[i] = 2 * x[i];
//         }
//     };
#pragma once

#include <concepts>
#include <type_traits>

#include "teleport/core/vector_ops.hpp"

namespace teleport {

namespace detail {
template <class T>
concept floating_value = std::floating_point<std::remove_cvref_t<T>>;
} // namespace detail

/// differentiable_function<F, Vec>: a const F evaluates L(x) for x of type Vec
/// and writes ∇L(x) into a Vec of the same size.
template <class F, class Vec>
concept differentiable_function =
    vector_like<Vec> && requires(const F& f, const Vec& x, Vec& g) {
        { f.evaluate(x) } -> detail::floating_value;
        f.gradient(x, g);
    };

/// has_fused_evaluate_with_gradient<F, Vec>: F also provides the fused
/// f.evaluate_with_gradient(x, g) returning L(x).
template <class F, class Vec>
concept has_fused_evaluate_with_gradient =
    vector_like<Vec> && requires(const F& f, const Vec& x, Vec& g) {
        { f.evaluate_with_gradient(x, g) } -> detail::floating_value;
    };

/// evaluable_with_gradient<F, Vec>: F has evaluate and gradient, or the fused
/// member, or both; this is all that optimize() needs.
template <class F, class Vec>
concept evaluable_with_gradient =
    differentiable_function<F, Vec> || has_fused_evaluate_with_gradient<F, Vec>;

/// evaluate_with_gradient(f, x, g): returns L(x) and writes ∇L(x) into g,
/// through f's fused member when it has one, otherwise evaluate then gradient.
template <class F, class Vec>
    requires evaluable_with_gradient<F, Vec>
auto evaluate_with_gradient(const F& f, const Vec& x, Vec& g)
{
    if constexpr (has_fused_evaluate_with_gradient<F, Vec>) {
        return f.evaluate_with_gradient(x, g);
    } else {
        auto value = f.evaluate(x);
        f.gradient(x, g);
        return value;
    }
}

} // namespace teleport
