// teleport/expr/core.hpp — the node types of the compile-time symbolic engine.
//
// Every expression is an *empty* type: leaves are variables x_i, runtime parameters p_k (values bound
// at evaluation time) and compile-time rationals; inner nodes are node<Op, Children...>. Because an
// expression carries no data, two occurrences of the same subexpression have the same type, which is
// what lets evaluation share them (common-subexpression elimination by type identity), and
// derivatives, substitution and simplification are plain type computations.
//
// Users never spell these types: they write `x * x + 3_c * y` and use `auto`.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <type_traits>

// The compiler's type-identity builtin: a fold over it instantiates nothing, where a fold over
// std::is_same_v instantiates one variable template per pair (quadratic in the node count).
#if defined(__GNUC__) || defined(__clang__)
#define TELEPORT_IS_SAME(A, B) __is_same(A, B)
#else
#define TELEPORT_IS_SAME(A, B) std::is_same_v<A, B>
#endif

namespace teleport::expr {

// ---------------------------------------------------------------------------------------------
// A string usable as a template argument (variable names for printing).
template <std::size_t N>
struct fixed_string {
    char chars[N]{};
    constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, chars); }
    constexpr const char* c_str() const { return chars; }
    constexpr bool empty() const { return N <= 1; }
};

// ---------------------------------------------------------------------------------------------
// Leaves.

/// Variable number I of the function (0-based). Name is used only when printing.
template <std::size_t I, fixed_string Name = "">
struct variable {
    static constexpr std::size_t index = I;
    static constexpr auto name = Name;
};

/// Runtime parameter number K: a value that is not known at compile time and is bound at
/// evaluation (a data entry, a matrix coefficient). Derivatives treat it as a constant.
template <std::size_t K, fixed_string Name = "">
struct parameter {
    static constexpr std::size_t index = K;
    static constexpr auto name = Name;
};

/// Compile-time rational Num/Den, always in lowest terms with Den > 0.
template <std::intmax_t Num, std::intmax_t Den = 1>
struct constant {
    static_assert((Den > 0 && std::gcd(Num, Den) == 1) || (Num == 0 && Den == 1),
                  "constant<Num, Den> must be in lowest terms with a positive denominator; use c<Num, Den>");
    static constexpr std::intmax_t num = Num;
    static constexpr std::intmax_t den = Den;
    template <class T>
    static constexpr T value = static_cast<T>(Num) / static_cast<T>(Den);
};

namespace detail {
constexpr std::intmax_t abs_value(std::intmax_t a) { return a < 0 ? -a : a; }
template <std::intmax_t N, std::intmax_t D>
struct reduced {
    static_assert(D != 0, "a compile-time constant has a zero denominator (division by the constant zero)");
    static constexpr std::intmax_t g = std::gcd(abs_value(N), abs_value(D));
    static constexpr std::intmax_t sign = D < 0 ? -1 : 1;
    using type = constant<(N == 0 ? 0 : sign * N / g), (N == 0 ? 1 : sign * D / g)>;
};
}  // namespace detail

/// The rational Num/Den as an expression, reduced to lowest terms.
template <std::intmax_t Num, std::intmax_t Den = 1>
inline constexpr typename detail::reduced<Num, Den>::type c{};

using zero = constant<0>;
using one = constant<1>;

// ---------------------------------------------------------------------------------------------
// Operations. Each knows how to compute its value from its children's values.
namespace op {
/// n-ary sum (sums are kept flat, so a long sum is one node, not a deep chain).
struct add {
    template <class T, class... Ts> static constexpr T apply(T a, Ts... rest) { return (a + ... + rest); }
};
struct mul {
    template <class T> static constexpr T apply(T a, T b) { return a * b; }
};
struct div {
    template <class T> static constexpr T apply(T a, T b) { return a / b; }
};
/// Integer power a^N, computed by repeated squaring (exact for small N, no call to std::pow).
template <int N>
struct pow {
    static constexpr int exponent = N;
    template <class T>
    static constexpr T apply(T a) {
        if constexpr (N < 0) {
            return T(1) / pow<-N>::apply(a);
        } else if constexpr (N == 0) {
            return T(1);
        } else if constexpr (N == 1) {
            return a;
        } else {
            const T h = pow<N / 2>::apply(a);
            if constexpr (N % 2 == 0) return h * h;
            else return h * h * a;
        }
    }
};
struct exp {
    template <class T> static T apply(T a) { using std::exp; return exp(a); }
};
struct log {
    template <class T> static T apply(T a) { using std::log; return log(a); }
};
struct sqrt {
    template <class T> static T apply(T a) { using std::sqrt; return sqrt(a); }
};
struct sin {
    template <class T> static T apply(T a) { using std::sin; return sin(a); }
};
struct cos {
    template <class T> static T apply(T a) { using std::cos; return cos(a); }
};
struct tanh {
    template <class T> static T apply(T a) { using std::tanh; return tanh(a); }
};
}  // namespace op

/// An inner node: operation Op applied to the child expressions.
template <class Op, class... Children>
struct node {};

