// teleport/engine/activation_space.hpp — the eq. 8 teleport objective of a layered network, evaluated on
// the batch's activations.
//
// network_teleport_objective (network_teleport.hpp) evaluates J = ‖∇L‖² and its gradient in the
// algebra from the generated Hessian-vector product H∇L over the whole weight vector: every step
// of a search pays for the forward and backward passes of the gradient and their tangents through
// every weight matrix, the 784-wide input layer of the paper's classifier included. For the
// nonlinear action (paper eq. 8) everything that search needs lives on the b samples of the batch:
//
//   * the action moves h_k ↦ g h_k and Z_k ↦ σ⁻¹(g h_k); the pre-activation of layer k + 1 is exactly
//     unchanged (W_{k+1} g⁻¹ g h_k), so no forward pass is repeated;
//   * the weights the search multiplies by are W_m, m ≥ 2 (the input has no tangent and no product
//     Wᵀ reaches W_1). In the projection form a pair's lower matrix is W_k = Z_k h̃_{k−1}⁺ and is
//     never formed (W_k ḣ = Z_k (h̃⁺ ḣ), W_kᵀ Δ = h̃⁺ᵀ (Z_kᵀ Δ), O(d b²)). In the minimal form
//     (layer_action.hpp) W_m, m ≥ 2, are kept dense: a pair's move adds the rank-b update
//     (Z_k,new − Z_k,old) h̃_{k−1}⁺ to W_k and multiplies W_{k+1} by g⁻¹ (factored). W_1 reads the fixed
//     input x, so its updates add up to (Z_1,final − Z_1,start) x̃⁺, applied once by write();
//   * every gradient is an outer product G_m = Δ_m h̃_{m−1}ᵀ, so J = Σ_m ⟨Δ_mᵀΔ_m, h̃_{m−1}ᵀh̃_{m−1}⟩,
//     and the tangent of Z_m along ∇L is Δ_m (h̃_{m−1}ᵀh̃_{m−1}) + W_m ḣ̃_{m−1};
//   * ∂J/∂w = 2H∇L has U_m = 2(Δ̇_m h̃_{m−1}ᵀ + Δ_m ḣ̃_{m−1}ᵀ), so U_m h̃_{m−1}⁺ᵀ = 2(Δ̇_m + Δ_m r_mᵀ),
//     r_m = h̃_{m−1}⁺ ḣ̃_{m−1}. Pair k's term of layer_action::gradient_factors, A = Q_k ⊘ σ′(Z_k) with
//     Q_k = U_k h̃_{k−1}⁺ᵀ, goes with
//       projection, pair k + 1 too:  E = 2(ḣ̃_k − h̃_k r_{k+1}) (Δ_{k+1}ᵀ Z_{k+1} S_k⁻¹) − W_{k+1}ᵀ Q_{k+1},
//                                    S_k = h̃_kᵀh̃_k: factors [A + E[:d], h_k], rank b
//       otherwise:                   A h_kᵀ − W_{k+1}[:, :d]ᵀ U_{k+1}[:, :d], either stacked as
//                                    [A, −W_{k+1}ᵀ][h_k, U_{k+1}ᵀ] (rank b + d_{k+1}) or, minimal form
//                                    with d_{k+1} > b, as [A − 2W_{k+1}ᵀΔ̇_{k+1}, −2W_{k+1}ᵀΔ_{k+1}][h_k, ḣ_k]
//                                    (rank 2b; the W_{k+1}ᵀ products on the hidden rows)
//
// Dots are tangents along v = ∇L: Ż, ḣ, Δ̇ of the R-operator, written out for a layered network
// (h_m = σ(Z_m), Z_m = W_m h̃_{m−1}, Δ_m = σ′(Z_m) ⊙ (W_{m+1}ᵀΔ_{m+1})[:d_m], Δ_L = ∂ℓ/∂Z_L):
//     Ż_m = Δ_m S_{m−1} + W_m ḣ̃_{m−1},   ḣ_m = σ′(Z_m) ⊙ Ż_m,   ḣ̃ = [ḣ; 0],   Δ̇_L = (∂²ℓ/∂Z_L²) Ż_L,
//     Δ̇_m = σ″(Z_m) ⊙ Ż_m ⊙ (W_{m+1}ᵀΔ_{m+1})[:d_m] + σ′(Z_m) ⊙ (h_m Δ_{m+1}ᵀΔ_{m+1} + (W_{m+1}ᵀΔ̇_{m+1})[:d_m]).
// The loss ℓ of the output and its derivatives come from the network's generated head program.
// J, the gradient and the written weights equal network_teleport_objective's and layer_action's
// to rounding, in both forms (tests/test_networks.cpp checks them against each other and against
// finite differences). It is used for gradient and normalized ascent with factored steps (rank
// ≤ d_k / 2, activation_space_rank), which is how the mnist driver teleports.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <set>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "teleport/groups/layer_action.hpp"
#include "teleport/tensor/dense.hpp"
#include "teleport/tensor/expression.hpp"

