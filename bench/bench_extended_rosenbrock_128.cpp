// Generated against hand-written code for the extended Rosenbrock function in 128 dimensions: the
// loss, the gradient, the fused loss and gradient, and a Hessian-vector product. Alone in its own
// translation unit because it is the heaviest to compile (docs/performance.md gives the cost).
//
//   ./build-bench/bench/bench_extended_rosenbrock_128 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Before benchmarking, every quantity is checked against the hand-written code at a few points.
#include "bench_common.hpp"
#include "teleport/problems/rosenbrock.hpp"

int main(int argc, char** argv) {
    const bool ok = bench::add_problem("extended_rosenbrock_128", teleport::problems::extended_rosenbrock<128>(),
                                       bench::hand_written_extended_rosenbrock<128>{});
    return bench::run(argc, argv, ok);
}
