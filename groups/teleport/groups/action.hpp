// teleport/groups/action.hpp — group actions on a problem's parameters.
//
// Every action here is a *coordinate action*: for a loss L(w) = ‖φ(w)‖² with an invertible φ, the
// orthogonal group acts by g·w = φ⁻¹(g φ(w)) and leaves L unchanged (paper §4.1). The quadratic
// action A^{−1/2} ρ(g) A^{1/2} w is the same with the linear map φ(w) = A^{1/2} w.
// An action provides, for the teleport objective and for the propositions:
//   apply(g, w)                    g·w
//   apply_derivative(g, dg, w)     d/dt (g + t·dg)·w = J_{φ⁻¹}(g φ(w)) dg φ(w)
//   jacobian(g, w)                 ∂(g·w)/∂w = J_{φ⁻¹}(g φ(w)) g J_φ(w)
// The coordinate maps are expressions (their Jacobians generated) or matrices.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include "teleport/expression.hpp"
#include "teleport/groups/lie_algebra.hpp"
#include "teleport/groups/small_matrix.hpp"

namespace teleport::groups {

namespace hana = boost::hana;

template <std::size_t N>
using vec = std::array<double, N>;

/// A map ℝᴺ → ℝᴺ given by N expressions in the variables x_0 … x_{N−1}; its Jacobian is generated.
template <std::size_t N, class... Components>
class expression_map {
    static_assert(sizeof...(Components) == N, "a coordinate map of N variables needs N component expressions");
    hana::tuple<symbolic_function<Components, N>...> parts_;

  public:
    static constexpr std::size_t size = N;
    constexpr expression_map(Components...) {}

    vec<N> operator()(const vec<N>& w) const {
        vec<N> u{};
        for_each_component([&](const auto& f, std::size_t i) { u[i] = f.evaluate(w); });
        return u;
    }
    small_matrix<N> jacobian(const vec<N>& w) const {
        small_matrix<N> j;
        for_each_component([&](const auto& f, std::size_t i) {
            vec<N> row{};
            f.gradient(w, row);
            for (std::size_t c = 0; c < N; ++c) j(i, c) = row[c];
        });
        return j;
    }

  private:
    template <class F>
    void for_each_component(F&& f) const {
        hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<N>),
                       [&](auto i) { f(hana::at(parts_, i), std::size_t(decltype(i)::value)); });
    }
};

template <std::size_t N, class... Components>
auto make_map(Components... c) {
    return expression_map<N, Components...>(c...);
}

/// The linear map w ↦ M w.
template <std::size_t N>
struct linear_map {
    static constexpr std::size_t size = N;
    small_matrix<N> m;
    vec<N> operator()(const vec<N>& w) const { return m.apply(w); }
    small_matrix<N> jacobian(const vec<N>&) const { return m; }
};

/// Throws, with one line, unless φ⁻¹(φ(w)) = w to rounding: a wrong φ⁻¹ would otherwise show only
/// as every teleport being rejected for leaving the level set.
template <class Phi, class PhiInverse, std::size_t N>
void check_inverse(const Phi& phi, const PhiInverse& phi_inverse, const vec<N>& w) {
    const vec<N> back = phi_inverse(phi(w));
    double error = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        error = std::max(error, std::abs(back[i] - w[i]));
        scale = std::max(scale, std::abs(w[i]));
    }
    if (!(error <= 1e-9 * (1.0 + scale))) {
        throw std::invalid_argument("coordinate action: phi_inverse(phi(w)) differs from w by " + std::to_string(error) +
                                    " at the start point, so phi_inverse is not the inverse of phi there");
    }
}

namespace detail {
template <class A, class Phi>
constexpr bool map_fits() {
    if constexpr (requires { Phi::size; }) return Phi::size == A::n;
    else return true;
}
}  // namespace detail

/// g·w = φ⁻¹(g φ(w)) for g in the group of the algebra A (orthogonal for so(N)).
template <lie_algebra A, class Phi, class PhiInverse>
class coordinate_action {
    static_assert(detail::map_fits<A, Phi>() && detail::map_fits<A, PhiInverse>(),
                  "the coordinate maps must have as many variables as the group's matrices have rows (so<N> and gl<N> act on N coordinates)");

