// teleport/groups/generators.hpp — Lie algebras declared by their generators, and product groups.
//
// A user declares an algebra by a list of compile-time generator matrices (integer entries, row
// by row); for example sl(2), the traceless 2×2 matrices:
//
//     using sl2 = teleport::groups::algebra<2, teleport::groups::generator<0, 1,
//                                                                         0, 0>,
//                                              teleport::groups::generator<0, 0,
//                                                                         1, 0>,
//                                              teleport::groups::generator<1, 0,
//                                                                         0, -1>>;
//
// At compile time the generators are checked to be independent and to close under the commutator
// [X, Y] = XY − YX (each bracket lies in their span): a set that does not close is not a Lie
// algebra, and the build stops with one sentence. The structure the closed forms of the
// exponential use is derived the same way (compile-time folds over the generators):
//   skew_symmetric  all generators skew        the group is compact, e^X orthogonal
//   diagonal        all generators diagonal    e^X is the elementwise exponential of the diagonal
//   abelian         all brackets vanish         d e^X/dθ_k = T_k e^X
// so an algebra declared this way gets the same fast paths as so<N>, gl<N> and scaling<N>
// (lie_algebra.hpp), which keep their own closed forms and are checked against their generator
// lists in the tests.
//
// product<A, B, …> is the direct product: block-diagonal group elements, θ the concatenation of
// the factors' coordinates, each block exponentiated by its own factor's closed form. Actions of a
// product act with factor I on their own parameters (representation.hpp, on<I>).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>

#include <boost/hana/all_of.hpp>
#include <boost/hana/at.hpp>
#include <boost/hana/fold_left.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>

#include "teleport/groups/lie_algebra.hpp"
#include "teleport/groups/small_matrix.hpp"

namespace teleport::groups {

namespace hana = boost::hana;

/// One generator: a square matrix with integer entries, given row by row.
template <int... Entries>
struct generator {
    static constexpr std::size_t entries = sizeof...(Entries);
    template <std::size_t N>
    static constexpr small_matrix<N> matrix() {
        small_matrix<N> m;
        std::size_t k = 0;
        ((m.a[k++] = double(Entries)), ...);
        return m;
    }
};

namespace detail {

template <class G>
struct is_generator : std::false_type {};
template <int... E>
struct is_generator<generator<E...>> : std::true_type {};

constexpr double magnitude(double x) { return x < 0 ? -x : x; }

/// The rank of the first `rows` rows of m (Gaussian elimination with partial pivoting; the entries
/// are small integers, so a relative threshold separates zero from non-zero pivots).
template <std::size_t R, std::size_t C>
constexpr std::size_t rank(std::array<std::array<double, C>, R> m, std::size_t rows) {
    double scale = 0;
    for (std::size_t i = 0; i < rows; ++i)
        for (double e : m[i]) scale = magnitude(e) > scale ? magnitude(e) : scale;
    const double threshold = 1e-9 * (scale > 0 ? scale : 1.0);
    std::size_t r = 0;
    for (std::size_t c = 0; c < C && r < rows; ++c) {
        std::size_t pivot = r;
        for (std::size_t i = r + 1; i < rows; ++i)
            if (magnitude(m[i][c]) > magnitude(m[pivot][c])) pivot = i;
        if (magnitude(m[pivot][c]) <= threshold) continue;
        std::swap(m[pivot], m[r]);
        for (std::size_t i = r + 1; i < rows; ++i) {
            const double f = m[i][c] / m[r][c];
            for (std::size_t j = c; j < C; ++j) m[i][j] -= f * m[r][j];
        }
        ++r;
    }
    return r;
}

template <std::size_t N, std::size_t D>
constexpr std::array<std::array<double, N * N>, D + 1> rows_of(const std::array<small_matrix<N>, D>& t) {
    std::array<std::array<double, N * N>, D + 1> m{};
    for (std::size_t k = 0; k < D; ++k) m[k] = t[k].a;
    return m;
}

template <std::size_t N, std::size_t D>
constexpr bool independent(const std::array<small_matrix<N>, D>& t) {
    return rank(rows_of(t), D) == D;
}

/// Every bracket [T_i, T_j] lies in the span of the T_k.
template <std::size_t N, std::size_t D>
constexpr bool closed(const std::array<small_matrix<N>, D>& t) {
    auto m = rows_of(t);
    const std::size_t r = rank(m, D);
    for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = i + 1; j < D; ++j) {
            m[D] = (t[i] * t[j] - t[j] * t[i]).a;
            if (rank(m, D + 1) != r) return false;
        }
    return true;
}

template <std::size_t N, std::size_t D>
constexpr bool commuting(const std::array<small_matrix<N>, D>& t) {
    for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = i + 1; j < D; ++j)
            if (!(t[i] * t[j] == t[j] * t[i])) return false;
    return true;
}

