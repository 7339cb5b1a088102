// teleport/expr/calculus.hpp — derivatives and substitution as type computations.
//
// derivative<I>(e) is another expression; applying it again gives any order. The rules reuse the
// node being differentiated wherever the derivative contains it (d exp(a) = exp(a)·da,
// d(a/b) = (da − (a/b)·db)/b, d sqrt(a) = da/(2 sqrt(a)), d tanh(a) = (1 − tanh(a)²)·da), so that the
// evaluator's common-subexpression elimination computes each such value once for the function and
// all its derivatives together.
#pragma once

#include <array>
#include <tuple>
#include <utility>

#include "teleport/expr/simplify.hpp"

namespace teleport::expr {

namespace detail {

template <std::size_t I, class E> struct diff_rule;  // one specialization per operation, below

template <std::size_t I, class E>
constexpr auto diff(E) {
    if constexpr (is_variable<E>::value) {
        if constexpr (E::index == I) return one{};
        else return zero{};
    } else if constexpr (!depends_on<E>(I)) {
        return zero{};  // constants, parameters and subexpressions free of x_I
    } else {
        return diff_rule<I, E>::apply();
    }
}

// For a sum: which terms contain each variable, as one table per sum node (compressed rows:
// the terms containing x_i are at[start[i]] … at[start[i+1] − 1]).
template <class... Ts>
struct sum_incidence {
    static constexpr std::size_t variables = std::max({std::size_t{0}, variable_count<Ts>::value...});
    static constexpr std::size_t entries = (std::size_t{0} + ... + variable_set<Ts>::indices.size());
    static constexpr auto table = [] {
        std::array<std::size_t, variables + 1> start{};
        std::array<std::size_t, entries> at{};
        std::size_t term = 0;
        ((
             [&] {
                 for (std::size_t i : variable_set<Ts>::indices) ++start[i + 1];
             }()),
         ...);
        for (std::size_t i = 0; i < variables; ++i) start[i + 1] += start[i];
        auto fill = start;
        ((
             [&] {
                 for (std::size_t i : variable_set<Ts>::indices) at[fill[i]++] = term;
                 ++term;
             }()),
         ...);
        return std::pair{start, at};
    }();
};

template <std::size_t I, class... Ts>
struct diff_rule<I, node<op::add, Ts...>> {
    // Only the terms that contain x_I are differentiated: in a long sum (an n-dimensional loss)
    // that is a few of them, read off the sum's incidence table.
    using incidence = sum_incidence<Ts...>;
    static constexpr std::size_t first = incidence::table.first[I];
    static constexpr std::size_t count = incidence::table.first[I + 1] - first;
    static constexpr auto apply() {
        return []<std::size_t... K>(std::index_sequence<K...>) {
            return fold_add(diff<I>(pack_element<incidence::table.second[first + K], Ts...>{})...);
        }(std::make_index_sequence<count>{});
    }
};
template <std::size_t I, class A, class B>
struct diff_rule<I, node<op::mul, A, B>> {
    static constexpr auto apply() {
        return make_add(make_mul(diff<I>(A{}), B{}), make_mul(A{}, diff<I>(B{})));
    }
};
template <std::size_t I, class A, class B>
struct diff_rule<I, node<op::div, A, B>> {
    static constexpr auto apply() {
        constexpr node<op::div, A, B> q{};
        // d(a/b) = (da − q·db)/b with q = a/b, the node itself (shared with the value)
        return make_div(make_sub(diff<I>(A{}), make_mul(q, diff<I>(B{}))), B{});
    }
};
template <std::size_t I, int N, class A>
struct diff_rule<I, node<op::pow<N>, A>> {
    static constexpr auto apply() {
        return make_mul(make_mul(c<N>, make_pow<N - 1>(A{})), diff<I>(A{}));
    }
};
template <std::size_t I, class A>
struct diff_rule<I, node<op::exp, A>> {
    static constexpr auto apply() {
        constexpr node<op::exp, A> e{};
        return make_mul(e, diff<I>(A{}));
    }
};
template <std::size_t I, class A>
struct diff_rule<I, node<op::log, A>> {
    static constexpr auto apply() {
        return make_div(diff<I>(A{}), A{});
    }
};
template <std::size_t I, class A>
struct diff_rule<I, node<op::sqrt, A>> {
    static constexpr auto apply() {
        constexpr node<op::sqrt, A> s{};
        return make_mul(c<1, 2>, make_div(diff<I>(A{}), s));
    }
};
template <std::size_t I, class A>
struct diff_rule<I, node<op::sin, A>> {
    static constexpr auto apply() {
        return make_mul(make_unary(op::cos{}, A{}), diff<I>(A{}));
    }
};
template <std::size_t I, class A>
struct diff_rule<I, node<op::cos, A>> {
    static constexpr auto apply() {
        return make_neg(make_mul(make_unary(op::sin{}, A{}), diff<I>(A{})));
    }
};
template <std::size_t I, class A>
struct diff_rule<I, node<op::tanh, A>> {
    static constexpr auto apply() {
        constexpr node<op::tanh, A> t{};
        return make_mul(make_sub(one{}, make_pow<2>(t)), diff<I>(A{}));
    }
};

// Rebuild a node from new children through the simplifying constructors.
template <class Op, class... C>
constexpr auto rebuild(Op, C... children) {
    if constexpr (std::is_same_v<Op, op::add>) return fold_add(zero{}, children...);
    else if constexpr (std::is_same_v<Op, op::mul>) return make_mul(children...);
    else if constexpr (std::is_same_v<Op, op::div>) return make_div(children...);
    else if constexpr (requires { Op::exponent; }) return make_pow<Op::exponent>(children...);
    else return make_unary(Op{}, children...);
}

template <class E, class Replacements>
constexpr auto substitute_all(E, Replacements r) {
    if constexpr (is_variable<E>::value) {
        static_assert(E::index < std::tuple_size_v<Replacements>,
                      "compose: the expression uses a variable that has no replacement");
        return std::get<E::index>(r);
    } else if constexpr (is_constant_v<E> || is_parameter<E>::value) {
        return E{};
    } else {
        return [&]<class Op, class... C>(node<Op, C...>) {
            return rebuild(Op{}, substitute_all(C{}, r)...);
        }(E{});
    }
}

template <std::size_t I, class E, class R>
constexpr auto substitute_one(E, R r) {
    if constexpr (is_variable<E>::value) {
        if constexpr (E::index == I) return r;
        else return E{};
    } else if constexpr (!depends_on_v<I, E>) {
        return E{};
    } else {
        return [&]<class Op, class... C>(node<Op, C...>) {
            return rebuild(Op{}, substitute_one<I>(C{}, r)...);
        }(E{});
    }
}

}  // namespace detail

/// ∂e/∂x_I, to be applied again for higher orders.
template <std::size_t I, expression E>
constexpr auto derivative(E e) {
    return detail::diff<I>(e);
}

/// ∂e/∂v for a variable v that must occur in e (differentiating by an absent variable is
/// almost always a mistake, so it stops the build).
template <expression E, std::size_t I, fixed_string Name>
constexpr auto derivative(E e, variable<I, Name>) {
    static_assert(depends_on_v<I, E>, "derivative with respect to a variable that does not occur in the expression");
    return detail::diff<I>(e);
}

/// The gradient (∂e/∂x_0, …, ∂e/∂x_{N−1}) as a tuple of expressions.
template <std::size_t N, expression E>
constexpr auto gradient(E e) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::tuple{detail::diff<I>(e)...};
    }(std::make_index_sequence<N>{});
}

/// Position of entry (i, j), i ≤ j, in the row-major upper triangle of an N×N symmetric matrix.
template <std::size_t N>
constexpr std::size_t upper_index(std::size_t i, std::size_t j) {
    return i * N - i * (i + 1) / 2 + j;
}

/// e with variable x_I replaced by the expression r.
template <std::size_t I, expression E, expression R>
constexpr auto substitute(E e, R r) {
    return detail::substitute_one<I>(e, r);
}

/// e(r_0, …, r_{k−1}): every variable x_i replaced by r_i (function composition).
template <expression E, expression... R>
constexpr auto compose(E e, R... r) {
    return detail::substitute_all(e, std::tuple<R...>{r...});
}

}  // namespace teleport::expr
