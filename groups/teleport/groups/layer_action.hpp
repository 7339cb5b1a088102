// teleport/groups/layer_action.hpp — symmetries of layered networks acting on adjacent weight pairs.
//
// A pair k (1 ≤ k < L) is (W_{k+1}, W_k) around the hidden layer h_k of width d_k; its group acts
// on h_k. Any set of pairs acts at once, bottom-up, each pair reading its input from the already
// transformed lower layers (SPEC §5: the public reference reads it from the untransformed ones).
//   linear_layers     paper eq. 6, linear networks:   W_k ↦ g W_k,   W_{k+1} ↦ W_{k+1} g⁻¹,  g ∈ GL(d_k)
//   nonlinear_layers  paper eq. 8, bijective σ: h_k ↦ g h_k on the batch, W_{k+1} ↦ W_{k+1} g⁻¹, and W_k
//                     any W′ with W′ h̃ = Z′ = σ⁻¹(g σ(W_k h̃)), h̃ the input of layer k on the batch
//                     (with its row of ones when biased), ⁺ its left pseudo-inverse. Two forms:
//                       minimal_change (default)  W_k ↦ W_k + (Z′ − W_k h̃) h̃⁺, the W′ closest to W_k:
//                                                 the identity at g = I, so W_k keeps what it does off
//                                                 the batch
//                       projection (the paper's)  W_k ↦ Z′ h̃⁺; at g = I this is W_k h̃ h̃⁺, a projection
//                                                 onto the batch's span (rank ≤ b)
//                     Both are exact on the batch when h̃ has full column rank. The minimal form
//                     composes exactly (act(b, act(a, w)) = act(b a, w)) when no two pairs are
//                     adjacent (each pair's input is then fixed); for adjacent pairs k, k + 1 it
//                     composes on the batch only: off the batch the left inverses (ã h̃)⁺ b̃⁻¹ and
//                     (b̃ ã h̃)⁺ of pair k + 1's two routes differ
//   rescaling_layers  σ(c x) = c σ(x) for c > 0 ((Leaky)ReLU): W_k ↦ diag(e^s) W_k,
//                     W_{k+1} ↦ W_{k+1} diag(e^{−s}); exact on all data (data-free)
// With biases, g acts on the d_k hidden units: the bias column of W_{k+1} is left alone. The
// data-free actions have one form and ignore the argument.
//
// Group elements come from the algebra by one of the maps of lie_algebra.hpp: exact (e^T, e^{−T}),
// cayley, or the paper's first-order I + T with "inverse" I − T (an explicit option, to measure its
// drift). The teleport objective's gradient is taken at the identity of the current point
// (gradient_at_identity); a search composes such steps, which is again an element of the group.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "teleport/groups/lie_algebra.hpp"
#include "teleport/tensor/activation.hpp"
#include "teleport/tensor/dense.hpp"
#include "teleport/tensor/network_shape.hpp"

