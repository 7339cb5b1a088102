// tests/derivative_check.hpp — the one finite-difference harness for every generated derivative.
//
// check_derivatives(f, domain, seed) draws random points (fixed seed) in a box and checks, for the
// symbolic function f of N variables:
//   order 1: ∇f against central differences of f;
//   order 2: the Hessian against central differences of ∇f, its exact symmetry, and the
//            Hessian-vector product against central differences of ∇f along a random v
//            (an oracle independent of the Hessian) and against H·v;
//   order 3 (N ≤ 4): for every (i, j), the gradient of the generated ∂²f/∂x_i∂x_j against central
//            differences of ∂²f/∂x_i∂x_j (derivatives of any order are generated the same way;
//            three orders exercise every rule applied to its own output).
// check_gradient_and_product(f, points, seed) checks a function that has no generated Hessian (a
// recurrence, whose Hessian is never formed) at the caller's points: order 1 as above, and order 2
// as the Hessian-vector product against central differences of ∇f along a random v.
// Tolerances are relative to the size of the quantity checked: |a − b| ≤ rtol · max(1, ‖b‖∞).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace teleport::testing {

struct box {
    double lo;
    double hi;
};

struct tolerances {
    double first = 1e-6;   // gradient vs differences of the value
    double second = 1e-6;  // Hessian / HVP vs differences of the gradient
    double third = 1e-5;   // gradient of a second derivative vs its differences
};

template <std::size_t N>
using vec = std::array<double, N>;

inline double step_for(double x) { return 1e-5 * std::max(1.0, std::abs(x)); }

template <std::size_t N>
double max_abs(const vec<N>& v) {
    double m = 0.0;
    for (double e : v) m = std::max(m, std::abs(e));
    return m;
}

template <std::size_t N>
std::string show(const vec<N>& v) {
    std::ostringstream os;
    os.precision(17);
    os << "(";
    for (std::size_t i = 0; i < N; ++i) os << (i ? ", " : "") << v[i];
    os << ")";
    return os.str();
}

// Central difference of a scalar function along coordinate i.
template <std::size_t N, class F>
double central_difference(const F& value, vec<N> x, std::size_t i) {
    const double h = step_for(x[i]);
    const double x0 = x[i];
    x[i] = x0 + h;
    const double up = value(x);
    x[i] = x0 - h;
    const double down = value(x);
    return (up - down) / (2 * h);
}

template <std::size_t N>
void require_close(const vec<N>& got, const vec<N>& expected, double rtol, const std::string& what) {
    const double scale = std::max(1.0, max_abs(expected));
    for (std::size_t i = 0; i < N; ++i) {
        INFO(what << ", entry " << i << ": generated " << got[i] << ", reference " << expected[i]);
        REQUIRE(std::abs(got[i] - expected[i]) <= rtol * scale);
    }
}

// Gradient of a scalar function against central differences of its value, at x.
template <std::size_t N, class F>
void check_gradient_at(const F& f, const vec<N>& x, double rtol, const std::string& what) {
    vec<N> g{};
    f.gradient(x, g);
    vec<N> fd{};
    for (std::size_t i = 0; i < N; ++i) fd[i] = central_difference<N>([&](const vec<N>& p) { return f.evaluate(p); }, x, i);
    require_close(g, fd, rtol, what + " gradient at " + show(x));
}

// ∂/∂x of every generated ∂²f/∂x_i∂x_j against central differences of it.
template <std::size_t N, std::size_t I, class D, std::size_t... J>
void check_third_order_row(const D& di, const vec<N>& x, double rtol, std::index_sequence<J...>) {
    (check_gradient_at<N>(di.template derivative<J>(), x, rtol,
                          "third order (d/dx" + std::to_string(I) + " d/dx" + std::to_string(J) + ")"),
     ...);
}
template <std::size_t N, class F, std::size_t... I>
void check_third_order(const F& f, const vec<N>& x, double rtol, std::index_sequence<I...> rows) {
    (check_third_order_row<N, I>(f.template derivative<I>(), x, rtol, rows), ...);
}

// The fused evaluation agrees exactly with the separate ones.
template <std::size_t N, class F>
void check_fused_at(const F& f, const vec<N>& x) {
    vec<N> g{};
    vec<N> g_fused{};
    f.gradient(x, g);
    const double value = f.evaluate_with_gradient(x, g_fused);
    REQUIRE(value == f.evaluate(x));
    for (std::size_t i = 0; i < N; ++i) REQUIRE(g_fused[i] == g[i]);
}

