// The linear state-space fit as a recurrence (problems/teleport/problems/state_space.hpp: every
// derivative generated from one time step) against the hand-written loss of
// docs/examples/state_space_fit.hpp (the user's own forward loop, adjoint recursion and
// forward-over-reverse Hessian-vector product), in the same binary, at horizons K = 200 and 10,000:
//   loss, gradient, loss_and_gradient, hessian_vector_product   generated and hand-written
//   gradient, hessian_vector_product with states recomputed from ⌈√K⌉ checkpoints (generated only)
// Names are "state_space_<K>/<quantity>/<generated|hand_written|generated_sqrt_k>" (bench/ratios.py).
// Targets (issue 16): generated gradient ≤ 3× the generated loss at K = 10,000 and ≤ 1.3× the
// hand-written adjoint. Before timing, the program checks that both agree on every quantity to
// 1e-12 (relative, bench_common.hpp's tolerance) at four points near the true system, and stops
// otherwise.
#include <array>
#include <cstddef>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "../docs/examples/state_space_fit.hpp"
#include "bench_common.hpp"
#include "teleport/problems/state_space.hpp"

namespace {

using point = std::array<double, 15>;
constexpr point truth{0.8, 0.2, 0.0, -0.2, 0.7, 0.1, 0.0, 0.1, 0.5, 1.0, 0.5, -0.3, 1.0, 0.0, 0.5};

// A point near the true system (far from a stable one, a 10,000-step simulation overflows).
point near_truth(std::uint64_t seed, double spread) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, spread);
    point p = truth;
    for (double& e : p) e += normal(rng);
    return p;
}
point direction(std::uint64_t seed) {
    std::mt19937_64 rng(seed + 1000);
    std::normal_distribution<double> normal;
    point v{};
    for (double& e : v) e = normal(rng);
    return v;
}

template <class F>
bool agree(const std::string& problem, const F& generated, const simulation::state_space_fit& hand, double& largest) {
    bool ok = true;
    largest = 0;
    auto report = [&](const char* quantity, std::uint64_t seed, double difference) {
        largest = std::max(largest, difference);
        if (!(difference <= bench::tolerance)) {
            std::fprintf(stderr, "%s: generated and hand-written %s differ at point %llu: relative difference %.3e\n",
                         problem.c_str(), quantity, static_cast<unsigned long long>(seed), difference);
            ok = false;
        }
    };
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
        const point p = near_truth(seed, 0.1), v = direction(seed);
        point g{}, gh{}, fused{}, fused_h{}, hv{}, hv_h{};
        report("loss", seed, bench::relative_difference(generated.evaluate(p), hand.evaluate(p)));
        generated.gradient(p, g);
        hand.gradient(p, gh);
        report("gradient", seed, bench::relative_difference(g, gh));
        const double loss = generated.evaluate_with_gradient(p, fused), loss_h = hand.evaluate_with_gradient(p, fused_h);
        report("fused loss", seed, bench::relative_difference(loss, loss_h));
        report("fused gradient", seed, bench::relative_difference(fused, fused_h));
        generated.hessian_vector_product(p, v, hv);
        hand.hessian_vector_product(p, v, hv_h);
        report("Hessian-vector product", seed, bench::relative_difference(hv, hv_h));
    }
    return ok;
}

template <class Loss, class Gradient, class Fused, class Product>
void register_quantities(const std::string& prefix, const std::string& implementation, Loss loss, Gradient gradient,
                         Fused fused, Product product) {
    if constexpr (!std::is_same_v<Loss, std::nullptr_t>) {
        benchmark::RegisterBenchmark((prefix + "loss/" + implementation).c_str(), [=](benchmark::State& state) {
            point p = near_truth(0, 0.1);
            for (auto _ : state) {
                benchmark::DoNotOptimize(p);
                double value = loss(p);
                benchmark::DoNotOptimize(value);
            }
        });
    }
    benchmark::RegisterBenchmark((prefix + "gradient/" + implementation).c_str(), [=](benchmark::State& state) {
        point p = near_truth(0, 0.1), g{};
        for (auto _ : state) {
            benchmark::DoNotOptimize(p);
            gradient(p, g);
            benchmark::DoNotOptimize(g);
            benchmark::ClobberMemory();
        }
    });
    if constexpr (!std::is_same_v<Fused, std::nullptr_t>) {
        benchmark::RegisterBenchmark((prefix + "loss_and_gradient/" + implementation).c_str(), [=](benchmark::State& state) {
            point p = near_truth(0, 0.1), g{};
            for (auto _ : state) {
                benchmark::DoNotOptimize(p);
                double value = fused(p, g);
                benchmark::DoNotOptimize(value);
                benchmark::DoNotOptimize(g);
                benchmark::ClobberMemory();
            }
        });
    }
    benchmark::RegisterBenchmark((prefix + "hessian_vector_product/" + implementation).c_str(), [=](benchmark::State& state) {
        point p = near_truth(0, 0.1), v = direction(0), out{};
        for (auto _ : state) {
            benchmark::DoNotOptimize(p);
            benchmark::DoNotOptimize(v);
            product(p, v, out);
            benchmark::DoNotOptimize(out);
            benchmark::ClobberMemory();
        }
    });
}

bool add_horizon(std::size_t K) {
    std::mt19937_64 rng(1);
    const simulation::state_space_fit hand = simulation::measure(truth, K, rng);
    const auto generated = teleport::problems::state_space_fit(hand.u, hand.y);
    const auto checkpointed = teleport::problems::state_space_fit(hand.u, hand.y, teleport::expr::checkpointing::sqrt_k());
    const std::string problem = "state_space_" + std::to_string(K);
    double largest = 0;
    if (!agree(problem, generated, hand, largest)) return false;
    char difference[32];
    std::snprintf(difference, sizeof difference, "%.1e", largest);
    benchmark::AddCustomContext(problem + ".largest_relative_difference", difference);
    benchmark::AddCustomContext(problem + ".nodes_per_step",
                                "loss " + std::to_string(generated.loss_nodes) + ", adjoint " + std::to_string(generated.adjoint_nodes) +
                                    ", tangent " + std::to_string(generated.tangent_nodes) + ", forward-over-reverse " +
                                    std::to_string(generated.second_order_nodes));
    register_quantities(
        problem + "/", "generated", [generated](const point& p) { return generated.evaluate(p); },
        [generated](const point& p, point& g) { generated.gradient(p, g); },
        [generated](const point& p, point& g) { return generated.evaluate_with_gradient(p, g); },
        [generated](const point& p, const point& v, point& out) { generated.hessian_vector_product(p, v, out); });
    register_quantities(
        problem + "/", "hand_written", [hand](const point& p) { return hand.evaluate(p); },
        [hand](const point& p, point& g) { hand.gradient(p, g); },
        [hand](const point& p, point& g) { return hand.evaluate_with_gradient(p, g); },
        [hand](const point& p, const point& v, point& out) { hand.hessian_vector_product(p, v, out); });
    register_quantities(
        problem + "/", "generated_sqrt_k", nullptr, [checkpointed](const point& p, point& g) { checkpointed.gradient(p, g); },
        nullptr, [checkpointed](const point& p, const point& v, point& out) { checkpointed.hessian_vector_product(p, v, out); });
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    bool ok = true;
    for (std::size_t K : {200, 10000}) ok = add_horizon(K) && ok;
    return bench::run(argc, argv, ok);
}
