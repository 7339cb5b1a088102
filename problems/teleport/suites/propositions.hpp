// teleport/suites/propositions.hpp — the paper's propositions (§4–§5) as numerical property checks.
//
// Each check draws many random points and group elements from a seeded generator, measures one
// quantity, compares it with a tolerance and returns a check_result. Every check reads "passed when
// value ≤ tolerance", and every one can fail: it measures the proposition's conclusion with
// something other than the formula the proposition is about (finite differences, a GD trajectory,
// a teleport search, an eigendecomposition, random samples of the level set), so a wrong action,
// a wrong Jacobian, an unconverged teleport or a false hypothesis shows up as a failure.
//
//   check_invariance              Prop. 4.1 / 4.2   L(g·w) = L(w)
//   check_gradient_transport      Prop. 5.1 (proof) ∇L(g·w) = J⁻ᵀ ∇L(w), J = ∂(g·w)/∂w
//   check_acceleration_condition  Prop. 5.1         |dL/dt| grows at g·w exactly when ‖J⁻ᵀ∇L‖² > ‖∇L‖²
//   check_orthogonal_invariance   Cor. 5.2          g ∈ O_η (gᵀη⁻¹g = η⁻¹) leaves ‖∇L‖²_η unchanged
//   check_gradient_ordering       Prop. 5.4         the gradient-norm ordering persists for T GD steps
//   check_maximality_along_flow   Prop. 5.5         a max-gradient point stays maximal along GD (L_A)
//   check_closest_to_minimum      Prop. 5.6         the max-gradient point is the closest to w* (L_A)
//   check_newton_direction        Prop. 5.7         at a teleported local max, ∇L ∥ H⁻¹∇L
//
// standard_suite(seed, trials) runs them all on Rosenbrock, Booth, random quadratics (n ≤ 8) and a
// two-layer linear network under GL(2) (a symmetry that is not orthogonal); the `propositions`
// driver prints it as a table and docs/propositions.md explains each row.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include "teleport/expression.hpp"
#include "teleport/groups/action.hpp"
#include "teleport/groups/lie_algebra.hpp"
#include "teleport/groups/small_matrix.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/quadratic.hpp"
#include "teleport/problems/rosenbrock.hpp"
#include "teleport/teleport.hpp"

namespace teleport::propositions {

using groups::exp_map;
using groups::small_matrix;
template <std::size_t N>
using vec = std::array<double, N>;

/// What one check measured. passed ⇔ value ≤ tolerance (and the check's sample was not vacuous).
struct check_result {
    std::string proposition;  // "4.1", "5.1", …
    std::string problem;      // "Rosenbrock", "quadratic n=5", …
    std::string quantity;     // what `value` is
    double value = 0;
    double tolerance = 0;
    bool passed = false;
    std::string detail;       // counts, worst case, why it failed
};

/// Where the random points and group elements come from.
struct sampling {
    std::uint64_t seed = 1;
    std::size_t trials = 200;
    double point_lo = -2.0;  // w uniform in [point_lo, point_hi]ⁿ
    double point_hi = 2.0;
    double theta_lo = -std::numbers::pi;  // group coordinates uniform in [theta_lo, theta_hi)
    double theta_hi = std::numbers::pi;
    exp_map map = exp_map::exact;
};

// --- helpers -------------------------------------------------------------------------------------

namespace detail {

template <std::size_t N>
double dot(const vec<N>& a, const vec<N>& b) {
    double s = 0.0;
    for (std::size_t i = 0; i < N; ++i) s += a[i] * b[i];
    return s;
}
template <std::size_t N>
double norm(const vec<N>& a) {
    return std::sqrt(dot(a, a));
}
template <std::size_t N>
vec<N> axpy(double alpha, const vec<N>& x, vec<N> y) {  // y + αx
    for (std::size_t i = 0; i < N; ++i) y[i] += alpha * x[i];
    return y;
}

template <std::size_t N>
vec<N> random_point(std::mt19937_64& rng, double lo, double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    vec<N> w{};
    for (double& e : w) e = u(rng);
    return w;
}

template <class Algebra>
groups::coordinates<Algebra> random_theta(std::mt19937_64& rng, const sampling& s) {
    std::uniform_real_distribution<double> u(s.theta_lo, s.theta_hi);
    groups::coordinates<Algebra> theta{};
    for (double& t : theta) t = u(rng);
    return theta;
}

template <class Algebra>
auto random_element(std::mt19937_64& rng, const sampling& s) {
    const auto theta = random_theta<Algebra>(rng, s);
    return groups::exponential<Algebra>(std::span<const double, Algebra::dimension>(theta), s.map);
}

template <std::size_t N, class F>
vec<N> gradient(const F& f, const vec<N>& w) {
    vec<N> g{};
    f.gradient(w, g);
    return g;
}

template <std::size_t N, class F>
small_matrix<N> hessian(const F& f, const vec<N>& w) {
    std::array<std::array<double, N>, N> h{};
    f.hessian(w, h);
    small_matrix<N> m;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j) m(i, j) = h[i][j];
    return m;
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.
template <std::size_t N>
struct eigen {
    vec<N> values{};
    small_matrix<N> vectors;
};
template <std::size_t N>
eigen<N> symmetric_eigen(const small_matrix<N>& a) {
    xt::xtensor<double, 2> m = xt::empty<double>({N, N});
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j) m(i, j) = 0.5 * (a(i, j) + a(j, i));
    const auto [lambda, q] = xt::linalg::eigh(m);
    eigen<N> e;
    for (std::size_t i = 0; i < N; ++i) {
        e.values[i] = lambda(i);
        for (std::size_t j = 0; j < N; ++j) e.vectors(i, j) = q(i, j);
    }
    return e;
}

/// Largest |entry| of a matrix.
template <std::size_t N>
double max_abs(const small_matrix<N>& m) {
    double s = 0.0;
    for (double e : m.a) s = std::max(s, std::abs(e));
    return s;
}

inline std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

inline check_result result(std::string proposition, std::string problem, std::string quantity, double value,
                           double tolerance, bool sample_ok, std::string detail) {
    const bool passed = sample_ok && std::isfinite(value) && value <= tolerance;
    return {std::move(proposition), std::move(problem), std::move(quantity), value, tolerance, passed,
            std::move(detail)};
}

/// A teleport that searches until it stops improving: normalized ascent from θ₀ = 0 (the point
/// itself), stopping when no step down to 2⁻⁶⁰ of the initial one increases ‖∇L‖². Used where a
/// proposition is about a (local) maximum of ‖∇L‖ on the level set.
inline teleport_settings converged_teleport(exp_map map = exp_map::exact, std::size_t steps = 2000) {
    teleport_settings s;
    s.strategy = normalized_ascent{steps, 0.5, 60};
    s.start.lo = 0.0;
    s.start.hi = 0.0;
    s.map = map;
    return s;
}

}  // namespace detail