namespace teleport::groups {

using tensor::const_matrix_ref;
using tensor::matrix;
using tensor::matrix_ref;

struct linear_layers {
    static constexpr const char* name = "linear (eq. 6)";
    static constexpr bool data_free = true;
    static constexpr bool diagonal = false;
};
struct nonlinear_layers {
    static constexpr const char* name = "nonlinear (eq. 8)";
    static constexpr bool data_free = false;
    static constexpr bool diagonal = false;
};
struct rescaling_layers {
    static constexpr const char* name = "rescaling";
    static constexpr bool data_free = true;
    static constexpr bool diagonal = true;
};

/// How eq. 8 moves a pair's lower matrix W_k to W′ with W′ h̃ = Z′ (see the header comment).
enum class action_form { minimal_change, projection };

inline const char* to_string(action_form f) {
    switch (f) {
        case action_form::minimal_change: return "minimal";
        case action_form::projection: return "projection";
    }
    return "?";
}

/// "minimal" or "projection".
inline action_form parse_action_form(std::string_view name) {
    if (name == "minimal") return action_form::minimal_change;
    if (name == "projection") return action_form::projection;
    throw std::invalid_argument("unknown form of the layer action '" + std::string(name) +
                                "' (minimal or projection)");
}

/// A group element per pair: g and its inverse (d_k × d_k), or their diagonals (d_k × 1) for rescaling.
template <class T>
struct layer_element {
    matrix<T> g, g_inverse;
};

/// An algebra element of one pair kept as factors, T = L Rᵀ (L, R: d_k × r). The nonlinear
/// action's teleport gradient has rank at most the batch size b (plus the output width of layer
/// k + 1 when that layer is not a pair too), so with b ≪ d_k a search never forms d_k × d_k matrices.
template <class T>
struct low_rank {
    matrix<T> left, right;
    std::size_t rank() const { return left.shape(1); }
};

/// L Rᵀ as a dense matrix.
template <class T>
matrix<T> dense(const low_rank<T>& t) {
    matrix<T> out;
    tensor::multiply<T>(false, true, tensor::cref(t.left), tensor::cref(t.right), out);
    return out;
}

/// ‖L Rᵀ‖²_F = Σ (LᵀL) ⊙ (RᵀR), without forming L Rᵀ.
template <class T>
T squared_norm(const low_rank<T>& t) {
    matrix<T> ll, rr;
    tensor::multiply<T>(true, false, tensor::cref(t.left), tensor::cref(t.left), ll);
    tensor::multiply<T>(true, false, tensor::cref(t.right), tensor::cref(t.right), rr);
    T s = 0;
    for (std::size_t i = 0; i < ll.size(); ++i) s += ll.data()[i] * rr.data()[i];
    return s;
}

/// A group element of one pair in factored form: g = I + U C Vᵀ, g⁻¹ = I + U C⁻ Vᵀ (U, V: d_k × r;
/// C, C⁻: r × r), reached from T = U Vᵀ. With M = VᵀU, every map is a function of M:
///   exact        e^T = I + U φ(M) Vᵀ, φ(M) = Σ Mⁿ/(n+1)!;  e^{−T} = I − U φ(−M) Vᵀ. φ(M) and −φ(−M) are
///                the upper right blocks of e^B and e^{−B} for B = [[M, I], [0, 0]] (2r × 2r), so
///                g g⁻¹ = I to the rounding of one small exponential
///   cayley       (I − T/2)⁻¹(I + T/2) = I + U (I − M/2)⁻¹ Vᵀ;  its inverse I − U (I + M/2)⁻¹ Vᵀ
///   first_order  I + T and I − T (the paper's approximation)
/// Applying g to a d_k × n block costs O(d_k r n) instead of O(d_k² n).
template <class T>
struct factored_element {
    matrix<T> u, v, c, c_inverse;
    std::size_t rank() const { return u.shape(1); }
};

/// What layer k reads, for error messages: the batch for k = 1, the input of layer k otherwise.
inline std::string layer_input_name(std::size_t k) {
    return k == 1 ? std::string("the batch (input of layer 1)") : "the input of layer " + std::to_string(k);
}

namespace detail {
// The first d columns of a (the hidden units; a bias column excluded), as a copy.
template <class T>
matrix<T> hidden_columns(const_matrix_ref<T> a, std::size_t d) {
    matrix<T> out({a.rows, d});
    for (std::size_t i = 0; i < a.rows; ++i)
        for (std::size_t j = 0; j < d; ++j) out(i, j) = a(i, j);
    return out;
}
}  // namespace detail

/// The factors [A, −W[:, :d]ᵀ] and [H, U[:, :d]ᵀ] of A Hᵀ − W[:, :d]ᵀ U[:, :d] (A, H: d × b; W, U:
/// c × d or c × (d + 1)): eq. 8's teleport gradient of a pair whose upper layer is not a pair too.
template <class T>
low_rank<T> stacked_factors(const_matrix_ref<T> a, const_matrix_ref<T> h, const_matrix_ref<T> w, const_matrix_ref<T> u) {
    const std::size_t d = a.rows, b = a.cols, c = w.rows;
    low_rank<T> f{matrix<T>({d, b + c}), matrix<T>({d, b + c})};
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < b; ++j) {
            f.left(i, j) = a(i, j);
            f.right(i, j) = h(i, j);
        }
        for (std::size_t j = 0; j < c; ++j) {
            f.left(i, b + j) = -w(j, i);
            f.right(i, b + j) = u(j, i);
        }
    }
    return f;
}

/// a ← g a = a + U (C (Vᵀ a)) for a factored element g (a: d_k × n).
template <class T>
void multiply_left(const factored_element<T>& e, matrix_ref<T> a) {
    if (e.rank() == 0) return;
    matrix<T> va, cva;
    tensor::multiply<T>(true, false, tensor::cref(e.v), a, va);
    tensor::multiply<T>(false, false, tensor::cref(e.c), tensor::cref(va), cva);
    tensor::gemm<T>(false, false, T(1), tensor::cref(e.u), tensor::cref(cva), T(1), a);
}

