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

// Post-order list of the distinct inner nodes of E appended to List (skipping those already in
// it). Class templates rather than constexpr functions: they produce no symbols, which keeps the
// compiler's work linear in the number of nodes for large expressions.
template <class List, class E> struct contains;
template <class... Ts, class E>
struct contains<type_list<Ts...>, E> : std::bool_constant<(TELEPORT_IS_SAME(E, Ts) || ...)> {};

template <class List, class E> struct append;
template <class... Ts, class E> struct append<type_list<Ts...>, E> {
    using type = type_list<Ts..., E>;
};

template <class List, class E, bool Skip = !is_node<E>::value || contains<List, E>::value>
struct collect {
    using type = List;
};
template <class List, class... Es> struct collect_seq;
template <class List> struct collect_seq<List> {
    using type = List;
};
template <class List, class E, class... Es> struct collect_seq<List, E, Es...> {
    using type = typename collect_seq<typename collect<List, E>::type, Es...>::type;
};
template <class List, class Op, class... C>
struct collect<List, node<Op, C...>, false> {
    // children first; a child may have brought this node in already only if the expression is cyclic,
    // which empty types cannot be, so the node is appended unconditionally
    using type = typename append<typename collect_seq<List, C...>::type, node<Op, C...>>::type;
};

// Slot lookup: the program's node list becomes a class with one base slot<E, i> per node, and the
// slot of E is deduced from the conversion to its base (declaration only, used in decltype).
template <class E, std::size_t I> struct slot {};
template <class List, class Seq> struct slot_map;
template <class... Ts, std::size_t... Is>
struct slot_map<type_list<Ts...>, std::index_sequence<Is...>> : slot<Ts, Is>... {};
template <class E, std::size_t I>
std::integral_constant<std::size_t, I> slot_lookup(const slot<E, I>*);

// The compiled form: every operand becomes a small `source` (a constant, a variable, a parameter
// or a slot) and every node an `instruction` over sources. The code that runs is instantiated on
// these short types only, never on the (deep) expression types, which keeps symbol names short.
enum class source_kind { constant, variable, parameter, slot };
template <source_kind Kind, std::intmax_t A, std::intmax_t B = 1>
struct source {};
template <class Op, class... Sources>
struct instruction {};

template <class E, class Map>
struct source_of {
    using type = source<source_kind::slot,
                        decltype(slot_lookup<E>(static_cast<const Map*>(nullptr)))::value>;
};
template <std::intmax_t N, std::intmax_t D, class Map>
struct source_of<constant<N, D>, Map> {
    using type = source<source_kind::constant, N, D>;
};
template <std::size_t I, fixed_string Name, class Map>
struct source_of<variable<I, Name>, Map> {
    using type = source<source_kind::variable, static_cast<std::intmax_t>(I)>;
};
template <std::size_t K, fixed_string Name, class Map>
struct source_of<parameter<K, Name>, Map> {
    using type = source<source_kind::parameter, static_cast<std::intmax_t>(K)>;
};

template <class E, class Map> struct instruction_of;
template <class Op, class... C, class Map>
struct instruction_of<node<Op, C...>, Map> {
    using type = instruction<Op, typename source_of<C, Map>::type...>;
};

template <class T, source_kind Kind, std::intmax_t A, std::intmax_t B, class Slots, class X, class P>
inline T load(source<Kind, A, B>, const Slots& v, const X& x, const P& p) {
    if constexpr (Kind == source_kind::constant) return constant<A, B>::template value<T>;
    else if constexpr (Kind == source_kind::variable) return static_cast<T>(x[static_cast<std::size_t>(A)]);
    else if constexpr (Kind == source_kind::parameter) return static_cast<T>(p[static_cast<std::size_t>(A)]);
    else return v[static_cast<std::size_t>(A)];
}

template <class T, class Op, class... S, class Slots, class X, class P>
inline T execute(instruction<Op, S...>, const Slots& v, const X& x, const P& p) {
    return Op::template apply<T>(load<T>(S{}, v, x, p)...);
}

template <class T, std::size_t Count, class... Is, class X, class P>
inline void run_instructions(type_list<Is...>, std::array<T, Count>& v, const X& x, const P& p) {
    std::size_t k = 0;
    ((v[k++] = execute<T>(Is{}, v, x, p)), ...);  // post-order: children are already in place
}

template <class T, class... Outs, class Slots, class X, class P, class Sink>
inline void emit_outputs(type_list<Outs...>, const Slots& v, const X& x, const P& p, Sink& sink) {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        (sink(std::integral_constant<std::size_t, K>{}, load<T>(Outs{}, v, x, p)), ...);
    }(std::index_sequence_for<Outs...>{});
}

template <class List, class Map> struct compile_list;
template <class... Ns, class Map> struct compile_list<type_list<Ns...>, Map> {
    using instructions = type_list<typename instruction_of<Ns, Map>::type...>;
};

}  // namespace detail

/// A straight-line program computing the expressions Roots... with shared subexpressions once.
template <class... Roots>
struct program {
    using nodes = typename detail::collect_seq<type_list<>, Roots...>::type;
    static constexpr std::size_t node_count = nodes::size;

  private:
    using map = detail::slot_map<nodes, std::make_index_sequence<node_count>>;
    using instructions = typename detail::compile_list<nodes, map>::instructions;
    using outputs = type_list<typename detail::source_of<Roots, map>::type...>;

  public:
    /// Evaluate, then hand each root's value to sink(std::integral_constant<size_t, k>, value).
    template <class T, class X, class P, class Sink>
    static void run_into(const X& x, const P& p, Sink&& sink) {
        std::array<T, node_count> v;
        detail::run_instructions<T>(instructions{}, v, x, p);
        detail::emit_outputs<T>(outputs{}, v, x, p, sink);
    }

    /// Evaluate every root at the point x with parameter values p; one value per root, in order.
    template <class T, class X, class P>
    static std::array<T, sizeof...(Roots)> run(const X& x, const P& p) {
        std::array<T, sizeof...(Roots)> out;
        run_into<T>(x, p, [&](auto k, T value) { out[k()] = value; });
        return out;
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