using detail::converged_teleport;

// --- a symmetry that is not orthogonal: the two-layer linear network (paper eq. 6) ---------------

/// L(U, V) = ‖Y − U V X‖²_F with U ∈ ℝ^{M×K}, V ∈ ℝ^{K×P}, data X ∈ ℝ^{P×S}, Y ∈ ℝ^{M×S}
/// (paper Prop. 4.2 with two layers). Variables: w = (U row-major, V row-major); runtime
/// parameters: (X row-major, Y row-major).
template <std::size_t M, std::size_t K, std::size_t P, std::size_t S>
constexpr auto linear_network_expression() {
    return expr::sum<M>([](auto i) {
        return expr::sum<S>([&](auto j) {
            constexpr std::size_t r = decltype(i)::value;
            constexpr std::size_t c = decltype(j)::value;
            constexpr expr::parameter<P * S + r * S + c> y{};
            const auto output = expr::sum<K>([&](auto k) {
                return expr::sum<P>([&](auto l) {
                    constexpr std::size_t kk = decltype(k)::value;
                    constexpr std::size_t ll = decltype(l)::value;
                    constexpr expr::variable<r * K + kk> u{};
                    constexpr expr::variable<M * K + kk * P + ll> v{};
                    constexpr expr::parameter<ll * S + c> x{};
                    return u * v * x;
                });
            });
            return expr::pow<2>(y - output);
        });
    });
}

/// The loss above with data X, Y bound (row-major).
template <std::size_t M, std::size_t K, std::size_t P, std::size_t S>
auto linear_network(const std::array<double, P * S>& x, const std::array<double, M * S>& y) {
    std::array<double, P * S + M * S> data{};
    std::copy(x.begin(), x.end(), data.begin());
    std::copy(y.begin(), y.end(), data.begin() + P * S);
    return make_function<M * K + K * P>(linear_network_expression<M, K, P, S>(), data);
}

/// GL(K) acting on the network's weights by (U, V) ↦ (U g⁻¹, g V) (paper eq. 6): U V is unchanged,
/// so L is; the action is linear in w but not orthogonal. Same interface as coordinate_action.
/// Note: the group's matrices are K×K while w has n = MK + KP entries.
template <std::size_t M, std::size_t K, std::size_t P>
class layer_action {
  public:
    using algebra = groups::gl<K>;
    static constexpr std::size_t n = M * K + K * P;

    /// g·w = (U g⁻¹, g V).
    vec<n> apply(const small_matrix<K>& g, const vec<n>& w) const {
        const small_matrix<K> gi = groups::inverse(g);
        vec<n> out{};
        for (std::size_t i = 0; i < M; ++i)
            for (std::size_t j = 0; j < K; ++j)
                for (std::size_t k = 0; k < K; ++k) out[i * K + j] += w[i * K + k] * gi(k, j);
        for (std::size_t i = 0; i < K; ++i)
            for (std::size_t j = 0; j < P; ++j)
                for (std::size_t k = 0; k < K; ++k) out[M * K + i * P + j] += g(i, k) * w[M * K + k * P + j];
        return out;
    }

    /// d/dt (g + t dg)·w = (−U g⁻¹ dg g⁻¹, dg V).
    vec<n> apply_derivative(const small_matrix<K>& g, const small_matrix<K>& dg, const vec<n>& w) const {
        const small_matrix<K> gi = groups::inverse(g);
        const small_matrix<K> d = gi * dg * gi;
        vec<n> out{};
        for (std::size_t i = 0; i < M; ++i)
            for (std::size_t j = 0; j < K; ++j)
                for (std::size_t k = 0; k < K; ++k) out[i * K + j] -= w[i * K + k] * d(k, j);
        for (std::size_t i = 0; i < K; ++i)
            for (std::size_t j = 0; j < P; ++j)
                for (std::size_t k = 0; k < K; ++k) out[M * K + i * P + j] += dg(i, k) * w[M * K + k * P + j];
        return out;
    }

