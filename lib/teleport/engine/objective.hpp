// teleport/engine/objective.hpp — what a teleport maximizes, as a function of the point.
//
// An objective J gives, at a point w of a loss f,
//     j.value(f, w, g, loss)                J(w); L(w) written to loss (g: scratch, ∇L(w) after)
//     j.value_and_gradient(f, w, g, dj)     J(w), and ∂J/∂w written to dj (g: scratch)
// and a symmetry turns ∂J/∂w into the gradient in the Lie algebra with its action's
// vector-Jacobian product, ∂J/∂T = (∂(g·w)/∂T)ᵀ ∂J/∂w: the objective is written once, for every
// action. The paper's objective is ‖∇L‖² (paper eq. 4), with ∂J/∂w = 2 H ∇L, a Hessian-vector
// product; Cor. 5.2's ‖∇L‖²_η weights it by the optimizer's learning-rate matrix η. The lookahead
// objective (SPEC §3.1) is the decrease of the loss over the optimizer's next step(s).
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "teleport/core/function.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/groups/small_matrix.hpp"

namespace teleport {

/// teleportable_function<F, Vec>: what the gradient-norm objectives need of a loss — L and ∇L
/// (evaluate and gradient, or the fused evaluate_with_gradient) and the Hessian-vector product
/// hessian_vector_product(x, v, out) = H(x) v (or the networks' fused (x, v, g, hv) form).
template <class F, class Vec>
concept teleportable_function =
    evaluable_with_gradient<F, Vec> &&
    (requires(const F& f, const Vec& x, const Vec& v, Vec& out) { f.hessian_vector_product(x, v, out); } ||
     requires(const F& f, const Vec& x, const Vec& v, Vec& g, Vec& out) { f.hessian_vector_product(x, v, g, out); });

/// Stops the build with one sentence when F is not a teleportable_function on Vec. Every entry
/// point that needs a Hessian-vector product calls it (one place for the sentence).
template <class F, class Vec>
constexpr bool require_teleportable_function() {
    static_assert(teleportable_function<F, Vec>,
                  "a teleport requires the loss to provide evaluate(x) and gradient(x, g) (or "
                  "evaluate_with_gradient(x, g)) and hessian_vector_product(x, v, out)");
    return teleportable_function<F, Vec>;
}

/// point_objective<J, F, Vec>: J is a teleport objective for the loss F on points Vec.
template <class J, class F, class Vec>
concept point_objective = requires(const J& j, const F& f, const Vec& w, Vec& g, Vec& dj, double& loss) {
    { j.value(f, w, g, loss) } -> std::convertible_to<double>;
    { j.value_and_gradient(f, w, g, dj) } -> std::convertible_to<double>;
};

namespace detail {
/// The entries of a vector for an element-wise loop: its raw storage when contiguous (so that the
/// loop vectorizes over an xtensor too), else the vector itself.
template <class V>
decltype(auto) elements(V& v) {
    if constexpr (contiguous_vector<std::remove_const_t<V>>) return std::data(v);
    else return (v);
}

/// g = ∇L(w) and hv = H(w) g: in one pass where the loss offers it (networks), else two calls.
/// Always inlined: left out of line, GCC 12 kept the generated gradient and Hessian-vector product
/// of a small symbolic loss apart from their caller, and a whole 10-step teleport of Rosenbrock
/// took 1.2× its time before the objective was a policy (bench_teleport, rosenbrock_teleport).
template <class F, class Vec>
[[gnu::always_inline]] inline void gradient_and_hessian_times_gradient(const F& f, const Vec& w, Vec& g, Vec& hv) {
    if constexpr (requires { f.hessian_vector_product(w, g, g, hv); }) {
        if (g.size() != w.size()) g = zeros_like(w);  // v = g must have the size of w
        f.hessian_vector_product(w, g, g, hv);       // v = g: the program forms ∇L first, then H∇L
    } else {
        (void)evaluate_with_gradient(f, w, g);  // a loss may provide only the fused form
        f.hessian_vector_product(w, g, hv);
    }
}
}  // namespace detail

/// J(w) = ‖∇L(w)‖², ∂J/∂w = 2 H ∇L (the paper's objective).
struct squared_gradient_norm {
    static constexpr const char* name = "grad-norm";

    template <class F, class Vec>
    double value(const F& f, const Vec& w, Vec& g, double& loss) const {
        loss = double(evaluate_with_gradient(f, w, g));
        return double(squared_norm(g));
    }
    template <class F, class Vec>
    double value_and_gradient(const F& f, const Vec& w, Vec& g, Vec& dj) const {
        static_assert(require_teleportable_function<F, Vec>());
        detail::gradient_and_hessian_times_gradient(f, w, g, dj);
        using T = value_type_t<Vec>;
        for (auto& e : dj) e *= T(2);
        return double(squared_norm(g));
    }
};

/// J(w) = ‖∇L(w)‖²_η = ∇Lᵀ η ∇L, ∂J/∂w = 2 H η ∇L, for a symmetric positive definite learning-rate
/// matrix η on fixed-size points (Cor. 5.2).
template <std::size_t N>
struct metric_gradient_norm {
    static constexpr const char* name = "grad-norm-eta";
    groups::small_matrix<N> eta;

