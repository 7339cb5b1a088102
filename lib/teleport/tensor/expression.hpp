// teleport/tensor/expression.hpp — matrix-valued expressions whose derivatives are generated at
// compile time.
//
// A loss over weight matrices W1 … WL and data matrices D0, D1, … is written as an expression:
//
//     using namespace teleport::tensor;
//     constexpr auto h1 = activate<leaky_relu<>>(W<1> * D<0>);
//     constexpr auto loss = half_squared_norm(D<1> - W<2> * h1);    // ½‖Y − W2 σ(W1 X)‖²_F
//
// Every sub-expression is an empty type. program<decltype(loss)> lists the distinct nodes once in
// post-order at compile time (the scalar engine's collector, so shared sub-expressions are computed
// once) and instantiates, per node type, three passes over preallocated matrices:
//   forward    the values (BLAS products, element-wise loops)
//   reverse    the adjoint of every node that depends on a weight, children before none of their
//              parents: the gradient with respect to every weight from one forward pass
//   R-passes   Pearlmutter's R-operator: the tangent of every value along a direction V, then the
//              tangent of every adjoint, which gives the Hessian-vector product H·V (the
//              second-order quantity of the teleport objective) from the same forward values.
// Which terms exist is decided at compile time: nodes that depend on no weight get no adjoint or
// tangent, products with data skip the data's adjoint, piecewise-linear activations skip σ″.
//
// Vocabulary: W<I> (weights, numbered from 1 as in the paper), D<K> (data), A * B, A + B, A − B,
// transpose(A), activate<σ>(A), with_ones_row(A) (appends a row of ones: biases), and the scalar
// roots half_squared_norm(A) = ½‖A‖²_F, softmax_cross_entropy(Z, Y) (mean over the columns; Y holds
// one-hot or probability columns) and sum(A).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "teleport/expr/evaluate.hpp"
#include "teleport/tensor/activation.hpp"
#include "teleport/tensor/dense.hpp"