    /// ∂(g·w)/∂w: block diagonal, (g⁻¹)ᵀ acting on each row of U, g on each column of V.
    small_matrix<n> jacobian(const small_matrix<K>& g, const vec<n>&) const {
        const small_matrix<K> gi = groups::inverse(g);
        small_matrix<n> j;
        for (std::size_t i = 0; i < M; ++i)
            for (std::size_t c = 0; c < K; ++c)
                for (std::size_t k = 0; k < K; ++k) j(i * K + c, i * K + k) = gi(k, c);
        for (std::size_t i = 0; i < K; ++i)
            for (std::size_t c = 0; c < P; ++c)
                for (std::size_t k = 0; k < K; ++k) j(M * K + i * P + c, M * K + k * P + c) = g(i, k);
        return j;
    }
};

// --- Prop. 4.1 / 4.2: invariance -----------------------------------------------------------------

/// max |L(g·w) − L(w)| / L(w) over random w and g. Tolerance: the exact maps keep L to rounding
/// (a few ulps per operation, times the conditioning of φ); 1e-12 leaves two to three orders of
/// margin over what double precision gives on these problems, while the paper's first-order g ≈ I+T
/// misses it by many orders (see the tests).
template <class F, class Action>
check_result check_invariance(std::string proposition, std::string problem, const F& f, const Action& action,
                              const sampling& s, double tolerance = 1e-12) {
    using algebra = typename Action::algebra;
    constexpr std::size_t n = Action::n;
    std::mt19937_64 rng(s.seed);
    double worst = 0.0;
    vec<n> worst_w{};
    for (std::size_t t = 0; t < s.trials; ++t) {
        const vec<n> w = detail::random_point<n>(rng, s.point_lo, s.point_hi);
        const auto element = detail::random_element<algebra>(rng, s);
        const double before = f.evaluate(w);
        const double after = f.evaluate(action.apply(element.g, w));
        const double rel = std::abs(after - before) / std::max(std::abs(before), std::numeric_limits<double>::min());
        if (!(rel <= worst)) {
            worst = rel;
            worst_w = w;
        }
    }
    return detail::result(std::move(proposition), std::move(problem), "max rel |L(g.w) - L(w)|", worst, tolerance,
                          s.trials > 0,
                          std::to_string(s.trials) + " random (w, g); map " + groups::to_string(s.map) +
                              "; worst at L(w) = " + detail::number(f.evaluate(worst_w)));
}

// --- Prop. 5.1 ---------------------------------------------------------------------------------

/// The identity behind Prop. 5.1: differentiating L(g·w) = L(w) gives Jᵀ ∇L(g·w) = ∇L(w), i.e.
/// ∇L(g·w) = J⁻ᵀ ∇L(w). Measured: max ‖∇L(g·w) − J⁻ᵀ∇L(w)‖ / ‖∇L(g·w)‖, with the left side from the
/// generated gradient at g·w and the right side from the action's Jacobian at w.
/// Tolerance: J⁻ᵀ is formed by elimination, so the error is bounded by about cond(J)·ε. Rosenbrock's
/// J reaches cond ~1e7 on the sampled orbits (φ⁻¹ is quadratic and the orbits reach |x₁| ~ 60), but
/// the observed error stays ≤ 2e-11 there (≤ 1e-13 on the linear maps); 1e-9 keeps a 50× margin over
/// the worst of several 1000-trial runs, while a wrong Jacobian misses it by orders (see the tests).
template <class F, class Action>
check_result check_gradient_transport(std::string problem, const F& f, const Action& action, const sampling& s,
                                      double tolerance = 1e-9) {
    using algebra = typename Action::algebra;
    constexpr std::size_t n = Action::n;
    std::mt19937_64 rng(s.seed);
    double worst = 0.0;
    double worst_cond = 0.0;
    for (std::size_t t = 0; t < s.trials; ++t) {
        const vec<n> w = detail::random_point<n>(rng, s.point_lo, s.point_hi);
        const auto element = detail::random_element<algebra>(rng, s);
        const vec<n> moved = action.apply(element.g, w);
        const small_matrix<n> j = action.jacobian(element.g, w);
        const small_matrix<n> ji = groups::inverse(j);
        const vec<n> predicted = ji.transpose().apply(detail::gradient<n>(f, w));
        const vec<n> actual = detail::gradient<n>(f, moved);
        vec<n> diff{};
        for (std::size_t i = 0; i < n; ++i) diff[i] = actual[i] - predicted[i];
        const double scale = std::max(detail::norm(actual), std::numeric_limits<double>::min());
        const double rel = detail::norm(diff) / scale;
        worst_cond = std::max(worst_cond, groups::norm_inf(j) * groups::norm_inf(ji));
        worst = std::max(worst, std::isfinite(rel) ? rel : std::numeric_limits<double>::infinity());
    }
    return detail::result("5.1", std::move(problem), "max rel |grad L(g.w) - J^-T grad L(w)|", worst, tolerance,
                          s.trials > 0,
                          std::to_string(s.trials) + " random (w, g); largest cond_inf(J) " + detail::number(worst_cond));
}