/// a[:, :d] ← a[:, :d] g⁻¹ = a[:, :d] + ((a[:, :d] U) C⁻) Vᵀ for a factored element g of width d
/// (a may have one column more: a bias, left alone).
template <class T>
void multiply_right_inverse(matrix_ref<T> a, const factored_element<T>& e, std::size_t d) {
    if (e.rank() == 0) return;
    matrix<T> au, auc;
    if (d == a.cols) {
        tensor::multiply<T>(false, false, a, tensor::cref(e.u), au);
    } else {
        const matrix<T> block = detail::hidden_columns(const_matrix_ref<T>(a), d);
        tensor::multiply<T>(false, false, tensor::cref(block), tensor::cref(e.u), au);
    }
    tensor::multiply<T>(false, false, tensor::cref(au), tensor::cref(e.c_inverse), auc);
    if (d == a.cols) {
        tensor::gemm<T>(false, true, T(1), tensor::cref(auc), tensor::cref(e.v), T(1), a);
    } else {
        matrix<T> add;
        tensor::multiply<T>(false, true, tensor::cref(auc), tensor::cref(e.v), add);
        for (std::size_t i = 0; i < a.rows; ++i)
            for (std::size_t j = 0; j < d; ++j) a(i, j) += add(i, j);
    }
}

template <class Kind, class Act>
class layer_action {
    static_assert(!std::is_same_v<Kind, nonlinear_layers> || Act::invertible,
                  "the nonlinear layer action (paper eq. 8) needs an invertible activation: sigma^-1 does not exist "
                  "for this one (use LeakyReLU, a bijective extension, or rescaling_layers)");
    static_assert(!std::is_same_v<Kind, rescaling_layers> || Act::positively_homogeneous,
                  "the rescaling action needs a positively homogeneous activation (identity, ReLU, LeakyReLU)");
    static_assert(!std::is_same_v<Kind, linear_layers> || std::is_same_v<Act, tensor::identity_activation>,
                  "the linear layer action (paper eq. 6) is a symmetry of linear networks only; use nonlinear_layers "
                  "or rescaling_layers");

  public:
    using kind = Kind;
    using activation = Act;

    /// pairs: the hidden layers k (1 ≤ k < L) whose pair (W_{k+1}, W_k) is transformed; form: how
    /// eq. 8 moves W_k (ignored by the data-free actions).
    layer_action(tensor::network_shape shape, std::set<std::size_t> pairs, exp_map map = exp_map::exact,
                 action_form form = action_form::minimal_change)
        : shape_(std::move(shape)), pairs_(std::move(pairs)), map_(map), form_(form) {
        const std::size_t layers = shape_.layers();
        if (layers < 2) throw std::invalid_argument("layer action: the network needs at least 2 weight matrices");
        if (pairs_.empty()) throw std::invalid_argument("layer action: no layer pair given");
        for (std::size_t k : pairs_)
            if (k < 1 || k >= layers)
                throw std::invalid_argument("layer action: pair " + std::to_string(k) + " does not exist (pairs are 1 to " +
                                            std::to_string(layers - 1) + " for " + std::to_string(layers) + " layers)");
    }

    const tensor::network_shape& shape() const { return shape_; }
    const std::set<std::size_t>& pairs() const { return pairs_; }
    exp_map map() const { return map_; }
    action_form form() const { return form_; }
    /// eq. 8 in the paper's projection form (W_k ↦ Z′ h̃⁺): the identity projects.
    bool projects() const { return std::is_same_v<Kind, nonlinear_layers> && form_ == action_form::projection; }
    static constexpr bool data_free = Kind::data_free;
    /// The teleport gradient comes as factors of low rank (gradient_factors): eq. 8 only, whose
    /// gradient at the identity is (·) h_kᵀ with h_k the batch's d_k × b hidden output.
    static constexpr bool low_rank_gradient = std::is_same_v<Kind, nonlinear_layers>;
    static std::string name() { return Kind::name; }

    /// The rank of eq. 8's teleport gradient of pair k on a batch of b samples as gradient_factors
    /// gives it (from a dense ∂J/∂w): b + d_{k+1}, except b in the projection form when pair k + 1
    /// is teleported too.
    std::size_t gradient_rank(std::size_t k, std::size_t b) const {
        return projects() && pairs_.count(k + 1) ? b : b + shape_.widths[k + 1];
    }

    /// The algebra's shape for pair k: d_k × d_k, or d_k × 1 (diagonal).
    std::size_t algebra_rows(std::size_t k) const { return shape_.widths[k]; }
    std::size_t algebra_cols(std::size_t k) const { return Kind::diagonal ? 1 : shape_.widths[k]; }
    /// Total number of algebra coordinates over all pairs.
    std::size_t dimension() const {
        std::size_t n = 0;
        for (std::size_t k : pairs_) n += algebra_rows(k) * algebra_cols(k);
        return n;
    }

    /// Zero algebra elements, one per pair (in the order of pairs()).
    template <class T>
    std::vector<matrix<T>> zero() const {
        std::vector<matrix<T>> t;
        for (std::size_t k : pairs_) t.push_back(xt::zeros<T>({algebra_rows(k), algebra_cols(k)}));
        return t;
    }