namespace teleport {

/// A layered network whose loss is a head program of its output (problems::mlp).
template <class Net>
concept layered_network = requires(const Net& net) {
    typename Net::activation;
    typename Net::head_program;
    { Net::has_bias } -> std::convertible_to<bool>;
    net.x();
    net.y();
    net.shape();
};

/// The pairs of a network and an action that activation_space_objective can evaluate.
template <class Net, class Action>
concept activation_space_evaluable =
    layered_network<Net> && std::is_same_v<typename Action::kind, groups::nonlinear_layers> &&
    std::is_same_v<typename Net::activation, typename Action::activation>;

/// The rank of activation_space_objective's gradient factors of pair k on a batch of b samples:
/// the action's gradient_rank in the projection form, b + min(b, d_{k+1}) in the minimal form.
template <class Action>
std::size_t activation_space_rank(const Action& action, std::size_t k, std::size_t b) {
    if (action.projects()) return action.gradient_rank(k, b);
    return b + std::min(b, action.shape().widths[k + 1]);
}

/// J = ‖∇L‖² and ∂J/∂T_k (as factors) of the nonlinear action, on a state kept in activation space.
/// Use: reset(w); then value_and_gradient and apply, any number of times; then write(w) into a copy of
/// the weights reset() was given.
template <class Net, class Action>
    requires activation_space_evaluable<Net, Action>
class activation_space_objective {
  public:
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using Act = typename Net::activation;
    using head = typename Net::head_program;
    using matrix = tensor::matrix<T>;

    activation_space_objective(const Net& net, const Action& action)
        : net_(&net), action_(&action), layers_(net.shape().layers()), beta_(net.shape().bias ? 1 : 0),
          batch_(net.x().shape(1)) {
        if (net.shape().widths != action.shape().widths || net.shape().bias != action.shape().bias)
            throw std::invalid_argument("teleport: the action was made for a network of other widths");
        const std::size_t n = layers_ + 1;
        for (auto* v : {&ht_, &z_, &pinv_, &sinv_, &s_, &dense_, &delta_, &ddelta_, &back_, &back_dot_, &zdot_, &hdot_,
                        &gamma_, &r_, &own_})
            v->resize(n);
    }

    /// The state of w's image under the identity (w itself in the minimal form, eq. 8's projection
    /// W_k ↦ W_k h̃ h̃⁺ in the projection form): one forward pass. Throws std::domain_error when a
    /// pair's input lacks full column rank.
    void reset(const parameters& w) {
        const auto& shape = net_->shape();
        if (w.size() != shape.parameter_count())
            throw std::invalid_argument("teleport: " + std::to_string(w.size()) + " weights given but the network has " +
                                        std::to_string(shape.parameter_count()));
        tensor::append_ones_row(tensor::cref(net_->x()), net_->shape().bias, ht_[0]);
        for (std::size_t m = 1; m <= layers_; ++m) {
            tensor::multiply<T>(false, false, weight(w, m), tensor::cref(ht_[m - 1]), z_[m]);
            if (m < layers_) {
                tensor::append_ones_row(tensor::cref(z_[m]), net_->shape().bias, ht_[m]);
                T* h = ht_[m].data();
                for (std::size_t i = 0; i < z_[m].size(); ++i) h[i] = Act::value(h[i]);
            }
            if (!implicit(m) && m >= 2) {
                const auto v = weight(w, m);
                tensor::reshape(dense_[m], v.rows, v.cols);
                std::copy(v.data, v.data + v.size(), dense_[m].data());
            }
        }
        if (lower(1) && !action_->projects()) z1_start_ = z_[1];  // W_1's update waits for write()
        for (std::size_t m = 0; m < layers_; ++m) refresh(m);
    }

