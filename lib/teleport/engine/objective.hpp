// teleport/engine/objective.hpp — what a teleport maximizes, as a function of the point.
//
// An objective J gives, at a point w of a loss f,
//     j.value(f, w, g, loss)                J(w); L(w) written to loss (g: scratch, ∇L(w) after)
//     j.value_and_gradient(f, w, g, dj)     J(w), and ∂J/∂w written to dj (g: scratch)
// and a symmetry turns ∂J/∂w into the gradient in the Lie algebra with its action's
// vector-Jacobian product, ∂J/∂T = (∂(g·w)/∂T)ᵀ ∂J/∂w: the objective is written once, for every
// action. The paper's objective is ‖∇L‖² (paper eq. 4), with ∂J/∂w = 2 H ∇L, a Hessian-vector
// product; Cor. 5.2's ‖∇L‖²_η weights it by the optimizer's learning-rate matrix η.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>

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
        f.gradient(w, g);
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
        f.gradient(w, g);
        const auto eta_g = eta.apply(g);
        f.hessian_vector_product(w, eta_g, dj);  // H η ∇L
        for (double& e : dj) e *= 2.0;
        return teleport::dot(g, eta_g);
    }
};

}  // namespace teleport