    /// The group elements reached from algebra elements t (one per pair) by the action's map.
    template <class T>
    std::vector<layer_element<T>> elements(const std::vector<matrix<T>>& t) const {
        check_algebra(t);
        std::vector<layer_element<T>> out;
        for (const auto& x : t) out.push_back(element(x));
        return out;
    }

    /// The group elements reached from factored algebra elements scale · L Rᵀ (one per pair).
    template <class T>
    std::vector<factored_element<T>> elements(const std::vector<low_rank<T>>& t, T scale) const {
        static_assert(!Kind::diagonal, "the rescaling action's algebra is diagonal: use dense elements");
        check_algebra(t);
        std::vector<factored_element<T>> out;
        for (const auto& x : t) out.push_back(factored(x, scale));
        return out;
    }

    /// The identity in factored form (rank 0): applying it costs no d_k × d_k work. For eq. 8 in the
    /// projection form it projects W_k onto the batch's span, as applying any element does; in the
    /// minimal form it leaves w bitwise alone.
    template <class T>
    std::vector<factored_element<T>> factored_identity() const {
        static_assert(!Kind::diagonal, "the rescaling action's algebra is diagonal: use dense elements");
        std::vector<factored_element<T>> out;
        for (std::size_t k : pairs_) {
            const std::size_t d = shape_.widths[k];
            out.push_back({matrix<T>({d, std::size_t(0)}), matrix<T>({d, std::size_t(0)}),
                           matrix<T>({std::size_t(0), std::size_t(0)}), matrix<T>({std::size_t(0), std::size_t(0)})});
        }
        return out;
    }

    /// w ↦ g·w in place for the flat weights w (W1 first); x is the batch (input of layer 1).
    template <class T>
    void apply(const std::vector<layer_element<T>>& e, xt::xtensor<T, 1>& w, const matrix<T>& x) const {
        apply_elements(e, w, x);
    }

    /// w ↦ g·w for elements in factored form.
    template <class T>
    void apply(const std::vector<factored_element<T>>& e, xt::xtensor<T, 1>& w, const matrix<T>& x) const {
        apply_elements(e, w, x);
    }

    /// Convenience: apply the elements reached from algebra elements t.
    template <class T>
    void apply(const std::vector<matrix<T>>& t, xt::xtensor<T, 1>& w, const matrix<T>& x) const {
        apply(elements(t), w, x);
    }

  private:
    template <class T, class Element>
    void apply_elements(const std::vector<Element>& e, xt::xtensor<T, 1>& w, const matrix<T>& x) const {
        check_weights(w);
        if (e.size() != pairs_.size()) throw std::invalid_argument("layer action: one group element per pair expected");
        matrix<T> h = x;  // output of the previous layer in the transformed network (nonlinear only)
        std::size_t index = 0;
        const std::size_t top = *pairs_.rbegin();
        for (std::size_t k = 1; k <= top; ++k) {
            const bool in_pairs = pairs_.count(k) != 0;
            const matrix_ref<T> wk = view(w, k);
            if constexpr (std::is_same_v<Kind, nonlinear_layers>) {
                const matrix<T> in = input(h);
                matrix<T> z;
                tensor::multiply<T>(false, false, wk, tensor::cref(in), z);
                if (in_pairs && !projects() && is_identity(e[index])) {
                    // the minimal change of the identity is none (σ⁻¹(σ(Z)) − Z would be rounding)
                    for (auto& v : z) v = Act::value(v);
                    h = std::move(z);
                    ++index;
                    continue;
                }
                if (in_pairs) {
                    // σ(Z) → g σ(Z) = the new h_k; Z′ = σ⁻¹(g σ(Z)) (paper eq. 8), and W_k′ h̃ = Z′ by
                    // W_k′ = Z′ h̃⁺ (projection) or W_k′ = W_k + (Z′ − Z) h̃⁺ (minimal change)
                    matrix<T> pre = z;
                    for (auto& v : z) v = Act::value(v);
                    const matrix<T> gs = times(e[index], z);
                    if (projects()) {
                        for (std::size_t i = 0; i < pre.size(); ++i) pre.data()[i] = Act::inverse(gs.data()[i]);
                    } else {
                        for (std::size_t i = 0; i < pre.size(); ++i)
                            pre.data()[i] = Act::inverse(gs.data()[i]) - pre.data()[i];
                    }
                    const matrix<T> pinv = tensor::left_pseudo_inverse<T>(tensor::cref(in), input_name(k));
                    tensor::gemm<T>(false, false, T(1), tensor::cref(pre), tensor::cref(pinv), T(projects() ? 0 : 1), wk);
                    h = std::move(gs);
                } else {
                    for (auto& v : z) v = Act::value(v);
                    h = std::move(z);
                }
            } else {
                if (in_pairs) left_multiply(e[index], wk);
            }
            if (in_pairs) {
                right_multiply_inverse_hidden(view(w, k + 1), e[index], shape_.widths[k]);
                ++index;
            }
        }
    }