// ---------------------------------------------------------------------------------------------
// Traits.
template <class E> struct is_expression : std::false_type {};
template <std::size_t I, fixed_string N> struct is_expression<variable<I, N>> : std::true_type {};
template <std::size_t K, fixed_string N> struct is_expression<parameter<K, N>> : std::true_type {};
template <std::intmax_t N, std::intmax_t D> struct is_expression<constant<N, D>> : std::true_type {};
template <class Op, class... C> struct is_expression<node<Op, C...>> : std::true_type {};

/// An expression of the symbolic engine (a variable, parameter, constant or node).
template <class E>
concept expression = is_expression<std::remove_cvref_t<E>>::value;

template <class E> struct is_constant : std::false_type {};
template <std::intmax_t N, std::intmax_t D> struct is_constant<constant<N, D>> : std::true_type {};
template <class E> inline constexpr bool is_constant_v = is_constant<E>::value;

template <class E> struct is_variable : std::false_type {};
template <std::size_t I, fixed_string N> struct is_variable<variable<I, N>> : std::true_type {};

template <class E> struct is_parameter : std::false_type {};
template <std::size_t K, fixed_string N> struct is_parameter<parameter<K, N>> : std::true_type {};

// Number of variables an expression needs: one more than the largest variable index (0 if none).
template <class E> struct variable_count : std::integral_constant<std::size_t, 0> {};
template <std::size_t I, fixed_string N>
struct variable_count<variable<I, N>> : std::integral_constant<std::size_t, I + 1> {};
template <class Op, class... C>
struct variable_count<node<Op, C...>>
    : std::integral_constant<std::size_t, std::max({std::size_t{0}, variable_count<C>::value...})> {};
template <class E> inline constexpr std::size_t variable_count_v = variable_count<E>::value;

// Number of runtime parameters an expression needs.
template <class E> struct parameter_count : std::integral_constant<std::size_t, 0> {};
template <std::size_t K, fixed_string N>
struct parameter_count<parameter<K, N>> : std::integral_constant<std::size_t, K + 1> {};
template <class Op, class... C>
struct parameter_count<node<Op, C...>>
    : std::integral_constant<std::size_t, std::max({std::size_t{0}, parameter_count<C>::value...})> {};
template <class E> inline constexpr std::size_t parameter_count_v = parameter_count<E>::value;

// The sorted indices of the variables that occur in E, computed once per node (not once per
// (variable, node) pair: an n-dimensional gradient asks n questions of every node).
template <class E> struct variable_set {
    static constexpr std::array<std::size_t, 0> indices{};
};
template <std::size_t I, fixed_string N> struct variable_set<variable<I, N>> {
    static constexpr std::array<std::size_t, 1> indices{I};
};
template <class Op, class... C> struct variable_set<node<Op, C...>> {
  private:
    static constexpr std::size_t bound = std::max({std::size_t{0}, variable_count<C>::value...});
    // membership mask over 0 … bound−1: linear in the children's sets, no sorting
    static constexpr auto mask = [] {
        std::array<bool, bound> m{};
        ((
             [&] {
                 for (std::size_t i : variable_set<C>::indices) m[i] = true;
             }()),
         ...);
        return m;
    }();
    static constexpr std::size_t distinct = [] {
        std::size_t n = 0;
        for (bool b : mask) n += b ? 1 : 0;
        return n;
    }();

  public:
    static constexpr std::array<std::size_t, distinct> indices = [] {
        std::array<std::size_t, distinct> out{};
        std::size_t n = 0;
        for (std::size_t i = 0; i < bound; ++i)
            if (mask[i]) out[n++] = i;
        return out;
    }();
};

/// Whether variable I occurs in E.
template <class E>
constexpr bool depends_on(std::size_t i) {
    const auto& s = variable_set<E>::indices;
    return std::binary_search(s.begin(), s.end(), i);
}
template <std::size_t I, class E> inline constexpr bool depends_on_v = depends_on<E>(I);

// The K-th type of a pack in O(1) for the compiler: overload resolution against indexed bases.
template <std::size_t K, class T> struct indexed {};
template <class Seq, class... Ts> struct indexer;
template <std::size_t... Ks, class... Ts>
struct indexer<std::index_sequence<Ks...>, Ts...> : indexed<Ks, Ts>... {};
template <std::size_t K, class T>
T pick_indexed(const indexed<K, T>*);
template <class T, std::size_t K>
std::integral_constant<std::size_t, K> index_of_indexed(const indexed<K, T>*);
template <std::size_t K, class... Ts>
using pack_element = decltype(pick_indexed<K>(static_cast<const indexer<std::index_sequence_for<Ts...>, Ts...>*>(nullptr)));

// Number of nodes in the expression tree (with repetition): a measure of size.
template <class E> struct tree_size : std::integral_constant<std::size_t, 1> {};
template <class Op, class... C>
struct tree_size<node<Op, C...>> : std::integral_constant<std::size_t, (1 + ... + tree_size<C>::value)> {};

}  // namespace teleport::expr