/// Prop. 5.1 itself: for GD (η = I) dL/dt = −‖∇L‖², so teleporting by g makes the loss fall faster
/// exactly when ‖J⁻ᵀ∇L(w)‖² > ‖∇L(w)‖². Predicted: the sign of ‖J⁻ᵀ∇L(w)‖² − ‖∇L(w)‖² (from the
/// Jacobian and the gradient at w only). Measured: the sign of |dL/dt(g·w)| − |dL/dt(w)|, each rate
/// read off the loss by a central difference along the GD direction, (L(w − h∇L) − L(w + h∇L))/2h
/// (loss values only). Value: the number of trials whose signs disagree while either difference
/// exceeds the margin (1e-6 relative to the larger rate); near-ties below the margin are counted
/// apart. The margin sits far above the measurement error, which the check measures too (the
/// difference quotient against −‖∇L‖²) and requires below margin/10.
template <class F, class Action>
check_result check_acceleration_condition(std::string problem, const F& f, const Action& action,
                                          const sampling& s, double margin = 1e-6) {
    using algebra = typename Action::algebra;
    constexpr std::size_t n = Action::n;
    std::mt19937_64 rng(s.seed);
    // dL/dt measured from loss values: a central difference of L along −∇L, Richardson-extrapolated
    // (truncation O(h⁴), and none at all along a line on which L is a polynomial of degree ≤ 4, as on
    // every problem here). The step length is 0.1 of the scale ‖∇L‖/‖H∇̂L‖ over which the gradient
    // changes (H from a Hessian-vector product), which keeps the rounding error (∝ ε·L/(h‖∇L‖²)) at
    // ≲ 1e-8 relative even in Rosenbrock's valley far from the minimum, where ‖∇L‖² ≪ L; the error
    // is measured against −‖∇L‖² below.
    auto measured_rate = [&](const vec<n>& w, double& fd_error) {
        const vec<n> g = detail::gradient<n>(f, w);
        const double gn = detail::norm(g);
        if (!(gn > 0)) {
            fd_error = 0;
            return 0.0;
        }
        vec<n> hg{};
        f.hessian_vector_product(w, g, hg);
        const double curvature = detail::norm(hg) / gn;  // ‖H ĝ‖ for the unit direction ĝ
        const double length = 0.1 * (curvature > 0 ? gn / curvature : std::max(1.0, detail::norm(w)));
        const double h = length / gn;
        auto central = [&](double step) {
            return (f.evaluate(detail::axpy(-step, g, w)) - f.evaluate(detail::axpy(step, g, w))) / (2 * step);
        };
        const double rate = (4 * central(h / 2) - central(h)) / 3;
        fd_error = std::abs(rate + gn * gn) / (gn * gn);
        return rate;
    };
    std::size_t faster = 0, slower = 0, ties = 0, mismatches = 0;
    double worst_fd = 0.0;
    for (std::size_t t = 0; t < s.trials; ++t) {
        const vec<n> w = detail::random_point<n>(rng, s.point_lo, s.point_hi);
        const auto element = detail::random_element<algebra>(rng, s);
        const vec<n> moved = action.apply(element.g, w);
        const vec<n> grad = detail::gradient<n>(f, w);
        const vec<n> transported = groups::inverse(action.jacobian(element.g, w)).transpose().apply(grad);
        const double predicted = detail::dot(transported, transported) - detail::dot(grad, grad);
        double e0 = 0, e1 = 0;
        const double rate_before = measured_rate(w, e0);
        const double rate_after = measured_rate(moved, e1);
        worst_fd = std::max({worst_fd, e0, e1});
        const double measured = std::abs(rate_after) - std::abs(rate_before);
        const double scale = std::max(std::abs(rate_before), std::abs(rate_after));
        if (std::max(std::abs(predicted), std::abs(measured)) <= margin * scale) {
            ++ties;
            continue;
        }
        if ((predicted > 0) != (measured > 0)) ++mismatches;
        (measured > 0 ? faster : slower) += 1;
    }
    const bool measurement_ok = worst_fd < margin / 10;
    std::string summary = std::to_string(s.trials) + " random (w, g): " + std::to_string(faster) + " faster, " +
                         std::to_string(slower) + " slower, " + std::to_string(ties) +
                         " ties; worst rel error of measured dL/dt " + detail::number(worst_fd);
    if (!measurement_ok) summary += " (above margin/10: measurement too coarse)";
    return detail::result("5.1", std::move(problem), "sign mismatches predicted vs measured",
                          static_cast<double>(mismatches), 0.0, s.trials > 0 && measurement_ok, summary);
}

// --- Cor. 5.2 -----------------------------------------------------------------------------------

/// Cor. 5.2: for g in O_η, i.e. Jᵀ η⁻¹ J = η⁻¹ with J = ∂(g·w)/∂w, ‖∇L(g·w)‖²_η = ‖∇L(w)‖²_η.
/// Measured: max |‖∇L(g·w)‖²_η − ‖∇L(w)‖²_η| / ‖∇L(w)‖²_η. The hypothesis is measured too
/// (max |Jᵀη⁻¹J − η⁻¹| / max|η⁻¹|) and must hold to the same tolerance, so a non-orthogonal action
/// fails the check instead of passing vacuously. Tolerance 1e-12: a few ulps of products of
/// matrices with condition ≤ 1e2.
template <class F, class Action>
check_result check_orthogonal_invariance(std::string problem, const F& f, const Action& action, const sampling& s,
                                         const small_matrix<Action::n>& eta = small_matrix<Action::n>::identity(),
                                         double tolerance = 1e-12) {
    using algebra = typename Action::algebra;
    constexpr std::size_t n = Action::n;
    std::mt19937_64 rng(s.seed);
    const small_matrix<n> eta_inv = groups::inverse(eta);
    const double eta_scale = detail::max_abs(eta_inv);
    double worst = 0.0, worst_hypothesis = 0.0;
    for (std::size_t t = 0; t < s.trials; ++t) {
        const vec<n> w = detail::random_point<n>(rng, s.point_lo, s.point_hi);
        const auto element = detail::random_element<algebra>(rng, s);
        const small_matrix<n> j = action.jacobian(element.g, w);
        worst_hypothesis = std::max(worst_hypothesis, detail::max_abs(j.transpose() * eta_inv * j - eta_inv) / eta_scale);
        const vec<n> g0 = detail::gradient<n>(f, w);
        const vec<n> g1 = detail::gradient<n>(f, action.apply(element.g, w));
        const double before = detail::dot(g0, eta.apply(g0));
        const double after = detail::dot(g1, eta.apply(g1));
        worst = std::max(worst, std::abs(after - before) / before);
    }
    const bool hypothesis = worst_hypothesis <= tolerance;
    return detail::result("5.2", std::move(problem), "max rel change of |grad L|^2_eta", worst, tolerance,
                          s.trials > 0 && hypothesis,
                          std::to_string(s.trials) + " random (w, g); hypothesis residual |J^T eta^-1 J - eta^-1| " +
                              detail::number(worst_hypothesis) + (hypothesis ? "" : " (g is not in O_eta)"));
}

