// teleport/expr/indexed_sum.hpp — Σ_i f(x_{s·i+a}, x_{s·i+b}, …, p_i): a sum over an index range that
// compiles to a loop, with the body's derivatives generated at compile time.
//
//   using namespace teleport::expr::literals;
//   constexpr teleport::expr::variable<0, "x_i"> xi;        // in a body, variable<a> is x_{s·i + a}
//   constexpr teleport::expr::variable<1, "x_{i+1}"> xn;
//   auto body = 100_c * pow<2>(xn - xi * xi) + pow<2>(1_c - xi);
//   auto f = teleport::expr::indexed_sum(body, n - 1);               // n − 1 terms, n known at run time
//   auto h = teleport::expr::indexed_sum(body, teleport::expr::terms<15>);  // a compile-time range
//
// The body is an ordinary expression of a few *local* variables (the stencil: variable<a> stands
// for x_{first + s·i + a}) and per-term data (parameter<k> is the k-th value bound to term i).
// From it the engine generates, at compile time, the body's value, its gradient, the non-zero
// entries of its Hessian and of its third-derivative tensor, each as one straight-line program
// with the body's common subexpressions shared. The sum's derivatives are loops over the terms
// that scatter-add these local derivatives into the global vectors:
//
//   ∂L/∂x_p = Σ_{(i,a): s·i+a = p} ∂f/∂x_a (term i),   (∇²L v)_p = Σ_{(i,a)} Σ_b ∂²f/∂x_a∂x_b v_{s·i+b}
//
// When the stencil is narrow (the usual case), the scatter keeps the partial sums of the positions
// still open in a small window of registers and writes each entry of the result exactly once, as
// a person writes the loop by hand (g[i] = carry + …; carry = …); otherwise it adds into the
// zeroed result directly. The size of the generated code depends on the body only, never on the
// number of terms: compile time and memory do not grow with n.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "teleport/expr/calculus.hpp"
#include "teleport/expr/evaluate.hpp"
#include "teleport/expr/print.hpp"
#include "teleport/expr/symbolic_function.hpp"

namespace teleport::expr {

/// A compile-time number of terms: indexed_sum(body, terms<M>) has a dimension known at compile
/// time (std::array points, the fixed-size teleport engine).
template <std::size_t M>
struct terms_t : std::integral_constant<std::size_t, M> {};
template <std::size_t M>
inline constexpr terms_t<M> terms{};

/// The distance between consecutive terms' first variables: indexed_sum(body, m, stride<2>) reads
/// x_{2i + a} in term i (pairs, blocks). The default is 1.
template <std::size_t S>
struct stride_t : std::integral_constant<std::size_t, S> {
    static_assert(S >= 1, "the stride of an indexed sum must be at least 1");
};
template <std::size_t S>
inline constexpr stride_t<S> stride{};

/// One entry of a sparse Hessian (coordinate format; entries with equal (row, col) are to be summed).
struct hessian_triplet {
    std::size_t row;
    std::size_t col;
    double value;
};

namespace detail {

// The per-term data of term i as the evaluator's parameter source (parameter<k> → data[k]).
template <std::size_t P>
struct term_data {
    const double* at;
    double operator[](std::size_t k) const { return at[k]; }
};
template <>
struct term_data<0> {
    double operator[](std::size_t) const { return 0.0; }
};

// The K-th type of a type_list.
template <class... Ts>
auto tuple_of(type_list<Ts...>) -> std::tuple<Ts...>;
template <std::size_t K, class List>
using list_element = std::tuple_element_t<K, decltype(tuple_of(List{}))>;

// Entries (a ≤ b ≤ c) of the body's third-derivative tensor that are not identically zero.
template <std::size_t A, std::size_t B, std::size_t C, class E>
struct third_entry {
    static constexpr std::size_t a = A, b = B, c = C;
    using type = E;
};

template <std::size_t R, class Body>
struct third_structure {
    using second = typename hessian_structure<R, Body>::entries;

