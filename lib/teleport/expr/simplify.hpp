// teleport/expr/simplify.hpp — building expressions, with a small terminating simplification.
//
// Every node is built through a make_* function that applies a fixed set of local rules:
//   constant folding (rationals), 0 + a = a, 0·a = 0, 1·a = a, a/c = (1/c)·a,
//   c₁·a + c₂·a = (c₁+c₂)·a (which gives a − a = 0 and a + a = 2·a),
//   constants pulled to the front of products (c₁·(c₂·a) = (c₁c₂)·a), a·a = a², aᵐ·aⁿ = aᵐ⁺ⁿ (m, n > 0),
//   (aᵐ)ⁿ = aᵐⁿ, (c·a)ⁿ = cⁿ·aⁿ, and exp(0) = 1, log(1) = 0, sin(0) = tanh(0) = sqrt(0) = 0, cos(0) = 1.
// Each rule either removes a node or moves a constant coefficient outwards, so rewriting terminates;
// no rule is the inverse of another, so nothing can oscillate. Negation is multiplication by −1
// and subtraction is a + (−1)·b, so the coefficient rules cover both.
#pragma once

#include "teleport/expr/core.hpp"

namespace teleport::expr {

namespace detail {

template <class A, class B>
using const_sum = typename reduced<A::num * B::den + B::num * A::den, A::den * B::den>::type;
template <class A, class B>
using const_product = typename reduced<A::num * B::num, A::den * B::den>::type;
template <class A, class B>
using const_quotient = typename reduced<A::num * B::den, A::den * B::num>::type;

template <class C, int N>
constexpr auto const_power() {
    if constexpr (N == 0) {
        return one{};
    } else if constexpr (N < 0) {
        static_assert(C::num != 0, "a negative power of the constant zero is undefined");
        return const_quotient<one, decltype(const_power<C, -N>())>{};
    } else {
        return const_product<C, decltype(const_power<C, N - 1>())>{};
    }
}

// Split an expression into (constant coefficient, rest): c·r → (c, r), otherwise (1, e).
template <class E> struct coefficient_split {
    using coefficient = one;
    using rest = E;
};
template <std::intmax_t N, std::intmax_t D> struct coefficient_split<constant<N, D>> {
    using coefficient = constant<N, D>;
    using rest = one;  // so that constant terms of a sum merge with each other
};
template <std::intmax_t N, std::intmax_t D, class R> struct coefficient_split<node<op::mul, constant<N, D>, R>> {
    using coefficient = constant<N, D>;
    using rest = R;
};

// Split a power: aⁿ → (a, n) for n > 0, otherwise (e, 1).
template <class E> struct power_split {
    using base = E;
    static constexpr int exponent = 1;
};
template <int N, class A>
    requires(N > 0)
struct power_split<node<op::pow<N>, A>> {
    using base = A;
    static constexpr int exponent = N;
};

}  // namespace detail

template <int N, expression A> constexpr auto make_pow(A);
template <expression A, expression B> constexpr auto make_mul(A, B);

template <expression A, expression B> constexpr auto make_add(A, B);

namespace detail {

template <class E> struct is_sum : std::false_type {};
template <class... Ts> struct is_sum<node<op::add, Ts...>> : std::true_type {};

template <class... Ts> struct terms {};

template <class... As, class... Bs>
constexpr terms<As..., Bs...> operator+(terms<As...>, terms<Bs...>) {
    return {};
}

// A sum of the given terms: nothing → 0, one term → itself.
template <class... Ts>
constexpr auto sum_of(terms<Ts...>) {
    if constexpr (sizeof...(Ts) == 0) return zero{};
    else if constexpr (sizeof...(Ts) == 1) return (Ts{}, ...);
    else return node<op::add, Ts...>{};
}

// T with B merged into it if both have the same non-constant part; dropped if that gives 0.
template <class B, class T>
constexpr auto merge_if_same() {
    if constexpr (TELEPORT_IS_SAME(typename coefficient_split<T>::rest, typename coefficient_split<B>::rest)) {
        using merged = decltype(make_add(T{}, B{}));  // two single terms: c₁·r + c₂·r = (c₁ + c₂)·r
        if constexpr (std::is_same_v<merged, zero>) return terms<>{};
        else return terms<merged>{};
    } else {
        return terms<T>{};
    }
}

// Add the single term B to a flat sum: merged into a like term if there is one, else appended.
template <class B, class... Ts>
constexpr auto add_term(terms<Ts...>) {
    constexpr bool found =
        (TELEPORT_IS_SAME(typename coefficient_split<Ts>::rest, typename coefficient_split<B>::rest) || ...);
    if constexpr (found) return (terms<>{} + ... + merge_if_same<B, Ts>());
    else return terms<Ts..., B>{};
}

constexpr auto fold_add() {
    return zero{};
}
template <class A>
constexpr auto fold_add(A a) {
    return a;
}
template <class A, class B, class... Bs>
constexpr auto fold_add(A a, B b, Bs... bs) {
    return fold_add(make_add(a, b), bs...);
}

}  // namespace detail

/// a + b, simplified. Sums are kept flat: a + (b + c) and (a + b) + c are both the node
/// add<a, b, c>, in the order the terms were added.
template <expression A, expression B>
constexpr auto make_add(A, B) {
    using split_a = detail::coefficient_split<A>;
    using split_b = detail::coefficient_split<B>;
    if constexpr (is_constant_v<A> && is_constant_v<B>) {
        return detail::const_sum<A, B>{};
    } else if constexpr (std::is_same_v<A, zero>) {
        return B{};
    } else if constexpr (std::is_same_v<B, zero>) {
        return A{};
    } else if constexpr (detail::is_sum<B>::value) {
        // a + (b₁ + … + bₖ) = ((a + b₁) + …) + bₖ, keeping the sum flat
        return []<class... Bs>(node<op::add, Bs...>) {
            return detail::fold_add(A{}, Bs{}...);
        }(B{});
    } else if constexpr (detail::is_sum<A>::value) {
        return []<class... As>(node<op::add, As...>) {
            return detail::sum_of(detail::add_term<B>(detail::terms<As...>{}));
        }(A{});
    } else if constexpr (std::is_same_v<typename split_a::rest, typename split_b::rest>) {
        // c₁·r + c₂·r = (c₁ + c₂)·r
        return make_mul(detail::const_sum<typename split_a::coefficient, typename split_b::coefficient>{},
                        typename split_a::rest{});
    } else {
        return node<op::add, A, B>{};
    }
}

/// a · b, simplified.
template <expression A, expression B>
constexpr auto make_mul(A, B) {
    using split_a = detail::coefficient_split<A>;
    using split_b = detail::coefficient_split<B>;
    using pow_a = detail::power_split<A>;
    using pow_b = detail::power_split<B>;
    if constexpr (is_constant_v<A> && is_constant_v<B>) {
        return detail::const_product<A, B>{};
    } else if constexpr (std::is_same_v<A, zero> || std::is_same_v<B, zero>) {
        return zero{};
    } else if constexpr (std::is_same_v<A, one>) {
        return B{};
    } else if constexpr (std::is_same_v<B, one>) {
        return A{};
    } else if constexpr (is_constant_v<B>) {
        return make_mul(B{}, A{});  // constants go in front
    } else if constexpr (is_constant_v<A>) {
        if constexpr (!std::is_same_v<typename split_b::coefficient, one>) {
            return make_mul(detail::const_product<A, typename split_b::coefficient>{}, typename split_b::rest{});
        } else {
            return node<op::mul, A, B>{};
        }
    } else if constexpr (!std::is_same_v<typename split_a::coefficient, one> ||
                         !std::is_same_v<typename split_b::coefficient, one>) {
        // (c₁·a)(c₂·b) = (c₁c₂)·(ab)
        return make_mul(detail::const_product<typename split_a::coefficient, typename split_b::coefficient>{},
                        make_mul(typename split_a::rest{}, typename split_b::rest{}));
    } else if constexpr (std::is_same_v<typename pow_a::base, typename pow_b::base>) {
        // aᵐ · aⁿ = aᵐ⁺ⁿ (positive exponents only, so no domain is lost)
        return make_pow<pow_a::exponent + pow_b::exponent>(typename pow_a::base{});
    } else {
        return node<op::mul, A, B>{};
    }
}

/// −a, as (−1)·a.
template <expression A>
constexpr auto make_neg(A a) {
    return make_mul(c<-1>, a);
}

/// a − b, as a + (−1)·b.
template <expression A, expression B>
constexpr auto make_sub(A a, B b) {
    return make_add(a, make_neg(b));
}

/// a / b, simplified.
template <expression A, expression B>
constexpr auto make_div(A, B) {
    static_assert(!std::is_same_v<B, zero>, "division by the constant zero");
    if constexpr (is_constant_v<B>) {
        return make_mul(detail::const_quotient<one, B>{}, A{});
    } else if constexpr (std::is_same_v<A, zero>) {
        return zero{};
    } else {
        return node<op::div, A, B>{};
    }
}

/// aᴺ for an integer N, simplified.
template <int N, expression A>
constexpr auto make_pow(A) {
    using split = detail::coefficient_split<A>;
    if constexpr (N == 0) {
        return one{};
    } else if constexpr (N == 1) {
        return A{};
    } else if constexpr (is_constant_v<A>) {
        return detail::const_power<A, N>();
    } else if constexpr (!std::is_same_v<typename split::coefficient, one>) {
        // (c·a)ⁿ = cⁿ·aⁿ
        return make_mul(detail::const_power<typename split::coefficient, N>(), make_pow<N>(typename split::rest{}));
    } else if constexpr (detail::power_split<A>::exponent != 1) {
        // (aᵐ)ⁿ = aᵐⁿ
        return make_pow<N * detail::power_split<A>::exponent>(typename detail::power_split<A>::base{});
    } else {
        return node<op::pow<N>, A>{};
    }
}

/// f(a) for one of the elementary functions, with the exact values at 0 and 1 folded.
template <class Op, expression A>
constexpr auto make_unary(Op, A) {
    if constexpr (std::is_same_v<A, zero> &&
                  (std::is_same_v<Op, op::sin> || std::is_same_v<Op, op::tanh> || std::is_same_v<Op, op::sqrt>)) {
        return zero{};
    } else if constexpr (std::is_same_v<A, zero> && (std::is_same_v<Op, op::exp> || std::is_same_v<Op, op::cos>)) {
        return one{};
    } else if constexpr (std::is_same_v<A, one> && std::is_same_v<Op, op::log>) {
        return zero{};
    } else if constexpr (std::is_same_v<A, one> && std::is_same_v<Op, op::sqrt>) {
        return one{};
    } else {
        return node<Op, A>{};
    }
}

// ---------------------------------------------------------------------------------------------
// The user's vocabulary: operators and elementary functions on expressions.
template <expression A, expression B> constexpr auto operator+(A a, B b) { return make_add(a, b); }
template <expression A, expression B> constexpr auto operator-(A a, B b) { return make_sub(a, b); }
template <expression A, expression B> constexpr auto operator*(A a, B b) { return make_mul(a, b); }
template <expression A, expression B> constexpr auto operator/(A a, B b) { return make_div(a, b); }
template <expression A> constexpr auto operator-(A a) { return make_neg(a); }

// A plain number next to an expression is a runtime value the compile-time engine cannot keep:
// say what to write instead of listing every operator that does not match.
namespace detail {
template <class T>
inline constexpr bool number_in_expression = false;
}  // namespace detail
template <class T>
concept plain_number = std::is_arithmetic_v<T>;
#define TELEPORT_NUMBER_MESSAGE                                                                                      \
    "a number in an expression must be a compile-time constant: write 2_c (or 0.5_c, or c<1, 3> for 1/3) instead of " \
    "2.0 (a value known only at run time is a parameter<K, \"name\">)"
template <expression A, plain_number T> constexpr auto operator+(T, A a) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator+(A a, T) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator-(T, A a) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator-(A a, T) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator*(T, A a) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator*(A a, T) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator/(T, A a) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
template <expression A, plain_number T> constexpr auto operator/(A a, T) { static_assert(detail::number_in_expression<T>, TELEPORT_NUMBER_MESSAGE); return a; }
#undef TELEPORT_NUMBER_MESSAGE
template <expression A> constexpr auto operator+(A a) { return a; }

/// aᴺ for a compile-time integer N (negative allowed).
template <int N, expression A> constexpr auto pow(A a) { return make_pow<N>(a); }
template <expression A> constexpr auto exp(A a) { return make_unary(op::exp{}, a); }
template <expression A> constexpr auto log(A a) { return make_unary(op::log{}, a); }
template <expression A> constexpr auto sqrt(A a) { return make_unary(op::sqrt{}, a); }
template <expression A> constexpr auto sin(A a) { return make_unary(op::sin{}, a); }
template <expression A> constexpr auto cos(A a) { return make_unary(op::cos{}, a); }
template <expression A> constexpr auto tanh(A a) { return make_unary(op::tanh{}, a); }

namespace detail {
template <class T> constexpr auto flatten_term(T) {
    if constexpr (std::is_same_v<T, zero>) return terms<>{};
    else return terms<T>{};
}
template <class... Ts> constexpr auto flatten_term(node<op::add, Ts...>) {
    return terms<Ts...>{};
}
// True when no two terms share their non-constant part. The parts become the bases of one
// class; looking a part up is ambiguous exactly when it occurs twice (linear, not quadratic).
template <class... Ts>
constexpr bool no_like_terms(terms<Ts...>) {
    using parts = indexer<std::index_sequence_for<Ts...>, typename coefficient_split<Ts>::rest...>;
    return (requires { index_of_indexed<typename coefficient_split<Ts>::rest>(static_cast<const parts*>(nullptr)); } &&
            ...);
}
}  // namespace detail

/// t₀ + t₁ + … as one flat sum, simplified like repeated make_add but built in one step when no
/// two terms combine (the common case for an n-dimensional loss, which would otherwise cost the
/// compiler a quadratic number of intermediate sums).
template <expression... Ts>
constexpr auto make_sum(Ts...) {
    using all = std::conditional_t<((detail::is_sum<Ts>::value || std::is_same_v<Ts, zero>) || ...),
                                   decltype((detail::terms<>{} + ... + detail::flatten_term(Ts{}))),
                                   detail::terms<Ts...>>;
    if constexpr (detail::no_like_terms(all{})) {
        return detail::sum_of(all{});
    } else {
        return detail::fold_add(zero{}, Ts{}...);
    }
}

/// Σ_{i<N} f(i) with i an std::integral_constant, for n-dimensional losses.
template <std::size_t N, class F>
constexpr auto sum(F f) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return make_sum(f(std::integral_constant<std::size_t, I>{})...);
    }(std::make_index_sequence<N>{});
}

namespace literals {
namespace detail {
template <char... Cs>
constexpr auto parse_decimal() {
    constexpr char s[] = {Cs...};
    std::intmax_t num = 0;
    std::intmax_t den = 1;
    bool after_point = false;
    for (char ch : s) {
        if (ch == '.') {
            after_point = true;
        } else if (ch != '\'') {
            num = num * 10 + (ch - '0');
            if (after_point) den *= 10;
        }
    }
    return std::pair{num, den};
}
}  // namespace detail

/// 3_c, 0.25_c: exact compile-time rational constants (decimal digits only).
template <char... Cs>
constexpr auto operator""_c() {
    static_assert((((Cs >= '0' && Cs <= '9') || Cs == '.' || Cs == '\'') && ...),
                  "_c takes a plain decimal number such as 3_c or 0.25_c");
    constexpr auto nd = detail::parse_decimal<Cs...>();
    return c<nd.first, nd.second>;
}
}  // namespace literals

}  // namespace teleport::expr
