// bench/bench_common.hpp — what the benchmark programs share: the hand-written extended Rosenbrock
// baseline, the check that generated and hand-written code agree, and the registration of the four
// benchmarks (loss, gradient, fused loss and gradient, Hessian-vector product) per implementation.
//
// Benchmark names are "<problem>/<quantity>/<implementation>", which bench/ratios.py reads back.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include <benchmark/benchmark.h>

namespace bench {

template <std::size_t N>
using vec = std::array<double, N>;

// ---------------------------------------------------------------------------------------------
// The hand-written baseline for L(x) = Σ_{i=0}^{N−2} 100 (x_{i+1} − x_i²)² + (1 − x_i)²: the loops a
// person would write, each residual t_i = x_{i+1} − x_i² computed once per pass. N is the dimension
// when it is known at compile time (the loop's trip count is then a constant, as in the generated
// code for a compile-time range); N = 0 takes it from the point's size.
template <std::size_t N>
struct hand_written_extended_rosenbrock {
    template <class P>
    static std::size_t size(const P& x) {
        if constexpr (N != 0) return N;
        else return x.size();
    }

    template <class P>
    static double loss(const P& point) {
        const std::size_t n = size(point);
        const double* x = point.data();
        double sum = 0.0;
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const double t = x[i + 1] - x[i] * x[i];
            const double u = 1.0 - x[i];
            sum += 100.0 * t * t + u * u;
        }
        return sum;
    }

    // ∂L/∂x_i = 200 t_{i−1} − 400 t_i x_i − 2 (1 − x_i); the first term is carried from the previous step.
    template <class P>
    static void gradient(const P& point, P& gradient) {
        const std::size_t n = size(point);
        const double* x = point.data();
        double* g = gradient.data();
        double carry = 0.0;
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const double t = x[i + 1] - x[i] * x[i];
            g[i] = carry - 400.0 * t * x[i] - 2.0 * (1.0 - x[i]);
            carry = 200.0 * t;
        }
        g[n - 1] = carry;
    }

    template <class P>
    static double loss_with_gradient(const P& point, P& gradient) {
        const std::size_t n = size(point);
        const double* x = point.data();
        double* g = gradient.data();
        double sum = 0.0;
        double carry = 0.0;
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const double t = x[i + 1] - x[i] * x[i];
            const double u = 1.0 - x[i];
            sum += 100.0 * t * t + u * u;
            g[i] = carry - 400.0 * t * x[i] - 2.0 * u;
            carry = 200.0 * t;
        }
        g[n - 1] = carry;
        return sum;
    }

    // The Hessian is tridiagonal: H_ii = 1200 x_i² − 400 x_{i+1} + 2 (i < N−1) + 200 (i > 0) and
    // H_{i,i+1} = −400 x_i. Row i+1's contribution from term i is carried to the next step.
    template <class P>
    static void hessian_vector_product(const P& point, const P& direction, P& product) {
        const std::size_t n = size(point);
        const double* x = point.data();
        const double* v = direction.data();
        double* out = product.data();
        double carry = 0.0;
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const double off_diagonal = -400.0 * x[i];
            out[i] = carry + (1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0) * v[i] + off_diagonal * v[i + 1];
            carry = 200.0 * v[i + 1] + off_diagonal * v[i];
        }
        out[n - 1] = carry;
    }
};

// ---------------------------------------------------------------------------------------------
// Points: std::array<double, N> for the small problems, std::vector<double> for the large ones.
template <class P> struct point_size : std::integral_constant<std::size_t, 0> {};
template <std::size_t N> struct point_size<std::array<double, N>> : std::integral_constant<std::size_t, N> {};

template <class P>
P make_point(std::size_t n) {
    if constexpr (point_size<P>::value != 0) return P{};
    else return P(n, 0.0);
}

