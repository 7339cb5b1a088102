// teleport/groups/lie_algebra.hpp — Lie algebras as typed generator sets, and their exponential maps.
//
//   so<N>       skew-symmetric generators E_ij − E_ji (i < j), N(N−1)/2 of them: SO(N), O(N) near I
//   gl<N>       all E_ij, N² of them: GL(N) near I
//   scaling<N>  E_ii, N of them: the positive diagonal subgroup of GL(N)
// (groups/generators.hpp declares an algebra from any list of generator matrices, and products.)
// The dimension and the generators are compile-time constants; an element θ of the algebra is the
// matrix X = Σ θ_k T_k, and a group element is reached by one of the maps
//   exact        e^X (closed form for so(2) and scaling, scaling-and-squaring otherwise), inverse e^{−X}
//   cayley       (I − X/2)⁻¹(I + X/2) — orthogonal for skew X, so it stays in SO(N); inverse solved
//   first_order  the paper's I + X with "inverse" I − X, exact only to first order: an explicit
//                option, so that the loss drift it causes can be measured.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "teleport/groups/small_matrix.hpp"

namespace teleport::groups {

enum class exp_map { exact, cayley, first_order };

inline const char* to_string(exp_map m) {
    switch (m) {
        case exp_map::exact: return "exact";
        case exp_map::cayley: return "cayley";
        case exp_map::first_order: return "first-order";
    }
    return "?";
}

/// so(N): skew-symmetric matrices.
template <std::size_t N>
struct so {
    static_assert(N >= 2, "so(N) needs N >= 2");
    static constexpr std::size_t n = N;
    static constexpr std::size_t dimension = N * (N - 1) / 2;
    static constexpr bool skew_symmetric = true;
    static constexpr bool diagonal = false;
    static constexpr bool abelian = N == 2;
    static std::string name() { return "so(" + std::to_string(N) + ")"; }
    static constexpr small_matrix<N> generator(std::size_t k) {
        small_matrix<N> t;
        std::size_t m = 0;
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = i + 1; j < N; ++j, ++m)
                if (m == k) {
                    t(i, j) = -1.0;  // so<2>'s generator is J = [[0, −1], [1, 0]]
                    t(j, i) = 1.0;
                }
        return t;
    }
};

/// gl(N): all matrices.
template <std::size_t N>
struct gl {
    static constexpr std::size_t n = N;
    static constexpr std::size_t dimension = N * N;
    static constexpr bool skew_symmetric = false;
    static constexpr bool diagonal = N == 1;
    static constexpr bool abelian = N == 1;
    static std::string name() { return "gl(" + std::to_string(N) + ")"; }
    static constexpr small_matrix<N> generator(std::size_t k) {
        small_matrix<N> t;
        t.a[k] = 1.0;
        return t;
    }
};

/// The diagonal matrices: the algebra of positive diagonal scalings.
template <std::size_t N>
struct scaling {
    static constexpr std::size_t n = N;
    static constexpr std::size_t dimension = N;
    static constexpr bool skew_symmetric = false;
    static constexpr bool diagonal = true;
    static constexpr bool abelian = true;
    static std::string name() { return "diag(" + std::to_string(N) + ")"; }
    static constexpr small_matrix<N> generator(std::size_t k) {
        small_matrix<N> t;
        t(k, k) = 1.0;
        return t;
    }
};

template <class A>
concept lie_algebra = requires(std::size_t k) {
    { A::n } -> std::convertible_to<std::size_t>;
    { A::dimension } -> std::convertible_to<std::size_t>;
    { A::generator(k) };
};

template <class A>
using coordinates = std::array<double, A::dimension>;

/// Structure an algebra may declare (false when it does not): the exponential map and its
/// derivative use it for their closed forms.
///   skew_symmetric  every generator is skew: the group is compact (rotations)
///   diagonal        every generator is diagonal: e^X is the exponential of the diagonal
///   abelian         the generators commute: d e^X/dθ_k = T_k e^X
template <class A>
inline constexpr bool skew_symmetric_algebra = [] {
    if constexpr (requires { A::skew_symmetric; }) return bool(A::skew_symmetric);
    else return false;
}();
template <class A>
inline constexpr bool diagonal_algebra = [] {
    if constexpr (requires { A::diagonal; }) return bool(A::diagonal);
    else return false;
}();
template <class A>
inline constexpr bool abelian_algebra = [] {
    if constexpr (requires { A::abelian; }) return bool(A::abelian);
    else return false;
}();

