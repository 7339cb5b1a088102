// Networks: one GD epoch of the generated mlp against a hand-written forward/backward pass in the
// same binary, on the paper's regression network (X 5×4, W 6×5, 7×6, 8×7, Y 8×4) and on a 128×3
// network (128×128 weights and data); one teleport ascent step (the teleport objective's value and
// gradient, the group elements, the action) against one GD epoch at 128×3, with its parts; a whole
// 8-step teleport on the paper's network. LeakyReLU(0.1), squared error, double.
//
// Benchmark names are "<network>/<quantity>/<implementation>"; bench/ratios.py turns the JSON output
// into the ratios, docs/performance.md has the commands and the results. Run with
// OPENBLAS_NUM_THREADS=1.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "teleport/network_teleport.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/problems/mlp.hpp"
#include "teleport/tensor/dense.hpp"

namespace {

using namespace teleport;
using act = tensor::leaky_relu<1, 10>;
using net3 = problems::mlp<double, 3, act>;
using nonlinear = groups::layer_action<groups::nonlinear_layers, act>;
using matrix = tensor::matrix<double>;

// --- the hand-written baseline ------------------------------------------------------------------

/// C = op(A) op(B) (row-major; op = transpose when the flag is set): a plain loop for products
/// small enough that a BLAS call's overhead dominates (the library's rule, m·n·k ≤ 4096), else dgemm.
/// The loop keeps four sums of a row of C in registers and stores each once (as the library's does):
/// the textbook one-sum-at-a-time loop is 1.5× slower on the paper network's products, and adding
/// into C in memory for every p twice as slow.
void hand_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* a, const double* b,
               double* c) {
    if (m * n * k <= 4096) {
        const std::size_t a_row = ta ? 1 : k, a_step = ta ? m : 1;  // A(i, p) = a[i a_row + p a_step]
        const std::size_t b_step = tb ? 1 : n, b_col = tb ? k : 1;  // B(p, j) = b[p b_step + j b_col]
        for (std::size_t i = 0; i < m; ++i) {
            const double* ai = a + i * a_row;
            std::size_t j = 0;
            for (; j + 4 <= n; j += 4) {
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (std::size_t p = 0; p < k; ++p) {
                    const double x = ai[p * a_step];
                    const double* bp = b + p * b_step + j * b_col;
                    s0 += x * bp[0];
                    s1 += x * bp[b_col];
                    s2 += x * bp[2 * b_col];
                    s3 += x * bp[3 * b_col];
                }
                c[i * n + j] = s0;
                c[i * n + j + 1] = s1;
                c[i * n + j + 2] = s2;
                c[i * n + j + 3] = s3;
            }
            for (; j < n; ++j) {
                double s = 0;
                for (std::size_t p = 0; p < k; ++p) s += ai[p * a_step] * b[p * b_step + j * b_col];
                c[i * n + j] = s;
            }
        }
        return;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
                1.0, a, ta ? int(m) : int(k), b, tb ? int(k) : int(n), 0.0, c, int(n));
}

/// L = ½‖Y − W3 σ(W2 σ(W1 X))‖² and its gradient, written out with preallocated buffers; w and g
/// hold W1, W2, W3 one after another, row-major (the mlp's layout).
struct hand_written_mlp3 {
    std::size_t d0, d1, d2, d3, n;
    const double *x, *y;
    std::vector<double> z1, h1, z2, h2, r, d2v, d1v;

    hand_written_mlp3(const std::vector<std::size_t>& widths, const matrix& xm, const matrix& ym)
        : d0(widths[0]), d1(widths[1]), d2(widths[2]), d3(widths[3]), n(xm.shape(1)), x(xm.data()), y(ym.data()),
          z1(d1 * n), h1(d1 * n), z2(d2 * n), h2(d2 * n), r(d3 * n), d2v(d2 * n), d1v(d1 * n) {}

    double loss_with_gradient(const double* w, double* g) {
        const double *w1 = w, *w2 = w + d1 * d0, *w3 = w2 + d2 * d1;
        double *g1 = g, *g2 = g + d1 * d0, *g3 = g2 + d2 * d1;
        constexpr double alpha = 0.1;
        hand_gemm(false, false, d1, n, d0, w1, x, z1.data());
        for (std::size_t i = 0; i < z1.size(); ++i) h1[i] = z1[i] > 0 ? z1[i] : alpha * z1[i];
        hand_gemm(false, false, d2, n, d1, w2, h1.data(), z2.data());
        for (std::size_t i = 0; i < z2.size(); ++i) h2[i] = z2[i] > 0 ? z2[i] : alpha * z2[i];
        hand_gemm(false, false, d3, n, d2, w3, h2.data(), r.data());
        double loss = 0;
        for (std::size_t i = 0; i < r.size(); ++i) {
            r[i] -= y[i];
            loss += r[i] * r[i];
        }
        hand_gemm(false, true, d3, d2, n, r.data(), h2.data(), g3);           // G3 = R H2ᵀ
        hand_gemm(true, false, d2, n, d3, w3, r.data(), d2v.data());          // W3ᵀ R
        for (std::size_t i = 0; i < d2v.size(); ++i) d2v[i] *= z2[i] > 0 ? 1.0 : alpha;
        hand_gemm(false, true, d2, d1, n, d2v.data(), h1.data(), g2);         // G2 = D2 H1ᵀ
        hand_gemm(true, false, d1, n, d2, w2, d2v.data(), d1v.data());        // W2ᵀ D2
        for (std::size_t i = 0; i < d1v.size(); ++i) d1v[i] *= z1[i] > 0 ? 1.0 : alpha;
        hand_gemm(false, true, d1, d0, n, d1v.data(), x, g1);                 // G1 = D1 Xᵀ
        return 0.5 * loss;
    }
};

