// teleport/tensor/activation.hpp — element-wise activations with two derivatives and, where they
// exist, inverses.
//
// An activation is a stateless type with
//   value(x), derivative(x), second_derivative(x)   σ, σ′, σ″
//   name()
//   invertible                  σ is a bijection of ℝ; then inverse(y) = σ⁻¹(y)
//   positively_homogeneous      σ(c x) = c σ(x) for c > 0 (the per-neuron rescaling symmetry)
// The paper's eq. 8 action needs σ⁻¹; an action built with a non-invertible activation stops the
// build (see groups/teleport/groups/layer_action.hpp). tanh and the sigmoid are not onto ℝ, so the
// paper (§4.2) extends them to bijections σ_N(x) = σ(x) + e^{x−N} − e^{−x−N} (the paper prints the
// last exponent as −x+N, which would not vanish at x = 0; the odd form keeps σ_N close to σ for
// |x| ≪ N). Their inverse has no closed form and is computed by safeguarded Newton iteration.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>

namespace teleport::tensor {

struct identity_activation {
    static constexpr bool invertible = true;
    static constexpr bool positively_homogeneous = true;
    static std::string name() { return "identity"; }
    template <class T> static T value(T x) { return x; }
    template <class T> static T derivative(T) { return T(1); }
    template <class T> static T second_derivative(T) { return T(0); }
    template <class T> static T inverse(T y) { return y; }
};

/// LeakyReLU with slope α = Num/Den on the negative side (the paper uses 0.1); its inverse is
/// LeakyReLU with slope 1/α.
template <std::intmax_t Num = 1, std::intmax_t Den = 10>
struct leaky_relu {
    static_assert(Num > 0 && Den > 0, "LeakyReLU needs a positive slope to be invertible");
    static constexpr double alpha = double(Num) / double(Den);
    static constexpr bool invertible = true;
    static constexpr bool positively_homogeneous = true;
    static std::string name() { return "leaky_relu(" + std::to_string(alpha).substr(0, 6) + ")"; }
    template <class T> static T value(T x) { return x > T(0) ? x : T(alpha) * x; }
    template <class T> static T derivative(T x) { return x > T(0) ? T(1) : T(alpha); }
    template <class T> static T second_derivative(T) { return T(0); }
    template <class T> static T inverse(T y) { return y > T(0) ? y : y / T(alpha); }
};

/// ReLU: positively homogeneous but not invertible (so only the rescaling action applies).
struct relu {
    static constexpr bool invertible = false;
    static constexpr bool positively_homogeneous = true;
    static std::string name() { return "relu"; }
    template <class T> static T value(T x) { return x > T(0) ? x : T(0); }
    template <class T> static T derivative(T x) { return x > T(0) ? T(1) : T(0); }
    template <class T> static T second_derivative(T) { return T(0); }
};

/// Plain tanh: not onto ℝ, so no σ⁻¹ on all of ℝ.
struct tanh_activation {
    static constexpr bool invertible = false;
    static constexpr bool positively_homogeneous = false;
    static std::string name() { return "tanh"; }
    template <class T> static T value(T x) { return std::tanh(x); }
    template <class T> static T derivative(T x) {
        const T t = std::tanh(x);
        return T(1) - t * t;
    }
    template <class T> static T second_derivative(T x) {
        const T t = std::tanh(x);
        return T(-2) * t * (T(1) - t * t);
    }
};

namespace detail {
/// Solves f(x) = y for a strictly increasing f that is onto ℝ, by Newton steps kept inside a
/// bracket that bisection shrinks when a step would leave it.
template <class T, class F, class DF>
T monotone_inverse(T y, F f, DF df) {
    if (!std::isfinite(y)) return y;
    T lo = -1, hi = 1;
    while (f(lo) > y) lo *= 2;
    while (f(hi) < y) hi *= 2;
    T x = (lo + hi) / 2;
    for (int k = 0; k < 200; ++k) {
        const T fx = f(x) - y;
        if (fx == T(0)) break;
        if (fx > 0) hi = x; else lo = x;
        const T step = fx / df(x);
        T next = x - step;
        if (!(next > lo && next < hi)) next = (lo + hi) / 2;
        if (std::abs(next - x) <= std::numeric_limits<T>::epsilon() * std::max(T(1), std::abs(x))) {
            x = next;
            break;
        }
        x = next;
    }
    return x;
}
}  // namespace detail

/// The paper's bijective extension of tanh: tanh(x) + e^{x−N} − e^{−x−N} = tanh(x) + 2e^{−N} sinh(x).
template <int N = 10>
struct bijective_tanh {
    static constexpr bool invertible = true;
    static constexpr bool positively_homogeneous = false;
    static std::string name() { return "bijective_tanh(N=" + std::to_string(N) + ")"; }
    template <class T> static T value(T x) { return std::tanh(x) + T(2) * std::exp(T(-N)) * std::sinh(x); }
    template <class T> static T derivative(T x) {
        const T t = std::tanh(x);
        return T(1) - t * t + T(2) * std::exp(T(-N)) * std::cosh(x);
    }
    template <class T> static T second_derivative(T x) {
        const T t = std::tanh(x);
        return T(-2) * t * (T(1) - t * t) + T(2) * std::exp(T(-N)) * std::sinh(x);
    }
    template <class T> static T inverse(T y) {
        return detail::monotone_inverse<T>(y, [](T x) { return value(x); }, [](T x) { return derivative(x); });
    }
};

/// The same extension of the logistic sigmoid: s(x) + e^{x−N} − e^{−x−N}.
template <int N = 10>
struct bijective_sigmoid {
    static constexpr bool invertible = true;
    static constexpr bool positively_homogeneous = false;
    static std::string name() { return "bijective_sigmoid(N=" + std::to_string(N) + ")"; }
    template <class T> static T logistic(T x) { return T(1) / (T(1) + std::exp(-x)); }
    template <class T> static T value(T x) { return logistic(x) + T(2) * std::exp(T(-N)) * std::sinh(x); }
    template <class T> static T derivative(T x) {
        const T s = logistic(x);
        return s * (T(1) - s) + T(2) * std::exp(T(-N)) * std::cosh(x);
    }
    template <class T> static T second_derivative(T x) {
        const T s = logistic(x);
        return s * (T(1) - s) * (T(1) - T(2) * s) + T(2) * std::exp(T(-N)) * std::sinh(x);
    }
    template <class T> static T inverse(T y) {
        return detail::monotone_inverse<T>(y, [](T x) { return value(x); }, [](T x) { return derivative(x); });
    }
};

template <class A>
concept activation = requires(double x) {
    { A::value(x) } -> std::same_as<double>;
    { A::derivative(x) } -> std::same_as<double>;
    { A::second_derivative(x) } -> std::same_as<double>;
    { A::invertible } -> std::convertible_to<bool>;
    { A::positively_homogeneous } -> std::convertible_to<bool>;
};

}  // namespace teleport::tensor