namespace teleport::tensor {

using expr::type_list;

template <class Op, class... C> struct node {};

/// Weight matrix I (W1 is the first layer).
template <std::size_t I> struct weight {
    static_assert(I >= 1, "weights are numbered from 1, as in the paper (W<1> is the first layer)");
};
/// Data matrix K, bound at evaluation.
template <std::size_t K> struct data {};

namespace op {
struct matmul {};
struct add {};
struct subtract {};
struct transpose {};
struct append_ones {};
template <class Act> struct activate {};
struct half_squared_norm {};
struct softmax_cross_entropy {};
struct sum {};
}  // namespace op

template <std::size_t I> inline constexpr weight<I> W{};
template <std::size_t K> inline constexpr data<K> D{};

// --- traits ------------------------------------------------------------------------------------
template <class E> struct is_tensor_expression : std::false_type {};
template <std::size_t I> struct is_tensor_expression<weight<I>> : std::true_type {};
template <std::size_t K> struct is_tensor_expression<data<K>> : std::true_type {};
template <class Op, class... C> struct is_tensor_expression<node<Op, C...>> : std::true_type {};

template <class E> struct is_scalar : std::false_type {};
template <class A> struct is_scalar<node<op::half_squared_norm, A>> : std::true_type {};
template <class Z, class Y> struct is_scalar<node<op::softmax_cross_entropy, Z, Y>> : std::true_type {};
template <class A> struct is_scalar<node<op::sum, A>> : std::true_type {};

/// A matrix-valued expression (what products, sums and activations take).
template <class E>
concept matrix_expression = is_tensor_expression<E>::value && !is_scalar<E>::value;

/// Whether E depends on some weight (only those nodes carry adjoints and tangents).
template <class E> struct depends : std::false_type {};
template <std::size_t I> struct depends<weight<I>> : std::true_type {};
template <class Op, class... C> struct depends<node<Op, C...>> : std::bool_constant<(depends<C>::value || ...)> {};

template <class E> struct weight_count : std::integral_constant<std::size_t, 0> {};
template <std::size_t I> struct weight_count<weight<I>> : std::integral_constant<std::size_t, I> {};
template <class Op, class... C>
struct weight_count<node<Op, C...>> : std::integral_constant<std::size_t, std::max({std::size_t(0), weight_count<C>::value...})> {};

template <class E> struct data_count : std::integral_constant<std::size_t, 0> {};
template <std::size_t K> struct data_count<data<K>> : std::integral_constant<std::size_t, K + 1> {};
template <class Op, class... C>
struct data_count<node<Op, C...>> : std::integral_constant<std::size_t, std::max({std::size_t(0), data_count<C>::value...})> {};

// --- vocabulary --------------------------------------------------------------------------------
template <matrix_expression A, matrix_expression B> constexpr node<op::matmul, A, B> operator*(A, B) { return {}; }
template <matrix_expression A, matrix_expression B> constexpr node<op::add, A, B> operator+(A, B) { return {}; }
template <matrix_expression A, matrix_expression B> constexpr node<op::subtract, A, B> operator-(A, B) { return {}; }
template <matrix_expression A> constexpr node<op::transpose, A> transpose(A) { return {}; }
template <matrix_expression A> constexpr node<op::append_ones, A> with_ones_row(A) { return {}; }
template <activation Act, matrix_expression A> constexpr node<op::activate<Act>, A> activate(A) { return {}; }
template <matrix_expression A> constexpr node<op::half_squared_norm, A> half_squared_norm(A) { return {}; }
template <matrix_expression Z, matrix_expression Y>
constexpr node<op::softmax_cross_entropy, Z, Y> softmax_cross_entropy(Z, Y) {
    static_assert(!depends<Y>::value, "the labels of a cross-entropy must be data, not depend on weights");
    return {};
}
template <matrix_expression A> constexpr node<op::sum, A> sum(A) { return {}; }

// --- printing ----------------------------------------------------------------------------------
template <std::size_t I> std::string to_string(weight<I>) { return "W" + std::to_string(I); }
template <std::size_t K> std::string to_string(data<K>) { return "D" + std::to_string(K); }
template <class Op, class... C>
std::string to_string(node<Op, C...>) {
    const std::string args[] = {to_string(C{})...};
    if constexpr (std::is_same_v<Op, op::matmul>) return args[0] + "·" + args[1];
    else if constexpr (std::is_same_v<Op, op::add>) return "(" + args[0] + " + " + args[1] + ")";
    else if constexpr (std::is_same_v<Op, op::subtract>) return "(" + args[0] + " − " + args[1] + ")";
    else if constexpr (std::is_same_v<Op, op::transpose>) return "(" + args[0] + ")ᵀ";
    else if constexpr (std::is_same_v<Op, op::append_ones>) return "[" + args[0] + "; 1]";
    else if constexpr (std::is_same_v<Op, op::half_squared_norm>) return "½‖" + args[0] + "‖²";
    else if constexpr (std::is_same_v<Op, op::softmax_cross_entropy>) return "CE(" + args[0] + ", " + args[1] + ")";
    else if constexpr (std::is_same_v<Op, op::sum>) return "Σ" + args[0];
    else return []<class Act>(op::activate<Act>) { return Act::name(); }(Op{}) + "(" + args[0] + ")";
}

}  // namespace teleport::tensor

// The scalar engine's post-order collector also lists tensor nodes.
namespace teleport::expr::detail {
template <class Op, class... C> struct is_node<tensor::node<Op, C...>> : std::true_type {};
template <class List, class Op, class... C>
struct collect<List, tensor::node<Op, C...>, false> {
    using type = typename append<typename collect_seq<List, C...>::type, tensor::node<Op, C...>>::type;
};
}  // namespace teleport::expr::detail

