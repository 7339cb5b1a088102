// teleport/expr/vector_expression.hpp — expressions over a parameter *vector* whose size is known only
// at run time, with matrix data bound at evaluation (for example wᵀAw with n read from a file).
//
// The vocabulary is small: the parameter vector w, a direction v, runtime matrices A_K (optionally
// declared symmetric), A·e, Aᵀ·e, e₁ + e₂, c·e and the scalar e₁ᵀe₂. The gradient of a scalar
// expression is generated as a vector expression by reverse-mode rules applied to types
// (∇(aᵀb) = J_aᵀ b + J_bᵀ a, J_{A e}ᵀ u = J_eᵀ (Aᵀ u)); the Hessian-vector product is the
// directional derivative of that gradient along v (forward over reverse), again a type. Evaluation
// computes each distinct node once (the same common-subexpression elimination as the scalar
// engine) with BLAS matrix-vector products.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include "teleport/expr/core.hpp"
#include "teleport/expr/evaluate.hpp"

namespace teleport::vexpr {

using expr::node;
using expr::type_list;

// Leaves.
struct parameter_vector {};                        // w
struct direction_vector {};                        // v (Hessian-vector products)
struct zero_vector {};                             // 0
template <std::size_t K, bool Symmetric> struct matrix {};     // runtime matrix number K
template <std::size_t K, bool Symmetric> struct transposed {};  // its transpose

namespace op {
struct matvec {};  // A e
struct add {};     // e₁ + e₂
struct dot {};     // e₁ᵀ e₂ (a scalar)
template <std::intmax_t N, std::intmax_t D> struct scale {};  // (N/D) e
}  // namespace op

inline constexpr parameter_vector w{};

template <std::size_t K, bool Symmetric = false>
inline constexpr matrix<K, Symmetric> data_matrix{};

// --- simplifying constructors --------------------------------------------------------------------
template <class M> struct transpose_of;
template <std::size_t K, bool S> struct transpose_of<matrix<K, S>> {
    using type = std::conditional_t<S, matrix<K, S>, transposed<K, S>>;  // a symmetric matrix is its transpose
};
template <std::size_t K, bool S> struct transpose_of<transposed<K, S>> {
    using type = matrix<K, S>;
};

template <class E> struct scale_split {
    using coefficient = expr::one;
    using rest = E;
};
template <std::intmax_t N, std::intmax_t D, class E> struct scale_split<node<op::scale<N, D>, E>> {
    using coefficient = expr::constant<N, D>;
    using rest = E;
};

template <class C, class E>
constexpr auto vector_scale(C, E) {
    if constexpr (std::is_same_v<C, expr::zero> || std::is_same_v<E, zero_vector>) return zero_vector{};
    else if constexpr (std::is_same_v<C, expr::one>) return E{};
    else {
        using inner = scale_split<E>;
        using product = decltype(expr::make_mul(C{}, typename inner::coefficient{}));
        if constexpr (std::is_same_v<product, expr::one>) return typename inner::rest{};
        else return node<op::scale<product::num, product::den>, typename inner::rest>{};
    }
}

template <class A, class B>
constexpr auto vector_add(A, B) {
    using sa = scale_split<A>;
    using sb = scale_split<B>;
    if constexpr (std::is_same_v<A, zero_vector>) return B{};
    else if constexpr (std::is_same_v<B, zero_vector>) return A{};
    else if constexpr (std::is_same_v<typename sa::rest, typename sb::rest>)  // c₁e + c₂e = (c₁ + c₂)e
        return vector_scale(expr::make_add(typename sa::coefficient{}, typename sb::coefficient{}), typename sa::rest{});
    else return node<op::add, A, B>{};
}

template <class M, class E>
constexpr auto vector_matvec(M, E) {
    if constexpr (std::is_same_v<E, zero_vector>) return zero_vector{};
    else {
        using s = scale_split<E>;  // A (c e) = c (A e), so equal products share one node
        return vector_scale(typename s::coefficient{}, node<op::matvec, M, typename s::rest>{});
    }
}

template <class A, class B>
constexpr auto vector_dot(A, B) {
    return node<op::dot, A, B>{};
}

// --- the user's vocabulary --------------------------------------------------------------------
template <std::size_t K, bool S, class E> constexpr auto operator*(matrix<K, S> m, E e) { return vector_matvec(m, e); }
template <std::size_t K, bool S> constexpr auto transpose(matrix<K, S>) { return typename transpose_of<matrix<K, S>>::type{}; }
template <class A, class B> constexpr auto dot(A a, B b) { return vector_dot(a, b); }

// --- derivatives ----------------------------------------------------------------------------
// J_eᵀ u: the vector-Jacobian product of the vector expression e with the vector expression u.
template <class E, class U>
constexpr auto vjp(E, U u) {
    if constexpr (std::is_same_v<E, parameter_vector>) {
        return u;
    } else if constexpr (std::is_same_v<E, direction_vector> || std::is_same_v<E, zero_vector>) {
        return zero_vector{};
    } else {
        return []<class Op, class... C>(node<Op, C...>, auto uu) {
            if constexpr (std::is_same_v<Op, op::matvec>) {
                using M = std::tuple_element_t<0, std::tuple<C...>>;
                using Inner = std::tuple_element_t<1, std::tuple<C...>>;
                return vjp(Inner{}, vector_matvec(typename transpose_of<M>::type{}, uu));
            } else if constexpr (std::is_same_v<Op, op::add>) {
                return vector_add(vjp(C{}, uu)...);
            } else {
                using Inner = std::tuple_element_t<0, std::tuple<C...>>;  // scale
                return vjp(Inner{}, vector_scale(typename scale_split<node<Op, C...>>::coefficient{}, uu));
            }
        }(E{}, u);
    }
}

/// ∇_w s for a scalar expression s = aᵀb: J_aᵀ b + J_bᵀ a.
template <class A, class B>
constexpr auto gradient(node<op::dot, A, B>) {
    return vector_add(vjp(A{}, B{}), vjp(B{}, A{}));
}

/// The directional derivative of the vector expression e along v (w ↦ w + t v).
template <class E>
constexpr auto jvp(E) {
    if constexpr (std::is_same_v<E, parameter_vector>) {
        return direction_vector{};
    } else if constexpr (std::is_same_v<E, direction_vector> || std::is_same_v<E, zero_vector>) {
        return zero_vector{};
    } else {
        return []<class Op, class... C>(node<Op, C...>) {
            if constexpr (std::is_same_v<Op, op::matvec>) {
                using M = std::tuple_element_t<0, std::tuple<C...>>;
                using Inner = std::tuple_element_t<1, std::tuple<C...>>;
                return vector_matvec(M{}, jvp(Inner{}));
            } else if constexpr (std::is_same_v<Op, op::add>) {
                return vector_add(jvp(C{})...);
            } else {
                using Inner = std::tuple_element_t<0, std::tuple<C...>>;
                return vector_scale(typename scale_split<node<Op, C...>>::coefficient{}, jvp(Inner{}));
            }
        }(E{});
    }
}

/// ∇²s · v, as the directional derivative of ∇s along v.
template <class S>
constexpr auto hessian_vector_product(S s) {
    return jvp(gradient(s));
}

// --- evaluation -------------------------------------------------------------------------------
template <class T>
struct bindings {
    const xt::xtensor<T, 1>& w;
    const xt::xtensor<T, 1>* v;
    std::span<const xt::xtensor<T, 2>* const> matrices;
};

template <class E> struct is_scalar : std::false_type {};
template <class A, class B> struct is_scalar<node<op::dot, A, B>> : std::true_type {};

template <class T, class E>
using value_of = std::conditional_t<is_scalar<E>::value, T, xt::xtensor<T, 1>>;

namespace detail {
template <class List, class E> struct slot_index;
template <class... Ns, class E> struct slot_index<type_list<Ns...>, E> {
    static constexpr std::size_t value = [] {
        constexpr bool same[] = {std::is_same_v<E, Ns>...};
        for (std::size_t k = 0; k < sizeof...(Ns); ++k)
            if (same[k]) return k;
        return sizeof...(Ns);
    }();
};
}  // namespace detail

/// Evaluates Roots... with every distinct node computed once.
template <class... Roots>
class program {
    using nodes = typename expr::detail::collect_seq<type_list<>, Roots...>::type;