// --- Prop. 5.4 ----------------------------------------------------------------------------------

/// Prop. 5.4: if ‖∇L‖ is Lipschitz with constant `lipschitz`, ηL < 1 and
/// ‖∇L(w′)‖/‖∇L(w)‖ ≥ ((1 + ηL)/(1 − ηL))^T, then after T GD steps from both, ‖∇L(w′_T)‖ ≥ ‖∇L(w_T)‖.
/// Per trial: random w, g, ηL log-uniform in [1e-4, 0.5), T ∈ [1, max_horizon]; of the pair (w, g·w) the one
/// with the larger gradient plays w′. Trials meeting (13) are "eligible". Value: 1 − min over eligible
/// trials of ‖∇L(w′_T)‖/‖∇L(w_T)‖ (≤ 0 when the ordering always persists); tolerance 1e-12 absorbs
/// rounding when the ratio is exactly 1. At least one trial must be eligible. The detail also counts
/// ineligible trials where the ordering did reverse: they show that the hypothesis is needed.
/// `lipschitz` must be a valid constant on the region GD visits; for a quadratic or Booth it is the
/// spectral norm of the (constant) Hessian.
template <class F, class Action>
check_result check_gradient_ordering(std::string problem, const F& f, const Action& action, double lipschitz,
                                     const sampling& s, std::size_t max_horizon = 30, double tolerance = 1e-12) {
    using algebra = typename Action::algebra;
    constexpr std::size_t n = Action::n;
    std::mt19937_64 rng(s.seed);
    std::uniform_real_distribution<double> log_eta_l(std::log(1e-4), std::log(0.5));
    std::uniform_int_distribution<std::size_t> horizon(1, max_horizon);
    std::size_t eligible = 0, reversed_ineligible = 0, ineligible = 0;
    double min_ratio = std::numeric_limits<double>::infinity();
    for (std::size_t t = 0; t < s.trials; ++t) {
        const vec<n> w = detail::random_point<n>(rng, s.point_lo, s.point_hi);
        const auto element = detail::random_element<algebra>(rng, s);
        const double el = std::exp(log_eta_l(rng));
        const double eta = el / lipschitz;
        const std::size_t steps = horizon(rng);
        vec<n> a = action.apply(element.g, w);  // teleported
        vec<n> b = w;
        double ratio = detail::norm(detail::gradient<n>(f, a)) / detail::norm(detail::gradient<n>(f, b));
        if (ratio < 1) {
            std::swap(a, b);
            ratio = 1 / ratio;
        }
        const bool meets = ratio >= std::pow((1 + el) / (1 - el), static_cast<double>(steps));
        for (std::size_t k = 0; k < steps; ++k) {
            a = detail::axpy(-eta, detail::gradient<n>(f, a), a);
            b = detail::axpy(-eta, detail::gradient<n>(f, b), b);
        }
        const double after = detail::norm(detail::gradient<n>(f, a)) / detail::norm(detail::gradient<n>(f, b));
        if (meets) {
            ++eligible;
            min_ratio = std::min(min_ratio, after);
        } else if (ratio > 1) {
            ++ineligible;
            if (after < 1) ++reversed_ineligible;
        }
    }
    const double value = eligible > 0 ? 1 - min_ratio : std::numeric_limits<double>::infinity();
    return detail::result("5.4", std::move(problem), "1 - min |grad L(w'_T)|/|grad L(w_T)|", value, tolerance,
                          eligible > 0,
                          std::to_string(eligible) + " of " + std::to_string(s.trials) + " trials meet (13), L = " +
                              detail::number(lipschitz) + "; without (13) the order reversed in " +
                              std::to_string(reversed_ineligible) + " of " + std::to_string(ineligible));
}

// --- convex quadratics (§5.3): L(w) = (w − w*)ᵀ A (w − w*) --------------------------------------

/// The data of a convex quadratic read off the problem itself: A = H/2 from the generated Hessian
/// (constant), its eigendecomposition, and the minimizer w*.
template <std::size_t N>
struct quadratic_form {
    small_matrix<N> a;
    detail::eigen<N> spectrum;
    vec<N> minimum{};
    double lambda_max() const { return spectrum.values[N - 1]; }
};