// The Hessian-vector product H(x) v against central differences of ∇f along v; returns H(x) v.
template <std::size_t N, class F>
vec<N> check_product_at(const F& f, const vec<N>& x, const vec<N>& v, double rtol, const std::string& what) {
    vec<N> hv{};
    f.hessian_vector_product(x, v, hv);
    const double t = 1e-5 * std::max(1.0, max_abs(x));
    vec<N> xp = x;
    vec<N> xm = x;
    for (std::size_t i = 0; i < N; ++i) {
        xp[i] += t * v[i];
        xm[i] -= t * v[i];
    }
    vec<N> gp{};
    vec<N> gm{};
    f.gradient(xp, gp);
    f.gradient(xm, gm);
    vec<N> fd{};
    for (std::size_t i = 0; i < N; ++i) fd[i] = (gp[i] - gm[i]) / (2 * t);
    require_close(hv, fd, rtol, what);
    return hv;
}

template <std::size_t N, class F>
void check_derivatives(const F& f, box domain, std::uint64_t seed, int points = 4, tolerances tol = {}) {
    static_assert(F::dimension == N, "check_derivatives: N must be the function's dimension");
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> coordinate(domain.lo, domain.hi);
    std::normal_distribution<double> normal;
    for (int p = 0; p < points; ++p) {
        vec<N> x{};
        for (double& e : x) e = coordinate(rng);
        const std::string at = " at " + show(x);

        // order 1, and the fused evaluation agreeing with the separate ones
        check_gradient_at<N>(f, x, tol.first, "first order");
        check_fused_at<N>(f, x);

        // order 2: Hessian against differences of the gradient, exactly symmetric
        std::array<vec<N>, N> h{};
        f.hessian(x, h);
        for (std::size_t j = 0; j < N; ++j) {
            vec<N> column{};
            vec<N> up{};
            vec<N> down{};
            vec<N> xs = x;
            const double step = step_for(x[j]);
            xs[j] = x[j] + step;
            f.gradient(xs, up);
            xs[j] = x[j] - step;
            f.gradient(xs, down);
            vec<N> fd{};
            for (std::size_t i = 0; i < N; ++i) {
                fd[i] = (up[i] - down[i]) / (2 * step);
                column[i] = h[i][j];
            }
            require_close(column, fd, tol.second, "Hessian column " + std::to_string(j) + at);
        }
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j) REQUIRE(h[i][j] == h[j][i]);

        // Hessian-vector product against differences of the gradient along v, and against H·v
        vec<N> v{};
        for (double& e : v) e = normal(rng);
        const vec<N> hv = check_product_at<N>(f, x, v, tol.second, "Hessian-vector product" + at);
        vec<N> hv_dense{};
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j) hv_dense[i] += h[i][j] * v[j];
        require_close(hv, hv_dense, 1e-12, "Hessian-vector product vs H v" + at);

        // order 3: gradient of each generated second derivative (N² generated functions: small N)
        if constexpr (N <= 4) check_third_order<N>(f, x, tol.third, std::make_index_sequence<N>{});
    }
}

// Orders 1 and 2 of a function without a generated Hessian, at the caller's points (a loss whose
// domain is not a box: a simulation is stable only near its system).
template <std::size_t N, class F>
void check_gradient_and_product(const F& f, const std::vector<vec<N>>& points, std::uint64_t seed, tolerances tol = {}) {
    static_assert(F::dimension == N, "check_gradient_and_product: N must be the function's dimension");
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    for (const vec<N>& x : points) {
        check_gradient_at<N>(f, x, tol.first, "first order");
        check_fused_at<N>(f, x);
        vec<N> v{};
        for (double& e : v) e = normal(rng);
        (void)check_product_at<N>(f, x, v, tol.second, "Hessian-vector product at " + show(x));
    }
}

// The gradient of a teleport objective J(θ) on the group's coordinates (value_and_gradient) against
// central differences of its value (step 1e-6), entry k within rtol · max(1, |difference|).
template <class J, std::size_t D>
void check_objective_gradient_at(const J& objective, const std::array<double, D>& theta, double rtol = 1e-6) {
    std::array<double, D> grad{};
    (void)objective.value_and_gradient(theta, grad);
    for (std::size_t k = 0; k < D; ++k) {
        auto up = theta;
        auto down = theta;
        const double h = 1e-6;
        up[k] += h;
        down[k] -= h;
        const double fd = (objective.value(up) - objective.value(down)) / (2 * h);
        INFO("objective gradient, generator " << k << ": generated " << grad[k] << ", differences " << fd);
        REQUIRE(std::abs(grad[k] - fd) <= rtol * std::max(1.0, std::abs(fd)));
    }
}

}  // namespace teleport::testing