  public:

    /// ∂J/∂T_k at T = 0 for every pair, where J depends on the weights after the action and u = ∂J/∂w
    /// there (flat, like w). For eq. 8 in the projection form, w must be its own image under the
    /// identity (apply the identity first: it projects W_k onto the batch's span and leaves the batch
    /// loss alone); the minimal form, the identity at g = I, takes any w.
    template <class T>
    std::vector<matrix<T>> gradient_at_identity(const xt::xtensor<T, 1>& w, const xt::xtensor<T, 1>& u,
                                                const matrix<T>& x) const {
        check_weights(w);
        check_weights(u);
        std::vector<matrix<T>> grads;
        if constexpr (low_rank_gradient) {
            for (const auto& f : gradient_factors(w, u, x)) grads.push_back(dense(f));
        } else {
            (void)x;
            for (std::size_t k : pairs_) {
                // from W_k ↦ g W_k: U_k W_kᵀ; from W_{k+1} ↦ W_{k+1} g⁻¹: −W_{k+1}ᵀ U_{k+1} on the hidden columns
                const std::size_t d = shape_.widths[k];
                matrix<T> gk;
                tensor::multiply<T>(false, true, cview(u, k), cview(w, k), gk);
                const auto up_w = hidden_columns(cview(w, k + 1), d);
                const auto up_u = hidden_columns(cview(u, k + 1), d);
                tensor::gemm<T>(true, false, T(-1), tensor::cref(up_w), tensor::cref(up_u), T(1), tensor::ref(gk));
                if constexpr (Kind::diagonal) {
                    matrix<T> diag({d, std::size_t(1)});
                    for (std::size_t i = 0; i < d; ++i) diag(i, 0) = gk(i, i);
                    grads.push_back(std::move(diag));
                } else {
                    grads.push_back(std::move(gk));
                }
            }
        }
        return grads;
    }