// --- the networks ---------------------------------------------------------------------------------

struct network {
    std::vector<std::size_t> widths;
    matrix x, y;
    std::vector<matrix> weights;
};

/// Uniform [0, 1) entries (the paper's initialization) scaled by `scale`.
network uniform_network(std::vector<std::size_t> widths, std::size_t samples, double scale, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto draw = [&](std::size_t r, std::size_t c, double s) {
        matrix m({r, c});
        for (auto& e : m) e = s * u(rng);
        return m;
    };
    network n{widths, draw(widths.front(), samples, 1.0), draw(widths.back(), samples, 1.0), {}};
    for (std::size_t m = 1; m < widths.size(); ++m) n.weights.push_back(draw(widths[m], widths[m - 1], scale));
    return n;
}

const network& paper() {
    static const network n = uniform_network({5, 6, 7, 8}, 4, 1.0, 1);
    return n;
}
const network& wide() {
    // weights uniform in [0, 1/d): activations stay of order one through the layers
    static const network n = uniform_network({128, 128, 128, 128}, 128, 1.0 / 128, 2);
    return n;
}

void gd_generated(benchmark::State& state, const network& nw) {
    const net3 net(nw.widths, nw.x, nw.y);
    auto w = net.pack(nw.weights);
    auto g = zeros_like(w);
    const gd opt{1e-300};  // the point stays put; the work is the same
    auto s = opt.make_state(w);
    for (auto _ : state) {
        benchmark::DoNotOptimize(w.data());
        benchmark::DoNotOptimize(net.evaluate_with_gradient(w, g));
        opt.step(s, w, g);
        benchmark::ClobberMemory();
    }
}

void gd_hand_written(benchmark::State& state, const network& nw) {
    const net3 net(nw.widths, nw.x, nw.y);
    auto w = net.pack(nw.weights);
    std::vector<double> g(w.size());
    hand_written_mlp3 hand(nw.widths, nw.x, nw.y);
    const double lr = 1e-300;
    for (auto _ : state) {
        benchmark::DoNotOptimize(w.data());
        benchmark::DoNotOptimize(hand.loss_with_gradient(w.data(), g.data()));
        for (std::size_t i = 0; i < g.size(); ++i) w[i] -= lr * g[i];
        benchmark::ClobberMemory();
    }
}

/// A network with the eq. 8 action on both pairs, its teleport objective, the weights projected as
/// teleport_network starts (W_k ↦ W_k h̃ h̃⁺), and lr·∂J/∂T there.
struct teleport_setup {
    net3 net;
    nonlinear action;
    network_teleport_objective<net3, nonlinear> objective;
    net3::parameters w;
    std::vector<matrix> step;  // lr·∂J/∂T at w

    teleport_setup(const network& nw, double lr)
        : net(nw.widths, nw.x, nw.y), action(net.shape(), {1, 2}), objective(net, action), w(net.pack(nw.weights)) {
        action.apply(action.identity<double>(), w, net.x());
        objective.value_and_gradient(w, step);
        for (auto& m : step) m *= lr;
    }
    teleport_setup(const teleport_setup&) = delete;  // objective points at net and action
};

/// One ascent step as teleport_network takes it: J and ∂J/∂T at the current point, the group
/// elements of lr·∂J/∂T, and the action applied to the weights.
void ascent_step(benchmark::State& state, const network& nw, double lr) {
    const teleport_setup t(nw, lr);
    std::vector<matrix> grad;
    auto w = t.w;
    for (auto _ : state) {
        w = t.w;  // each step from the same point: a copy into the same storage, no allocation
        benchmark::DoNotOptimize(t.objective.value_and_gradient(w, grad));
        for (auto& m : grad) m *= lr;
        t.action.apply(t.action.elements(grad), w, t.net.x());
        benchmark::DoNotOptimize(w.data());
    }
}

void objective_gradient(benchmark::State& state, const network& nw) {
    const teleport_setup t(nw, 1.0);
    std::vector<matrix> grad;
    for (auto _ : state) benchmark::DoNotOptimize(t.objective.value_and_gradient(t.w, grad));
}

void hessian_vector(benchmark::State& state, const network& nw) {
    const net3 net(nw.widths, nw.x, nw.y);
    const auto w = net.pack(nw.weights);
    auto g = zeros_like(w), hv = zeros_like(w);
    for (auto _ : state) benchmark::DoNotOptimize(net.hessian_vector_product(w, g, g, hv));
}