namespace teleport::tensor {

/// The matrices a program reads: weights W1 … WL and data D0 … (views; nothing is copied).
template <class T>
struct bindings {
    std::span<const const_matrix_ref<T>> weights;
    std::span<const const_matrix_ref<T>> data;
};

namespace detail {
template <class Act> struct has_curvature : std::true_type {};
template <> struct has_curvature<identity_activation> : std::false_type {};
template <> struct has_curvature<relu> : std::false_type {};
template <std::intmax_t N, std::intmax_t D> struct has_curvature<leaky_relu<N, D>> : std::false_type {};

// target ← β target + f(i) element-wise
template <class T, class F>
void accumulate(matrix_ref<T> target, bool add, F f) {
    const std::size_t n = target.size();
    T* t = target.data;
    if (add)
        for (std::size_t i = 0; i < n; ++i) t[i] += f(i);
    else
        for (std::size_t i = 0; i < n; ++i) t[i] = f(i);
}
}  // namespace detail

/// The generated evaluator of a scalar loss expression and its derivatives.
template <class Loss>
class program {
    static_assert(is_scalar<Loss>::value,
                  "a loss must be a scalar: half_squared_norm, softmax_cross_entropy or sum of a matrix expression");

  public:
    using nodes = typename expr::detail::collect_seq<type_list<>, Loss>::type;
    static constexpr std::size_t node_count = nodes::size;
    static constexpr std::size_t weights = weight_count<Loss>::value;
    static constexpr std::size_t data_matrices = data_count<Loss>::value;

  private:
    using map = expr::detail::slot_map<nodes, std::make_index_sequence<node_count>>;
    template <class E>
    static constexpr std::size_t slot = decltype(expr::detail::slot_lookup<E>(static_cast<const map*>(nullptr)))::value;

  public:
    /// Preallocated storage for one evaluation (reused across calls; resized when shapes change).
    template <class T>
    struct workspace {
        std::array<matrix<T>, node_count> value, adjoint, tangent, r_adjoint, aux;
        std::array<bool, node_count> has_adjoint{}, has_r_adjoint{};
        std::array<bool, weights> weight_written{}, weight_r_written{};
    };

    /// L(W).
    template <class T>
    static T evaluate(workspace<T>& ws, const bindings<T>& b) {
        check_bindings(b);
        forward(nodes{}, ws, b);
        return ws.value[slot<Loss>](0, 0);
    }

    /// L(W), with ∇_{W_i} L written to gradient[i] (shaped like W_i).
    template <class T>
    static T evaluate_with_gradient(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> gradient) {
        check_bindings(b);
        check_outputs(b, gradient, "gradient");
        forward(nodes{}, ws, b);
        reverse(ws, b, gradient);
        return ws.value[slot<Loss>](0, 0);
    }

    /// L(W), the gradient, and the Hessian-vector product H·V written to hv, from one forward pass.
    /// `direction` may alias `gradient` (then hv = H∇L, as the teleport objective needs): the
    /// gradient is complete before the direction is read.
    template <class T>
    static T hessian_vector_product(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> gradient,
                                    std::span<const const_matrix_ref<T>> direction, std::span<const matrix_ref<T>> hv) {
        check_bindings(b);
        check_outputs(b, gradient, "gradient");
        check_outputs(b, hv, "Hessian-vector product");
        if (direction.size() != weights) throw std::invalid_argument("tensor program: the direction has the wrong number of matrices");
        for (std::size_t i = 0; i < weights; ++i)
            if (direction[i].rows != b.weights[i].rows || direction[i].cols != b.weights[i].cols)
                throw std::invalid_argument("tensor program: direction " + std::to_string(i + 1) + " is " +
                                            shape_string(direction[i].rows, direction[i].cols) + " but W" +
                                            std::to_string(i + 1) + " is " +
                                            shape_string(b.weights[i].rows, b.weights[i].cols));
        forward(nodes{}, ws, b);
        reverse(ws, b, gradient);
        tangents(nodes{}, ws, b, direction);
        r_reverse(ws, b, direction, hv);
        return ws.value[slot<Loss>](0, 0);
    }

    static std::string to_string() { return tensor::to_string(Loss{}); }

