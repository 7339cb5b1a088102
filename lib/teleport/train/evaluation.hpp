// teleport/train/evaluation.hpp — a classification network on labelled data: the mini-batch
// problem of the training loop and the evaluation of whole splits.
//
//     classification_data data(net, split.train_x, split.train_y, split.valid_x, split.valid_y, 2000);
//     data.select_batch(samples);            // the net's data is now that mini-batch
//     data.evaluate_with_gradient(w, g);     // L_B(w), ∇L_B(w)
//     split_metrics m = data.train(w);       // mean loss, accuracy and ‖∇L‖² over the training split
//
// Samples are columns (d_0 × n, labels 0 … classes−1). The network is any type with
// set_data(X, Y), evaluate(w), evaluate_with_gradient(w, g) and predict(w) (classifier_network);
// its data is replaced by every batch and evaluation block, so whoever needs a particular batch
// selects it first (the mini-batch loop does, before every step and every teleport).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xtensor.hpp>

namespace teleport {

/// One-hot encoding: a classes × n matrix whose column k has a 1 in row labels[k].
template <class T>
    requires std::is_arithmetic_v<T>
xt::xtensor<T, 2> one_hot(std::span<const std::uint8_t> labels, std::size_t classes = 10) {
    if (classes == 0) throw std::invalid_argument("one_hot: the number of classes must be positive");
    xt::xtensor<T, 2> y = xt::zeros<T>({classes, labels.size()});
    for (std::size_t k = 0; k < labels.size(); ++k) {
        if (labels[k] >= classes)
            throw std::invalid_argument("one_hot: label " + std::to_string(labels[k]) + " at index " +
                                        std::to_string(k) + " is not below the " + std::to_string(classes) +
                                        " classes");
        y(labels[k], k) = T{1};
    }
    return y;
}

/// classifier_network<Net>: a loss over data the network holds (samples as columns, targets
/// one-hot), its fused gradient, and the outputs (logits) of the held data.
template <class Net>
concept classifier_network = requires(Net& net, const Net& cnet, const typename Net::parameters& w,
                                      typename Net::parameters& g, xt::xtensor<typename Net::value_type, 2> m) {
    requires std::floating_point<typename Net::value_type>;
    net.set_data(m, m);
    { cnet.evaluate(w) } -> std::convertible_to<double>;
    { cnet.evaluate_with_gradient(w, g) } -> std::convertible_to<double>;
    { cnet.predict(w) } -> std::convertible_to<xt::xtensor<typename Net::value_type, 2>>;
};

/// Loss (mean over the samples), accuracy and ‖∇L‖² of a split, evaluated in blocks of columns.
struct split_metrics {
    double loss = 0, accuracy = 0, grad_norm_sq = std::numeric_limits<double>::quiet_NaN();
};

/// The sums a split's metrics are made of, over some of its evaluation blocks: the loss and the
/// gradient weighted by each block's share of the split, and the samples classified correctly.
/// Sums over disjoint sets of blocks add up to those of the whole split (a data-parallel
/// evaluation adds the ranks' sums, train/data_parallel.hpp).
struct split_sums {
    double loss = 0, correct = 0;
    std::vector<double> gradient;  ///< Σ weight · ∇L_block; empty when the gradient is not asked for
};

/// Adds to `sums` the blocks first_block, first_block + stride, … of the samples x (d_0 × n) with
/// these labels at w: blocks of `block` columns through the network's own loss (the net's data is
/// replaced; labels 0 … classes−1), the gradient when `gradient`, the correct predictions (largest
/// logit = label) when `accuracy`.
template <class Net>
void accumulate_split(Net& net, const typename Net::parameters& w, const xt::xtensor<typename Net::value_type, 2>& x,
                      const std::vector<std::uint8_t>& labels, std::size_t block, bool gradient, bool accuracy,
                      std::size_t classes, std::size_t first_block, std::size_t stride, split_sums& sums) {
    static_assert(classifier_network<Net>,
                  "evaluate_split requires 'net' to provide set_data(X, Y), evaluate(w), evaluate_with_gradient(w, g) "
                  "and predict(w)");
    using T = typename Net::value_type;
    const std::size_t n = labels.size(), pixels = x.shape(0);
    if (gradient && sums.gradient.size() != w.size()) sums.gradient.assign(w.size(), 0.0);
    typename Net::parameters g;
    for (std::size_t a = first_block * block; a < n; a += stride * block) {
        const std::size_t nb = std::min(block, n - a);
        auto bx = xt::xtensor<T, 2>::from_shape({pixels, nb});
        for (std::size_t p = 0; p < pixels; ++p)
            std::copy_n(x.data() + p * n + a, nb, bx.data() + p * nb);
        auto by = one_hot<T>(std::span<const std::uint8_t>(labels).subspan(a, nb), classes);
        net.set_data(std::move(bx), std::move(by));
        const double weight = double(nb) / double(n);
        if (gradient) {
            sums.loss += weight * double(net.evaluate_with_gradient(w, g));
            for (std::size_t i = 0; i < g.size(); ++i) sums.gradient[i] += weight * double(g[i]);
        } else {
            sums.loss += weight * double(net.evaluate(w));
        }
        if (accuracy) {
            const xt::xtensor<T, 2> logits = net.predict(w);
            std::size_t correct = 0;
            for (std::size_t k = 0; k < nb; ++k) {
                std::size_t best = 0;
                for (std::size_t c = 1; c < logits.shape(0); ++c)
                    if (logits(c, k) > logits(best, k)) best = c;
                correct += best == labels[a + k] ? 1 : 0;
            }
            sums.correct += double(correct);
        }
    }
}

/// The metrics of a whole split of n samples from its sums: the mean loss, the accuracy (NaN
/// unless `accuracy`) and ‖∇L‖² (NaN unless the sums hold the gradient).
inline split_metrics split_metrics_of(const split_sums& sums, std::size_t n, bool accuracy) {
    split_metrics m;
    m.loss = sums.loss;
    m.accuracy = accuracy ? sums.correct / double(n) : std::numeric_limits<double>::quiet_NaN();
    if (!sums.gradient.empty()) {
        m.grad_norm_sq = 0;
        for (double v : sums.gradient) m.grad_norm_sq += v * v;
    }
    return m;
}

/// The metrics of the samples x (d_0 × n) with these labels at w, through the network's own loss
/// in blocks of `block` columns (the net's data is replaced; labels 0 … classes−1): ‖∇L‖² of the
/// full gradient when `gradient`, the fraction of samples whose largest logit is their label when
/// `accuracy` (NaN otherwise).
template <class Net>
split_metrics evaluate_split(Net& net, const typename Net::parameters& w, const xt::xtensor<typename Net::value_type, 2>& x,
                             const std::vector<std::uint8_t>& labels, std::size_t block, bool gradient,
                             bool accuracy, std::size_t classes = 10) {
    split_sums sums;
    accumulate_split(net, w, x, labels, block, gradient, accuracy, classes, 0, 1, sums);
    return split_metrics_of(sums, labels.size(), accuracy);
}

/// A classification network with a training and a validation split: the separable function of the
/// mini-batch loop (samples, select_batch, evaluate_with_gradient; train/minibatch.hpp) and its
/// epoch evaluator (train, validation). The splits are held by reference and must outlive it; the
/// training samples are also kept as rows, so that a shuffled mini-batch is gathered from
/// contiguous memory.
template <class Net>
class classification_data {
    static_assert(classifier_network<Net>,
                  "classification_data requires 'Net' to provide set_data(X, Y), evaluate(w), "
                  "evaluate_with_gradient(w, g) and predict(w)");

