// One teleport ascent step against one GD step on each test function, in the same binary.
// A GD step: the generated gradient and x ← x − lr·∇L. An ascent step: the generated teleport
// objective's value and gradient (gradient at w′, Hessian-vector product at w′, the action's
// derivative along ∂g/∂θ) and θ ← θ + lr·∇J. The ratio ascent/GD is printed by the program.
// A whole teleport: teleport_once with the paper's 10-step gradient ascent from a fixed θ₀
// (measure, search, acceptance and report), and 100 steps of Algorithm 1 with one such teleport
// (optimize_with_teleport: the loop, its hooks and records).
#include <array>
#include <cstdio>
#include <random>

#include <benchmark/benchmark.h>

#include "teleport/train/optimizers.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/rosenbrock.hpp"
#include "teleport/teleport.hpp"

namespace {

template <class F>
void gd_step(benchmark::State& state, const F& f, std::array<double, 2> start) {
    const teleport::gd opt{1e-12};  // tiny: the point stays where it is, the work is the same
    auto s = opt.make_state(start);
    std::array<double, 2> x = start;
    std::array<double, 2> g{};
    for (auto _ : state) {
        benchmark::DoNotOptimize(x);
        f.gradient(x, g);
        opt.step(s, x, g);
        benchmark::DoNotOptimize(x);
    }
}

template <class F, class Action>
void ascent_step(benchmark::State& state, const F& f, const Action& action, std::array<double, 2> start) {
    const teleport::teleport_objective objective(f, action, start);
    std::array<double, 1> theta{0.3};
    std::array<double, 1> grad{};
    for (auto _ : state) {
        benchmark::DoNotOptimize(theta);
        objective.value_and_gradient(theta, grad);
        theta[0] += 1e-12 * grad[0];
        benchmark::DoNotOptimize(theta);
    }
}

template <class F, class Action>
void whole_teleport(benchmark::State& state, const F& f, const Action& action, std::array<double, 2> start) {
    teleport::teleport_settings settings;
    settings.strategy = teleport::gradient_ascent{10, 1e-3};
    settings.start.given = {0.3};
    std::mt19937_64 rng(0);
    teleport::teleport_report report;
    std::size_t accepted = 0;
    for (auto _ : state) {
        std::array<double, 2> w = start;
        benchmark::DoNotOptimize(w);
        teleport::teleport_once(f, action, w, settings, rng, report);
        accepted += report.accepted ? 1 : 0;
        benchmark::DoNotOptimize(w);
    }
    state.counters["accepted_fraction"] = double(accepted) / double(state.iterations());
}

template <class F, class Action>
void algorithm1_100(benchmark::State& state, const F& f, const Action& action, std::array<double, 2> start) {
    teleport::teleport_settings settings;
    settings.strategy = teleport::gradient_ascent{10, 1e-3};
    settings.start.given = {0.3};
    const auto schedule = teleport::teleport_schedule::once(50);
    for (auto _ : state) {
        std::array<double, 2> w = start;
        const auto run = teleport::optimize_with_teleport(teleport::gd{1e-4}, f, action, w, 100, schedule, settings, 0);
        benchmark::DoNotOptimize(run.steps.data());
        benchmark::DoNotOptimize(w);
    }
}

const auto rosenbrock = teleport::problems::rosenbrock();
const auto rosenbrock_action = teleport::problems::rosenbrock_action();
const auto booth = teleport::problems::booth();
const auto booth_action = teleport::problems::booth_action();

void rosenbrock_gd(benchmark::State& s) { gd_step(s, rosenbrock, {-1.0, -1.0}); }
void rosenbrock_ascent(benchmark::State& s) { ascent_step(s, rosenbrock, rosenbrock_action, {-1.0, -1.0}); }
void booth_gd(benchmark::State& s) { gd_step(s, booth, {5.0, -5.0}); }
void booth_ascent(benchmark::State& s) { ascent_step(s, booth, booth_action, {5.0, -5.0}); }

void rosenbrock_teleport(benchmark::State& s) { whole_teleport(s, rosenbrock, rosenbrock_action, {-1.0, -1.0}); }
void booth_teleport(benchmark::State& s) { whole_teleport(s, booth, booth_action, {5.0, -5.0}); }
void rosenbrock_algorithm1(benchmark::State& s) { algorithm1_100(s, rosenbrock, rosenbrock_action, {-1.0, -1.0}); }

BENCHMARK(rosenbrock_gd);
BENCHMARK(rosenbrock_ascent);
BENCHMARK(booth_gd);
BENCHMARK(booth_ascent);
BENCHMARK(rosenbrock_teleport);
BENCHMARK(booth_teleport);
BENCHMARK(rosenbrock_algorithm1);

}  // namespace

BENCHMARK_MAIN();