void action_gradient(benchmark::State& state, const network& nw) {
    const teleport_setup t(nw, 1.0);
    auto g = zeros_like(t.w);
    t.net.evaluate_with_gradient(t.w, g);
    for (auto _ : state) benchmark::DoNotOptimize(t.action.gradient_at_identity(t.w, g, t.net.x()));
}

void group_elements(benchmark::State& state, const network& nw, double lr) {
    const teleport_setup t(nw, lr);
    for (auto _ : state) benchmark::DoNotOptimize(t.action.elements(t.step));
}

void apply_action(benchmark::State& state, const network& nw, double lr) {
    const teleport_setup t(nw, lr);
    const auto elements = t.action.elements(t.step);
    auto w = t.w;
    for (auto _ : state) {
        w = t.w;
        t.action.apply(elements, w, t.net.x());
        benchmark::DoNotOptimize(w.data());
    }
}

void whole_teleport(benchmark::State& state, const network& nw, double lr, std::size_t steps) {
    const net3 net(nw.widths, nw.x, nw.y);
    const nonlinear action(net.shape(), {1, 2});
    const auto w0 = net.pack(nw.weights);
    teleport_settings settings;
    settings.strategy = gradient_ascent{steps, lr};
    std::size_t accepted = 0, total = 0;
    for (auto _ : state) {
        auto w = w0;
        std::mt19937_64 rng(0);
        teleport_report report;
        teleport_network(net, action, w, settings, rng, report);
        accepted += report.accepted ? 1 : 0;
        ++total;
        benchmark::DoNotOptimize(w.data());
    }
    state.counters["accepted_fraction"] = double(accepted) / double(total);
}

/// The teleport learning rate used for a network: 1e-3 / ‖∂J/∂T‖, so that each step moves by a
/// group element of norm 1e-3 (finite, accepted, and typical of a working teleport).
double ascent_rate(const network& nw) {
    const teleport_setup t(nw, 1.0);
    double s = 0;
    for (const auto& m : t.step)
        for (double e : m) s += e * e;
    return 1e-3 / std::sqrt(s);
}

/// Generated and hand-written gradients must agree before anything is timed; the largest relative
/// difference goes into the benchmark context as "<network>.largest_relative_difference".
bool agree(const network& nw, const std::string& name) {
    const net3 net(nw.widths, nw.x, nw.y);
    const auto w = net.pack(nw.weights);
    auto g = zeros_like(w);
    const double loss = net.evaluate_with_gradient(w, g);
    std::vector<double> h(w.size());
    hand_written_mlp3 hand(nw.widths, nw.x, nw.y);
    const double hand_loss = hand.loss_with_gradient(w.data(), h.data());
    double worst = std::abs(loss - hand_loss) / std::abs(hand_loss), scale = 0;
    for (double e : h) scale = std::max(scale, std::abs(e));
    for (std::size_t i = 0; i < h.size(); ++i) worst = std::max(worst, std::abs(g[i] - h[i]) / scale);
    if (!(worst <= 1e-12)) {
        std::fprintf(stderr, "%s: generated and hand-written results differ by %.3g (relative)\n", name.c_str(), worst);
        return false;
    }
    char difference[32];
    std::snprintf(difference, sizeof difference, "%.1e", worst);
    benchmark::AddCustomContext(name + ".largest_relative_difference", difference);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (!agree(paper(), "paper") || !agree(wide(), "wide128x3")) return 1;
    const double paper_rate = ascent_rate(paper()), wide_rate = ascent_rate(wide());
    benchmark::RegisterBenchmark("paper/gd_epoch/generated", gd_generated, paper());
    benchmark::RegisterBenchmark("paper/gd_epoch/hand_written", gd_hand_written, paper());
    benchmark::RegisterBenchmark("paper/teleport_8_steps/generated", whole_teleport, paper(), paper_rate, 8);
    benchmark::RegisterBenchmark("paper/ascent_step/generated", ascent_step, paper(), paper_rate);
    benchmark::RegisterBenchmark("wide128x3/gd_epoch/generated", gd_generated, wide());
    benchmark::RegisterBenchmark("wide128x3/gd_epoch/hand_written", gd_hand_written, wide());
    benchmark::RegisterBenchmark("wide128x3/ascent_step/generated", ascent_step, wide(), wide_rate);
    benchmark::RegisterBenchmark("wide128x3/objective_gradient/generated", objective_gradient, wide());
    benchmark::RegisterBenchmark("wide128x3/hessian_vector_product/generated", hessian_vector, wide());
    benchmark::RegisterBenchmark("wide128x3/action_gradient_at_identity/generated", action_gradient, wide());
    benchmark::RegisterBenchmark("wide128x3/group_elements/generated", group_elements, wide(), wide_rate);
    benchmark::RegisterBenchmark("wide128x3/apply_action/generated", apply_action, wide(), wide_rate);
    benchmark::RegisterBenchmark("wide128x3/teleport_10_steps/generated", whole_teleport, wide(), wide_rate, 10);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