  private:
    template <class T>
    static void check_bindings(const bindings<T>& b) {
        if (b.weights.size() != weights)
            throw std::invalid_argument("tensor program: " + std::to_string(weights) + " weight matrices expected, " +
                                        std::to_string(b.weights.size()) + " given");
        if (b.data.size() < data_matrices)
            throw std::invalid_argument("tensor program: " + std::to_string(data_matrices) + " data matrices expected, " +
                                        std::to_string(b.data.size()) + " given");
    }
    template <class T, class R>
    static void check_outputs(const bindings<T>& b, std::span<R> out, const char* what) {
        if (out.size() != weights) throw std::invalid_argument(std::string("tensor program: the ") + what + " has the wrong number of matrices");
        for (std::size_t i = 0; i < weights; ++i)
            if (out[i].rows != b.weights[i].rows || out[i].cols != b.weights[i].cols)
                throw std::invalid_argument(std::string("tensor program: the ") + what + " of W" + std::to_string(i + 1) +
                                            " is " + shape_string(out[i].rows, out[i].cols) + " but W" + std::to_string(i + 1) +
                                            " is " + shape_string(b.weights[i].rows, b.weights[i].cols));
    }

    // --- operands ------------------------------------------------------------------------------
    template <class T, std::size_t I>
    static const_matrix_ref<T> value(const workspace<T>&, const bindings<T>& b, weight<I>) { return b.weights[I - 1]; }
    template <class T, std::size_t K>
    static const_matrix_ref<T> value(const workspace<T>&, const bindings<T>& b, data<K>) { return b.data[K]; }
    template <class T, class Op, class... C>
    static const_matrix_ref<T> value(const workspace<T>& ws, const bindings<T>&, node<Op, C...>) {
        return cref(ws.value[slot<node<Op, C...>>]);
    }

    template <class T, std::size_t I>
    static const_matrix_ref<T> tangent(const workspace<T>&, std::span<const const_matrix_ref<T>> v, weight<I>) { return v[I - 1]; }
    template <class T, class Op, class... C>
    static const_matrix_ref<T> tangent(const workspace<T>& ws, std::span<const const_matrix_ref<T>>, node<Op, C...>) {
        return cref(ws.tangent[slot<node<Op, C...>>]);
    }

    // Where the adjoint of child C accumulates; calls f(target, add) and marks it written.
    template <class C, class T, class F>
    static void to_adjoint(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> gradient, F f) {
        if constexpr (requires { weight_index(C{}); }) {
            constexpr std::size_t i = weight_index(C{});
            f(gradient[i], ws.weight_written[i]);
            ws.weight_written[i] = true;
        } else {
            constexpr std::size_t s = slot<C>;
            const auto v = value(ws, b, C{});
            if (!ws.has_adjoint[s]) reshape(ws.adjoint[s], v.rows, v.cols);
            f(ref(ws.adjoint[s]), ws.has_adjoint[s]);
            ws.has_adjoint[s] = true;
        }
    }
    template <class C, class T, class F>
    static void to_r_adjoint(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> hv, F f) {
        if constexpr (requires { weight_index(C{}); }) {
            constexpr std::size_t i = weight_index(C{});
            f(hv[i], ws.weight_r_written[i]);
            ws.weight_r_written[i] = true;
        } else {
            constexpr std::size_t s = slot<C>;
            const auto v = value(ws, b, C{});
            if (!ws.has_r_adjoint[s]) reshape(ws.r_adjoint[s], v.rows, v.cols);
            f(ref(ws.r_adjoint[s]), ws.has_r_adjoint[s]);
            ws.has_r_adjoint[s] = true;
        }
    }
    template <std::size_t I> static constexpr std::size_t weight_index(weight<I>) { return I - 1; }

    // --- forward -------------------------------------------------------------------------------
    template <class T, class... Ns>
    static void forward(type_list<Ns...>, workspace<T>& ws, const bindings<T>& b) {
        (compute(ws, b, Ns{}), ...);
    }

