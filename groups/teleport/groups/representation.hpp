// teleport/groups/representation.hpp — a group acting on a parameter vector block by block.
//
// A user's parameters are often several matrices and vectors, and a symmetry acts on each in its
// own way. The state-space model x_{k+1} = A x_k + B u_k, y_k = C x_k is unchanged (as an
// input/output map) by (A, B, C) ↦ (T A T⁻¹, T B, C T⁻¹), T ∈ GL(3); with the parameters stored as
// A (3×3), B (3×1), C (1×3), row-major, one after another, that is
//
//     const auto similarity = teleport::groups::make_representation<teleport::groups::gl<3>>(
//         teleport::groups::conjugation<3>{}, teleport::groups::left<3, 1>{}, teleport::groups::right_inverse<1, 3>{});
//
// and the library composes apply(g, w), apply_derivative(g, dg, w) and jacobian(g, w) on the
// whole vector from the blocks. Blocks (a block of R×C entries is a row-major matrix):
//   left<R, C>                     W ↦ g W          (R = the group's n)
//   right_inverse<R, C>            W ↦ W g⁻¹        (C = n)
//   conjugation<N>                 W ↦ g W g⁻¹      (N = n)
//   left_inverse_transpose<R, C>   W ↦ g⁻ᵀ W        (R = n: covectors)
//   right_transpose<R, C>          W ↦ W gᵀ         (C = n: rows that are vectors)
//   invariant<K>                   K entries left alone
//   coordinate_block{φ, φ⁻¹}       w ↦ φ⁻¹(g φ(w))  (φ of n variables: action.hpp's maps)
//   on<I>(block)                   the block, acted on by factor I of a product group
// The derivative along dg uses d(g⁻¹) = −g⁻¹ dg g⁻¹. Given g alone, g⁻¹ is computed once per call
// and only when a block needs it; given a group_element (g with the inverse the exponential map
// computed), as the teleport objective passes it, nothing is inverted.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/hana/for_each.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>

#include "teleport/groups/action.hpp"
#include "teleport/groups/generators.hpp"
#include "teleport/groups/lie_algebra.hpp"
#include "teleport/groups/small_matrix.hpp"

namespace teleport::groups {

/// Which side of a block W (R×C) the group multiplies, by g or g⁻¹, transposed or not: the four
/// one-sided blocks below are this one with its choices made.
enum class side { left, right };

template <std::size_t R, std::size_t C, side Side, bool Inverse, bool Transposed>
struct one_sided {
    static constexpr std::size_t size = R * C;
    static constexpr bool needs_inverse = Inverse;
    template <std::size_t N> static constexpr bool fits = N == (Side == side::left ? R : C);

    template <std::size_t N>
    void apply(const small_matrix<N>& g, const small_matrix<N>& gi, const double* w, double* out) const {
        multiply(Inverse ? gi : g, w, out);
    }
    /// Along dg: the same product by dg, or by d(g⁻¹) = −g⁻¹ dg g⁻¹.
    template <std::size_t N>
    void derivative(const small_matrix<N>&, const small_matrix<N>&, const small_matrix<N>& dg,
                    const small_matrix<N>& dgi, const double* w, double* out) const {
        multiply(Inverse ? dgi : dg, w, out);
    }
    template <std::size_t N, std::size_t M>
    void jacobian(const small_matrix<N>& g, const small_matrix<N>& gi, const double*, small_matrix<M>& j, std::size_t o) const {
        const small_matrix<N>& m = Inverse ? gi : g;
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t k = 0; k < N; ++k) {
                    if constexpr (Side == side::left) j(o + r * C + c, o + k * C + c) = entry(m, r, k);  // (M W)(r, c)
                    else j(o + r * C + c, o + r * C + k) = entry(m, k, c);                               // (W M)(r, c)
                }
    }