    /// The rank of the gradient factors of pair k (activation_space_rank).
    std::size_t gradient_rank(std::size_t k) const { return activation_space_rank(*action_, k, batch_); }

    /// J at the state, with ∂J/∂T_k at the identity as factors L_k R_kᵀ (in the order of the pairs).
    T value_and_gradient(std::vector<groups::low_rank<T>>& grad) {
        if (z_[layers_].size() == 0) throw std::logic_error("activation_space_objective: reset() must come first");
        const std::size_t top = layers_, b = batch_;
        const std::size_t bottom = *action_->pairs().begin();
        // backward: Δ_L = ∂ℓ/∂Z_L, Δ_m = σ′(Z_m) ⊙ (W_{m+1}ᵀΔ_{m+1})[:d_m]
        tensor::reshape(delta_[top], z_[top].shape(0), b);
        {
            const auto heads = head_bindings();
            const std::array<tensor::matrix_ref<T>, 1> out{tensor::ref(delta_[top])};
            loss_ = head::evaluate_with_gradient(head_ws_, heads, std::span<const tensor::matrix_ref<T>>(out));
        }
        for (std::size_t m = top; m >= 2; --m) {
            transpose_times(m, delta_[m], work_);
            copy_rows(work_, width(m - 1), back_[m - 1]);
            delta_[m - 1] = back_[m - 1];
            scale_by_derivative(z_[m - 1], delta_[m - 1]);
        }
        // J = Σ ⟨Δ_mᵀΔ_m, S_{m−1}⟩
        T j = 0;
        for (std::size_t m = 1; m <= top; ++m) {
            tensor::multiply<T>(true, false, tensor::cref(delta_[m]), tensor::cref(delta_[m]), gamma_[m]);
            for (std::size_t i = 0; i < b * b; ++i) j += gamma_[m].data()[i] * s_[m - 1].data()[i];
        }
        // tangents along ∇L: Ż_m = Δ_m S_{m−1} + W_m ḣ̃_{m−1}, ḣ_m = σ′(Z_m) ⊙ Ż_m
        for (std::size_t m = 1; m <= top; ++m) {
            tensor::multiply<T>(false, false, tensor::cref(delta_[m]), tensor::cref(s_[m - 1]), zdot_[m]);
            if (m >= 2) times(m, hdot_[m - 1], zdot_[m]);
            if (m < top) {
                tensor::reshape(hdot_[m], width(m) + beta_, b);
                T* hd = hdot_[m].data();
                const T* zd = zdot_[m].data();
                const T* zm = z_[m].data();
                const std::size_t n = width(m) * b;
                for (std::size_t i = 0; i < n; ++i) hd[i] = Act::derivative(zm[i]) * zd[i];
                for (std::size_t i = n; i < hdot_[m].size(); ++i) hd[i] = T(0);
            }
        }
        // Δ̇_L from the head, then down to the lowest pair
        tensor::reshape(ddelta_[top], z_[top].shape(0), b);
        {
            const auto heads = head_bindings();
            tensor::reshape(head_gradient_, z_[top].shape(0), b);
            const std::array<tensor::matrix_ref<T>, 1> g{tensor::ref(head_gradient_)}, hv{tensor::ref(ddelta_[top])};
            const std::array<tensor::const_matrix_ref<T>, 1> dir{tensor::cref(zdot_[top])};
            head::hessian_vector_product(head_ws_, heads, std::span<const tensor::matrix_ref<T>>(g),
                                         std::span<const tensor::const_matrix_ref<T>>(dir),
                                         std::span<const tensor::matrix_ref<T>>(hv));
        }
        for (std::size_t m = top - 1; m >= bottom; --m) {
            // Ḃ = h_m Γ_{m+1} + (W_{m+1}ᵀ Δ̇_{m+1})[:d_m]; W_{m+1}ᵀ Δ̇_{m+1} kept for the factors of pair m
            transpose_times(m + 1, ddelta_[m + 1], back_dot_[m]);
            const std::size_t d = width(m);
            tensor::reshape(ddelta_[m], d, b);
            tensor::gemm<T>(false, false, T(1), hidden(m), tensor::cref(gamma_[m + 1]), T(0), tensor::ref(ddelta_[m]));
            T* dd = ddelta_[m].data();
            const T* wd = back_dot_[m].data();
            const T* zm = z_[m].data();
            const T* zd = zdot_[m].data();
            const T* bk = back_[m].data();
            for (std::size_t i = 0; i < d * b; ++i) {
                T v = Act::derivative(zm[i]) * (dd[i] + wd[i]);
                if constexpr (tensor::detail::has_curvature<Act>::value) v += Act::second_derivative(zm[i]) * zd[i] * bk[i];
                dd[i] = v;
            }
            if (m == 1) break;
        }
        // Q_k = U_k h̃_{k−1}⁺ᵀ of every pair, once: pair k reads its own and, below a pair, Q_{k+1}
        for (std::size_t k : action_->pairs()) own_term(k, own_[k]);
        // the factors, pair by pair
        grad.resize(action_->pairs().size());
        std::size_t index = 0;
        for (std::size_t k : action_->pairs()) {
            const std::size_t d = width(k);
            auto& f = grad[index++];
            q_ = own_[k];
            for (std::size_t i = 0; i < d * b; ++i) q_.data()[i] /= Act::derivative(z_[k].data()[i]);
            if (implicit(k + 1)) {
                // E = 2(ḣ̃_k − h̃_k r_{k+1}) (Δ_{k+1}ᵀ Z_{k+1} S_k⁻¹) − W_{k+1}ᵀ Q_{k+1}
                tensor::multiply<T>(false, false, tensor::cref(z_[k + 1]), tensor::cref(sinv_[k]), p_);
                tensor::multiply<T>(true, false, tensor::cref(delta_[k + 1]), tensor::cref(p_), small_);
                transpose_times(k + 1, own_[k + 1], work_);  // W_{k+1}ᵀ Q_{k+1}
                orth_ = hdot_[k];                              // ḣ̃_k − h̃_k r_{k+1}
                tensor::gemm<T>(false, false, T(-1), tensor::cref(ht_[k]), tensor::cref(r_[k + 1]), T(1),
                                tensor::ref(orth_));
                tensor::gemm<T>(false, false, T(2), tensor::cref(orth_), tensor::cref(small_), T(-1), tensor::ref(work_));
                for (std::size_t i = 0; i < d * b; ++i) q_.data()[i] += work_.data()[i];  // E[:d]
                f.left = q_;
                tensor::reshape(f.right, d, b);
                std::copy(ht_[k].data(), ht_[k].data() + d * b, f.right.data());
            } else if (!action_->projects() && width(k + 1) > b) {
                // [Q_k ⊘ σ′ − 2 W_{k+1}[:, :d]ᵀ Δ̇_{k+1}, −2 (W_{k+1}ᵀΔ_{k+1})[:d]] [h_k, ḣ_k]ᵀ (rank 2b);
                // W_{k+1}ᵀ Δ̇_{k+1} from the pass down (k is at or above the lowest pair)
                tensor::reshape(f.left, d, 2 * b);
                tensor::reshape(f.right, d, 2 * b);
                const T* wd = back_dot_[k].data();
                const T* bk = back_[k].data();
                const T* hk = ht_[k].data();
                const T* hd = hdot_[k].data();
                for (std::size_t i = 0; i < d; ++i)
                    for (std::size_t j = 0; j < b; ++j) {
                        f.left(i, j) = q_(i, j) - T(2) * wd[i * b + j];
                        f.left(i, b + j) = T(-2) * bk[i * b + j];
                        f.right(i, j) = hk[i * b + j];
                        f.right(i, b + j) = hd[i * b + j];
                    }
            } else {
                // [Q_k ⊘ σ′, −W_{k+1}[:, :d]ᵀ] [h_k, U_{k+1}[:, :d]ᵀ]ᵀ, U_{k+1}[:, :d] = 2(Δ̇ h_kᵀ + Δ ḣ_kᵀ)
                tensor::multiply<T>(false, true, tensor::cref(ddelta_[k + 1]), hidden(k), up_);
                tensor::gemm<T>(false, true, T(2), tensor::cref(delta_[k + 1]), hidden_tangent(k), T(2), tensor::ref(up_));
                f = groups::stacked_factors(tensor::cref(q_), hidden(k), tensor::cref(dense_[k + 1]), tensor::cref(up_));
            }
        }
        return j;
    }