template <std::size_t N, class F>
quadratic_form<N> read_quadratic(const F& f, const vec<N>& minimum) {
    quadratic_form<N> q;
    q.a = 0.5 * detail::hessian<N>(f, minimum);
    q.spectrum = detail::symmetric_eigen(q.a);
    q.minimum = minimum;
    return q;
}

namespace detail {
template <std::size_t N>
double distance_sq(const vec<N>& w, const vec<N>& m) {
    double s = 0.0;
    for (std::size_t i = 0; i < N; ++i) s += (w[i] - m[i]) * (w[i] - m[i]);
    return s;
}
/// 1 − ‖∇L(w)‖² / max over the level set: the level set L = c has max ‖∇L‖² = 4 λ_max c
/// (maximize ‖2A u‖² subject to uᵀAu = c: Lagrange gives Au = λu, the largest λ wins).
template <std::size_t N, class F>
double gradient_deficiency(const F& f, const quadratic_form<N>& q, const vec<N>& w) {
    vec<N> g{};
    const double c = f.evaluate_with_gradient(w, g);
    return 1.0 - problems::level_set_grad_ratio(q.lambda_max(), c, dot(g, g));
}
}  // namespace detail

/// Prop. 5.5: teleport w to the max-gradient point of its level set (the library's teleport with
/// `settings`), then follow small-step GD (η = 0.05/λ_max, a close discretization of the flow) until
/// the loss has fallen by `loss_reduction`. At every step the point must still be the maximizer of
/// ‖∇L‖² on its new level set: value = max over trials and steps of 1 − ‖∇L‖²/(4λ_max L) (the
/// analytic maximum), and, as an independent oracle, no random point g·w_k of the same level set
/// (8 per step) may have a larger gradient by more than the tolerance.
/// Tolerance 1e-9: the maximum is an unstable invariant set of GD (the top-eigenvalue component
/// decays fastest), so a teleport error ε in direction grows to at most ε·F^{1/2} when the loss
/// falls by F, and the deficiency (∝ ε²) by at most F; a converged teleport leaves ≲ 1e-14, and
/// F = 1e4 keeps the bound ≲ 1e-10.
template <std::size_t N, class F, class Action>
check_result check_maximality_along_flow(std::string problem, const F& f, const Action& action,
                                         const quadratic_form<N>& q, const sampling& s,
                                         const teleport_settings& settings, double loss_reduction = 1e4,
                                         double tolerance = 1e-9) {
    using algebra = typename Action::algebra;
    std::mt19937_64 rng(s.seed);
    const double eta = 0.05 / q.lambda_max();
    double worst = 0.0, worst_start = 0.0;
    std::size_t sampled_larger = 0, rejected = 0, total_steps = 0;
    for (std::size_t t = 0; t < s.trials; ++t) {
        vec<N> w = detail::random_point<N>(rng, s.point_lo, s.point_hi);
        teleport_report report;
        teleport_once(f, action, w, settings, rng, report);
        if (!report.accepted) ++rejected;
        worst_start = std::max(worst_start, detail::gradient_deficiency(f, q, w));
        const double target = f.evaluate(w) / loss_reduction;
        for (std::size_t k = 0; k < 100000 && f.evaluate(w) > target; ++k, ++total_steps) {
            w = detail::axpy(-eta, detail::gradient<N>(f, w), w);
            worst = std::max(worst, detail::gradient_deficiency(f, q, w));
            const vec<N> g = detail::gradient<N>(f, w);
            const double here = detail::dot(g, g);
            for (int m = 0; m < 8; ++m) {
                const vec<N> other = detail::gradient<N>(f, action.apply(detail::random_element<algebra>(rng, s).g, w));
                if (detail::dot(other, other) > here * (1 + tolerance)) ++sampled_larger;
            }
        }
    }
    return detail::result("5.5", std::move(problem), "max 1 - |grad L|^2/max on level set along GD", worst, tolerance,
                          s.trials > 0 && sampled_larger == 0 && rejected == 0,
                          std::to_string(s.trials) + " teleports, " + std::to_string(total_steps) +
                              " GD steps (loss / " + detail::number(loss_reduction) + "); right after teleport " +
                              detail::number(worst_start) + "; sampled level-set points with larger gradient: " +
                              std::to_string(sampled_larger) + (rejected ? "; rejected teleports: " + std::to_string(rejected) : ""));
}

