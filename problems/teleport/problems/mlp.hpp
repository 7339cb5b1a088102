// teleport/problems/mlp.hpp — multi-layer perceptrons in the paper's orientation (SPEC §3.2):
//     h_0 = X,  h_m = σ(W_m h̃_{m−1}) (m < L),  output W_L h̃_{L−1},
// samples as columns, h̃ = h with a row of ones appended when the network has biases (so the last
// column of W_m is its bias). Losses: ½‖Y − W_L h̃_{L−1}‖²_F (regression, paper §6) or the softmax
// cross-entropy averaged over the columns (classification).
//
// The loss is a tensor expression; its gradient and Hessian-vector products are generated at
// compile time (teleport/tensor/expression.hpp). The weights live in one flat vector (W1 first,
// each row-major), so every optimizer of teleport/train/optimizers.hpp steps them as they are.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "teleport/tensor/expression.hpp"
#include "teleport/tensor/network_shape.hpp"

namespace teleport::problems {

using tensor::const_matrix_ref;
using tensor::matrix;
using tensor::matrix_ref;

enum class mlp_loss { squared_error, cross_entropy };

namespace detail {
// h_m as an expression: h_0 = D<0>, h_m = σ(W_m h̃_{m−1}).
template <std::size_t M, class Act, bool Bias>
constexpr auto hidden() {
    if constexpr (M == 0) return tensor::D<0>;
    else if constexpr (Bias) return tensor::activate<Act>(tensor::W<M> * tensor::with_ones_row(hidden<M - 1, Act, Bias>()));
    else return tensor::activate<Act>(tensor::W<M> * hidden<M - 1, Act, Bias>());
}
template <std::size_t L, class Act, bool Bias>
constexpr auto output() {
    if constexpr (Bias) return tensor::W<L> * tensor::with_ones_row(hidden<L - 1, Act, Bias>());
    else return tensor::W<L> * hidden<L - 1, Act, Bias>();
}
// The loss of an output expression against the targets D<1>.
template <mlp_loss Loss, class Out>
constexpr auto head(Out out) {
    if constexpr (Loss == mlp_loss::squared_error) return tensor::half_squared_norm(tensor::D<1> - out);
    else return tensor::softmax_cross_entropy(out, tensor::D<1>);
}
template <std::size_t L, class Act, bool Bias, mlp_loss Loss>
constexpr auto loss_expression() {
    return head<Loss>(output<L, Act, Bias>());
}
}  // namespace detail

/// Widths d_0 … d_L and whether layers have biases (see teleport/tensor/network_shape.hpp).
using mlp_shape = tensor::network_shape;

/// An L-layer perceptron (2 ≤ L ≤ 8) with activation Act on a fixed data set (X, Y).
template <class T, std::size_t L, class Act, mlp_loss Loss = mlp_loss::squared_error, bool Bias = false>
class mlp {
    static_assert(L >= 2 && L <= 8, "an mlp has 2 to 8 weight matrices");

  public:
    using value_type = T;
    using activation = Act;
    using parameters = xt::xtensor<T, 1>;
    using expression = decltype(detail::loss_expression<L, Act, Bias, Loss>());
    using program = tensor::program<expression>;
    /// The loss as a function of the output alone: W<1> stands for the output Z_L, D<1> for Y (D<0>
    /// is bound but unused). Its generated gradient and Hessian-vector product are ∂ℓ/∂Z_L and
    /// (∂²ℓ/∂Z_L²)·Ż, what a pass over the layers by hand needs from the loss (teleport/engine/activation_space.hpp).
    using head_program = tensor::program<decltype(detail::head<Loss>(tensor::W<1>))>;
    static constexpr std::size_t layers = L;
    static constexpr bool has_bias = Bias;
    static constexpr mlp_loss loss_kind = Loss;