  public:
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using matrix = xt::xtensor<T, 2>;

    classification_data(Net& net, const matrix& train_x, const std::vector<std::uint8_t>& train_y,
                        const matrix& valid_x, const std::vector<std::uint8_t>& valid_y, std::size_t block,
                        std::size_t classes = 10)
        : net_(&net), train_x_(&train_x), train_y_(&train_y), valid_x_(&valid_x), valid_y_(&valid_y),
          train_rows_(xt::transpose(train_x)), block_(block), classes_(classes) {
        if (train_x.shape(1) != train_y.size() || valid_x.shape(1) != valid_y.size())
            throw std::invalid_argument("classification_data: a split has not one label per sample (column)");
        if (block == 0) throw std::invalid_argument("classification_data: the evaluation block must be positive");
    }

    /// Training samples.
    std::size_t samples() const { return train_y_->size(); }

    /// The network's data becomes these training samples: X (d_0 × b) and one-hot Y (classes × b).
    void select_batch(std::span<const std::size_t> samples) {
        const std::size_t pixels = train_rows_.shape(1), b = samples.size();
        auto bx = matrix::from_shape({pixels, b});
        matrix by = xt::zeros<T>({classes_, b});
        for (std::size_t k = 0; k < b; ++k) {
            const T* row = train_rows_.data() + samples[k] * pixels;
            for (std::size_t p = 0; p < pixels; ++p) bx.data()[p * b + k] = row[p];
            by((*train_y_)[samples[k]], k) = T(1);
        }
        net_->set_data(std::move(bx), std::move(by));
    }

    /// The mean loss of the selected batch and its gradient.
    T evaluate_with_gradient(const parameters& w, parameters& g) const { return net_->evaluate_with_gradient(w, g); }

    /// Loss, accuracy and ‖∇L‖² over the training split.
    split_metrics train(const parameters& w) const {
        return evaluate_split(*net_, w, *train_x_, *train_y_, block_, true, true, classes_);
    }
    /// Loss and accuracy over the validation split.
    split_metrics validation(const parameters& w) const {
        return evaluate_split(*net_, w, *valid_x_, *valid_y_, block_, false, true, classes_);
    }

    /// The sums of the training split's blocks first, first + stride, … (loss, gradient, correct).
    void accumulate_train(const parameters& w, std::size_t first, std::size_t stride, split_sums& sums) const {
        accumulate_split(*net_, w, *train_x_, *train_y_, block_, true, true, classes_, first, stride, sums);
    }
    /// The sums of the validation split's blocks first, first + stride, … (loss, correct).
    void accumulate_validation(const parameters& w, std::size_t first, std::size_t stride, split_sums& sums) const {
        accumulate_split(*net_, w, *valid_x_, *valid_y_, block_, false, true, classes_, first, stride, sums);
    }
    std::size_t train_samples() const { return train_y_->size(); }
    std::size_t validation_samples() const { return valid_y_->size(); }

    Net& net() const { return *net_; }

  private:
    Net* net_;
    const matrix* train_x_;
    const std::vector<std::uint8_t>* train_y_;
    const matrix* valid_x_;
    const std::vector<std::uint8_t>* valid_y_;
    matrix train_rows_;  // n_train × d_0
    std::size_t block_, classes_;
};

}  // namespace teleport