    template <class F>
    double value(const F& f, const std::array<double, N>& w, std::array<double, N>& g, double& loss) const {
        loss = double(evaluate_with_gradient(f, w, g));
        return teleport::dot(g, eta.apply(g));
    }
    template <class F>
    double value_and_gradient(const F& f, const std::array<double, N>& w, std::array<double, N>& g,
                              std::array<double, N>& dj) const {
        static_assert(require_teleportable_function<F, std::array<double, N>>());
        (void)evaluate_with_gradient(f, w, g);
        const auto eta_g = eta.apply(g);
        f.hessian_vector_product(w, eta_g, dj);  // H η ∇L
        for (double& e : dj) e *= 2.0;
        return teleport::dot(g, eta_g);
    }
};

/// The decrease of the loss over the optimizer's next `steps` steps from w (SPEC §3.1):
///     J(w) = L(w) − L(w_k),   w_0 = w,   w_{j+1} = w_j − P ∇L(w_j),   k = steps ≥ 1,
/// for a diagonal preconditioner P ≥ 0 (the optimizer's per-coordinate step size: lr for GD and
/// SGD; for AdaGrad lr/(√(G+g²)+ε) with its accumulator G frozen; train/optimizers.hpp,
/// step_preconditioner).
///
/// Why: ‖∇L‖² rewards steep points whatever the step the optimizer will take there, so after a
/// teleport to a steep point GD at a fixed learning rate can overshoot (or diverge) and lose what
/// the teleport gained. The decrease over the actual next step from g·w sees the step size: a point
/// where the step overshoots scores low. For a small P, J ≈ ∇Lᵀ P ∇L, the ‖∇L‖²_η objective.
///
/// Gradient by the reverse recursion of the k steps (P held constant):
///     u = ∇L(w_k);  for j = k−1 … 0:  u ← u − H(w_j)(P ⊙ u);   ∂J/∂w = ∇L(w_0) − u,
/// one Hessian-vector product per step and k+1 gradients (value(): k gradients and one L).
///
/// P is shared, not copied: `preconditioner` is a std::shared_ptr<const Vec> that the caller also
/// holds (as a std::shared_ptr<Vec>) and may rewrite between teleports — after each optimizer step,
/// say — while the symmetry that holds this objective stays const; every copy of the objective
/// (a symmetry copies it into each search) reads the same P. With no preconditioner every entry
/// is `learning_rate` (plain GD), with no vector stored. The scratch vectors are mutable members,
/// sized once per point size: an objective is not for concurrent use from several threads.
/// Bad settings (steps = 0, P of the wrong size or with a negative or non-finite entry, no P and a
/// learning rate that is not finite and positive) throw std::invalid_argument.
template <class Vec>
struct lookahead_decrease {
    static constexpr const char* name = "lookahead";
    using value_type = value_type_t<Vec>;

    std::size_t steps = 1;
    std::shared_ptr<const Vec> preconditioner;  // P; when null, learning_rate in every entry
    double learning_rate = 0;

    lookahead_decrease() = default;
    /// GD at a scalar learning rate: P = lr I.
    explicit lookahead_decrease(double lr, std::size_t k = 1) : steps(k), learning_rate(lr) { check_settings(); }
    /// A diagonal preconditioner shared with the caller (who may update it between teleports).
    explicit lookahead_decrease(std::shared_ptr<const Vec> p, std::size_t k = 1)
        : steps(k), preconditioner(std::move(p)) {
        check_settings();
    }

    /// J(w); L(w) → loss; g = ∇L(w) after.
    template <class F>
    double value(const F& f, const Vec& w, Vec& g, double& loss) const {
        check(w);
        size_like(g, w);
        size_like(x_, w);
        size_like(gx_, w);
        loss = double(evaluate_with_gradient(f, w, g));
        move(w, g, x_);  // w_1
        for (std::size_t j = 1; j < steps; ++j) {
            evaluate_with_gradient(f, x_, gx_);
            move(x_, gx_, x_);  // w_{j+1}
        }
        if constexpr (requires { f.evaluate(x_); })
            return loss - double(f.evaluate(x_));
        else
            return loss - double(evaluate_with_gradient(f, x_, gx_));
    }