    /// widths = d_0 … d_L; X is d_0 × n, Y is d_L × n.
    mlp(std::vector<std::size_t> widths, matrix<T> x, matrix<T> y) : shape_{std::move(widths), Bias} {
        if (shape_.widths.size() != L + 1)
            throw std::invalid_argument("mlp: " + std::to_string(L) + " layers need " + std::to_string(L + 1) +
                                        " widths, " + std::to_string(shape_.widths.size()) + " given");
        for (std::size_t w : shape_.widths)
            if (w == 0) throw std::invalid_argument("mlp: every width must be positive");
        set_data(std::move(x), std::move(y));
    }

    /// Replace the data (a new mini-batch, for example); shapes are checked.
    void set_data(matrix<T> x, matrix<T> y) {
        if (x.shape(0) != shape_.widths.front())
            throw std::invalid_argument("mlp: X has " + std::to_string(x.shape(0)) + " rows but the input width is " +
                                        std::to_string(shape_.widths.front()));
        if (y.shape(0) != shape_.widths.back())
            throw std::invalid_argument("mlp: Y has " + std::to_string(y.shape(0)) + " rows but the output width is " +
                                        std::to_string(shape_.widths.back()));
        if (x.shape(1) != y.shape(1))
            throw std::invalid_argument("mlp: X has " + std::to_string(x.shape(1)) + " samples (columns) but Y has " +
                                        std::to_string(y.shape(1)));
        if (x.shape(1) == 0) throw std::invalid_argument("mlp: the data has no samples");
        x_ = std::move(x);
        y_ = std::move(y);
    }

    const mlp_shape& shape() const { return shape_; }
    std::size_t size() const { return shape_.parameter_count(); }
    const matrix<T>& x() const { return x_; }
    const matrix<T>& y() const { return y_; }

    /// W_m (1-based) as a view into the flat parameter vector.
    template <class Vec> const_matrix_ref<T> weight(const Vec& w, std::size_t m) const {
        return {w.data() + shape_.offset(m), shape_.rows(m), shape_.cols(m)};
    }
    template <class Vec> matrix_ref<T> weight(Vec& w, std::size_t m) const {
        return {w.data() + shape_.offset(m), shape_.rows(m), shape_.cols(m)};
    }

    /// A flat vector from the matrices W1 … WL (shapes checked).
    parameters pack(std::span<const matrix<T>> ws) const {
        if (ws.size() != L) throw std::invalid_argument("mlp: " + std::to_string(L) + " weight matrices expected");
        parameters w = xt::zeros<T>({size()});
        for (std::size_t m = 1; m <= L; ++m) {
            const auto& a = ws[m - 1];
            if (a.shape(0) != shape_.rows(m) || a.shape(1) != shape_.cols(m))
                throw std::invalid_argument("mlp: W" + std::to_string(m) + " is " + tensor::shape_string(a.shape(0), a.shape(1)) +
                                            " but the widths need " + tensor::shape_string(shape_.rows(m), shape_.cols(m)));
            std::copy(a.begin(), a.end(), w.begin() + static_cast<std::ptrdiff_t>(shape_.offset(m)));
        }
        return w;
    }
    /// The matrices W1 … WL of a flat vector (copies).
    std::vector<matrix<T>> unpack(const parameters& w) const {
        std::vector<matrix<T>> out;
        for (std::size_t m = 1; m <= L; ++m) {
            const auto v = weight(w, m);
            matrix<T> a({v.rows, v.cols});
            std::copy(v.data, v.data + v.size(), a.begin());
            out.push_back(std::move(a));
        }
        return out;
    }

    T evaluate(const parameters& w) const { return program::evaluate(ws_, bind(w, weights_)); }

    T evaluate_with_gradient(const parameters& w, parameters& g) const {
        check(w, "parameters");
        if (g.size() != w.size()) g.resize({w.size()});
        const auto grads = views(g);
        return program::evaluate_with_gradient(ws_, bind(w, weights_), std::span<const matrix_ref<T>>(grads));
    }
    void gradient(const parameters& w, parameters& g) const { evaluate_with_gradient(w, g); }