// Test points: deterministic, in [−1.5, 1.5], away from the minimum so that no quantity is
// dominated by cancellation.
template <class P>
P test_point(std::size_t n, std::uint64_t seed) {
    P x = make_point<P>(n);
    std::uint64_t state = 0x9e3779b97f4a7c15ULL * (seed + 1);
    for (double& xi : x) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        xi = -1.5 + 3.0 * static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);
    }
    return x;
}

// Relative difference of two vectors in the max norm: max_i |a_i − b_i| / max_i max(|a_i|, |b_i|).
template <class P>
double relative_difference(const P& a, const P& b) {
    double diff = 0.0;
    double scale = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max({scale, std::abs(a[i]), std::abs(b[i])});
    }
    return scale == 0.0 ? diff : diff / scale;
}
inline double relative_difference(double a, double b) {
    const double scale = std::max(std::abs(a), std::abs(b));
    return scale == 0.0 ? std::abs(a - b) : std::abs(a - b) / scale;
}

inline constexpr double tolerance = 1e-12;

// Compare generated (F) and hand-written (H) code on every quantity at a few points; print each
// disagreement to stderr and return false if there is one. A benchmark of a wrong baseline is
// worthless, so the programs stop before benchmarking when this fails. `largest` receives the
// largest relative difference seen.
template <class P, class F, class H>
bool agree(const std::string& problem, std::size_t n, const F& f, const H& h, double& largest) {
    bool ok = true;
    largest = 0.0;
    auto report = [&](const char* quantity, std::uint64_t seed, double difference) {
        largest = std::max(largest, difference);
        if (!(difference <= tolerance)) {
            std::fprintf(stderr, "%s: generated and hand-written %s differ at test point %llu: relative difference %.3e > %.0e\n",
                         problem.c_str(), quantity, static_cast<unsigned long long>(seed), difference, tolerance);
            ok = false;
        }
    };
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
        const P x = test_point<P>(n, seed);
        const P v = test_point<P>(n, seed + 100);
        P g_generated = make_point<P>(n), g_hand = make_point<P>(n), fused_g_generated = make_point<P>(n),
          fused_g_hand = make_point<P>(n), hv_generated = make_point<P>(n), hv_hand = make_point<P>(n);
        report("loss", seed, relative_difference(f.evaluate(x), h.loss(x)));
        f.gradient(x, g_generated);
        h.gradient(x, g_hand);
        report("gradient", seed, relative_difference(g_generated, g_hand));
        const double fused_generated = f.evaluate_with_gradient(x, fused_g_generated);
        const double fused_hand = h.loss_with_gradient(x, fused_g_hand);
        report("fused loss", seed, relative_difference(fused_generated, fused_hand));
        report("fused gradient", seed, relative_difference(fused_g_generated, fused_g_hand));
        report("fused gradient vs gradient", seed, relative_difference(fused_g_generated, g_generated));
        f.hessian_vector_product(x, v, hv_generated);
        h.hessian_vector_product(x, v, hv_hand);
        report("Hessian-vector product", seed, relative_difference(hv_generated, hv_hand));
    }
    return ok;
}

// ---------------------------------------------------------------------------------------------
// Benchmarks. Each iteration first hides the point from the optimizer (DoNotOptimize on a
// mutable point: the compiler must assume it, and all memory, changed and reload it), so nothing can
// be hoisted out of the loop, then hides the result so nothing can be discarded.