    /// J(w), and ∂J/∂w → dj; g = ∇L(w) after.
    template <class F>
    double value_and_gradient(const F& f, const Vec& w, Vec& g, Vec& dj) const {
        static_assert(require_teleportable_function<F, Vec>());
        check(w);
        size_like(g, w);
        size_like(dj, w);
        size_like(x_, w);
        size_like(gx_, w);
        size_like(pu_, w);
        if (path_.size() != steps - 1) path_.resize(steps - 1);
        for (Vec& p : path_) size_like(p, w);
        auto point = [&](std::size_t j) -> const Vec& { return j == 0 ? w : path_[j - 1]; };

        // forward: w_1 … w_k, with ∇L(w_0) in g and w_k in x_
        const double loss = double(evaluate_with_gradient(f, w, g));
        for (std::size_t j = 0; j < steps; ++j) {
            Vec& next = j + 1 < steps ? path_[j] : x_;
            if (j == 0) {
                move(w, g, next);
            } else {
                evaluate_with_gradient(f, point(j), gx_);
                move(point(j), gx_, next);
            }
        }
        // reverse: u = ∇L(w_k) in dj, then u ← u − H(w_j)(P ⊙ u)
        const double loss_k = double(evaluate_with_gradient(f, x_, dj));
        for (std::size_t j = steps; j-- > 0;) {
            scale(dj, pu_);
            hessian_times(f, point(j), pu_, j == 0 ? g : gx_, x_);  // x_ (w_k, no longer needed) ← H(w_j)(P ⊙ u)
            axpy(value_type(-1), x_, dj);  // u ← u − H(w_j)(P ⊙ u)
        }
        // ∂J/∂w = ∇L(w_0) − u
        decltype(auto) gs = detail::elements(std::as_const(g));
        decltype(auto) us = detail::elements(dj);
        const std::size_t n = w.size();
        for (std::size_t i = 0; i < n; ++i) us[i] = gs[i] - us[i];
        return loss - loss_k;
    }

  private:
    // One-line std::invalid_argument for settings that cannot describe a step.
    void check_settings() const {
        if (steps == 0) throw std::invalid_argument("lookahead objective: the number of steps must be at least 1");
        if (!preconditioner && !(std::isfinite(learning_rate) && learning_rate > 0)) {
            std::ostringstream os;
            os << "lookahead objective: the learning rate must be finite and positive (got " << learning_rate
               << ") when no preconditioner is given";
            throw std::invalid_argument(os.str());
        }
    }
    void check(const Vec& w) const {
        check_settings();
        if (!preconditioner) return;
        const Vec& p = *preconditioner;
        if (p.size() != w.size())
            throw std::invalid_argument("lookahead objective: the preconditioner has " + std::to_string(p.size()) +
                                        " entries but the point has " + std::to_string(w.size()));
        const std::size_t n = p.size();
        for (std::size_t i = 0; i < n; ++i)
            if (!(std::isfinite(p[i]) && p[i] >= 0)) {
                std::ostringstream os;
                os << "lookahead objective: preconditioner entry " << i << " must be finite and non-negative (got "
                   << p[i] << ")";
                throw std::invalid_argument(os.str());
            }
    }
    static void size_like(Vec& v, const Vec& w) {
        if (v.size() != w.size()) v = zeros_like(w);
    }
    // out = x − P ⊙ g (out may be x)
    void move(const Vec& x, const Vec& g, Vec& out) const {
        with_p([&](const auto& p) {
            decltype(auto) xs = detail::elements(x);
            decltype(auto) gs = detail::elements(g);
            decltype(auto) os = detail::elements(out);
            const std::size_t n = x.size();
            for (std::size_t i = 0; i < n; ++i) os[i] = xs[i] - p[i] * gs[i];
        });
    }
    // out = P ⊙ u
    void scale(const Vec& u, Vec& out) const {
        with_p([&](const auto& p) {
            decltype(auto) us = detail::elements(u);
            decltype(auto) os = detail::elements(out);
            const std::size_t n = u.size();
            for (std::size_t i = 0; i < n; ++i) os[i] = p[i] * us[i];
        });
    }
    // fn(p) with p[i] = P_i: the preconditioner's entries, or the learning rate for every i
    template <class Fn>
    void with_p(Fn&& fn) const {
        if (preconditioner) {
            fn(detail::elements(*preconditioner));
        } else {
            struct uniform {
                value_type lr;
                value_type operator[](std::size_t) const { return lr; }
            };
            fn(uniform{value_type(learning_rate)});
        }
    }
    // hv = H(x) v; the fused form (networks) also writes ∇L(x) to g
    template <class F>
    static void hessian_times(const F& f, const Vec& x, const Vec& v, Vec& g, Vec& hv) {
        if constexpr (requires { f.hessian_vector_product(x, v, hv); })
            f.hessian_vector_product(x, v, hv);
        else
            f.hessian_vector_product(x, v, g, hv);
    }

    mutable Vec x_{}, gx_{}, pu_{};  // w_k (then H(w_j)(P ⊙ u)), ∇L(w_j), P ⊙ u
    mutable std::vector<Vec> path_;  // w_1 … w_{k−1}
};

}  // namespace teleport