  private:
    /// M(i, j) of the factor actually multiplied: m or mᵀ.
    template <std::size_t N>
    static double entry(const small_matrix<N>& m, std::size_t i, std::size_t j) {
        return Transposed ? m(j, i) : m(i, j);
    }
    /// out = M W (left) or W M (right).
    template <std::size_t N>
    static void multiply(const small_matrix<N>& m, const double* w, double* out) {
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t c = 0; c < C; ++c) {
                double s = 0;
                for (std::size_t k = 0; k < N; ++k) {
                    if constexpr (Side == side::left) s += entry(m, r, k) * w[k * C + c];
                    else s += w[r * C + k] * entry(m, k, c);
                }
                out[r * C + c] = s;
            }
    }
};

/// W (R×C) ↦ g W.
template <std::size_t R, std::size_t C = 1>
using left = one_sided<R, C, side::left, false, false>;
/// W (R×C) ↦ g⁻ᵀ W.
template <std::size_t R, std::size_t C = 1>
using left_inverse_transpose = one_sided<R, C, side::left, true, true>;
/// W (R×C) ↦ W g⁻¹.
template <std::size_t R, std::size_t C>
using right_inverse = one_sided<R, C, side::right, true, false>;
/// W (R×C) ↦ W gᵀ.
template <std::size_t R, std::size_t C>
using right_transpose = one_sided<R, C, side::right, false, true>;

/// W (N×N) ↦ g W g⁻¹.
template <std::size_t K>
struct conjugation {
    static constexpr std::size_t size = K * K;
    static constexpr bool needs_inverse = true;
    template <std::size_t N> static constexpr bool fits = N == K;
    template <std::size_t N>
    void apply(const small_matrix<N>& g, const small_matrix<N>& gi, const double* w, double* out) const {
        const small_matrix<K> r = g * load(w) * gi;
        for (std::size_t k = 0; k < size; ++k) out[k] = r.a[k];
    }
    template <std::size_t N>
    void derivative(const small_matrix<N>& g, const small_matrix<N>& gi, const small_matrix<N>& dg,
                    const small_matrix<N>& dgi, const double* w, double* out) const {
        const small_matrix<K> m = load(w);
        const small_matrix<K> r = dg * m * gi + g * m * dgi;
        for (std::size_t k = 0; k < size; ++k) out[k] = r.a[k];
    }
    template <std::size_t N, std::size_t M>
    void jacobian(const small_matrix<N>& g, const small_matrix<N>& gi, const double*, small_matrix<M>& j, std::size_t o) const {
        for (std::size_t i = 0; i < K; ++i)
            for (std::size_t c = 0; c < K; ++c)
                for (std::size_t k = 0; k < K; ++k)
                    for (std::size_t l = 0; l < K; ++l) j(o + i * K + c, o + k * K + l) = g(i, k) * gi(l, c);
    }

  private:
    static small_matrix<K> load(const double* w) {
        small_matrix<K> m;
        for (std::size_t k = 0; k < size; ++k) m.a[k] = w[k];
        return m;
    }
};

/// K entries the group leaves alone.
template <std::size_t K>
struct invariant {
    static constexpr std::size_t size = K;
    static constexpr bool needs_inverse = false;
    template <std::size_t N> static constexpr bool fits = true;
    template <std::size_t N>
    void apply(const small_matrix<N>&, const small_matrix<N>&, const double* w, double* out) const {
        for (std::size_t k = 0; k < K; ++k) out[k] = w[k];
    }
    template <std::size_t N>
    void derivative(const small_matrix<N>&, const small_matrix<N>&, const small_matrix<N>&, const small_matrix<N>&,
                    const double*, double* out) const {
        for (std::size_t k = 0; k < K; ++k) out[k] = 0.0;
    }
    template <std::size_t N, std::size_t M>
    void jacobian(const small_matrix<N>&, const small_matrix<N>&, const double*, small_matrix<M>& j, std::size_t o) const {
        for (std::size_t k = 0; k < K; ++k) j(o + k, o + k) = 1.0;
    }
};

/// φ⁻¹(g φ(w)) on a block of the maps' size (expression_map, linear_map or a user's map with
/// operator() and jacobian()).
template <class Phi, class PhiInverse>
struct coordinate_block {
    static constexpr std::size_t size = Phi::size;
    static constexpr bool needs_inverse = false;
    template <std::size_t N> static constexpr bool fits = N == Phi::size && N == PhiInverse::size;
    Phi phi;
    PhiInverse phi_inverse;

