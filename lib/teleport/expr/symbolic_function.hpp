// teleport/expr/symbolic_function.hpp — an expression of N variables as a differentiable function.
//
//   using namespace teleport::expr::literals;
//   constexpr teleport::expr::variable<0, "x"> x;
//   constexpr teleport::expr::variable<1, "y"> y;
//   auto f = teleport::make_function<2>(100_c * pow<2>(x * x - y) + pow<2>(x - 1_c));
//   std::array<double, 2> w{-1, -1}, g;
//   double loss = f.evaluate_with_gradient(w, g);   // loss and ∇L in one pass, shared work once
//
// The gradient, the Hessian (its upper triangle, mirrored) and the Hessian-vector product are
// expression types generated when this class is instantiated; entries that simplify to the constant
// zero are dropped at compile time, so a sparse Hessian costs only its non-zero entries.
// Points and outputs may be std::array (size checked at compile time), std::vector or xtensor
// containers (size checked at run time), in float or double.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "teleport/expr/calculus.hpp"
#include "teleport/expr/evaluate.hpp"
#include "teleport/expr/print.hpp"

namespace teleport::expr {

namespace detail {

// Positions of the entries of a pack for which a predicate holds, computed as constant data.
template <std::size_t N>
struct selection {
    std::array<std::size_t, N> at{};
    std::size_t count = 0;
};
template <std::size_t N>
constexpr selection<N> select(const std::array<bool, N>& keep) {
    selection<N> s;
    for (std::size_t k = 0; k < N; ++k)
        if (keep[k]) s.at[s.count++] = k;
    return s;
}

template <class X> struct static_extent : std::integral_constant<std::size_t, 0> {};
template <class T, std::size_t M> struct static_extent<std::array<T, M>> : std::integral_constant<std::size_t, M> {};

template <class X>
using value_type_of = std::remove_cvref_t<decltype(std::declval<const X&>()[0])>;

// Check (at compile time where the size is in the type) that a vector has N entries; resize
// run-time-sized outputs that can be resized.
template <std::size_t N, class X>
void check_vector(X& x, const char* what) {
    if constexpr (static_extent<std::remove_cvref_t<X>>::value != 0) {
        static_assert(static_extent<std::remove_cvref_t<X>>::value == N,
                      "the array has the wrong number of entries for this function's variables");
    } else {
        if constexpr (!std::is_const_v<X> && requires { x.resize({N}); }) {
            if (x.size() != N) x.resize({N});
        }
        if (x.size() != N) {
            throw std::invalid_argument(std::string(what) + " has " + std::to_string(x.size()) +
                                        " entries but the function has " + std::to_string(N) + " variables");
        }
    }
}

template <class H>
decltype(auto) matrix_entry(H& h, std::size_t i, std::size_t j) {
    if constexpr (requires { h(i, j); }) return h(i, j);
    else return h[i][j];
}

// The non-zero entries of the Hessian's upper triangle: (row, column, expression).
template <std::size_t Row, std::size_t Col, class E>
struct hessian_entry {
    static constexpr std::size_t row = Row;
    static constexpr std::size_t col = Col;
    using type = E;
};

template <std::size_t N, class E>
struct hessian_structure {
    template <std::size_t I>
    using gradient_entry = decltype(diff<I>(E{}));

    // Entry (i, j), j ≥ i, can be non-zero only if ∂L/∂x_i depends on x_j: read that off the
    // gradient's variable sets first, so only those second derivatives are generated.
    static constexpr auto candidates = []<std::size_t... I>(std::index_sequence<I...>) {
        std::array<std::pair<std::size_t, std::size_t>, N*(N + 1) / 2> p{};
        std::size_t count = 0;
        (
            [&] {
                for (std::size_t j : variable_set<gradient_entry<I>>::indices)
                    if (j >= I) p[count++] = {I, j};
            }(),
            ...);
        return std::pair{p, count};
    }(std::make_index_sequence<N>{});

    template <std::size_t K>
    using candidate_expr = decltype(diff<candidates.first[K].second>(gradient_entry<candidates.first[K].first>{}));

    template <std::size_t... K>
    static constexpr std::array<bool, sizeof...(K)> nonzero_of(std::index_sequence<K...>) {
        return {!std::is_same_v<candidate_expr<K>, zero>...};
    }
    static constexpr auto kept = select(nonzero_of(std::make_index_sequence<candidates.second>{}));

    template <std::size_t... M>
    static auto entries_of(std::index_sequence<M...>)
        -> type_list<hessian_entry<candidates.first[kept.at[M]].first, candidates.first[kept.at[M]].second,
                                   candidate_expr<kept.at[M]>>...>;
    using entries = decltype(entries_of(std::make_index_sequence<kept.count>{}));
};

template <class List> struct entry_exprs;
template <class... Hs> struct entry_exprs<type_list<Hs...>> {
    using type = type_list<typename Hs::type...>;
};

template <std::size_t N, class E>
auto gradient_list() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return type_list<decltype(diff<I>(E{}))...>{};
    }(std::make_index_sequence<N>{});
}

template <class E, class... Gs>
auto prepend(type_list<Gs...>) -> type_list<E, Gs...>;

}  // namespace detail

/// A function ℝᴺ → ℝ given by the expression E, with runtime parameter values bound to it.
template <expression E, std::size_t N>
class symbolic_function {
    static_assert(variable_count_v<E> <= N,
                  "the expression uses a variable whose index is not below the function's dimension N");