    /// The batch loss of the state (after value_and_gradient). It is invariant by construction (the
    /// state moves Z_k to σ⁻¹(g h_k) and leaves Z_{k+1} alone): a check of the symmetry reads
    /// written_loss().
    T loss() const { return loss_; }

    /// The batch loss of the weights write() would form, by a forward pass through them: W_m h̃ for
    /// the dense W_m, Z_k (h̃_{k−1}⁺ h̃) for the implicit ones, Z_1,start + (Z_1 − Z_1,start)(x̃⁺ x̃)
    /// for the deferred W_1. It moves off loss() when rounding breaks the symmetry (an ill-conditioned
    /// h̃_k after long steps), as the weights' loss would; O(Σ d_m d_{m−1} b) for m ≥ 2.
    T written_loss() {
        if (z_[layers_].size() == 0) throw std::logic_error("activation_space_objective: reset() must come first");
        for (std::size_t m = 1; m <= layers_; ++m) {
            matrix& z = forward_z_[m % 2];
            if (m == 1 && lower(1) && !action_->projects()) {
                tensor::multiply<T>(false, false, tensor::cref(pinv_[0]), tensor::cref(ht_[0]), tiny_);  // x̃⁺ x̃
                const matrix change = z_[1] - z1_start_;
                z = z1_start_;
                tensor::gemm<T>(false, false, T(1), tensor::cref(change), tensor::cref(tiny_), T(1), tensor::ref(z));
            } else if (m == 1) {
                z = z_[1];  // W_1 x̃ as reset() formed it (implicit: Z_1 x̃⁺ x̃, the same to rounding)
                if (implicit(1)) {
                    tensor::multiply<T>(false, false, tensor::cref(pinv_[0]), tensor::cref(ht_[0]), tiny_);
                    tensor::multiply<T>(false, false, tensor::cref(z_[1]), tensor::cref(tiny_), z);
                }
            } else if (implicit(m)) {
                tensor::multiply<T>(false, false, tensor::cref(pinv_[m - 1]), tensor::cref(forward_h_), tiny_);
                tensor::multiply<T>(false, false, tensor::cref(z_[m]), tensor::cref(tiny_), z);
            } else {
                tensor::multiply<T>(false, false, tensor::cref(dense_[m]), tensor::cref(forward_h_), z);
            }
            if (m < layers_) {
                tensor::append_ones_row(tensor::cref(z), net_->shape().bias, forward_h_);
                T* h = forward_h_.data();
                for (std::size_t i = 0; i < z.size(); ++i) h[i] = Act::value(h[i]);
            }
        }
        head_weights_[0] = tensor::cref(forward_z_[layers_ % 2]);
        head_data_[0] = tensor::cref(net_->x());
        head_data_[1] = tensor::cref(net_->y());
        return head::evaluate(head_ws_, {std::span<const tensor::const_matrix_ref<T>>(head_weights_),
                                         std::span<const tensor::const_matrix_ref<T>>(head_data_)});
    }