    template <class T, class Op, class... C>
    static void compute(workspace<T>& ws, const bindings<T>& b, node<Op, C...> self) {
        matrix<T>& out = ws.value[slot<node<Op, C...>>];
        const const_matrix_ref<T> a = value(ws, b, std::tuple_element_t<0, std::tuple<C...>>{});
        auto mismatch = [&](const_matrix_ref<T> x, const_matrix_ref<T> y, const char* how) {
            throw std::invalid_argument("shapes do not agree in " + tensor::to_string(self) + ": " +
                                        shape_string(x.rows, x.cols) + " " + how + " " + shape_string(y.rows, y.cols));
        };
        if constexpr (std::is_same_v<Op, op::matmul>) {
            const auto y = value(ws, b, std::tuple_element_t<1, std::tuple<C...>>{});
            if (a.cols != y.rows) mismatch(a, y, "times");
            reshape(out, a.rows, y.cols);
            gemm<T>(false, false, T(1), a, y, T(0), ref(out));
        } else if constexpr (std::is_same_v<Op, op::add> || std::is_same_v<Op, op::subtract>) {
            const auto y = value(ws, b, std::tuple_element_t<1, std::tuple<C...>>{});
            if (a.rows != y.rows || a.cols != y.cols) mismatch(a, y, std::is_same_v<Op, op::add> ? "plus" : "minus");
            reshape(out, a.rows, a.cols);
            const T sign = std::is_same_v<Op, op::add> ? T(1) : T(-1);
            detail::accumulate(ref(out), false, [&](std::size_t i) { return a.data[i] + sign * y.data[i]; });
        } else if constexpr (std::is_same_v<Op, op::transpose>) {
            reshape(out, a.cols, a.rows);
            for (std::size_t i = 0; i < a.rows; ++i)
                for (std::size_t j = 0; j < a.cols; ++j) out(j, i) = a(i, j);
        } else if constexpr (std::is_same_v<Op, op::append_ones>) {
            append_ones_row(a, true, out);
        } else if constexpr (std::is_same_v<Op, op::half_squared_norm>) {
            reshape(out, 1, 1);
            T s = 0;
            for (std::size_t i = 0; i < a.size(); ++i) s += a.data[i] * a.data[i];
            out(0, 0) = s / 2;
        } else if constexpr (std::is_same_v<Op, op::sum>) {
            reshape(out, 1, 1);
            T s = 0;
            for (std::size_t i = 0; i < a.size(); ++i) s += a.data[i];
            out(0, 0) = s;
        } else if constexpr (std::is_same_v<Op, op::softmax_cross_entropy>) {
            const auto y = value(ws, b, std::tuple_element_t<1, std::tuple<C...>>{});
            if (a.rows != y.rows || a.cols != y.cols) mismatch(a, y, "against labels");
            matrix<T>& p = ws.aux[slot<node<Op, C...>>];
            reshape(p, a.rows, a.cols);
            reshape(out, 1, 1);
            T total = 0;
            for (std::size_t j = 0; j < a.cols; ++j) {
                T m = a(0, j);
                for (std::size_t i = 1; i < a.rows; ++i) m = std::max(m, a(i, j));
                T z = 0;
                for (std::size_t i = 0; i < a.rows; ++i) z += (p(i, j) = std::exp(a(i, j) - m));
                const T lse = m + std::log(z);
                for (std::size_t i = 0; i < a.rows; ++i) {
                    p(i, j) /= z;
                    total += y(i, j) * (lse - a(i, j));
                }
            }
            out(0, 0) = a.cols ? total / T(a.cols) : T(0);
        } else {
            using Act = typename activation_of<Op>::type;
            reshape(out, a.rows, a.cols);
            detail::accumulate(ref(out), false, [&](std::size_t i) { return Act::value(a.data[i]); });
        }
    }

    template <class Op> struct activation_of;
    template <class Act> struct activation_of<op::activate<Act>> { using type = Act; };

    // --- reverse: adjoints -----------------------------------------------------------------------
    template <class T>
    static void reverse(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> gradient) {
        ws.has_adjoint.fill(false);
        ws.weight_written.fill(false);
        reshape(ws.adjoint[slot<Loss>], 1, 1);
        ws.adjoint[slot<Loss>](0, 0) = T(1);
        ws.has_adjoint[slot<Loss>] = true;
        backward_all(ws, b, gradient, nodes{});
        for (std::size_t i = 0; i < weights; ++i)
            if (!ws.weight_written[i]) std::fill(gradient[i].data, gradient[i].data + gradient[i].size(), T(0));
    }
    template <class T, class... Ns>
    static void backward_all(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> gradient, type_list<Ns...>) {
        // reverse post-order: every parent before its children
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (backward(ws, b, gradient, std::tuple_element_t<sizeof...(Ns) - 1 - K, std::tuple<Ns...>>{}), ...);
        }(std::index_sequence_for<Ns...>{});
    }