    template <class M> struct matrix_index;
    template <std::size_t K, bool S> struct matrix_index<matrix<K, S>> {
        static constexpr std::size_t value = K;
        static constexpr bool is_transposed = false;
    };
    template <std::size_t K, bool S> struct matrix_index<transposed<K, S>> {
        static constexpr std::size_t value = K;
        static constexpr bool is_transposed = true;
    };

    template <class T, class Slots, class E>
    static decltype(auto) operand(const Slots& slots, const bindings<T>& b, E) {
        if constexpr (std::is_same_v<E, parameter_vector>) return (b.w);
        else if constexpr (std::is_same_v<E, direction_vector>) return (*b.v);
        else if constexpr (std::is_same_v<E, zero_vector>) return xt::xtensor<T, 1>(xt::zeros_like(b.w));
        else return (std::get<detail::slot_index<nodes, E>::value>(slots));
    }

    template <class T, class Slots, class Op, class... C>
    static auto compute(const Slots& slots, const bindings<T>& b, node<Op, C...>) {
        if constexpr (std::is_same_v<Op, op::matvec>) {
            using M = std::tuple_element_t<0, std::tuple<C...>>;
            using Inner = std::tuple_element_t<1, std::tuple<C...>>;
            using index = matrix_index<M>;
            const auto& a = *b.matrices[index::value];
            const auto& x = operand(slots, b, Inner{});
            if constexpr (index::is_transposed) return xt::xtensor<T, 1>(xt::linalg::dot(xt::transpose(a), x));
            else return xt::xtensor<T, 1>(xt::linalg::dot(a, x));
        } else if constexpr (std::is_same_v<Op, op::add>) {
            return [&]<class A, class B>(A, B) -> xt::xtensor<T, 1> {
                return operand(slots, b, A{}) + operand(slots, b, B{});
            }(C{}...);
        } else if constexpr (std::is_same_v<Op, op::dot>) {
            return [&]<class A, class B>(A, B) -> T {
                const auto& x = operand(slots, b, A{});
                const auto& y = operand(slots, b, B{});
                return xt::linalg::vdot(x, y);
            }(C{}...);
        } else {
            using coefficient = typename scale_split<node<Op, C...>>::coefficient;
            return [&]<class A>(A) -> xt::xtensor<T, 1> {
                return coefficient::template value<T> * operand(slots, b, A{});
            }(C{}...);
        }
    }

    template <class T, class... Ns>
    static auto make_slots(type_list<Ns...>) -> std::tuple<value_of<T, Ns>...>;

  public:
    static constexpr std::size_t node_count = nodes::size;

    /// Evaluate; sink(std::integral_constant<size_t, k>, value of root k) for each root.
    template <class T, class Sink>
    static void run(const bindings<T>& b, Sink&& sink) {
        decltype(make_slots<T>(nodes{})) slots;
        [&]<class... Ns>(type_list<Ns...>) {
            ((std::get<detail::slot_index<nodes, Ns>::value>(slots) = compute<T>(slots, b, Ns{})), ...);
        }(nodes{});
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (sink(std::integral_constant<std::size_t, K>{}, operand(slots, b, Roots{})), ...);
        }(std::index_sequence_for<Roots...>{});
    }
};

}  // namespace teleport::vexpr