    /// gradient_at_identity of the nonlinear action as factors L Rᵀ per pair, never forming a
    /// d_k × d_k matrix: with b samples and c = d_{k+1} outputs of layer k + 1, the rank is
    /// gradient_rank(k, b). The same preconditions.
    ///   both forms     W_k′ moves by [(T h_k) ⊘ σ′(Z_k)] h̃⁺ at the identity: A h_kᵀ, A = (U_k h̃⁺ᵀ) ⊘ σ′(Z_k)
    ///   minimal        pair k + 1 (teleported or not) sees W_{k+1} g⁻¹ h̃_new = Z_{k+1}: its minimal
    ///                  change is 0 at T_{k+1} = 0, so W_{k+1} moves by −W_{k+1}[:, :d] T only:
    ///                  ∂J/∂T_k = A h_kᵀ − W_{k+1}[:, :d]ᵀ U_{k+1}[:, :d]
    ///   projection     the same when pair k + 1 is not teleported; when it is, W_{k+1} = Z_{k+1} h̃⁺
    ///                  moves through h̃⁺ (the E term below)
    template <class T>
    std::vector<low_rank<T>> gradient_factors(const xt::xtensor<T, 1>& w, const xt::xtensor<T, 1>& u,
                                              const matrix<T>& x) const {
        static_assert(low_rank_gradient, "gradient_factors: the gradient of this action is not of low rank");
        check_weights(w);
        check_weights(u);
        // inputs h̃_{k−1}, pre-activations Z_k and outputs h_k of every layer up to the top pair
        const std::size_t top = *pairs_.rbegin();
        std::vector<matrix<T>> in(top + 2), z(top + 1), out(top + 1);
        matrix<T> h = x;
        for (std::size_t k = 1; k <= top + 1 && k < shape_.layers() + 1; ++k) {
            in[k] = input(h);
            if (k > top) break;
            tensor::multiply<T>(false, false, cview(w, k), tensor::cref(in[k]), z[k]);
            out[k] = z[k];
            for (auto& v : out[k]) v = Act::value(v);
            h = out[k];
        }
        // h̃⁺ of every pair's input, once: pair k needs its own and, when k + 1 is a pair too, that of k + 1
        std::vector<matrix<T>> pinv(top + 1);
        for (std::size_t k : pairs_) pinv[k] = tensor::left_pseudo_inverse<T>(tensor::cref(in[k]), input_name(k));
        std::vector<low_rank<T>> grads;
        for (std::size_t k : pairs_) {
            const std::size_t d = shape_.widths[k], b = x.shape(1);
            // from W_k = σ⁻¹(g σ(Z_k)) h̃⁺: [(U_k h̃⁺ᵀ) ⊘ σ′(Z_k)] h_kᵀ
            matrix<T> a;
            tensor::multiply<T>(false, true, cview(u, k), tensor::cref(pinv[k]), a);
            for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] /= Act::derivative(z[k].data()[i]);
            if (projects() && pairs_.count(k + 1)) {
                // W_{k+1} = σ⁻¹(·) h̃⁺ with h̃ = [g h_k; 1]: through d(h̃⁺) = −h̃⁺ dh̃ h̃⁺ + h̃⁺h̃⁺ᵀ dh̃ᵀ(I − P),
                // E = (Uᵀ W − Wᵀ U − h̃ h̃⁺ Uᵀ W) h̃⁺ᵀ for (W, U) = (W_{k+1}, U_{k+1}) and ∂J/∂T_k = E[:d] h_kᵀ;
                // evaluated right to left: Uᵀ (W h̃⁺ᵀ) − Wᵀ (U h̃⁺ᵀ) − h̃ (h̃⁺ (Uᵀ (W h̃⁺ᵀ)))
                const matrix<T>& hin = in[k + 1];
                const matrix<T>& pin = pinv[k + 1];
                const auto wn = cview(w, k + 1), un = cview(u, k + 1);
                matrix<T> wp, up, e, small;
                tensor::multiply<T>(false, true, wn, tensor::cref(pin), wp);  // W h̃⁺ᵀ (c × b)
                tensor::multiply<T>(false, true, un, tensor::cref(pin), up);  // U h̃⁺ᵀ
                tensor::multiply<T>(true, false, un, tensor::cref(wp), e);    // Uᵀ W h̃⁺ᵀ
                tensor::multiply<T>(false, false, tensor::cref(pin), tensor::cref(e), small);  // b × b
                tensor::gemm<T>(true, false, T(-1), wn, tensor::cref(up), T(1), tensor::ref(e));
                tensor::gemm<T>(false, false, T(-1), tensor::cref(hin), tensor::cref(small), T(1), tensor::ref(e));
                for (std::size_t i = 0; i < d * b; ++i) a.data()[i] += e.data()[i];  // E[:d]: its first d rows
                grads.push_back({std::move(a), std::move(out[k])});
            } else {
                // ∂J/∂T_k = A h_kᵀ − W_{k+1}ᵀ U_{k+1} on the hidden columns = [A, −W_{k+1}ᵀ] [h_k, U_{k+1}ᵀ]ᵀ
                grads.push_back(stacked_factors(tensor::cref(a), tensor::cref(out[k]), cview(w, k + 1), cview(u, k + 1)));
            }
        }
        return grads;
    }

    /// Gradient-like vectors m (momentum; flat like w) move with the weights by J⁻ᵀ: for W_k ↦ g W_k,
    /// M_k ↦ g⁻ᵀ M_k; for W_{k+1} ↦ W_{k+1} g⁻¹, M_{k+1} ↦ M_{k+1} gᵀ. Data-free actions only.
    template <class T>
    void transport(const std::vector<layer_element<T>>& e, xt::xtensor<T, 1>& m) const {
        static_assert(Kind::data_free, "transporting optimizer state needs a data-free action (linear or rescaling)");
        check_weights(m);
        std::size_t index = 0;
        for (std::size_t k : pairs_) {
            const auto& el = e[index++];
            left_multiply(transposed(el.g_inverse), view(m, k));
            right_multiply_hidden(view(m, k + 1), transposed(el.g), shape_.widths[k]);
        }
    }

    /// Composition: a ← b ∘ a (b applied after a), pair by pair.
    template <class T>
    static void compose(std::vector<layer_element<T>>& a, const std::vector<layer_element<T>>& b) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            if constexpr (Kind::diagonal) {
                a[i].g = b[i].g * a[i].g;
                a[i].g_inverse = a[i].g_inverse * b[i].g_inverse;
            } else {
                a[i].g = tensor::product(b[i].g, a[i].g);
                a[i].g_inverse = tensor::product(a[i].g_inverse, b[i].g_inverse);
            }
        }
    }

    /// Composition with a factored element: a ← b ∘ a, in O(d_k² r) per pair.
    template <class T>
    static void compose(std::vector<layer_element<T>>& a, const std::vector<factored_element<T>>& b) {
        static_assert(!Kind::diagonal, "the rescaling action's algebra is diagonal: use dense elements");
        for (std::size_t i = 0; i < a.size(); ++i) {
            left_multiply(b[i], tensor::ref(a[i].g));
            right_multiply_inverse_hidden(tensor::ref(a[i].g_inverse), b[i], a[i].g_inverse.shape(1));
        }
    }

    /// The identity element of every pair.
    template <class T>
    std::vector<layer_element<T>> identity() const {
        // e^0, the Cayley map of 0 and I + 0 are all exactly I
        std::vector<layer_element<T>> out;
        for (std::size_t k : pairs_) {
            matrix<T> g = xt::ones<T>({algebra_rows(k), algebra_cols(k)});
            if constexpr (!Kind::diagonal) g = tensor::identity<T>(algebra_rows(k));
            out.push_back({g, g});
        }
        return out;
    }

  private:
    template <class T>
    layer_element<T> element(const matrix<T>& t) const {
        for (T v : t)
            if (!std::isfinite(v)) throw std::domain_error("the algebra element is not finite");
        if constexpr (Kind::diagonal) {
            layer_element<T> e{t, t};
            for (std::size_t i = 0; i < t.size(); ++i) {
                const T s = t.data()[i];
                if (map_ == exp_map::first_order) {
                    e.g.data()[i] = T(1) + s;
                    e.g_inverse.data()[i] = T(1) - s;
                } else {
                    e.g.data()[i] = std::exp(s);
                    e.g_inverse.data()[i] = std::exp(-s);
                }
            }
            return e;
        } else {
            const std::size_t n = t.shape(0);
            const matrix<T> id = tensor::identity<T>(n);
            switch (map_) {
                case exp_map::exact: {
                    auto p = tensor::expm(t);
                    return {std::move(p.g), std::move(p.g_inverse)};
                }
                case exp_map::cayley: {
                    const matrix<T> plus = id + T(0.5) * t, minus = id - T(0.5) * t;
                    return {tensor::solve(minus, plus), tensor::solve(plus, minus)};
                }
                case exp_map::first_order: return {id + t, id - t};
            }
            throw std::logic_error("unknown map");
        }
    }

    template <class T>
    factored_element<T> factored(const low_rank<T>& t, T scale) const {
        for (T v : t.left)
            if (!std::isfinite(v)) throw std::domain_error("the algebra element is not finite");
        for (T v : t.right)
            if (!std::isfinite(v)) throw std::domain_error("the algebra element is not finite");
        const std::size_t r = t.rank();
        factored_element<T> e{scale * t.left, t.right, matrix<T>({r, r}), matrix<T>({r, r})};
        if (r == 0) return e;
        matrix<T> m;  // M = Vᵀ U
        tensor::multiply<T>(true, false, tensor::cref(e.v), tensor::cref(e.u), m);
        const matrix<T> id = tensor::identity<T>(r);
        switch (map_) {
            case exp_map::exact: {
                matrix<T> block = xt::zeros<T>({2 * r, 2 * r});
                for (std::size_t i = 0; i < r; ++i) {
                    for (std::size_t j = 0; j < r; ++j) block(i, j) = m(i, j);
                    block(i, r + i) = T(1);
                }
                const auto p = tensor::expm(block);
                for (std::size_t i = 0; i < r; ++i)
                    for (std::size_t j = 0; j < r; ++j) {
                        e.c(i, j) = p.g(i, r + j);
                        e.c_inverse(i, j) = p.g_inverse(i, r + j);
                    }
                return e;
            }
            case exp_map::cayley: {
                e.c = tensor::solve<T>(id - T(0.5) * m, id);
                e.c_inverse = -tensor::solve<T>(id + T(0.5) * m, id);
                return e;
            }
            case exp_map::first_order: {
                e.c = id;
                e.c_inverse = -id;
                return e;
            }
        }
        throw std::logic_error("unknown map");
    }

    void check_count(std::size_t given) const {
        if (given != pairs_.size())
            throw std::invalid_argument("layer action: " + std::to_string(pairs_.size()) + " algebra elements expected, " +
                                        std::to_string(given) + " given");
    }
    template <class T>
    void check_algebra(const std::vector<low_rank<T>>& t) const {
        check_count(t.size());
        std::size_t i = 0;
        for (std::size_t k : pairs_) {
            const auto& f = t[i++];
            if (f.left.shape(0) != algebra_rows(k) || f.right.shape(0) != algebra_rows(k) ||
                f.left.shape(1) != f.right.shape(1))
                throw std::invalid_argument("layer action: the factors of pair " + std::to_string(k) + " are " +
                                            tensor::shape_string(f.left.shape(0), f.left.shape(1)) + " and " +
                                            tensor::shape_string(f.right.shape(0), f.right.shape(1)) + " but must be " +
                                            std::to_string(algebra_rows(k)) + " x r both");
        }
    }

    template <class T>
    void check_algebra(const std::vector<matrix<T>>& t) const {
        check_count(t.size());
        std::size_t i = 0;
        for (std::size_t k : pairs_) {
            if (t[i].shape(0) != algebra_rows(k) || t[i].shape(1) != algebra_cols(k))
                throw std::invalid_argument("layer action: the algebra element of pair " + std::to_string(k) + " is " +
                                            tensor::shape_string(t[i].shape(0), t[i].shape(1)) + " but must be " +
                                            tensor::shape_string(algebra_rows(k), algebra_cols(k)));
            ++i;
        }
    }
    template <class T>
    void check_weights(const xt::xtensor<T, 1>& w) const {
        if (w.size() != shape_.parameter_count())
            throw std::invalid_argument("layer action: " + std::to_string(w.size()) + " weights given but the network has " +
                                        std::to_string(shape_.parameter_count()));
    }
    static std::string input_name(std::size_t k) { return layer_input_name(k); }

    template <class T> matrix_ref<T> view(xt::xtensor<T, 1>& w, std::size_t m) const {
        return {w.data() + shape_.offset(m), shape_.rows(m), shape_.cols(m)};
    }
    template <class T> const_matrix_ref<T> cview(const xt::xtensor<T, 1>& w, std::size_t m) const {
        return {w.data() + shape_.offset(m), shape_.rows(m), shape_.cols(m)};
    }
    template <class T> matrix<T> input(const matrix<T>& h) const {
        matrix<T> out;
        tensor::append_ones_row(tensor::cref(h), shape_.bias, out);
        return out;
    }
    template <class T> static matrix<T> hidden_columns(const_matrix_ref<T> a, std::size_t d) {
        return detail::hidden_columns(a, d);
    }
    template <class T> static matrix<T> transposed(const matrix<T>& a) {
        if constexpr (Kind::diagonal) return a;
        else return xt::transpose(a);
    }
    // a ← g a (g square, or a diagonal as a column)
    template <class T> static void left_multiply(const matrix<T>& g, matrix_ref<T> a) {
        if constexpr (Kind::diagonal) {
            for (std::size_t i = 0; i < a.rows; ++i)
                for (std::size_t j = 0; j < a.cols; ++j) a(i, j) *= g(i, 0);
        } else {
            matrix<T> copy({a.rows, a.cols});
            std::copy(a.data, a.data + a.size(), copy.begin());
            tensor::gemm<T>(false, false, T(1), tensor::cref(g), tensor::cref(copy), T(0), a);
        }
    }
    template <class T> static void left_multiply(const layer_element<T>& e, matrix_ref<T> a) { left_multiply(e.g, a); }
    template <class T> static void left_multiply(const factored_element<T>& e, matrix_ref<T> a) { multiply_left(e, a); }
    // g a as a new matrix
    template <class T> static matrix<T> times(const layer_element<T>& e, const matrix<T>& a) {
        return tensor::product(e.g, a);
    }
    template <class T> static matrix<T> times(const factored_element<T>& e, const matrix<T>& a) {
        matrix<T> out = a;
        left_multiply(e, tensor::ref(out));
        return out;
    }
    // a[:, :d] ← a[:, :d] g⁻¹
    template <class T>
    static void right_multiply_inverse_hidden(matrix_ref<T> a, const layer_element<T>& e, std::size_t d) {
        right_multiply_hidden(a, e.g_inverse, d);
    }
    template <class T>
    static void right_multiply_inverse_hidden(matrix_ref<T> a, const factored_element<T>& e, std::size_t d) {
        multiply_right_inverse(a, e, d);
    }
    // a[:, :d] ← a[:, :d] g
    template <class T> static void right_multiply_hidden(matrix_ref<T> a, const matrix<T>& g, std::size_t d) {
        if constexpr (Kind::diagonal) {
            for (std::size_t i = 0; i < a.rows; ++i)
                for (std::size_t j = 0; j < d; ++j) a(i, j) *= g(j, 0);
        } else {
            const matrix<T> block = hidden_columns(const_matrix_ref<T>(a), d);
            if (d == a.cols) {
                tensor::gemm<T>(false, false, T(1), tensor::cref(block), tensor::cref(g), T(0), a);
            } else {
                const matrix<T> out = tensor::product(block, g);
                for (std::size_t i = 0; i < a.rows; ++i)
                    for (std::size_t j = 0; j < d; ++j) a(i, j) = out(i, j);
            }
        }
    }

    // g = I exactly: a rank-0 factored element, or a dense one equal to the identity matrix
    template <class T> static bool is_identity(const factored_element<T>& e) { return e.rank() == 0; }
    template <class T> static bool is_identity(const layer_element<T>& e) {
        const std::size_t n = e.g.shape(0);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < e.g.shape(1); ++j)
                if (e.g(i, j) != (i == j ? T(1) : T(0)) || e.g_inverse(i, j) != (i == j ? T(1) : T(0))) return false;
        return true;
    }

    tensor::network_shape shape_;
    std::set<std::size_t> pairs_;
    exp_map map_;
    action_form form_;
};

}  // namespace teleport::groups
