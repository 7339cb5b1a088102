// Element-wise helpers over the flat parameter vectors that optimizers update.
//
// A parameter vector is any copyable 1-D container with size() and operator[]
// whose elements are float or double: std::array<T, N>, std::vector<T> and
// xt::xtensor<T, 1> all qualify. The helpers are plain index loops so that no
// container library is required and fixed-size arrays stay fixed-size.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace teleport {

/// vector_like<V>: V is a copyable 1-D container of float or double with
/// v.size() and an assignable v[i].
template <class V>
concept vector_like =
    std::copyable<V> && requires(V& v, const V& cv, std::size_t i) {
        { cv.size() } -> std::convertible_to<std::size_t>;
        requires std::floating_point<std::remove_cvref_t<decltype(cv[i])>>;
        v[i] = cv[i];
    };

/// The element type of a vector_like container (float or double).
template <class V>
using value_type_t = std::remove_cvref_t<decltype(std::declval<const V&>()[std::size_t{}])>;

/// zeros_like(x): a copy of x with every element set to zero, so it has x's
/// size (and, for fixed-size containers, its type).
template <vector_like V>
[[nodiscard]] V zeros_like(const V& x)
{
    V z = x;
    const std::size_t n = z.size();
    for (std::size_t i = 0; i < n; ++i)
        z[i] = value_type_t<V>{0};
    return z;
}

/// set_zero(v): v_i = 0 for all i.
template <vector_like V>
void set_zero(V& v)
{
    const std::size_t n = v.size();
    for (std::size_t i = 0; i < n; ++i)
        v[i] = value_type_t<V>{0};
}

/// squared_norm(x) = sum_i x_i^2. Overflow gives +inf and any NaN element gives
/// NaN, so a finite result also certifies that every element is finite.
template <vector_like V>
[[nodiscard]] value_type_t<V> squared_norm(const V& x)
{
    value_type_t<V> s{0};
    const std::size_t n = x.size();
    for (std::size_t i = 0; i < n; ++i)
        s += x[i] * x[i];
    return s;
}

/// dot(x, y) = sum_i x_i y_i; x and y must have the same size.
template <vector_like V>
[[nodiscard]] value_type_t<V> dot(const V& x, const V& y)
{
    value_type_t<V> s{0};
    const std::size_t n = x.size();
    for (std::size_t i = 0; i < n; ++i)
        s += x[i] * y[i];
    return s;
}

/// axpy(a, x, y): y <- a x + y; x and y must have the same size.
template <vector_like V>
void axpy(value_type_t<V> a, const V& x, V& y)
{
    const std::size_t n = y.size();
    for (std::size_t i = 0; i < n; ++i)
        y[i] += a * x[i];
}

/// all_finite(x): no element is NaN or infinite.
template <vector_like V>
[[nodiscard]] bool all_finite(const V& x)
{
    const std::size_t n = x.size();
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i]))
            return false;
    return true;
}

} // namespace teleport