    /// Move the state by one factored element per pair (in the order of the pairs), bottom-up.
    /// Throws std::domain_error when a hidden layer stops being finite or loses column rank.
    void apply(const std::vector<groups::factored_element<T>>& e) {
        if (z_[layers_].size() == 0) throw std::logic_error("activation_space_objective: reset() must come first");
        if (e.size() != action_->pairs().size())
            throw std::invalid_argument("teleport: one group element per pair expected");
        const bool minimal = !action_->projects();
        std::size_t index = 0;
        for (std::size_t k : action_->pairs()) {
            const auto& g = e[index++];
            if (minimal && g.rank() == 0) continue;  // the identity, exactly (layer_action does the same)
            const std::size_t n = width(k) * batch_;
            if (minimal && k >= 2) old_z_ = z_[k];
            groups::multiply_left(g, tensor::matrix_ref<T>{ht_[k].data(), width(k), batch_});  // h_k ↦ g h_k
            T* h = ht_[k].data();
            T* zk = z_[k].data();
            for (std::size_t i = 0; i < n; ++i) {
                if (!std::isfinite(h[i])) throw std::domain_error("the teleported hidden layer " + std::to_string(k) + " is not finite");
                zk[i] = Act::inverse(h[i]);
            }
            if (minimal && k >= 2) {
                // W_k += (Z_k,new − Z_k,old) h̃_{k−1}⁺, h̃_{k−1} as it is now (moved by the pairs below)
                for (std::size_t i = 0; i < n; ++i) old_z_.data()[i] = zk[i] - old_z_.data()[i];
                tensor::gemm<T>(false, false, T(1), tensor::cref(old_z_), tensor::cref(pinv_[k - 1]), T(1),
                                tensor::ref(dense_[k]));
            }
            if (!implicit(k + 1)) groups::multiply_right_inverse(tensor::ref(dense_[k + 1]), g, width(k));
            refresh(k);
        }
    }