  public:
    using algebra = A;
    static constexpr std::size_t n = A::n;

    coordinate_action(Phi phi, PhiInverse phi_inverse) : phi_(std::move(phi)), phi_inverse_(std::move(phi_inverse)) {}
    /// The same, checking φ⁻¹(φ(w)) = w at a start point (one-line std::invalid_argument otherwise).
    coordinate_action(Phi phi, PhiInverse phi_inverse, const vec<n>& start) : coordinate_action(std::move(phi), std::move(phi_inverse)) {
        check(start);
    }

    /// φ⁻¹(φ(w)) = w at w (optimize_with_teleport calls it on its start point).
    void check(const vec<n>& w) const { check_inverse(phi_, phi_inverse_, w); }

    vec<n> apply(const small_matrix<n>& g, const vec<n>& w) const { return phi_inverse_(g.apply(phi_(w))); }

    vec<n> apply_derivative(const small_matrix<n>& g, const small_matrix<n>& dg, const vec<n>& w) const {
        const vec<n> u = phi_(w);
        return phi_inverse_.jacobian(g.apply(u)).apply(dg.apply(u));
    }

    small_matrix<n> jacobian(const small_matrix<n>& g, const vec<n>& w) const {
        return phi_inverse_.jacobian(g.apply(phi_(w))) * g * phi_.jacobian(w);
    }

    const Phi& phi() const { return phi_; }
    const PhiInverse& phi_inverse() const { return phi_inverse_; }

  private:
    Phi phi_;
    PhiInverse phi_inverse_;
};

template <lie_algebra A, class Phi, class PhiInverse>
auto make_coordinate_action(Phi phi, PhiInverse phi_inverse) {
    return coordinate_action<A, Phi, PhiInverse>(std::move(phi), std::move(phi_inverse));
}

/// The same, checking φ⁻¹(φ(w)) = w at a start point.
template <lie_algebra A, class Phi, class PhiInverse>
auto make_coordinate_action(Phi phi, PhiInverse phi_inverse, const vec<A::n>& start) {
    return coordinate_action<A, Phi, PhiInverse>(std::move(phi), std::move(phi_inverse), start);
}

/// A^{1/2} and A^{−1/2} of a symmetric positive definite A (row-major N×N), by the symmetric
/// eigendecomposition A = Q diag(λ) Qᵀ.
template <std::size_t N>
std::pair<small_matrix<N>, small_matrix<N>> spd_square_roots(const std::array<double, N * N>& a) {
    xt::xtensor<double, 2> m = xt::empty<double>({N, N});
    for (std::size_t k = 0; k < N * N; ++k) m.data()[k] = a[k];
    const auto [lambda, q] = xt::linalg::eigh(m);
    small_matrix<N> root;
    small_matrix<N> inverse_root;
    for (std::size_t k = 0; k < N; ++k)
        if (!(lambda(k) > 0.0)) throw std::invalid_argument("quadratic action: the matrix is not positive definite");
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j) {
            double s = 0.0;
            double si = 0.0;
            for (std::size_t k = 0; k < N; ++k) {
                s += q(i, k) * std::sqrt(lambda(k)) * q(j, k);
                si += q(i, k) / std::sqrt(lambda(k)) * q(j, k);
            }
            root(i, j) = s;
            inverse_root(i, j) = si;
        }
    return {root, inverse_root};
}

/// The quadratic action g·w = A^{−1/2} g A^{1/2} w with g ∈ SO(N) (paper §5.3): L_A(w) = ‖A^{1/2} w‖².
template <std::size_t N>
auto quadratic_action(const std::array<double, N * N>& a) {
    const auto [root, inverse_root] = spd_square_roots<N>(a);
    return make_coordinate_action<so<N>>(linear_map<N>{root}, linear_map<N>{inverse_root});
}

}  // namespace teleport::groups