template <std::size_t N>
constexpr bool is_skew(const small_matrix<N>& t) {
    return t == -1.0 * t.transpose();
}

template <std::size_t N>
constexpr bool is_diagonal(const small_matrix<N>& t) {
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j)
            if (i != j && t(i, j) != 0.0) return false;
    return true;
}

}  // namespace detail

/// The Lie algebra spanned by the generators: N×N matrices, dimension = their number.
template <std::size_t N, class... Generators>
struct algebra {
    static_assert(N >= 1 && sizeof...(Generators) >= 1, "an algebra needs a matrix size N >= 1 and at least one generator");
    static_assert((detail::is_generator<Generators>::value && ...),
                  "the generators of an algebra are written generator<entries...>, row by row");
    static_assert(((Generators::entries == N * N) && ...),
                  "each generator of an algebra of N×N matrices needs N·N entries, row by row");

    /// The generators as a compile-time tuple of types.
    static constexpr auto generators = hana::tuple_t<Generators...>;
    static constexpr std::size_t n = N;
    static constexpr std::size_t dimension = decltype(hana::length(generators))::value;

  private:
    static constexpr bool well_formed = ((Generators::entries == N * N) && ...);
    static constexpr std::array<small_matrix<N>, dimension> matrices = hana::unpack(generators, [](auto... g) {
        if constexpr (well_formed) return std::array<small_matrix<N>, dimension>{decltype(g)::type::template matrix<N>()...};
        else return std::array<small_matrix<N>, dimension>{};
    });

  public:
    static_assert(!well_formed || detail::independent(matrices),
                  "the generators are linearly dependent: remove the ones that are combinations of the others");
    static_assert(!well_formed || detail::closed(matrices),
                  "the generators do not close under the commutator [X, Y] = XY - YX, so they span no Lie algebra: add their brackets as generators");

    static constexpr bool skew_symmetric = decltype(hana::all_of(generators, [](auto g) {
        return hana::bool_c<detail::is_skew(decltype(g)::type::template matrix<N>())>;
    }))::value;
    static constexpr bool diagonal = decltype(hana::all_of(generators, [](auto g) {
        return hana::bool_c<detail::is_diagonal(decltype(g)::type::template matrix<N>())>;
    }))::value;
    static constexpr bool abelian = detail::commuting(matrices);

    static constexpr small_matrix<N> generator(std::size_t k) { return k < dimension ? matrices[k] : small_matrix<N>{}; }
    static std::string name() {
        return "span of " + std::to_string(dimension) + " generators in gl(" + std::to_string(N) + ")";
    }
};

/// The direct product of groups: block-diagonal elements, one block per factor.
template <lie_algebra... Factors>
struct product {
    static_assert(sizeof...(Factors) >= 1, "a product needs at least one factor");

    /// The factors as a compile-time tuple of types; factor<I> is the I-th.
    static constexpr auto factors = hana::tuple_t<Factors...>;
    static constexpr std::size_t count = sizeof...(Factors);
    template <std::size_t I>
    using factor = typename decltype(+hana::at_c<I>(factors))::type;