    /// Write the state's weights into w, which must hold the weights reset() was given (the layers
    /// the action leaves alone are not touched, and the minimal form updates W_1 from them):
    /// projection: W_k = Z_k h̃_{k−1}⁺ for the pairs, W_{k+1} above them; minimal: the dense W_m
    /// (m ≥ 2) a pair moved, and W_1 + (Z_1 − Z_1,start) x̃⁺ when pair 1 is teleported.
    void write(parameters& w) const {
        for (std::size_t m = 1; m <= layers_; ++m) {
            auto v = weight(w, m);
            if (implicit(m)) {
                tensor::gemm<T>(false, false, T(1), tensor::cref(z_[m]), tensor::cref(pinv_[m - 1]), T(0), v);
            } else if (m == 1 && lower(1)) {
                const matrix change = z_[1] - z1_start_;
                tensor::gemm<T>(false, false, T(1), tensor::cref(change), tensor::cref(pinv_[0]), T(1), v);
            } else if (lower(m) || lower(m - 1)) {
                std::copy(dense_[m].begin(), dense_[m].end(), v.data);
            }
        }
    }

  private:
    std::size_t width(std::size_t m) const { return net_->shape().widths[m]; }
    // W_m is a pair's lower matrix
    bool lower(std::size_t m) const { return m >= 1 && m < layers_ && action_->pairs().count(m) != 0; }
    // W_m is kept as Z_m h̃_{m−1}⁺ (a pair's lower matrix in the projection form), not densely
    bool implicit(std::size_t m) const { return lower(m) && action_->projects(); }

    tensor::const_matrix_ref<T> weight(const parameters& w, std::size_t m) const {
        const auto& s = net_->shape();
        return {w.data() + s.offset(m), s.rows(m), s.cols(m)};
    }
    tensor::matrix_ref<T> weight(parameters& w, std::size_t m) const {
        const auto& s = net_->shape();
        return {w.data() + s.offset(m), s.rows(m), s.cols(m)};
    }
    tensor::const_matrix_ref<T> hidden(std::size_t m) const { return {ht_[m].data(), width(m), batch_}; }
    tensor::const_matrix_ref<T> hidden_tangent(std::size_t m) const { return {hdot_[m].data(), width(m), batch_}; }

    static void copy_rows(const matrix& a, std::size_t rows, matrix& out) {
        tensor::reshape(out, rows, a.shape(1));
        std::copy(a.data(), a.data() + rows * a.shape(1), out.data());
    }
    static void scale_by_derivative(const matrix& z, matrix& a) {
        for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] *= Act::derivative(z.data()[i]);
    }