    template <std::size_t N>
    void apply(const small_matrix<N>& g, const small_matrix<N>&, const double* w, double* out) const {
        store(phi_inverse(g.apply(phi(load(w)))), out);
    }
    template <std::size_t N>
    void derivative(const small_matrix<N>& g, const small_matrix<N>&, const small_matrix<N>& dg, const small_matrix<N>&,
                    const double* w, double* out) const {
        const vec<size> u = phi(load(w));
        store(phi_inverse.jacobian(g.apply(u)).apply(dg.apply(u)), out);
    }
    template <std::size_t N, std::size_t M>
    void jacobian(const small_matrix<N>& g, const small_matrix<N>&, const double* w, small_matrix<M>& j, std::size_t o) const {
        const vec<size> x = load(w);
        const small_matrix<size> b = phi_inverse.jacobian(g.apply(phi(x))) * g * phi.jacobian(x);
        for (std::size_t r = 0; r < size; ++r)
            for (std::size_t c = 0; c < size; ++c) j(o + r, o + c) = b(r, c);
    }
    /// φ⁻¹(φ(w)) = w on this block, or one line saying by how much it is not.
    void check(const double* w) const { check_inverse(phi, phi_inverse, load(w)); }

  private:
    static vec<size> load(const double* w) {
        vec<size> v{};
        for (std::size_t k = 0; k < size; ++k) v[k] = w[k];
        return v;
    }
    static void store(const vec<size>& v, double* out) {
        for (std::size_t k = 0; k < size; ++k) out[k] = v[k];
    }
};

template <class Phi, class PhiInverse>
coordinate_block(Phi, PhiInverse) -> coordinate_block<Phi, PhiInverse>;

/// A block acted on by factor I of a product group.
template <std::size_t I, class Block>
struct on_factor {
    static constexpr std::size_t factor = I;
    static constexpr std::size_t size = Block::size;
    static constexpr bool needs_inverse = Block::needs_inverse;
    Block block;
};

/// on<I>(block): the block, acted on by factor I of a product group.
template <std::size_t I, class Block>
constexpr on_factor<I, Block> on(Block block) {
    return {std::move(block)};
}

namespace detail {

template <class B>
struct is_on_factor : std::false_type {};
template <std::size_t I, class B>
struct is_on_factor<on_factor<I, B>> : std::true_type {};

template <class A>
struct is_product : std::false_type {};
template <class... F>
struct is_product<product<F...>> : std::true_type {};

/// Whether a block fits the group of A: for on<I>, factor I of a product.
template <class Block, class A>
constexpr bool block_fits() {
    if constexpr (is_on_factor<Block>::value) {
        if constexpr (is_product<A>::value) {
            if constexpr (Block::factor < A::count)
                return decltype(Block::block)::template fits<A::template factor<Block::factor>::n>;
            else
                return false;
        } else {
            return false;
        }
    } else {
        return Block::template fits<A::n>;
    }
}

}  // namespace detail

/// The action of the group of A on the concatenation of the blocks' parameters.
template <lie_algebra A, class... Blocks>
class representation {
    static_assert(sizeof...(Blocks) >= 1, "a representation needs at least one block");
    static_assert((detail::block_fits<Blocks, A>() && ...),
                  "a block does not fit the group: left<R, C> and left_inverse_transpose<R, C> need R = n, "
                  "right_inverse<R, C> and right_transpose<R, C> need C = n, conjugation<K> needs K = n, a "
                  "coordinate map needs n variables (n×n: the group's matrices), on<I> needs a product group's factor I");

  public:
    using algebra = A;
    static constexpr std::size_t n = (Blocks::size + ...);
    using point = vec<n>;
    using element = small_matrix<A::n>;

    constexpr representation() requires(std::default_initializable<Blocks> && ...) = default;
    constexpr explicit representation(Blocks... blocks) : blocks_(std::move(blocks)...) {}

