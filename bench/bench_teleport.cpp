// One teleport ascent step against one GD step on each test function, in the same binary.
// A GD step: the generated gradient and x ← x − lr·∇L. An ascent step: the generated teleport
// objective's value and gradient (gradient at w′, Hessian-vector product at w′, the action's
// derivative along ∂g/∂θ) and θ ← θ + lr·∇J. The ratio ascent/GD is printed by the program.
#include <array>
#include <cstdio>

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

const auto rosenbrock = teleport::problems::rosenbrock();
const auto rosenbrock_action = teleport::problems::rosenbrock_action();
const auto booth = teleport::problems::booth();
const auto booth_action = teleport::problems::booth_action();

void rosenbrock_gd(benchmark::State& s) { gd_step(s, rosenbrock, {-1.0, -1.0}); }
void rosenbrock_ascent(benchmark::State& s) { ascent_step(s, rosenbrock, rosenbrock_action, {-1.0, -1.0}); }
void booth_gd(benchmark::State& s) { gd_step(s, booth, {5.0, -5.0}); }
void booth_ascent(benchmark::State& s) { ascent_step(s, booth, booth_action, {5.0, -5.0}); }

BENCHMARK(rosenbrock_gd);
BENCHMARK(rosenbrock_ascent);
BENCHMARK(booth_gd);
BENCHMARK(booth_ascent);

}  // namespace

BENCHMARK_MAIN();