/// X = Σ θ_k T_k.
template <lie_algebra A>
small_matrix<A::n> algebra_element(std::span<const double, A::dimension> theta) {
    small_matrix<A::n> x;
    for (std::size_t k = 0; k < A::dimension; ++k) x = x + theta[k] * A::generator(k);
    return x;
}

/// [X, Y] = XY − YX.
template <std::size_t N>
small_matrix<N> bracket(const small_matrix<N>& x, const small_matrix<N>& y) {
    return x * y - y * x;
}

/// A group element with its inverse, both computed by the chosen map.
template <std::size_t N>
struct group_element {
    small_matrix<N> g;
    small_matrix<N> inverse;
};

/// The group element reached from θ by the chosen map.
template <lie_algebra A>
group_element<A::n> exponential(std::span<const double, A::dimension> theta, exp_map map = exp_map::exact) {
    constexpr std::size_t n = A::n;
    for (double t : theta)
        if (!std::isfinite(t)) throw std::domain_error("the group coordinates θ are not finite");
    const small_matrix<n> x = algebra_element<A>(theta);
    const small_matrix<n> id = small_matrix<n>::identity();
    switch (map) {
        case exp_map::first_order:
            return {id + x, id - x};
        case exp_map::cayley: {
            const small_matrix<n> p = id - 0.5 * x;
            const small_matrix<n> q = id + 0.5 * x;
            return {inverse(p) * q, inverse(q) * p};
        }
        case exp_map::exact:
            break;
    }
    if constexpr (requires { A::exponential(theta, map); }) {
        return A::exponential(theta, map);  // the algebra's own closed form (products: block by block)
    } else if constexpr (n == 2 && A::dimension == 1 && skew_symmetric_algebra<A>) {
        // T = c·J with J = [[0, −1], [1, 0]]: e^{θT} is the rotation by cθ
        const double angle = A::generator(0)(1, 0) * theta[0];
        const double c = std::cos(angle);
        const double s = std::sin(angle);
        small_matrix<2> r;
        r(0, 0) = c;
        r(0, 1) = -s;
        r(1, 0) = s;
        r(1, 1) = c;
        return {r, r.transpose()};  // rotation by θ; its inverse is exactly its transpose
    } else if constexpr (diagonal_algebra<A>) {
        small_matrix<n> d;
        small_matrix<n> di;
        for (std::size_t i = 0; i < n; ++i) {
            d(i, i) = std::exp(x(i, i));
            di(i, i) = std::exp(-x(i, i));
        }
        return {d, di};
    } else {
        return {expm(x), expm(-1.0 * x)};
    }
}

/// ∂g/∂θ_k for an algebra without its own derivative.
template <lie_algebra A>
small_matrix<A::n> exponential_derivative_of_element(std::span<const double, A::dimension> theta, std::size_t k,
                                                     const group_element<A::n>& at, exp_map map) {
    constexpr std::size_t n = A::n;
    const small_matrix<n> t = A::generator(k);
    switch (map) {
        case exp_map::first_order:
            return t;
        case exp_map::cayley: {
            // g = P⁻¹Q with P = I − X/2, Q = I + X/2: dg = P⁻¹ (T/2) (g + I)
            const small_matrix<n> id = small_matrix<n>::identity();
            const small_matrix<n> p = id - 0.5 * algebra_element<A>(theta);
            return inverse(p) * (0.5 * t) * (at.g + id);
        }
        case exp_map::exact:
            break;
    }
    if constexpr (abelian_algebra<A>) {
        return t * at.g;  // X and T commute here: d e^{X}/dθ_k = T_k e^{X}
    } else {
        return expm_directional(algebra_element<A>(theta), t);
    }
}

/// ∂g/∂θ_k at θ for the chosen map.
template <lie_algebra A>
small_matrix<A::n> exponential_derivative(std::span<const double, A::dimension> theta, std::size_t k,
                                          const group_element<A::n>& at, exp_map map = exp_map::exact) {
    if constexpr (requires { A::exponential_derivative(theta, k, at, map); }) {
        return A::exponential_derivative(theta, k, at, map);
    } else {
        return exponential_derivative_of_element<A>(theta, k, at, map);
    }
}

}  // namespace teleport::groups
