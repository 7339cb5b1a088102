// The extended Rosenbrock function as an indexed sum (one generated loop body) against the
// hand-written loops, for one dimension N chosen when the program is compiled
// (-DEXTENDED_ROSENBROCK_N=…; bench/meson.build builds N = 16, 128, 10⁴ and 10⁶): the loss, the
// gradient, the fused loss and gradient, and a Hessian-vector product, each for the range known at
// compile time (extended_rosenbrock_N) and at run time (extended_rosenbrock_N_runtime).
//
//   ./build/bench/bench_indexed_sum_128 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Before benchmarking, every quantity is checked against the hand-written code at a few points.
// The same source serves every N, so the compile time and memory of these translation units
// (docs/performance.md) show that the generated code does not grow with N.
#include <array>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "teleport/problems/rosenbrock.hpp"

#ifndef EXTENDED_ROSENBROCK_N
#error "compile with -DEXTENDED_ROSENBROCK_N=<dimension>"
#endif

int main(int argc, char** argv) {
    constexpr std::size_t n = EXTENDED_ROSENBROCK_N;
    // Up to a few hundred variables the point is an std::array (as in bench_expressions); beyond, a
    // std::vector (10⁶ doubles do not belong on the stack). The trip count is a constant either way.
    using point = std::conditional_t<(n <= 1024), std::array<double, n>, std::vector<double>>;
    const std::string name = "extended_rosenbrock_" + std::to_string(n);
    bool ok = bench::add_problem<point>(name, teleport::problems::extended_rosenbrock<n>(),
                                        bench::hand_written_extended_rosenbrock<n>{}, n);
    ok = bench::add_problem<std::vector<double>>(name + "_runtime", teleport::problems::extended_rosenbrock(n),
                                                 bench::hand_written_extended_rosenbrock<0>{}, n) && ok;
    return bench::run(argc, argv, ok);
}
