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
#include <iterator>
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

namespace detail {
// sum_i a_i b_i in 32 partial sums (below 32 elements, one): independent chains that the compiler
// keeps in vector registers (one running sum is a single dependency chain: 12x slower over MNIST's
// 670k float weights, 428 us against 36; 8 or 16 sums vectorize but stay latency-bound), and a
// rounding error that grows with n/32 rather than n. Over raw pointers when the storage is
// contiguous, through operator[] otherwise.
template <class A, class B>
auto blocked_dot(const A& a, const B& b, std::size_t n)
{
    using T = std::remove_cvref_t<decltype(a[0] * b[0])>;
    constexpr std::size_t lanes = 32;
    if (n < lanes) {  // Rosenbrock's and Booth's 2 coordinates: one chain, no lanes to add up
        T sum{0};
        for (std::size_t i = 0; i < n; ++i)
            sum += a[i] * b[i];
        return sum;
    }
    T s[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (std::size_t j = 0; j < lanes; ++j)
            s[j] += a[i + j] * b[i + j];
    T sum{0};
    for (; i < n; ++i)
        sum += a[i] * b[i];
    for (std::size_t j = 0; j < lanes; ++j)
        sum += s[j];
    return sum;
}

template <class V>
concept contiguous_vector = requires(const V& v) {
    { std::data(v) } -> std::same_as<const std::remove_cvref_t<decltype(v[0])>*>;
};
}  // namespace detail

/// squared_norm(x) = sum_i x_i^2. Overflow gives +inf and any NaN element gives
/// NaN, so a finite result also certifies that every element is finite.
template <vector_like V>
[[nodiscard]] value_type_t<V> squared_norm(const V& x)
{
    if constexpr (detail::contiguous_vector<V>)
        return detail::blocked_dot(std::data(x), std::data(x), x.size());
    else
        return detail::blocked_dot(x, x, x.size());
}

/// dot(x, y) = sum_i x_i y_i; x and y must have the same size.
template <vector_like V>
[[nodiscard]] value_type_t<V> dot(const V& x, const V& y)
{
    if constexpr (detail::contiguous_vector<V>)
        return detail::blocked_dot(std::data(x), std::data(y), x.size());
    else
        return detail::blocked_dot(x, y, x.size());
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