    /// g·w.
    point apply(const element& g, const point& w) const { return apply(with_inverse(g), w); }
    /// g·w for a group element that carries its inverse (the exponential map computes both): the
    /// teleport objective calls this form, and no block inverts g.
    point apply(const group_element<A::n>& e, const point& w) const {
        point out{};
        for_each_block([&](const auto& b, std::size_t o) { call_apply(b, e.g, e.inverse, w.data() + o, out.data() + o); });
        return out;
    }

    /// d/dt (g + t·dg)·w.
    point apply_derivative(const element& g, const element& dg, const point& w) const {
        return apply_derivative(with_inverse(g), dg, w);
    }
    /// The same at an element with its inverse.
    point apply_derivative(const group_element<A::n>& e, const element& dg, const point& w) const {
        element dgi{};
        if constexpr (needs_inverse) dgi = -1.0 * (e.inverse * dg * e.inverse);
        point out{};
        for_each_block([&](const auto& b, std::size_t o) {
            call_derivative(b, e.g, e.inverse, dg, dgi, w.data() + o, out.data() + o);
        });
        return out;
    }

    /// ∂(g·w)/∂w: block diagonal.
    small_matrix<n> jacobian(const element& g, const point& w) const { return jacobian(with_inverse(g), w); }
    small_matrix<n> jacobian(const group_element<A::n>& e, const point& w) const {
        small_matrix<n> j;
        for_each_block([&](const auto& b, std::size_t o) { call_jacobian(b, e.g, e.inverse, w.data() + o, j, o); });
        return j;
    }

    /// The coordinate blocks' φ⁻¹(φ(w)) = w at a start point (optimize_with_teleport calls it).
    void check(const point& w) const {
        for_each_block([&](const auto& b, std::size_t o) {
            if constexpr (requires { b.check(w.data()); }) b.check(w.data() + o);
            else if constexpr (requires { b.block.check(w.data()); }) b.block.check(w.data() + o);
        });
    }

  private:
    static constexpr bool needs_inverse = (Blocks::needs_inverse || ...);
    static group_element<A::n> with_inverse(const element& g) {
        return {g, needs_inverse ? inverse(g) : element{}};
    }
    static constexpr std::array<std::size_t, sizeof...(Blocks)> offset = [] {
        std::array<std::size_t, sizeof...(Blocks)> o{};
        std::size_t s = 0, i = 0;
        ((o[i++] = s, s += Blocks::size), ...);
        return o;
    }();

    template <class F>
    void for_each_block(F&& f) const {
        hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<sizeof...(Blocks)>),
                       [&](auto i) { f(hana::at(blocks_, i), offset[decltype(i)::value]); });
    }

    // A product's factor I sees its own blocks of g, g⁻¹, dg and d(g⁻¹).
    template <class B>
    static decltype(auto) part(const element& m) {
        if constexpr (detail::is_on_factor<B>::value) return A::template block<B::factor>(m);
        else return (m);
    }
    template <class B>
    static const auto& inner(const B& b) {
        if constexpr (detail::is_on_factor<B>::value) return b.block;
        else return b;
    }
    template <class B>
    static void call_apply(const B& b, const element& g, const element& gi, const double* w, double* out) {
        inner(b).apply(part<B>(g), part<B>(gi), w, out);
    }
    template <class B>
    static void call_derivative(const B& b, const element& g, const element& gi, const element& dg, const element& dgi,
                                const double* w, double* out) {
        inner(b).derivative(part<B>(g), part<B>(gi), part<B>(dg), part<B>(dgi), w, out);
    }
    template <class B>
    static void call_jacobian(const B& b, const element& g, const element& gi, const double* w, small_matrix<n>& j,
                              std::size_t o) {
        inner(b).jacobian(part<B>(g), part<B>(gi), w, j, o);
    }

    hana::tuple<Blocks...> blocks_;
};

/// make_representation<A>(blocks…): the group of A acting on each block of the parameters.
template <lie_algebra A, class... Blocks>
constexpr representation<A, Blocks...> make_representation(Blocks... blocks) {
    return representation<A, Blocks...>(std::move(blocks)...);
}

}  // namespace teleport::groups
