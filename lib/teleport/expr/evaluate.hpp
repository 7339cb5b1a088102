// teleport/expr/evaluate.hpp — evaluation with common-subexpression elimination.
//
// To evaluate several expressions at once (a loss and its gradient, the Hessian entries), the
// evaluator lists every distinct inner node of all of them in post-order — children before
// parents, each type once — at compile time. One evaluation then fills one array slot per distinct
// node, in that order, reading each child from its slot; shared subexpressions (which have equal
// types) are computed once. The slot of a node is found at compile time, so the generated code is a
// straight-line sequence of arithmetic on a fixed-size array that the compiler keeps in registers.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "teleport/expr/core.hpp"

namespace teleport::expr {

template <class... Ts>
struct type_list {
    static constexpr std::size_t size = sizeof...(Ts);
};

namespace detail {

template <class E> struct is_node : std::false_type {};
template <class Op, class... C> struct is_node<node<Op, C...>> : std::true_type {};

// Post-order list of the distinct inner nodes of E, appended to the list L (skipping those in L).
template <class E, class... Ts>
constexpr auto collect(type_list<Ts...> l, E);

// The same, through a sequence of expressions, left to right.
template <class L>
constexpr auto collect_seq(L l) {
    return l;
}
template <class L, class E, class... Es>
constexpr auto collect_seq(L l, E e, Es... es) {
    return collect_seq(collect(l, e), es...);
}

template <class E, class... Us>
constexpr auto append_new(type_list<Us...>) {
    if constexpr ((std::is_same_v<E, Us> || ...)) return type_list<Us...>{};
    else return type_list<Us..., E>{};
}

template <class E, class... Ts>
constexpr auto collect(type_list<Ts...> l, E) {
    if constexpr (!is_node<E>::value || (std::is_same_v<E, Ts> || ...)) {
        return l;
    } else {
        return []<class Op, class... C>(node<Op, C...>, auto start) {
            return append_new<E>(collect_seq(start, C{}...));  // children first
        }(E{}, l);
    }
}

// Slot lookup: the program's node list becomes a class with one base slot<E, i> per node, and the
// slot of E is deduced from the conversion to its base — O(1) per lookup for the compiler.
template <class E, std::size_t I> struct slot {};
template <class List, class Seq> struct slot_map;
template <class... Ts, std::size_t... Is>
struct slot_map<type_list<Ts...>, std::index_sequence<Is...>> : slot<Ts, Is>... {};
template <class E, std::size_t I>
constexpr std::size_t slot_of(const slot<E, I>*) {
    return I;
}

}  // namespace detail

/// A straight-line program computing the expressions Roots... with shared subexpressions once.
template <class... Roots>
struct program {
    using nodes = decltype(detail::collect_seq(type_list<>{}, Roots{}...));
    static constexpr std::size_t node_count = nodes::size;

  private:
    using map = detail::slot_map<nodes, std::make_index_sequence<node_count>>;

    template <class E, class T, class Slots, class X, class P>
    static T value(const Slots& v, const X& x, const P& p) {
        if constexpr (is_constant_v<E>) {
            return E::template value<T>;
        } else if constexpr (is_variable<E>::value) {
            return static_cast<T>(x[E::index]);
        } else if constexpr (is_parameter<E>::value) {
            return static_cast<T>(p[E::index]);
        } else {
            return v[detail::slot_of<E>(static_cast<const map*>(nullptr))];
        }
    }

    template <class E, class T, class Slots, class X, class P>
    static T compute(const Slots& v, const X& x, const P& p) {
        return []<class Op, class... C>(node<Op, C...>, const Slots& vs, const X& xs, const P& ps) {
            return Op::template apply<T>(value<C, T>(vs, xs, ps)...);
        }(E{}, v, x, p);
    }

    template <class T, class X, class P, class... Ns>
    static void fill(std::array<T, node_count>& v, const X& x, const P& p, type_list<Ns...>) {
        std::size_t k = 0;
        ((v[k++] = compute<Ns, T>(v, x, p)), ...);  // post-order: children are already in place
    }

  public:
    /// Evaluate every root at the point x with parameter values p; one value per root, in order.
    template <class T, class X, class P>
    static std::array<T, sizeof...(Roots)> run(const X& x, const P& p) {
        std::array<T, node_count> v;
        fill<T>(v, x, p, nodes{});
        return {value<Roots, T>(v, x, p)...};
    }

    /// Evaluate, then hand each root's value to sink(std::integral_constant<size_t, k>, value).
    template <class T, class X, class P, class Sink>
    static void run_into(const X& x, const P& p, Sink&& sink) {
        std::array<T, node_count> v;
        fill<T>(v, x, p, nodes{});
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (sink(std::integral_constant<std::size_t, K>{}, value<Roots, T>(v, x, p)), ...);
        }(std::index_sequence_for<Roots...>{});
    }
};

template <class... Roots>
struct program<type_list<Roots...>> : program<Roots...> {};

/// No runtime parameters.
struct no_parameters {
    double operator[](std::size_t) const { return 0.0; }
};

/// Value of one expression at x (an indexable point) with parameter values p.
template <class T = double, expression E, class X, class P = no_parameters>
T evaluate(E, const X& x, const P& p = {}) {
    return program<E>::template run<T>(x, p)[0];
}

}  // namespace teleport::expr
