// MNIST (paper Fig. 4): the 784-512-512-10 LeakyReLU network with softmax cross-entropy, float32,
// a mini-batch of 20 Fashion-MNIST training images. One SGD step of the generated mlp against a
// hand-written xtensor/BLAS step in the same binary; one teleport (10 ascent steps on both layer
// pairs, eq. 8, teleport lr 1e-3, as the mnist driver takes it: in activation space) against the SGD
// step, and the same teleport evaluated from the weights (weight space); the parts of an ascent step
// in both (activation space: J with its gradient, the move of the state; weight space: H∇L, the
// factored gradient in the algebra, the group elements, the action).
//
// Benchmark names are "mnist/<quantity>/<implementation>"; bench/ratios.py prints the ratios,
// docs/performance.md has the commands and the results. Run with OPENBLAS_NUM_THREADS=1.
// The data: the first 20 training images of $TELEPORT_MNIST_DIR (default: Debian's Fashion-MNIST).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "teleport/network_teleport.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/problems/mlp.hpp"
#include "teleport/problems/mnist.hpp"

namespace {

using namespace teleport;
using T = float;
using act = tensor::leaky_relu<1, 10>;
using net_type = problems::mlp<T, 3, act, problems::mlp_loss::cross_entropy>;
using nonlinear = groups::layer_action<groups::nonlinear_layers, act>;
using matrix = tensor::matrix<T>;
using vector = xt::xtensor<T, 1>;

constexpr std::size_t batch = 20;
const std::vector<std::size_t> widths{784, 512, 512, 10};
constexpr double sgd_lr = 2e-3, teleport_lr = 1e-3;

// --- the hand-written baseline ------------------------------------------------------------------

void sgemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, const T* b, T* c) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
                1.0f, a, ta ? int(m) : int(k), b, tb ? int(k) : int(n), 0.0f, c, int(n));
}

/// L = mean over the columns of −Σ y log softmax(W3 σ(W2 σ(W1 X))) and its gradient, with buffers
/// allocated once; w and g hold W1, W2, W3 one after another, row-major (the mlp's layout).
struct hand_written_classifier {
    std::size_t d0, d1, d2, d3, n;
    const T *x, *y;
    std::vector<T> z1, h1, z2, h2, z3, d2v, d1v;

    hand_written_classifier(const matrix& xm, const matrix& ym)
        : d0(widths[0]), d1(widths[1]), d2(widths[2]), d3(widths[3]), n(xm.shape(1)), x(xm.data()), y(ym.data()),
          z1(d1 * n), h1(d1 * n), z2(d2 * n), h2(d2 * n), z3(d3 * n), d2v(d2 * n), d1v(d1 * n) {}

    T loss_with_gradient(const T* w, T* g) {
        const T *w1 = w, *w2 = w + d1 * d0, *w3 = w2 + d2 * d1;
        T *g1 = g, *g2 = g + d1 * d0, *g3 = g2 + d2 * d1;
        constexpr T alpha = 0.1f;
        sgemm(false, false, d1, n, d0, w1, x, z1.data());
        for (std::size_t i = 0; i < z1.size(); ++i) h1[i] = z1[i] > 0 ? z1[i] : alpha * z1[i];
        sgemm(false, false, d2, n, d1, w2, h1.data(), z2.data());
        for (std::size_t i = 0; i < z2.size(); ++i) h2[i] = z2[i] > 0 ? z2[i] : alpha * z2[i];
        sgemm(false, false, d3, n, d2, w3, h2.data(), z3.data());
        // softmax per column; z3 becomes (P − Y)/n
        T loss = 0;
        for (std::size_t j = 0; j < n; ++j) {
            T top = z3[j];
            for (std::size_t i = 1; i < d3; ++i) top = std::max(top, z3[i * n + j]);
            T sum = 0;
            for (std::size_t i = 0; i < d3; ++i) sum += std::exp(z3[i * n + j] - top);
            const T log_sum = std::log(sum) + top;
            for (std::size_t i = 0; i < d3; ++i) {
                const T zij = z3[i * n + j];
                loss -= y[i * n + j] * (zij - log_sum);
                z3[i * n + j] = (std::exp(zij - log_sum) - y[i * n + j]) / T(n);
            }
        }
        sgemm(false, true, d3, d2, n, z3.data(), h2.data(), g3);   // G3 = D3 H2ᵀ
        sgemm(true, false, d2, n, d3, w3, z3.data(), d2v.data());  // W3ᵀ D3
        for (std::size_t i = 0; i < d2v.size(); ++i) d2v[i] *= z2[i] > 0 ? T(1) : alpha;
        sgemm(false, true, d2, d1, n, d2v.data(), h1.data(), g2);  // G2 = D2 H1ᵀ
        sgemm(true, false, d1, n, d2, w2, d2v.data(), d1v.data()); // W2ᵀ D2
        for (std::size_t i = 0; i < d1v.size(); ++i) d1v[i] *= z1[i] > 0 ? T(1) : alpha;
        sgemm(false, true, d1, d0, n, d1v.data(), x, g1);          // G1 = D1 Xᵀ
        return loss / T(n);
    }
};