/// Prop. 5.6: the teleport's target g·w (max ‖∇L‖² over the orbit, found by the library's teleport
/// with `settings`) is the point of the level set closest to the minimum w*. Value: max relative
/// excess ‖g·w − w*‖² / (c/λ_max) − 1, where c/λ_max is the analytic min of ‖u‖² on uᵀAu = c
/// (attained on the top eigenvector). Also, no random point of the same level set (32 per trial)
/// may be closer than the teleported one. Tolerance 1e-8: a teleport that has converged in value
/// leaves an excess of the same order as its gradient deficiency (observed ≤ 2e-13); a point of the
/// orbit that is not the target is off by O(1) (see the tests).
template <std::size_t N, class F, class Action>
check_result check_closest_to_minimum(std::string problem, const F& f, const Action& action,
                                      const quadratic_form<N>& q, const sampling& s,
                                      const teleport_settings& settings, double tolerance = 1e-8) {
    using algebra = typename Action::algebra;
    std::mt19937_64 rng(s.seed);
    double worst = 0.0, worst_deficiency = 0.0;
    std::size_t sampled_closer = 0, rejected = 0;
    for (std::size_t t = 0; t < s.trials; ++t) {
        const vec<N> w = detail::random_point<N>(rng, s.point_lo, s.point_hi);
        vec<N> target = w;
        teleport_report report;
        teleport_once(f, action, target, settings, rng, report);
        if (!report.accepted) ++rejected;
        const double c = f.evaluate(w);
        const double d = detail::distance_sq(target, q.minimum);
        worst = std::max(worst, d * q.lambda_max() / c - 1.0);
        worst_deficiency = std::max(worst_deficiency, detail::gradient_deficiency(f, q, target));
        for (int m = 0; m < 32; ++m) {
            const vec<N> other = action.apply(detail::random_element<algebra>(rng, s).g, w);
            if (detail::distance_sq(other, q.minimum) < d * (1 - tolerance)) ++sampled_closer;
        }
    }
    return detail::result("5.6", std::move(problem), "max rel excess of |g.w - w*|^2 over min", worst, tolerance,
                          s.trials > 0 && sampled_closer == 0 && rejected == 0,
                          std::to_string(s.trials) + " teleports; worst gradient deficiency at target " +
                              detail::number(worst_deficiency) + "; sampled level-set points closer: " +
                              std::to_string(sampled_closer) + (rejected ? "; rejected teleports: " + std::to_string(rejected) : ""));
}

// --- Prop. 5.7 ----------------------------------------------------------------------------------

/// Prop. 5.7: at a local maximum of ‖∇L‖ on the level set, ∇L is parallel to the Newton direction
/// H⁻¹∇L. Per trial: random w, teleport with `settings` (for the proposition to apply the search must
/// have converged to a local maximum over an orbit that fills the level set near the target — true
/// for these actions: φ is a bijection and O(n) is transitive on spheres), then H from the generated
/// Hessian at the target and cos = ⟨∇L, H⁻¹∇L⟩ / (‖∇L‖‖H⁻¹∇L‖). Value: 1 − min |cos|.
/// Tolerance 1e-8: a search that has converged in value is stationary only to ~√ε in the group
/// coordinate, which leaves ∇L off the Hessian's eigenvector by an angle of that order times a
/// curvature ratio, so 1 − |cos| ~ 1e-16 … 1e-9: observed ≤ 1e-13 on the quadratics and ≤ 8e-10 on
/// Rosenbrock (worst of several 1000-trial runs), whose Hessian at the targets has cond up to ~1e7. A point that is not a maximum is
/// off by far more (≳ 1e-4, see the tests). The detail counts trials where
/// H⁻¹∇L points against ∇L (the proposition says "parallel"; at a maximum on an indefinite
/// Hessian's level set the Lagrange multiplier may be negative).
template <class F, class Action>
check_result check_newton_direction(std::string problem, const F& f, const Action& action, const sampling& s,
                                    const teleport_settings& settings, double tolerance = 1e-8) {
    constexpr std::size_t n = Action::n;
    std::mt19937_64 rng(s.seed);
    double worst = 0.0, worst_cond = 0.0;
    std::size_t antiparallel = 0, rejected = 0;
    for (std::size_t t = 0; t < s.trials; ++t) {
        vec<n> w = detail::random_point<n>(rng, s.point_lo, s.point_hi);
        teleport_report report;
        teleport_once(f, action, w, settings, rng, report);
        if (!report.accepted) ++rejected;
        const vec<n> g = detail::gradient<n>(f, w);
        const small_matrix<n> h = detail::hessian<n>(f, w);
        const small_matrix<n> hi = groups::inverse(h);
        const vec<n> newton = hi.apply(g);
        const double cosine = detail::dot(g, newton) / (detail::norm(g) * detail::norm(newton));
        if (cosine < 0) ++antiparallel;
        worst = std::max(worst, 1.0 - std::abs(cosine));
        worst_cond = std::max(worst_cond, groups::norm_inf(h) * groups::norm_inf(hi));
    }
    return detail::result("5.7", std::move(problem), "1 - min |cos(grad L, H^-1 grad L)|", worst, tolerance,
                          s.trials > 0 && rejected == 0,
                          std::to_string(s.trials) + " teleports (" + strategy_name(settings.strategy) +
                              "); H^-1 grad L against grad L in " + std::to_string(antiparallel) +
                              "; largest cond_inf(H) " + detail::number(worst_cond) +
                              (rejected ? "; rejected teleports: " + std::to_string(rejected) : ""));
}

// --- the standard suite ------------------------------------------------------------------------

namespace detail {

template <std::size_t N>
void quadratic_rows(std::vector<check_result>& rows, std::uint64_t seed, std::size_t trials,
                    std::size_t teleport_trials) {
    std::mt19937_64 rng(seed * 1000003u + N);
    const auto a = problems::random_spd_log_spaced<N>(rng, 100.0);
    const problems::quadratic<N> f(a);
    const auto action = groups::quadratic_action<N>(a);
    const std::string name = "quadratic n=" + std::to_string(N);
    sampling s;
    s.seed = seed + 17 * N;
    s.trials = trials;
    rows.push_back(check_invariance("4.1", name, f, action, s));
    rows.push_back(check_gradient_transport(name, f, action, s));
    rows.push_back(check_acceleration_condition(name, f, action, s));

    // Cor. 5.2 twice: A = I (O(n) acting linearly, η = I), and the general form with η = A⁻¹, for
    // which the quadratic action of A lies in O_η (Jᵀ A J = A).
    std::array<double, N * N> id{};
    for (std::size_t i = 0; i < N; ++i) id[i * N + i] = 1.0;
    const problems::quadratic<N> sphere(id);
    rows.push_back(check_orthogonal_invariance("|w|^2 n=" + std::to_string(N) + ", SO(n)", sphere,
                                               groups::quadratic_action<N>(id), s));
    small_matrix<N> am;
    am.a = a;
    rows.push_back(check_orthogonal_invariance(name + ", eta = A^-1", f, action, s, groups::inverse(am)));

    const auto q = read_quadratic<N>(f, vec<N>{});
    rows.push_back(check_gradient_ordering(name, f, action, 2.0 * q.lambda_max(), s));
    sampling st = s;
    st.trials = teleport_trials;
    const auto settings = converged_teleport(exp_map::cayley);
    rows.push_back(check_maximality_along_flow<N>(name, f, action, q, st, settings));
    rows.push_back(check_closest_to_minimum<N>(name, f, action, q, st, settings));
    rows.push_back(check_newton_direction(name, f, action, st, settings));
}

}  // namespace detail