template <class P, class Loss, class Gradient, class Fused, class Product>
void register_four(const std::string& prefix, const std::string& implementation, std::size_t n, Loss loss,
                   Gradient gradient, Fused fused, Product product) {
    benchmark::RegisterBenchmark((prefix + "loss/" + implementation).c_str(), [=](benchmark::State& state) {
        P x = test_point<P>(n, 0);
        for (auto _ : state) {
            benchmark::DoNotOptimize(x);
            double value = loss(x);
            benchmark::DoNotOptimize(value);
        }
    });
    benchmark::RegisterBenchmark((prefix + "gradient/" + implementation).c_str(), [=](benchmark::State& state) {
        P x = test_point<P>(n, 0);
        P g = make_point<P>(n);
        for (auto _ : state) {
            benchmark::DoNotOptimize(x);
            gradient(x, g);
            benchmark::DoNotOptimize(g);
            benchmark::ClobberMemory();
        }
    });
    benchmark::RegisterBenchmark((prefix + "loss_and_gradient/" + implementation).c_str(), [=](benchmark::State& state) {
        P x = test_point<P>(n, 0);
        P g = make_point<P>(n);
        for (auto _ : state) {
            benchmark::DoNotOptimize(x);
            double value = fused(x, g);
            benchmark::DoNotOptimize(value);
            benchmark::DoNotOptimize(g);
            benchmark::ClobberMemory();
        }
    });
    benchmark::RegisterBenchmark((prefix + "hessian_vector_product/" + implementation).c_str(), [=](benchmark::State& state) {
        P x = test_point<P>(n, 0);
        P v = test_point<P>(n, 100);
        P out = make_point<P>(n);
        for (auto _ : state) {
            benchmark::DoNotOptimize(x);
            benchmark::DoNotOptimize(v);
            product(x, v, out);
            benchmark::DoNotOptimize(out);
            benchmark::ClobberMemory();
        }
    });
}

template <class P, class F>
void register_generated(const std::string& problem, std::size_t n, F f) {
    register_four<P>(problem + "/", "generated", n, [f](const P& x) { return f.evaluate(x); },
                     [f](const P& x, P& g) { f.gradient(x, g); },
                     [f](const P& x, P& g) { return f.evaluate_with_gradient(x, g); },
                     [f](const P& x, const P& v, P& out) { f.hessian_vector_product(x, v, out); });
}

template <class P, class H>
void register_hand_written(const std::string& problem, std::size_t n, H) {
    register_four<P>(problem + "/", "hand_written", n, [](const P& x) { return H::loss(x); },
                     [](const P& x, P& g) { H::gradient(x, g); },
                     [](const P& x, P& g) { return H::loss_with_gradient(x, g); },
                     [](const P& x, const P& v, P& out) { H::hessian_vector_product(x, v, out); });
}

// Check one problem, record the check's largest relative difference and the generated code's size
// in the benchmark context (it appears in the console header and in the JSON output), and register
// its eight benchmarks. Returns the check's result. P is the point type (std::array<double, n> by
// default, or std::vector<double> with n given).
template <class P, class F> struct point_for { using type = P; };
template <class F> struct point_for<void, F> { using type = std::array<double, F::dimension>; };

template <class P = void, class F, class H>
bool add_problem(const std::string& problem, const F& f, const H& h, std::size_t size = 0) {
    using point = typename point_for<P, F>::type;
    const std::size_t n = point_size<point>::value != 0 ? point_size<point>::value : size;
    double largest = 0.0;
    if (!agree<point>(problem, n, f, h, largest)) return false;
    char difference[32];
    std::snprintf(difference, sizeof difference, "%.1e", largest);
    benchmark::AddCustomContext(problem + ".largest_relative_difference", difference);
    std::string nonzeros;
    if constexpr (requires { F::hessian_nonzeros; }) nonzeros = std::to_string(F::hessian_nonzeros);
    else nonzeros = std::to_string(F::hessian_nonzeros_per_term) + " per term";
    benchmark::AddCustomContext(problem + ".nodes", "loss " + std::to_string(F::loss_nodes) + ", loss+gradient " +
                                                        std::to_string(F::fused_nodes) + ", Hessian non-zeros " + nonzeros);
    register_generated<point>(problem, n, f);
    register_hand_written<point>(problem, n, h);
    return true;
}

// The programs' main after the problems are added: stop if a check failed, otherwise run.
inline int run(int argc, char** argv, bool checks_passed) {
    if (!checks_passed) {
        std::fprintf(stderr, "generated and hand-written code disagree (tolerance %.0e relative); not benchmarking\n",
                     tolerance);
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace bench