// --- the setting ----------------------------------------------------------------------------------

struct setting {
    matrix x, y;
    vector w;  // PyTorch's nn.Linear initialization, as the mnist driver draws it
};

const setting& data() {
    static const setting s = [] {
        const char* dir = std::getenv("TELEPORT_MNIST_DIR");
        const auto split = problems::load_mnist<T>(dir ? dir : problems::default_mnist_dir, 0, 0.8, 200);
        setting out;
        out.x = xt::view(split.train_x, xt::all(), xt::range(0, batch));
        out.y = problems::one_hot<T>(std::span<const std::uint8_t>(split.train_y).first(batch));
        out.w = problems::linear_init(net_type(widths, out.x, out.y), 0);
        return out;
    }();
    return s;
}

void sgd_generated(benchmark::State& state) {
    const auto& s = data();
    const net_type net(widths, s.x, s.y);
    auto w = s.w;
    auto g = zeros_like(w);
    const gd opt{1e-30};  // the point stays put; the work is the same
    auto st = opt.make_state(w);
    for (auto _ : state) {
        benchmark::DoNotOptimize(w.data());
        benchmark::DoNotOptimize(net.evaluate_with_gradient(w, g));
        opt.step(st, w, g);
        benchmark::ClobberMemory();
    }
}

void sgd_hand_written(benchmark::State& state) {
    const auto& s = data();
    auto w = s.w;
    std::vector<T> g(w.size());
    hand_written_classifier hand(s.x, s.y);
    const T lr = 1e-30f;
    for (auto _ : state) {
        benchmark::DoNotOptimize(w.data());
        benchmark::DoNotOptimize(hand.loss_with_gradient(w.data(), g.data()));
        for (std::size_t i = 0; i < g.size(); ++i) w[i] -= lr * g[i];
        benchmark::ClobberMemory();
    }
}

// The whole teleport as the mnist driver takes it by default: the safeguarded search (normalized
// ascent, 10 steps of at most 0.1) under eq. 8's minimal-change form, in activation space; or with every step
// evaluated from the weights by the generated Hessian-vector product (weight space); or the paper's
// teleport (gradient ascent at lr 1e-3, the projection form).
enum class teleport_kind { safeguarded, paper };

void whole_teleport(benchmark::State& state, detail::evaluation how, teleport_kind kind) {
    const auto& s = data();
    const net_type net(widths, s.x, s.y);
    const bool paper = kind == teleport_kind::paper;
    const nonlinear action(net.shape(), {1, 2}, exp_map::exact,
                           paper ? groups::action_form::projection : groups::action_form::minimal_change);
    teleport_settings settings;
    if (paper) settings.strategy = gradient_ascent{10, teleport_lr};
    else settings.strategy = normalized_ascent{10, 0.1, 40, 0.1};  // the mnist driver's steps of 0.1
    settings.tolerance = 1e-5;  // the driver's float32 tolerance
    std::size_t accepted = 0, total = 0, evaluations = 0;
    double gain = 0, change = 0;
    for (auto _ : state) {
        auto w = s.w;
        std::mt19937_64 rng(0);
        teleport_report report;
        detail::teleport_network(net, action, w, settings, rng, report, nullptr, how);
        accepted += report.accepted ? 1 : 0;
        ++total;
        gain = report.grad_norm_sq_after / report.grad_norm_sq_before;
        change = report.relative_loss_change;
        evaluations = report.objective_evaluations;
        benchmark::DoNotOptimize(w.data());
    }
    state.counters["accepted_fraction"] = double(accepted) / double(total);
    state.counters["grad_norm_sq_gain"] = gain;
    state.counters["relative_loss_change"] = change;
    state.counters["objective_evaluations"] = double(evaluations);
}