  public:
    static constexpr std::size_t dimension = N;
    static constexpr std::size_t parameter_count = parameter_count_v<E>;

  private:
    using gradient_roots = decltype(detail::gradient_list<N, E>());
    using fused_roots = decltype(detail::prepend<E>(gradient_roots{}));
    using hessian_entries = typename detail::hessian_structure<N, E>::entries;
    using hessian_roots = typename detail::entry_exprs<hessian_entries>::type;

    std::array<double, parameter_count> parameters_{};

  public:
    constexpr symbolic_function() = default;

    /// Bind the runtime parameters p_0 … p_{P−1}.
    explicit symbolic_function(std::span<const double> parameters) { set_parameters(parameters); }

    void set_parameters(std::span<const double> parameters) {
        if (parameters.size() != parameter_count) {
            throw std::invalid_argument("the function has " + std::to_string(parameter_count) +
                                        " runtime parameters but " + std::to_string(parameters.size()) +
                                        " values were given");
        }
        std::copy(parameters.begin(), parameters.end(), parameters_.begin());
    }
    const std::array<double, parameter_count>& parameters() const { return parameters_; }

    /// Number of distinct inner nodes evaluated for the loss, the loss with its gradient, and the
    /// Hessian (a measure of the generated code's size).
    static constexpr std::size_t loss_nodes = program<E>::node_count;
    static constexpr std::size_t fused_nodes = program<fused_roots>::node_count;
    static constexpr std::size_t hessian_nonzeros = hessian_roots::size;

    /// L(x).
    template <class X>
    detail::value_type_of<X> evaluate(const X& x) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<N>(x, "the point");
        return program<E>::template run<T>(x, parameters_)[0];
    }

    /// g = ∇L(x).
    template <class X, class G>
    void gradient(const X& x, G& g) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<N>(x, "the point");
        detail::check_vector<N>(g, "the gradient");
        program<gradient_roots>::template run_into<T>(x, parameters_, [&](auto k, T value) { g[k()] = value; });
    }

    /// L(x), with g = ∇L(x) computed in the same pass (shared subexpressions once).
    template <class X, class G>
    detail::value_type_of<X> evaluate_with_gradient(const X& x, G& g) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<N>(x, "the point");
        detail::check_vector<N>(g, "the gradient");
        T loss{};
        program<fused_roots>::template run_into<T>(x, parameters_, [&](auto k, T value) {
            if constexpr (k == 0) loss = value;
            else g[k - 1] = value;
        });
        return loss;
    }

    /// H = ∇²L(x), exactly symmetric. H is indexed as H(i, j) (xtensor) or H[i][j] (nested arrays).
    template <class X, class H>
    void hessian(const X& x, H& h) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<N>(x, "the point");
        if constexpr (requires { h.resize({N, N}); }) h.resize({N, N});
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j) detail::matrix_entry(h, i, j) = T(0);
        program<hessian_roots>::template run_into<T>(x, parameters_, [&]<std::size_t K>(std::integral_constant<std::size_t, K>, T value) {
            using entry = std::tuple_element_t<K, decltype(as_tuple(hessian_entries{}))>;
            detail::matrix_entry(h, entry::row, entry::col) = value;
            detail::matrix_entry(h, entry::col, entry::row) = value;
        });
    }

    /// out = ∇²L(x) v, from the non-zero Hessian entries only.
    template <class X, class V, class O>
    void hessian_vector_product(const X& x, const V& v, O& out) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<N>(x, "the point");
        detail::check_vector<N>(v, "the direction");
        detail::check_vector<N>(out, "the product");
        for (std::size_t i = 0; i < N; ++i) out[i] = T(0);
        program<hessian_roots>::template run_into<T>(x, parameters_, [&]<std::size_t K>(std::integral_constant<std::size_t, K>, T value) {
            using entry = std::tuple_element_t<K, decltype(as_tuple(hessian_entries{}))>;
            out[entry::row] += value * static_cast<T>(v[entry::col]);
            if constexpr (entry::row != entry::col) out[entry::col] += value * static_cast<T>(v[entry::row]);
        });
    }

    /// ∂L/∂x_I as a function of the same variables and parameters (apply again for higher orders).
    template <std::size_t I>
    auto derivative() const {
        static_assert(I < N, "derivative index out of range: it must be below the function's number of variables");
        using D = decltype(detail::diff<I>(E{}));
        symbolic_function<D, N> d;
        if constexpr (symbolic_function<D, N>::parameter_count > 0)
            d.set_parameters(std::span<const double>(parameters_.data(), symbolic_function<D, N>::parameter_count));
        return d;
    }

    /// The loss expression (a value of an empty type; use with auto).
    static constexpr E expression() { return E{}; }

    static std::string to_string() { return expr::to_string(E{}); }
    static std::string to_latex() { return expr::to_latex(E{}); }

  private:
    template <class... Hs>
    static std::tuple<Hs...> as_tuple(type_list<Hs...>);
};

/// Wrap an expression as a function of N variables (N defaults to the variables it uses).
template <std::size_t N = 0, expression E>
auto make_function(E) {
    constexpr std::size_t n = N == 0 ? variable_count_v<E> : N;
    return symbolic_function<E, n>{};
}

/// The same with runtime parameter values bound.
template <std::size_t N = 0, expression E>
auto make_function(E e, std::span<const double> parameters) {
    auto f = make_function<N>(e);
    f.set_parameters(parameters);
    return f;
}

}  // namespace teleport::expr

namespace teleport {
using expr::make_function;
using expr::symbolic_function;
}  // namespace teleport
