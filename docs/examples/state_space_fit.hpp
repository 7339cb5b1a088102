// docs/examples/state_space_fit.hpp — the user's side of docs/examples/state_space.cpp: a linear
// state-space model simulated in the user's own time-stepping loop (it makes the example's data),
// and the loss object a teleport needs (evaluate, gradient, hessian_vector_product) written by hand.
//
//     x_{k+1} = A x_k + B u_k,  y_k = C x_k,  x_0 = 0   (3 states, 1 input, 1 output)
//     L(θ) = (1/K) Σ_k (C x_k − y_k)²,  θ = (A row by row, B, C): 15 parameters
//
// The hand-written loss (value; gradient by the adjoint recursion; Hessian-vector product by
// forward-over-reverse) is the baseline the symbolic engine is measured against: the example itself
// uses the recurrence node (problems/teleport/problems/state_space.hpp), which generates the same
// passes from one time step, and bench/bench_recurrence.cpp times the two in one binary;
// bench/bench_representation.cpp times a teleport on this loss. (Unrolling the recursion into one
// expression instead compiled in 140 s and 7.1 GB at K = 5: issue 16.)
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <random>
#include <span>
#include <vector>

namespace simulation {

using params = std::span<const double, 15>;
using state = std::array<double, 3>;

// --- the user's simulation: one step, the output, and their transposes -------------------------
// Both are linear in θ: called with a direction v in place of θ they give the tangent terms of
// the Hessian-vector product.
inline state step(params p, const state& x, double u) {  // A x + B u
    state next{};
    for (std::size_t i = 0; i < 3; ++i) next[i] = p[3 * i] * x[0] + p[3 * i + 1] * x[1] + p[3 * i + 2] * x[2] + p[9 + i] * u;
    return next;
}
inline double output(params p, const state& x) { return p[12] * x[0] + p[13] * x[1] + p[14] * x[2]; }  // C x
inline state step_adjoint(params p, const state& l, double r) {  // Aᵀ l + Cᵀ r
    state out{};
    for (std::size_t j = 0; j < 3; ++j) out[j] = p[j] * l[0] + p[3 + j] * l[1] + p[6 + j] * l[2] + p[12 + j] * r;
    return out;
}
inline void accumulate(std::span<double, 15> g, const state& l, const state& x, double u, double r) {
    for (std::size_t i = 0; i < 3; ++i) {  // += ∂/∂θ of lᵀ(A x + B u) + r C x
        for (std::size_t j = 0; j < 3; ++j) g[3 * i + j] += l[i] * x[j];
        g[9 + i] += l[i] * u;
        g[12 + i] += r * x[i];
    }
}
inline state operator+(state a, const state& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }

// --- the loss: what a teleport needs is evaluate, gradient and hessian_vector_product ----------
struct state_space_fit {
    std::vector<double> u, y;  // input and measured output, K samples each

    double evaluate(params p) const {
        state x{};
        double sum = 0;
        for (std::size_t k = 0; k < u.size(); ++k) {
            const double e = output(p, x) - y[k];
            sum += e * e;
            x = step(p, x, u[k]);
        }
        return sum / double(u.size());
    }
    // Forward, keeping x_k; backward, λ_k = ∂L/∂x_k = Cᵀ r_k + Aᵀ λ_{k+1} with r_k = 2 e_k / K.
    double evaluate_with_gradient(params p, std::span<double, 15> g) const {
        const std::size_t K = u.size();
        std::vector<state> x(K + 1);
        std::vector<double> e(K);
        double sum = 0;
        for (std::size_t k = 0; k < K; ++k) {
            e[k] = output(p, x[k]) - y[k];
            sum += e[k] * e[k];
            x[k + 1] = step(p, x[k], u[k]);
        }
        std::fill(g.begin(), g.end(), 0.0);
        state l{};
        for (std::size_t k = K; k-- > 0;) {
            const double r = 2 * e[k] / double(K);
            accumulate(g, l, x[k], u[k], r);
            l = step_adjoint(p, l, r);
        }
        return sum / double(K);
    }
    void gradient(params p, std::span<double, 15> g) const { (void)evaluate_with_gradient(p, g); }
    // The derivative of both passes along v: ẋ_{k+1} = A ẋ_k + dA x_k + dB u_k forward, then
    // λ̇_k = Cᵀ ṙ_k + dCᵀ r_k + Aᵀ λ̇_{k+1} + dAᵀ λ_{k+1} backward. Exact, no finite differences.
    void hessian_vector_product(params p, params v, std::span<double, 15> h) const {
        const std::size_t K = u.size();
        std::vector<state> x(K + 1), dx(K + 1);
        std::vector<double> e(K), de(K);
        for (std::size_t k = 0; k < K; ++k) {
            e[k] = output(p, x[k]) - y[k];
            de[k] = output(p, dx[k]) + output(v, x[k]);
            x[k + 1] = step(p, x[k], u[k]);
            dx[k + 1] = step(p, dx[k], 0.0) + step(v, x[k], u[k]);
        }
        std::fill(h.begin(), h.end(), 0.0);
        state l{}, dl{};
        for (std::size_t k = K; k-- > 0;) {
            const double r = 2 * e[k] / double(K), dr = 2 * de[k] / double(K);
            accumulate(h, dl, x[k], u[k], dr);
            accumulate(h, l, dx[k], 0.0, r);
            dl = step_adjoint(p, dl, dr) + step_adjoint(v, l, r);
            l = step_adjoint(p, l, r);
        }
    }
};

/// The data of a fit: `system` (θ) driven from x_0 = 0 by a random ±1 input of K samples.
inline state_space_fit measure(params system, std::size_t K, std::mt19937_64& rng) {
    state_space_fit data{std::vector<double>(K), std::vector<double>(K)};
    std::bernoulli_distribution coin(0.5);
    state x{};
    for (std::size_t k = 0; k < K; ++k) {
        data.u[k] = coin(rng) ? 1.0 : -1.0;
        data.y[k] = output(system, x);
        x = step(system, x, data.u[k]);
    }
    return data;
}

}  // namespace simulation