/// The weights projected as a teleport starts, and the objective's factored gradient there.
struct teleport_setup {
    net_type net;
    nonlinear action;
    network_teleport_objective<net_type, nonlinear> objective;
    vector w;
    std::vector<groups::low_rank<T>> grad;

    teleport_setup()
        : net(widths, data().x, data().y), action(net.shape(), {1, 2}), objective(net, action), w(data().w) {
        action.apply(action.factored_identity<T>(), w, net.x());
        objective.value_and_gradient(w, grad);
    }
    teleport_setup(const teleport_setup&) = delete;  // objective points at net and action
};

void ascent_step(benchmark::State& state) {
    const teleport_setup t;
    std::vector<groups::low_rank<T>> grad;
    auto w = t.w;
    for (auto _ : state) {
        w = t.w;
        benchmark::DoNotOptimize(t.objective.value_and_gradient(w, grad));
        t.action.apply(t.action.elements(grad, T(teleport_lr)), w, t.net.x());
        benchmark::DoNotOptimize(w.data());
    }
}

// One ascent step in activation space, from a copy of the state at the projected start (the copy,
// about 0.4 MB, is timed too, as the weight-space step's copy of the weights is).
void ascent_step_activation_space(benchmark::State& state) {
    const teleport_setup t;
    activation_space_objective<net_type, nonlinear> start(t.net, t.action);
    start.reset(t.w);
    std::vector<groups::low_rank<T>> grad;
    for (auto _ : state) {
        auto s = start;
        benchmark::DoNotOptimize(s.value_and_gradient(grad));
        s.apply(t.action.elements(grad, T(teleport_lr)));
    }
}

void objective_gradient_activation_space(benchmark::State& state) {
    const teleport_setup t;
    activation_space_objective<net_type, nonlinear> s(t.net, t.action);
    s.reset(t.w);
    std::vector<groups::low_rank<T>> grad;
    for (auto _ : state) benchmark::DoNotOptimize(s.value_and_gradient(grad));
}

void apply_activation_space(benchmark::State& state) {
    const teleport_setup t;
    activation_space_objective<net_type, nonlinear> start(t.net, t.action);
    start.reset(t.w);
    std::vector<groups::low_rank<T>> grad;  // the factors the activation-space search steps along (rank 2b)
    start.value_and_gradient(grad);
    const auto elements = t.action.elements(grad, T(teleport_lr));
    for (auto _ : state) {
        auto s = start;
        s.apply(elements);
        benchmark::ClobberMemory();
    }
}

// The copy of the activation-space state a trial step makes (about 1.5 MB in the minimal form).
void copy_activation_space(benchmark::State& state) {
    const teleport_setup t;
    activation_space_objective<net_type, nonlinear> start(t.net, t.action);
    start.reset(t.w);
    for (auto _ : state) {
        auto s = start;
        benchmark::DoNotOptimize(&s);
        benchmark::ClobberMemory();
    }
}

// The group elements of an activation-space step (two exponentials of 2r x 2r matrices).
void group_elements_activation_space(benchmark::State& state) {
    const teleport_setup t;
    activation_space_objective<net_type, nonlinear> start(t.net, t.action);
    start.reset(t.w);
    std::vector<groups::low_rank<T>> grad;
    start.value_and_gradient(grad);
    for (auto _ : state) benchmark::DoNotOptimize(t.action.elements(grad, T(teleport_lr)));
}