/// Every check on the paper's problems and on random quadratics (n = 2 … 8, condition number 100):
/// `trials` random draws per check, a quarter as many (at least 4) for the checks that teleport.
inline std::vector<check_result> standard_suite(std::uint64_t seed, std::size_t trials) {
    std::vector<check_result> rows;
    const std::size_t teleport_trials = std::max<std::size_t>(4, trials / 4);

    // Rosenbrock and Booth with their SO(2) coordinate actions (paper §4.1).
    const auto rosenbrock = problems::rosenbrock();
    const auto rosenbrock_action = problems::rosenbrock_action();
    sampling sr;
    sr.seed = seed;
    sr.trials = trials;
    const auto booth = problems::booth();
    const auto booth_action = problems::booth_action();
    sampling sb = sr;
    sb.seed = seed + 1;
    sb.point_lo = -4.0;  // a box around the minimum (1, 3)
    sb.point_hi = 6.0;
    rows.push_back(check_invariance("4.1", "Rosenbrock", rosenbrock, rosenbrock_action, sr));
    rows.push_back(check_invariance("4.1", "Booth", booth, booth_action, sb));

    // The two-layer linear network under GL(2): 2×2 weights, 3 samples (data uniform in [−1, 1]).
    std::mt19937_64 data_rng(seed + 2);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::array<double, 6> x{}, y{};
    for (double& e : x) e = u(data_rng);
    for (double& e : y) e = u(data_rng);
    const auto network = linear_network<2, 2, 2, 3>(x, y);
    const layer_action<2, 2, 2> network_action;
    sampling sn = sr;
    sn.seed = seed + 3;
    sn.point_lo = -1.0;
    sn.point_hi = 1.0;
    sn.theta_lo = -1.0;  // gl(2) coordinates: g = e^X spans condition numbers up to ~e⁴
    sn.theta_hi = 1.0;
    rows.push_back(check_invariance("4.2", "linear net 2-2-2, GL(2)", network, network_action, sn));

    rows.push_back(check_gradient_transport("Rosenbrock", rosenbrock, rosenbrock_action, sr));
    rows.push_back(check_gradient_transport("Booth", booth, booth_action, sb));
    rows.push_back(check_gradient_transport("linear net 2-2-2, GL(2)", network, network_action, sn));
    rows.push_back(check_acceleration_condition("Rosenbrock", rosenbrock, rosenbrock_action, sr));
    rows.push_back(check_acceleration_condition("Booth", booth, booth_action, sb));
    rows.push_back(check_acceleration_condition("linear net 2-2-2, GL(2)", network, network_action, sn));

    // Booth is the quadratic (x − x*)ᵀA(x − x*) with A = [[5, 4], [4, 5]]: Props 5.4–5.6 apply.
    const auto booth_q = read_quadratic<2>(booth, vec<2>{1.0, 3.0});
    rows.push_back(check_gradient_ordering("Booth", booth, booth_action, 2.0 * booth_q.lambda_max(), sb));
    sampling sbt = sb;
    sbt.trials = teleport_trials;
    const auto settings = converged_teleport();
    rows.push_back(check_maximality_along_flow<2>("Booth", booth, booth_action, booth_q, sbt, settings));
    rows.push_back(check_closest_to_minimum<2>("Booth", booth, booth_action, booth_q, sbt, settings));
    sampling srt = sr;
    srt.trials = teleport_trials;
    rows.push_back(check_newton_direction("Rosenbrock", rosenbrock, rosenbrock_action, srt, settings));
    rows.push_back(check_newton_direction("Booth", booth, booth_action, sbt, settings));

    detail::quadratic_rows<2>(rows, seed, trials, teleport_trials);
    detail::quadratic_rows<3>(rows, seed, trials, teleport_trials);
    detail::quadratic_rows<4>(rows, seed, trials, teleport_trials);
    detail::quadratic_rows<5>(rows, seed, trials, teleport_trials);
    detail::quadratic_rows<6>(rows, seed, trials, teleport_trials);
    detail::quadratic_rows<7>(rows, seed, trials, teleport_trials);
    detail::quadratic_rows<8>(rows, seed, trials, teleport_trials);

    // grouped by proposition, then by quantity; problems keep their order within a group
    std::stable_sort(rows.begin(), rows.end(), [](const check_result& a, const check_result& b) {
        return a.proposition != b.proposition ? a.proposition < b.proposition : a.quantity < b.quantity;
    });
    return rows;
}

}  // namespace teleport::propositions