    template <class T, class Op, class... C>
    static void backward(workspace<T>& ws, const bindings<T>& b, std::span<const matrix_ref<T>> gradient, node<Op, C...>) {
        using self = node<Op, C...>;
        if constexpr (depends<self>::value) {
            const const_matrix_ref<T> g = cref(ws.adjoint[slot<self>]);
            using A = std::tuple_element_t<0, std::tuple<C...>>;
            const const_matrix_ref<T> a = value(ws, b, A{});
            if constexpr (std::is_same_v<Op, op::matmul>) {
                using B = std::tuple_element_t<1, std::tuple<C...>>;
                const auto y = value(ws, b, B{});
                if constexpr (depends<A>::value)
                    to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { gemm<T>(false, true, T(1), g, y, T(add), t); });
                if constexpr (depends<B>::value)
                    to_adjoint<B>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { gemm<T>(true, false, T(1), a, g, T(add), t); });
            } else if constexpr (std::is_same_v<Op, op::add> || std::is_same_v<Op, op::subtract>) {
                using B = std::tuple_element_t<1, std::tuple<C...>>;
                if constexpr (depends<A>::value)
                    to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return g.data[i]; }); });
                constexpr T sign = std::is_same_v<Op, op::add> ? T(1) : T(-1);
                if constexpr (depends<B>::value)
                    to_adjoint<B>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return sign * g.data[i]; }); });
            } else if constexpr (std::is_same_v<Op, op::transpose>) {
                to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) {
                    for (std::size_t i = 0; i < t.rows; ++i)
                        for (std::size_t j = 0; j < t.cols; ++j) t(i, j) = (add ? t(i, j) : T(0)) + g(j, i);
                });
            } else if constexpr (std::is_same_v<Op, op::append_ones>) {
                to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return g.data[i]; }); });
            } else if constexpr (std::is_same_v<Op, op::half_squared_norm>) {
                const T s = g(0, 0);
                to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return s * a.data[i]; }); });
            } else if constexpr (std::is_same_v<Op, op::sum>) {
                const T s = g(0, 0);
                to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t) { return s; }); });
            } else if constexpr (std::is_same_v<Op, op::softmax_cross_entropy>) {
                const auto y = value(ws, b, std::tuple_element_t<1, std::tuple<C...>>{});
                const matrix<T>& p = ws.aux[slot<self>];
                const T s = a.cols ? g(0, 0) / T(a.cols) : T(0);
                to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) {
                    detail::accumulate(t, add, [&](std::size_t i) { return s * (p.data()[i] - y.data[i]); });
                });
            } else {
                using Act = typename activation_of<Op>::type;
                to_adjoint<A>(ws, b, gradient, [&](matrix_ref<T> t, bool add) {
                    detail::accumulate(t, add, [&](std::size_t i) { return g.data[i] * Act::derivative(a.data[i]); });
                });
            }
        }
    }

    // --- R-operator: tangents of values ----------------------------------------------------------
    template <class T, class... Ns>
    static void tangents(type_list<Ns...>, workspace<T>& ws, const bindings<T>& b, std::span<const const_matrix_ref<T>> v) {
        (tangent_of(ws, b, v, Ns{}), ...);
    }

    template <class T, class Op, class... C>
    static void tangent_of(workspace<T>& ws, const bindings<T>& b, std::span<const const_matrix_ref<T>> v, node<Op, C...>) {
        using self = node<Op, C...>;
        if constexpr (depends<self>::value && !is_scalar<self>::value) {
            matrix<T>& out = ws.tangent[slot<self>];
            const auto& val = ws.value[slot<self>];
            reshape(out, val.shape(0), val.shape(1));
            using A = std::tuple_element_t<0, std::tuple<C...>>;
            if constexpr (std::is_same_v<Op, op::matmul>) {
                using B = std::tuple_element_t<1, std::tuple<C...>>;
                bool written = false;
                if constexpr (depends<A>::value) {
                    gemm<T>(false, false, T(1), tangent(ws, v, A{}), value(ws, b, B{}), T(0), ref(out));
                    written = true;
                }
                if constexpr (depends<B>::value)
                    gemm<T>(false, false, T(1), value(ws, b, A{}), tangent(ws, v, B{}), T(written), ref(out));
            } else if constexpr (std::is_same_v<Op, op::add> || std::is_same_v<Op, op::subtract>) {
                using B = std::tuple_element_t<1, std::tuple<C...>>;
                constexpr T sign = std::is_same_v<Op, op::add> ? T(1) : T(-1);
                if constexpr (depends<A>::value && depends<B>::value) {
                    const auto ta = tangent(ws, v, A{});
                    const auto tb = tangent(ws, v, B{});
                    detail::accumulate(ref(out), false, [&](std::size_t i) { return ta.data[i] + sign * tb.data[i]; });
                } else if constexpr (depends<A>::value) {
                    const auto ta = tangent(ws, v, A{});
                    detail::accumulate(ref(out), false, [&](std::size_t i) { return ta.data[i]; });
                } else {
                    const auto tb = tangent(ws, v, B{});
                    detail::accumulate(ref(out), false, [&](std::size_t i) { return sign * tb.data[i]; });
                }
            } else if constexpr (std::is_same_v<Op, op::transpose>) {
                const auto ta = tangent(ws, v, A{});
                for (std::size_t i = 0; i < ta.rows; ++i)
                    for (std::size_t j = 0; j < ta.cols; ++j) out(j, i) = ta(i, j);
            } else if constexpr (std::is_same_v<Op, op::append_ones>) {
                const auto ta = tangent(ws, v, A{});
                std::copy(ta.data, ta.data + ta.size(), out.data());
                std::fill(out.data() + ta.size(), out.data() + ta.size() + ta.cols, T(0));
            } else {
                using Act = typename activation_of<Op>::type;
                const auto a = value(ws, b, A{});
                const auto ta = tangent(ws, v, A{});
                detail::accumulate(ref(out), false, [&](std::size_t i) { return Act::derivative(a.data[i]) * ta.data[i]; });
            }
        }
    }

    // --- R-operator: tangents of adjoints --------------------------------------------------------
    template <class T>
    static void r_reverse(workspace<T>& ws, const bindings<T>& b, std::span<const const_matrix_ref<T>> v,
                          std::span<const matrix_ref<T>> hv) {
        ws.has_r_adjoint.fill(false);  // the root's R-adjoint is zero: its adjoint is the constant 1
        ws.weight_r_written.fill(false);
        [&]<class... Ns>(type_list<Ns...>) {
            [&]<std::size_t... K>(std::index_sequence<K...>) {
                (r_backward(ws, b, v, hv, std::tuple_element_t<sizeof...(Ns) - 1 - K, std::tuple<Ns...>>{}), ...);
            }(std::index_sequence_for<Ns...>{});
        }(nodes{});
        for (std::size_t i = 0; i < weights; ++i)
            if (!ws.weight_r_written[i]) std::fill(hv[i].data, hv[i].data + hv[i].size(), T(0));
    }

    template <class T, class Op, class... C>
    static void r_backward(workspace<T>& ws, const bindings<T>& b, std::span<const const_matrix_ref<T>> v,
                           std::span<const matrix_ref<T>> hv, node<Op, C...>) {
        using self = node<Op, C...>;
        if constexpr (depends<self>::value) {
            constexpr std::size_t s = slot<self>;
            const bool has_r = ws.has_r_adjoint[s];
            const const_matrix_ref<T> g = cref(ws.adjoint[s]);
            const const_matrix_ref<T> rg = cref(ws.r_adjoint[s]);
            using A = std::tuple_element_t<0, std::tuple<C...>>;
            const const_matrix_ref<T> a = value(ws, b, A{});
            if constexpr (std::is_same_v<Op, op::matmul>) {
                using B = std::tuple_element_t<1, std::tuple<C...>>;
                const auto y = value(ws, b, B{});
                // R(Ā) = R(Ḡ)Bᵀ + Ḡ Ḃᵀ,  R(B̄) = Ȧᵀ Ḡ + Aᵀ R(Ḡ)
                if constexpr (depends<A>::value) {
                    if (has_r)
                        to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) { gemm<T>(false, true, T(1), rg, y, T(add), t); });
                    if constexpr (depends<B>::value)
                        to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) {
                            gemm<T>(false, true, T(1), g, tangent(ws, v, B{}), T(add), t);
                        });
                }
                if constexpr (depends<B>::value) {
                    if constexpr (depends<A>::value)
                        to_r_adjoint<B>(ws, b, hv, [&](matrix_ref<T> t, bool add) {
                            gemm<T>(true, false, T(1), tangent(ws, v, A{}), g, T(add), t);
                        });
                    if (has_r)
                        to_r_adjoint<B>(ws, b, hv, [&](matrix_ref<T> t, bool add) { gemm<T>(true, false, T(1), a, rg, T(add), t); });
                }
            } else if constexpr (std::is_same_v<Op, op::add> || std::is_same_v<Op, op::subtract>) {
                using B = std::tuple_element_t<1, std::tuple<C...>>;
                constexpr T sign = std::is_same_v<Op, op::add> ? T(1) : T(-1);
                if (has_r) {
                    if constexpr (depends<A>::value)
                        to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return rg.data[i]; }); });
                    if constexpr (depends<B>::value)
                        to_r_adjoint<B>(ws, b, hv, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return sign * rg.data[i]; }); });
                }
            } else if constexpr (std::is_same_v<Op, op::transpose>) {
                if (has_r)
                    to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) {
                        for (std::size_t i = 0; i < t.rows; ++i)
                            for (std::size_t j = 0; j < t.cols; ++j) t(i, j) = (add ? t(i, j) : T(0)) + rg(j, i);
                    });
            } else if constexpr (std::is_same_v<Op, op::append_ones>) {
                if (has_r)
                    to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return rg.data[i]; }); });
            } else if constexpr (std::is_same_v<Op, op::half_squared_norm>) {
                // Ā = ḡ A with ḡ the constant root adjoint: R(Ā) = ḡ Ȧ
                const T sc = g(0, 0);
                const auto ta = tangent(ws, v, A{});
                to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) { detail::accumulate(t, add, [&](std::size_t i) { return sc * ta.data[i]; }); });
            } else if constexpr (std::is_same_v<Op, op::sum>) {
                // the adjoint of the summand is constant: no R-term
            } else if constexpr (std::is_same_v<Op, op::softmax_cross_entropy>) {
                // Z̄ = (ḡ/n)(P − Y): R(Z̄) = (ḡ/n)(P ⊙ Ż − P diag(1ᵀ(P ⊙ Ż))) column by column
                const matrix<T>& p = ws.aux[s];
                const auto tz = tangent(ws, v, A{});
                const T sc = a.cols ? g(0, 0) / T(a.cols) : T(0);
                to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) {
                    for (std::size_t j = 0; j < a.cols; ++j) {
                        T c = 0;
                        for (std::size_t i = 0; i < a.rows; ++i) c += p(i, j) * tz(i, j);
                        for (std::size_t i = 0; i < a.rows; ++i)
                            t(i, j) = (add ? t(i, j) : T(0)) + sc * p(i, j) * (tz(i, j) - c);
                    }
                });
            } else {
                // Ā = Ḡ ⊙ σ′(A): R(Ā) = R(Ḡ) ⊙ σ′(A) + Ḡ ⊙ σ″(A) ⊙ Ȧ
                using Act = typename activation_of<Op>::type;
                if (has_r)
                    to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) {
                        detail::accumulate(t, add, [&](std::size_t i) { return rg.data[i] * Act::derivative(a.data[i]); });
                    });
                if constexpr (detail::has_curvature<Act>::value) {
                    const auto ta = tangent(ws, v, A{});
                    to_r_adjoint<A>(ws, b, hv, [&](matrix_ref<T> t, bool add) {
                        detail::accumulate(t, add, [&](std::size_t i) { return g.data[i] * Act::second_derivative(a.data[i]) * ta.data[i]; });
                    });
                }
            }
        }
    }
};

}  // namespace teleport::tensor