    // S_m = h̃_mᵀh̃_m, h̃_m⁺ when W_{m+1} is a pair's lower matrix, and S_m⁻¹ = h̃_m⁺h̃_m⁺ᵀ when it is
    // kept as Z_{m+1} h̃_m⁺
    void refresh(std::size_t m) {
        tensor::multiply<T>(true, false, tensor::cref(ht_[m]), tensor::cref(ht_[m]), s_[m]);
        if (lower(m + 1))
            pinv_[m] = tensor::left_pseudo_inverse<T>(tensor::cref(ht_[m]), groups::layer_input_name(m + 1));
        if (implicit(m + 1))
            tensor::multiply<T>(false, true, tensor::cref(pinv_[m]), tensor::cref(pinv_[m]), sinv_[m]);
    }

    // out = W_mᵀ x ((d_{m−1} + bias) × b)
    void transpose_times(std::size_t m, const matrix& x, matrix& out) {
        if (implicit(m)) {
            tensor::multiply<T>(true, false, tensor::cref(z_[m]), tensor::cref(x), tiny_);
            tensor::multiply<T>(true, false, tensor::cref(pinv_[m - 1]), tensor::cref(tiny_), out);
        } else {
            tensor::multiply<T>(true, false, tensor::cref(dense_[m]), tensor::cref(x), out);
        }
    }
    // out += W_m x; for a pair's lower matrix r_m = h̃_{m−1}⁺ x is kept (own_term reads it)
    void times(std::size_t m, const matrix& x, matrix& out) {
        if (lower(m)) tensor::multiply<T>(false, false, tensor::cref(pinv_[m - 1]), tensor::cref(x), r_[m]);
        if (implicit(m)) {
            tensor::gemm<T>(false, false, T(1), tensor::cref(z_[m]), tensor::cref(r_[m]), T(1), tensor::ref(out));
        } else {
            tensor::gemm<T>(false, false, T(1), tensor::cref(dense_[m]), tensor::cref(x), T(1), tensor::ref(out));
        }
    }
    // U_m h̃_{m−1}⁺ᵀ = 2(Δ̇_m + Δ_m r_mᵀ), r_1 = 0 (the input has no tangent)
    void own_term(std::size_t m, matrix& out) const {
        out = ddelta_[m];
        if (m >= 2)
            tensor::gemm<T>(false, true, T(1), tensor::cref(delta_[m]), tensor::cref(r_[m]), T(1), tensor::ref(out));
        out *= T(2);
    }

    tensor::bindings<T> head_bindings() {
        head_weights_[0] = tensor::cref(z_[layers_]);
        head_data_[0] = tensor::cref(net_->x());
        head_data_[1] = tensor::cref(net_->y());
        return {std::span<const tensor::const_matrix_ref<T>>(head_weights_),
                std::span<const tensor::const_matrix_ref<T>>(head_data_)};
    }

    const Net* net_;
    const Action* action_;
    std::size_t layers_, beta_, batch_;
    T loss_ = 0;
    // per layer m: h̃_m, Z_m, h̃_m⁺, S_m⁻¹, S_m, dense W_m, Δ_m, Δ̇_m, (W_{m+1}ᵀΔ_{m+1})[:d_m], Ż_m, ḣ̃_m, Δ_mᵀΔ_m, r_m,
    // and Q_m = U_m h̃_{m−1}⁺ᵀ for the pairs
    // back_dot_[m] = W_{m+1}ᵀ Δ̇_{m+1}
    std::vector<matrix> ht_, z_, pinv_, sinv_, s_, dense_, delta_, ddelta_, back_, back_dot_, zdot_, hdot_, gamma_, r_,
        own_;
    matrix z1_start_;  // Z_1 at reset (minimal form, pair 1 teleported): W_1 moves by (Z_1 − Z_1,start) x̃⁺
    matrix work_, tiny_, q_, p_, small_, orth_, up_, old_z_, head_gradient_;
    matrix forward_z_[2], forward_h_;  // written_loss's forward pass
    typename head::template workspace<T> head_ws_;
    std::array<tensor::const_matrix_ref<T>, 1> head_weights_{};
    std::array<tensor::const_matrix_ref<T>, 2> head_data_{};
};

}  // namespace teleport