    // For every kept second-derivative entry (a, b), the variables c ≥ b it still depends on.
    static constexpr auto candidates = []<class... Hs>(type_list<Hs...>) {
        constexpr std::size_t bound = (std::size_t{0} + ... + variable_set<typename Hs::type>::indices.size());
        std::array<std::array<std::size_t, 4>, bound + 1> p{};  // (entry index, a, b, c)
        std::size_t count = 0;
        std::size_t entry = 0;
        (
            [&] {
                for (std::size_t c : variable_set<typename Hs::type>::indices)
                    if (c >= Hs::col) p[count++] = {entry, Hs::row, Hs::col, c};
                ++entry;
            }(),
            ...);
        return std::pair{p, count};
    }(second{});

    template <std::size_t K>
    using candidate_second = list_element<candidates.first[K][0], second>;
    template <std::size_t K>
    using candidate_expr = decltype(diff<candidates.first[K][3]>(typename candidate_second<K>::type{}));

    template <std::size_t... K>
    static constexpr std::array<bool, sizeof...(K)> nonzero_of(std::index_sequence<K...>) {
        return {!std::is_same_v<candidate_expr<K>, zero>...};
    }
    static constexpr auto kept = select(nonzero_of(std::make_index_sequence<candidates.second>{}));

    template <std::size_t... M>
    static auto entries_of(std::index_sequence<M...>)
        -> type_list<third_entry<candidates.first[kept.at[M]][1], candidates.first[kept.at[M]][2],
                                 candidates.first[kept.at[M]][3], candidate_expr<kept.at[M]>>...>;
    using entries = decltype(entries_of(std::make_index_sequence<kept.count>{}));
};

// Storage of a vector argument as a raw pointer and a size (contiguous containers), or the
// container itself (anything indexable with a size()).
template <class X>
decltype(auto) entries_of(X& x) {
    if constexpr (requires { std::ranges::data(x); }) return std::ranges::data(x);
    else return (x);
}

// The dimension member exists only when it is known at compile time.
template <std::size_t Dimension>
struct static_dimension {
    static constexpr std::size_t dimension = Dimension;
};
struct no_static_dimension {};

inline std::size_t checked_extent(std::size_t first, std::size_t count, std::size_t stride, std::size_t reach) {
    if (count == 0) return first;
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    if (count - 1 > (max - first - reach) / stride)
        throw std::invalid_argument("indexed_sum: " + std::to_string(count) + " terms of stride " + std::to_string(stride) +
                                    " do not fit in the index range");
    return first + stride * (count - 1) + reach;
}

}  // namespace detail

/// Σ_{i=0}^{m−1} f(x_{first + s·i + a}, …; data of term i): the function of n variables that a sum
/// over an index range is. Count = 0 means that m is given at run time.
template <expression Body, std::size_t Stride = 1, std::size_t Count = 0>
class indexed_sum_function
    : public std::conditional_t<Count != 0, detail::static_dimension<Stride * (Count - 1) + variable_count_v<Body>>,
                                detail::no_static_dimension> {
    static_assert(variable_count_v<Body> >= 1, "the body of an indexed sum must use at least one variable, x_{s·i + a}");

  public:
    /// Number of local variables a term reads: term i reads x_{first + s·i} … x_{first + s·i + reach − 1}.
    static constexpr std::size_t reach = variable_count_v<Body>;
    static constexpr std::size_t stride = Stride;
    /// Values of per-term data the body uses (parameter<0> … parameter<P − 1>).
    static constexpr std::size_t data_per_term = parameter_count_v<Body>;

  private:
    static constexpr auto used = variable_set<Body>::indices;  // the stencil: the offsets the body reads

    template <std::size_t K>
    using local_gradient = decltype(detail::diff<used[K]>(Body{}));
    static constexpr auto gradient_kept = []<std::size_t... K>(std::index_sequence<K...>) {
        return detail::select(std::array<bool, sizeof...(K)>{!std::is_same_v<local_gradient<K>, zero>...});
    }(std::make_index_sequence<used.size()>{});
    template <std::size_t... M>
    static auto gradient_roots_of(std::index_sequence<M...>) -> type_list<local_gradient<gradient_kept.at[M]>...>;
    template <std::size_t... M>
    static auto fused_roots_of(std::index_sequence<M...>) -> type_list<Body, local_gradient<gradient_kept.at[M]>...>;
    using gradient_roots = decltype(gradient_roots_of(std::make_index_sequence<gradient_kept.count>{}));
    using fused_roots = decltype(fused_roots_of(std::make_index_sequence<gradient_kept.count>{}));
    // offset (within the term) of gradient root k
    static constexpr std::size_t gradient_offset(std::size_t k) { return used[gradient_kept.at[k]]; }

    using hessian_entries = typename detail::hessian_structure<reach, Body>::entries;
    using hessian_roots = typename detail::entry_exprs<hessian_entries>::type;
    // For each Hessian entry K (row r, column c): whether it is the first to write the product's
    // local entries r (at 2K) and c (at 2K + 1), which it then assigns instead of adding to zero.
    static constexpr auto hessian_first_writes = []<class... Hs>(type_list<Hs...>) {
        std::array<bool, 2 * sizeof...(Hs) + 1> first{};
        std::array<bool, reach> written{};
        std::size_t k = 0;
        (
            [&] {
                first[2 * k] = !written[Hs::row];
                written[Hs::row] = true;
                if (Hs::row != Hs::col) {
                    first[2 * k + 1] = !written[Hs::col];
                    written[Hs::col] = true;
                }
                ++k;
            }(),
            ...);
        return first;
    }(hessian_entries{});
    template <bool First, class T>
    static void accumulate(T& target, T value) {
        if constexpr (First) target = value;
        else target += value;
    }
    using third_entries = typename detail::third_structure<reach, Body>::entries;
    template <class... Ts>
    static auto third_roots_of(type_list<Ts...>) -> type_list<typename Ts::type...>;
    using third_roots = decltype(third_roots_of(third_entries{}));

    // The scatter keeps a window of `window` open positions in registers when that is small, or
    // (stride 1) computes blocks of `block` terms at a time (see scatter).
    static constexpr std::size_t window = (reach + Stride - 1) / Stride * Stride;
    static constexpr bool carried = window <= 16;
    static constexpr bool blocked = Stride == 1 && reach <= 16 && (Count == 0 || Count >= 64);
    static constexpr std::size_t block = 128;
    static constexpr std::size_t blocked_from = 64;

    std::size_t first_ = 0;
    std::size_t count_ = Count;
    std::size_t size_ = Count != 0 ? Stride * (Count - 1) + reach : reach;
    std::vector<double> data_;
    bool blocks_ = true;

  public:
    /// m terms (Count = 0) of x of dimension `size` (at least first + s·(m − 1) + reach).
    explicit indexed_sum_function(std::size_t m = Count) requires(Count == 0)
        : count_(m), size_(detail::checked_extent(0, m, Stride, reach)) {}
    constexpr indexed_sum_function() requires(Count != 0) = default;

    /// The first term starts at x_first (the terms then read x_{first + s·i + a}); the dimension
    /// grows to fit unless it was set larger.
    indexed_sum_function& starting_at(std::size_t first) requires(Count == 0) {
        first_ = first;
        size_ = std::max(size_, detail::checked_extent(first_, count_, Stride, reach));
        return *this;
    }
    /// A dimension larger than the terms reach (variables no term reads have zero derivatives).
    indexed_sum_function& with_dimension(std::size_t n) requires(Count == 0) {
        const std::size_t needed = detail::checked_extent(first_, count_, Stride, reach);
        if (n < needed)
            throw std::invalid_argument("indexed_sum: dimension " + std::to_string(n) + " is below the " +
                                        std::to_string(needed) + " variables the terms read");
        size_ = n;
        return *this;
    }
    /// Bind the per-term data: m · data_per_term values, term by term (term i's values are
    /// values[i·P], …, values[i·P + P − 1]).
    indexed_sum_function& with_data(std::span<const double> values) {
        if (values.size() != count_ * data_per_term)
            throw std::invalid_argument("indexed_sum: the terms need " + std::to_string(count_) + " x " +
                                        std::to_string(data_per_term) + " data values but " +
                                        std::to_string(values.size()) + " were given");
        data_.assign(values.begin(), values.end());
        return *this;
    }
    std::span<const double> data() const { return data_; }

    /// Compute every quantity term by term, never by blocks of terms (see scatter): the same bits,
    /// from a loop that is not vectorized. For comparisons and measurements.
    indexed_sum_function& term_by_term(bool on = true) {
        blocks_ = !on;
        return *this;
    }

    /// Number of variables n (compile-time constants when the range is, so loops see their trip count).
    std::size_t size() const {
        if constexpr (Count != 0) return Stride * (Count - 1) + reach;
        else return size_;
    }
    std::size_t term_count() const {
        if constexpr (Count != 0) return Count;
        else return count_;
    }
    std::size_t first() const {
        if constexpr (Count != 0) return 0;
        else return first_;
    }

    /// Number of distinct inner nodes of one term's programs (the generated code per loop iteration).
    static constexpr std::size_t loss_nodes = program<Body>::node_count;
    static constexpr std::size_t fused_nodes = program<fused_roots>::node_count;
    static constexpr std::size_t hessian_nonzeros_per_term = hessian_roots::size;

    /// L(x).
    template <class X>
    detail::value_type_of<X> evaluate(const X& x) const {
        using T = detail::value_type_of<X>;
        check(x, "the point");
        const auto xs = detail::entries_of(x);
        T sum{0};
        for (std::size_t i = 0; i < term_count(); ++i) {
            const std::size_t base = first() + Stride * i;
            sum += program<Body>::template run<T>(local(xs, base), term(i))[0];
        }
        return sum;
    }

    /// g = ∇L(x).
    template <class X, class G>
    void gradient(const X& x, G& g) const {
        using T = detail::value_type_of<X>;
        check(x, "the point");
        prepare(g, "the gradient");
        const auto xs = detail::entries_of(x);
        scatter<T, false>(detail::entries_of(g), [&](std::size_t i, std::size_t base, std::array<T, reach>& d, T&) {
            program<gradient_roots>::template run_into<T>(local(xs, base), term(i), [&](auto k, T value) {
                d[gradient_offset(k())] = value;
            });
        });
    }

    /// L(x), with g = ∇L(x) from the same pass over the terms (each term's shared work once).
    template <class X, class G>
    detail::value_type_of<X> evaluate_with_gradient(const X& x, G& g) const {
        using T = detail::value_type_of<X>;
        check(x, "the point");
        prepare(g, "the gradient");
        const auto xs = detail::entries_of(x);
        return scatter<T, true>(detail::entries_of(g), [&](std::size_t i, std::size_t base, std::array<T, reach>& d, T& value) {
            program<fused_roots>::template run_into<T>(local(xs, base), term(i), [&](auto k, T result) {
                if constexpr (k == 0) value = result;
                else d[gradient_offset(k - 1)] = result;
            });
        });
    }

    /// out = ∇²L(x) v, from the non-zero entries of the body's Hessian.
    template <class X, class V, class O>
    void hessian_vector_product(const X& x, const V& v, O& out) const {
        using T = detail::value_type_of<X>;
        check(x, "the point");
        check(v, "the direction");
        prepare(out, "the product");
        const auto xs = detail::entries_of(x);
        const auto vs = detail::entries_of(v);
        scatter<T, false>(detail::entries_of(out), [&](std::size_t i, std::size_t base, std::array<T, reach>& d, T&) {
            const auto vl = local(vs, base);
            d = {};  // dead stores where an entry below writes first
            program<hessian_roots>::template run_into<T>(local(xs, base), term(i), [&]<std::size_t K>(std::integral_constant<std::size_t, K>, T h) {
                using entry = detail::list_element<K, hessian_entries>;
                accumulate<hessian_first_writes[2 * K]>(d[entry::row], h * vl[entry::col]);
                if constexpr (entry::row != entry::col) accumulate<hessian_first_writes[2 * K + 1]>(d[entry::col], h * vl[entry::row]);
            });
        });
    }

    /// out_i = Σ_{j,k} ∂³L/∂x_i∂x_j∂x_k u_j v_k: the derivative of the Hessian-vector product ∇²L v
    /// along u (third order, from the non-zero entries of the body's third-derivative tensor).
    template <class X, class U, class V, class O>
    void third_derivative_product(const X& x, const U& u, const V& v, O& out) const {
        using T = detail::value_type_of<X>;
        check(x, "the point");
        check(u, "the first direction");
        check(v, "the second direction");
        prepare(out, "the product");
        const auto xs = detail::entries_of(x);
        const auto us = detail::entries_of(u);
        const auto vs = detail::entries_of(v);
        scatter<T, false>(detail::entries_of(out), [&](std::size_t i, std::size_t base, std::array<T, reach>& d, T&) {
            const auto ul = local(us, base);
            const auto vl = local(vs, base);
            d = {};
            program<third_roots>::template run_into<T>(local(xs, base), term(i), [&]<std::size_t K>(std::integral_constant<std::size_t, K>, T t) {
                using e = detail::list_element<K, third_entries>;
                // the distinct permutations of (a, b, c): each contributes to out at its first index
                add_third<e::a, e::b, e::c>(d, t, ul, vl);
                if constexpr (e::a != e::b) add_third<e::b, e::a, e::c>(d, t, ul, vl);
                if constexpr (e::b != e::c) add_third<e::c, e::a, e::b>(d, t, ul, vl);
            });
        });
    }

    /// The Hessian as coordinate triplets: the body's non-zero upper-triangle entries of every
    /// term, mirrored (row > col entries included), with duplicates to be summed — the input of a
    /// sparse matrix constructor (Eigen's setFromTriplets, scipy's coo_matrix).
    template <class X>
    std::vector<hessian_triplet> hessian_triplets(const X& x) const {
        using T = detail::value_type_of<X>;
        check(x, "the point");
        const auto xs = detail::entries_of(x);
        std::vector<hessian_triplet> out;
        out.reserve(term_count() * (2 * hessian_roots::size));
        for (std::size_t i = 0; i < term_count(); ++i) {
            const std::size_t base = first() + Stride * i;
            program<hessian_roots>::template run_into<T>(local(xs, base), term(i), [&]<std::size_t K>(std::integral_constant<std::size_t, K>, T h) {
                using entry = detail::list_element<K, hessian_entries>;
                out.push_back({base + entry::row, base + entry::col, static_cast<double>(h)});
                if constexpr (entry::row != entry::col) out.push_back({base + entry::col, base + entry::row, static_cast<double>(h)});
            });
        }
        return out;
    }

    /// H = ∇²L(x) as a dense matrix (small n), indexed H(i, j) (xtensor) or H[i][j] (nested arrays).
    template <class X, class H>
    void hessian(const X& x, H& h) const {
        using T = detail::value_type_of<X>;
        if constexpr (requires { h.resize({size(), size()}); }) h.resize({size(), size()});
        for (std::size_t i = 0; i < size(); ++i)
            for (std::size_t j = 0; j < size(); ++j) detail::matrix_entry(h, i, j) = T(0);
        for (const hessian_triplet& t : hessian_triplets(x)) detail::matrix_entry(h, t.row, t.col) += static_cast<T>(t.value);
    }

    static constexpr Body body() { return Body{}; }
    std::string to_string() const {
        return "sum over i = 0 … " + std::to_string(term_count()) + " - 1 of " + expr::to_string(Body{}) +
               " (variable a of term i is x_{" + (first() ? std::to_string(first()) + " + " : std::string()) +
               (Stride > 1 ? std::to_string(Stride) : std::string()) + "i + a})";
    }

  private:
    template <class X>
    void check(const X& x, const char* what) const {
        if constexpr (detail::static_extent<std::remove_cvref_t<X>>::value != 0 && Count != 0) {
            static_assert(detail::static_extent<std::remove_cvref_t<X>>::value == Stride * (Count - 1) + reach,
                          "the array has the wrong number of entries for this function's variables");
        } else if (std::size(x) != size()) {
            throw std::invalid_argument(std::string("indexed_sum: ") + what + " has " + std::to_string(std::size(x)) +
                                        " entries but the function has " + std::to_string(size()) + " variables");
        }
        if (data_.size() != term_count() * data_per_term)
            throw std::invalid_argument("indexed_sum: the body reads " + std::to_string(data_per_term) +
                                        " data values per term but none were bound (with_data)");
    }
    template <class G>
    void prepare(G& g, const char* what) const {
        if constexpr (requires { g.resize({size()}); }) {
            if (std::size(g) != size()) g.resize({size()});
        } else if constexpr (requires { g.resize(size()); }) {
            if (std::size(g) != size()) g.resize(size());
        }
        check(g, what);
    }

    // The term's local variables: x_{base + a} for every a the body reads (others stay zero).
    template <class Xs>
    auto local(const Xs& xs, std::size_t base) const {
        using T = std::remove_cvref_t<decltype(xs[0])>;
        std::array<T, reach> l{};
        for (std::size_t a : used) l[a] = xs[base + a];
        return l;
    }
    detail::term_data<data_per_term> term(std::size_t i) const {
        if constexpr (data_per_term == 0) {
            (void)i;
            return {};
        } else {
            return {data_.data() + i * data_per_term};
        }
    }

    template <std::size_t A, std::size_t B, std::size_t C, class T>
    static void add_third(std::array<T, reach>& d, T t, const std::array<T, reach>& u, const std::array<T, reach>& v) {
        // contribution of T_{A,B,C} (and its symmetric images with A first) to out_A: Σ over the
        // distinct orderings of (B, C) of u_B v_C
        if constexpr (B == C) d[A] += t * u[B] * v[C];
        else d[A] += t * (u[B] * v[C] + u[C] * v[B]);
    }

    // Runs contributions(i, base, d, value) for every term, which writes the term's contribution
    // d[a] to position base + a for every a of the stencil (and, with Values, the term's value), and
    // stores their sums in out: every entry written once, entries no term reaches 0. Returns the
    // sum of the values in term order (with Values; else 0).
    //
    // Three strategies, one result: the contributions to a position are added in term order and the
    // values are summed in term order, so the first two give the same bits.
    //  - stride 1, narrow stencil, at least `blocked_from` terms: blocks of terms. The terms of a
    //    block are computed first, into one column per stencil offset (no dependence between terms:
    //    the compiler vectorizes this loop), then each position of the block sums its column entries,
    //    while the values' serial sum runs alongside.
    //  - otherwise for a narrow stencil: the open positions of a window carried in registers, as a
    //    hand-written loop does (g[i] = carry + …; carry = …).
    //  - wide stencils: added into the zeroed result.
    template <class T, bool Values, class Out, class Local>
    T scatter(Out out, Local&& contributions) const {
        const std::size_t m = term_count();
        T sum{0};
        if (m == 0) {
            for (std::size_t p = 0; p < size(); ++p) out[p] = T(0);
            return sum;
        }
        std::array<T, reach> d{};
        T value{0};
        if constexpr (blocked) {
            if (blocks_ && m >= blocked_from) return scatter_blocks<T, Values>(out, contributions);
        }
        if constexpr (carried) {
            // The open positions base … base + window − 1 in registers. A slot that the last shift
            // vacated is assigned, not added to, so no term adds a zero.
            for (std::size_t p = 0; p < first(); ++p) out[p] = T(0);
            std::array<T, window> open{};
            auto take = [&] {
                [&]<std::size_t... K>(std::index_sequence<K...>) {
                    (accumulate<(used[K] + Stride >= window)>(open[used[K]], d[used[K]]), ...);
                }(std::make_index_sequence<used.size()>{});
                if constexpr (Values) sum += value;
            };
            std::size_t base = first();
            for (std::size_t i = 0; i + 1 < m; ++i, base += Stride) {
                contributions(i, base, d, value);
                take();
                // positions base … base + s − 1 receive nothing from later terms
                [&]<std::size_t... J>(std::index_sequence<J...>) { ((out[base + J] = open[J]), ...); }(std::make_index_sequence<Stride>{});
                [&]<std::size_t... J>(std::index_sequence<J...>) {
                    ((open[J] = open[J + Stride]), ...);
                }(std::make_index_sequence<window - Stride>{});
                [&]<std::size_t... J>(std::index_sequence<J...>) {
                    (clear_unless_in_stencil<window - Stride + J>(open), ...);
                }(std::make_index_sequence<Stride>{});
            }
            // the last term: every open position is final
            contributions(m - 1, base, d, value);
            take();
            [&]<std::size_t... J>(std::index_sequence<J...>) { ((out[base + J] = open[J]), ...); }(std::make_index_sequence<reach>{});
            for (std::size_t p = base + reach; p < size(); ++p) out[p] = T(0);
            return sum;
        } else {
            for (std::size_t p = 0; p < size(); ++p) out[p] = T(0);
            std::size_t base = first();
            for (std::size_t i = 0; i < m; ++i, base += Stride) {
                contributions(i, base, d, value);
                for (std::size_t a : used) out[base + a] += d[a];
                if constexpr (Values) sum += value;
            }
            return sum;
        }
    }

    // The stride-1 strategy of scatter for m ≥ blocked_from terms: blocks of `block` terms.
    template <class T, bool Values, class Out, class Local>
    T scatter_blocks(Out out, Local& contributions) const {
        const std::size_t m = term_count();
        T sum{0};
        std::array<T, reach> d{};
        T value{0};
        for (std::size_t p = 0; p < first(); ++p) out[p] = T(0);
        // column a holds the contributions of the block's terms to their offset a, after a margin
        // of reach − 1 entries that carries the previous block's last terms (zeros at the start);
        // only what is written is read
        constexpr std::size_t margin = reach - 1;
        std::array<std::array<T, block + margin>, reach> column;
        for (auto& c : column) std::fill_n(c.begin(), margin, T(0));
        std::array<T, Values ? block : 1> values;
        std::size_t start = 0;  // index of the block's first term
        for (;;) {
            const std::size_t count = std::min(block, m - start);
            const std::size_t base = first() + start;
            for (std::size_t j = 0; j < count; ++j) {
                contributions(start + j, base + j, d, value);
                [&]<std::size_t... K>(std::index_sequence<K...>) {
                    ((column[used[K]][margin + j] = d[used[K]]), ...);
                }(std::make_index_sequence<used.size()>{});
                if constexpr (Values) values[j] = value;
            }
            // position base + q receives offset a from term q − a, the oldest term first; the
            // values' serial sum (in term order) overlaps with this loop's work
            for (std::size_t q = 0; q < count; ++q) {
                out[base + q] = gather(column, margin + q);
                if constexpr (Values) sum += values[q];
            }
            if (start + count == m) {
                // the positions after the last term: only the terms that exist
                [&]<std::size_t... K>(std::index_sequence<K...>) {
                    ((out[base + count + K] = gather_tail<K + 1>(column, margin + count + K)), ...);
                }(std::make_index_sequence<margin>{});
                for (std::size_t p = base + count + margin; p < size(); ++p) out[p] = T(0);
                return sum;
            }
            for (std::size_t a = 0; a < reach; ++a)
                for (std::size_t k = 0; k < margin; ++k) column[a][k] = column[a][count + k];
            start += count;
        }
    }

    // Σ over the stencil's offsets a, from the largest down (the oldest term first), of
    // column[a][at − a]: the first operand is taken as it is, the others added.
    template <class Columns>
    static auto gather(const Columns& column, std::size_t at) {
        return gather_tail<0>(column, at);
    }
    // The same over the offsets a ≥ Skip only (the terms below the sum's end).
    template <std::size_t Skip, class Columns>
    static auto gather_tail(const Columns& column, std::size_t at) {
        constexpr std::size_t count = used.size();
        constexpr std::size_t first_kept = [] {
            std::size_t k = 0;
            while (k < count && used[k] < Skip) ++k;
            return k;
        }();
        static_assert(first_kept < count, "the largest offset of the stencil is reach − 1");
        auto total = column[used[count - 1]][at - used[count - 1]];
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            ((total += column[used[count - 2 - K]][at - used[count - 2 - K]]), ...);
        }(std::make_index_sequence<count - 1 - first_kept>{});
        return total;
    }

    template <std::size_t A, class Open>
    static void clear_unless_in_stencil(Open& open) {
        if constexpr (!std::binary_search(used.begin(), used.end(), A)) open[A] = 0;
    }
};

/// Σ_{i=0}^{m−1} body(x_{s·i + a}, …) over m terms known at run time.
template <expression Body, std::size_t S = 1>
auto indexed_sum(Body, std::size_t m, stride_t<S> = {}) {
    return indexed_sum_function<Body, S, 0>(m);
}

/// The same over a compile-time number of terms M (dimension s·(M − 1) + reach known at compile time).
template <expression Body, std::size_t M, std::size_t S = 1>
constexpr auto indexed_sum(Body, terms_t<M>, stride_t<S> = {}) {
    static_assert(M >= 1, "an indexed sum over a compile-time range needs at least one term");
    return indexed_sum_function<Body, S, M>{};
}

}  // namespace teleport::expr

namespace teleport {
using expr::indexed_sum;
using expr::indexed_sum_function;
}  // namespace teleport