    static constexpr std::size_t n =
        hana::fold_left(factors, std::size_t{0}, [](std::size_t s, auto f) { return s + decltype(f)::type::n; });
    static constexpr std::size_t dimension =
        hana::fold_left(factors, std::size_t{0}, [](std::size_t s, auto f) { return s + decltype(f)::type::dimension; });
    static constexpr bool skew_symmetric = (skew_symmetric_algebra<Factors> && ...);
    static constexpr bool diagonal = (diagonal_algebra<Factors> && ...);
    static constexpr bool abelian = (abelian_algebra<Factors> && ...);

    /// Where factor I's block starts: its rows (and columns) in g, its coordinates in θ.
    static constexpr std::array<std::size_t, count> row_offset = [] {
        std::array<std::size_t, count> o{};
        std::size_t s = 0, i = 0;
        ((o[i++] = s, s += Factors::n), ...);
        return o;
    }();
    static constexpr std::array<std::size_t, count> coordinate_offset = [] {
        std::array<std::size_t, count> o{};
        std::size_t s = 0, i = 0;
        ((o[i++] = s, s += Factors::dimension), ...);
        return o;
    }();

    /// Calls f(hana::size_c<I>) for every factor I.
    template <class F>
    static constexpr void for_each_factor(F&& f) {
        hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<count>), f);
    }

    /// Factor I's block of a group element (or of any n×n matrix).
    template <std::size_t I>
    static constexpr small_matrix<factor<I>::n> block(const small_matrix<n>& m) {
        constexpr std::size_t k = factor<I>::n, o = row_offset[I];
        small_matrix<k> b;
        for (std::size_t i = 0; i < k; ++i)
            for (std::size_t j = 0; j < k; ++j) b(i, j) = m(o + i, o + j);
        return b;
    }
    template <std::size_t I>
    static constexpr void set_block(small_matrix<n>& m, const small_matrix<factor<I>::n>& b) {
        constexpr std::size_t k = factor<I>::n, o = row_offset[I];
        for (std::size_t i = 0; i < k; ++i)
            for (std::size_t j = 0; j < k; ++j) m(o + i, o + j) = b(i, j);
    }

    static constexpr small_matrix<n> generator(std::size_t k) {
        small_matrix<n> t;
        for_each_factor([&](auto i) {
            constexpr std::size_t I = decltype(i)::value;
            using F = factor<I>;
            if (k >= coordinate_offset[I] && k < coordinate_offset[I] + F::dimension)
                set_block<I>(t, F::generator(k - coordinate_offset[I]));
        });
        return t;
    }

    /// e^X block by block, each by its factor's own closed form.
    static group_element<n> exponential(std::span<const double, dimension> theta, exp_map map) {
        group_element<n> e;
        for_each_factor([&](auto i) {
            constexpr std::size_t I = decltype(i)::value;
            using F = factor<I>;
            const auto b = groups::exponential<F>(theta.template subspan<coordinate_offset[I], F::dimension>(), map);
            set_block<I>(e.g, b.g);
            set_block<I>(e.inverse, b.inverse);
        });
        return e;
    }

    /// ∂g/∂θ_k: non-zero only in the block of the factor θ_k belongs to.
    static small_matrix<n> exponential_derivative(std::span<const double, dimension> theta, std::size_t k,
                                                  const group_element<n>& at, exp_map map) {
        small_matrix<n> d;
        for_each_factor([&](auto i) {
            constexpr std::size_t I = decltype(i)::value;
            using F = factor<I>;
            if (k < coordinate_offset[I] || k >= coordinate_offset[I] + F::dimension) return;
            const group_element<F::n> b{block<I>(at.g), block<I>(at.inverse)};
            set_block<I>(d, groups::exponential_derivative<F>(
                                theta.template subspan<coordinate_offset[I], F::dimension>(),
                                k - coordinate_offset[I], b, map));
        });
        return d;
    }

    static std::string name() {
        std::string s;
        for_each_factor([&](auto i) { s += (s.empty() ? "" : " x ") + factor<decltype(i)::value>::name(); });
        return s;
    }
};

}  // namespace teleport::groups