    /// L, ∇L into g and H·v into hv (v may be g itself: then hv = H∇L).
    T hessian_vector_product(const parameters& w, const parameters& v, parameters& g, parameters& hv) const {
        check(w, "parameters");
        check(v, "direction");
        if (g.size() != w.size()) g.resize({w.size()});
        if (hv.size() != w.size()) hv.resize({w.size()});
        const auto grads = views(g);
        const auto hvs = views(hv);
        std::array<const_matrix_ref<T>, L> dir{};
        for (std::size_t m = 1; m <= L; ++m) dir[m - 1] = weight(v, m);
        return program::hessian_vector_product(ws_, bind(w, weights_), std::span<const matrix_ref<T>>(grads),
                                               std::span<const const_matrix_ref<T>>(dir), std::span<const matrix_ref<T>>(hvs));
    }

    /// The network's output W_L h̃_{L−1} on the current data.
    matrix<T> predict(const parameters& w) const { return predict(w, x_); }
    matrix<T> predict(const parameters& w, const matrix<T>& x) const {
        matrix<T> h = x, in, next;
        for (std::size_t m = 1; m <= L; ++m) {
            tensor::append_ones_row(tensor::cref(h), Bias, in);
            tensor::multiply<T>(false, false, weight(w, m), tensor::cref(in), next);
            if (m < L)
                for (auto& e : next) e = Act::value(e);
            h = next;
        }
        return h;
    }

    static std::string formula() { return program::to_string(); }

  private:
    void check(const parameters& w, const char* what) const {
        if (w.size() != size())
            throw std::invalid_argument(std::string("mlp: the ") + what + " have " + std::to_string(w.size()) +
                                        " entries but the network has " + std::to_string(size()));
    }
    std::array<matrix_ref<T>, L> views(parameters& g) const {
        std::array<matrix_ref<T>, L> out{};
        for (std::size_t m = 1; m <= L; ++m) out[m - 1] = weight(g, m);
        return out;
    }
    tensor::bindings<T> bind(const parameters& w, std::array<const_matrix_ref<T>, L>& store) const {
        check(w, "parameters");
        for (std::size_t m = 1; m <= L; ++m) store[m - 1] = weight(w, m);
        data_[0] = tensor::cref(x_);
        data_[1] = tensor::cref(y_);
        return {std::span<const const_matrix_ref<T>>(store), std::span<const const_matrix_ref<T>>(data_)};
    }

    mlp_shape shape_;
    matrix<T> x_, y_;
    // evaluation storage: an mlp object is not for concurrent use from several threads
    mutable typename program::template workspace<T> ws_;
    mutable std::array<const_matrix_ref<T>, L> weights_{};
    mutable std::array<const_matrix_ref<T>, 2> data_{};
};

/// PyTorch's nn.Linear default: every entry of W_m uniform in [−1/√fan_in, 1/√fan_in), fan_in =
/// d_{m−1}; drawn in double from std::mt19937_64(seed) in the order W1, W2, … (each row-major).
/// Bias columns, when the network has them, are left at zero.
template <class Net>
typename Net::parameters linear_init(const Net& net, std::uint64_t seed) {
    using T = typename Net::value_type;
    std::mt19937_64 rng(seed);
    typename Net::parameters w = xt::zeros<T>({net.size()});
    const auto& widths = net.shape().widths;
    for (std::size_t m = 1; m < widths.size(); ++m) {
        const double bound = 1.0 / std::sqrt(double(widths[m - 1]));
        std::uniform_real_distribution<double> u(-bound, bound);
        auto v = net.weight(w, m);
        for (std::size_t i = 0; i < v.rows; ++i)
            for (std::size_t j = 0; j < widths[m - 1]; ++j) v(i, j) = T(u(rng));
    }
    return w;
}

}  // namespace teleport::problems