void hessian_vector(benchmark::State& state) {
    const teleport_setup t;
    auto g = zeros_like(t.w), hv = zeros_like(t.w);
    for (auto _ : state) benchmark::DoNotOptimize(t.net.hessian_vector_product(t.w, g, g, hv));
}

void gradient_factors(benchmark::State& state) {
    const teleport_setup t;
    auto g = zeros_like(t.w);
    t.net.evaluate_with_gradient(t.w, g);
    for (auto _ : state) benchmark::DoNotOptimize(t.action.gradient_factors(t.w, g, t.net.x()));
}

void group_elements(benchmark::State& state) {
    const teleport_setup t;
    for (auto _ : state) benchmark::DoNotOptimize(t.action.elements(t.grad, T(teleport_lr)));
}

void apply_action(benchmark::State& state) {
    const teleport_setup t;
    const auto elements = t.action.elements(t.grad, T(teleport_lr));
    auto w = t.w;
    for (auto _ : state) {
        w = t.w;
        t.action.apply(elements, w, t.net.x());
        benchmark::DoNotOptimize(w.data());
    }
}

/// Generated and hand-written gradients must agree (float32) before anything is timed.
bool agree() {
    const auto& s = data();
    const net_type net(widths, s.x, s.y);
    auto g = zeros_like(s.w);
    const T loss = net.evaluate_with_gradient(s.w, g);
    std::vector<T> h(s.w.size());
    hand_written_classifier hand(s.x, s.y);
    const T hand_loss = hand.loss_with_gradient(s.w.data(), h.data());
    double worst = std::abs(double(loss) - double(hand_loss)) / std::abs(double(hand_loss)), scale = 0;
    for (T e : h) scale = std::max(scale, double(std::abs(e)));
    for (std::size_t i = 0; i < h.size(); ++i) worst = std::max(worst, std::abs(double(g[i]) - double(h[i])) / scale);
    if (!(worst <= 1e-4)) {
        std::fprintf(stderr, "mnist: generated and hand-written results differ by %.3g (relative)\n", worst);
        return false;
    }
    char difference[32];
    std::snprintf(difference, sizeof difference, "%.1e", worst);
    benchmark::AddCustomContext("mnist.largest_relative_difference", difference);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (!agree()) return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_mnist: %s\n", e.what());
        return 1;
    }
    benchmark::RegisterBenchmark("mnist/sgd_step/generated", sgd_generated);
    benchmark::RegisterBenchmark("mnist/sgd_step/hand_written", sgd_hand_written);
    benchmark::RegisterBenchmark("mnist/teleport_10_steps/activation_space", whole_teleport,
                                 detail::evaluation::automatic, teleport_kind::safeguarded);
    benchmark::RegisterBenchmark("mnist/teleport_10_steps/weight_space", whole_teleport, detail::evaluation::weights,
                                 teleport_kind::safeguarded);
    benchmark::RegisterBenchmark("mnist/paper_teleport_10_steps/activation_space", whole_teleport,
                                 detail::evaluation::automatic, teleport_kind::paper);
    benchmark::RegisterBenchmark("mnist/ascent_step/activation_space", ascent_step_activation_space);
    benchmark::RegisterBenchmark("mnist/objective_gradient/activation_space", objective_gradient_activation_space);
    benchmark::RegisterBenchmark("mnist/apply_action/activation_space", apply_activation_space);
    benchmark::RegisterBenchmark("mnist/copy_state/activation_space", copy_activation_space);
    benchmark::RegisterBenchmark("mnist/group_elements/activation_space", group_elements_activation_space);
    benchmark::RegisterBenchmark("mnist/ascent_step/weight_space", ascent_step);
    benchmark::RegisterBenchmark("mnist/hessian_vector_product/generated", hessian_vector);
    benchmark::RegisterBenchmark("mnist/gradient_factors/generated", gradient_factors);
    benchmark::RegisterBenchmark("mnist/group_elements/generated", group_elements);
    benchmark::RegisterBenchmark("mnist/apply_action/generated", apply_action);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
