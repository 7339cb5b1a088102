// Generated against hand-written code for the paper's small problems: Rosenbrock (paper eq. 3),
// Booth (paper eq. 4) and the extended Rosenbrock function in 2 and 16 dimensions, unrolled into one
// expression (bench_indexed_sum has it as a loop). For each: the
// loss, the gradient, the fused loss and gradient, and a Hessian-vector product.
//
//   ./build-bench/bench/bench_expressions --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   python3 bench/ratios.py result.json       (with --benchmark_format=json --benchmark_out=result.json)
//
// Before benchmarking, every quantity is checked against the hand-written code at a few points.
#include <array>

#include "bench_common.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/rosenbrock.hpp"

namespace {

using bench::vec;

// L = 100 (x₁² − x₂)² + (x₁ − 1)², with t = x₁² − x₂ computed once.
struct hand_written_rosenbrock {
    static double loss(const vec<2>& x) {
        const double t = x[0] * x[0] - x[1];
        const double u = x[0] - 1.0;
        return 100.0 * t * t + u * u;
    }
    static void gradient(const vec<2>& x, vec<2>& g) {
        const double t = x[0] * x[0] - x[1];
        g[0] = 400.0 * t * x[0] + 2.0 * (x[0] - 1.0);
        g[1] = -200.0 * t;
    }
    static double loss_with_gradient(const vec<2>& x, vec<2>& g) {
        const double t = x[0] * x[0] - x[1];
        const double u = x[0] - 1.0;
        g[0] = 400.0 * t * x[0] + 2.0 * u;
        g[1] = -200.0 * t;
        return 100.0 * t * t + u * u;
    }
    // H = [[1200 x₁² − 400 x₂ + 2, −400 x₁], [−400 x₁, 200]].
    static void hessian_vector_product(const vec<2>& x, const vec<2>& v, vec<2>& out) {
        const double h00 = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0;
        const double h01 = -400.0 * x[0];
        out[0] = h00 * v[0] + h01 * v[1];
        out[1] = h01 * v[0] + 200.0 * v[1];
    }
};

// L = a² + b² with a = x₁ + 2x₂ − 7, b = 2x₁ + x₂ − 5.
struct hand_written_booth {
    static double loss(const vec<2>& x) {
        const double a = x[0] + 2.0 * x[1] - 7.0;
        const double b = 2.0 * x[0] + x[1] - 5.0;
        return a * a + b * b;
    }
    static void gradient(const vec<2>& x, vec<2>& g) {
        const double a = x[0] + 2.0 * x[1] - 7.0;
        const double b = 2.0 * x[0] + x[1] - 5.0;
        g[0] = 2.0 * a + 4.0 * b;
        g[1] = 4.0 * a + 2.0 * b;
    }
    static double loss_with_gradient(const vec<2>& x, vec<2>& g) {
        const double a = x[0] + 2.0 * x[1] - 7.0;
        const double b = 2.0 * x[0] + x[1] - 5.0;
        g[0] = 2.0 * a + 4.0 * b;
        g[1] = 4.0 * a + 2.0 * b;
        return a * a + b * b;
    }
    // H = [[10, 8], [8, 10]], constant.
    static void hessian_vector_product(const vec<2>&, const vec<2>& v, vec<2>& out) {
        out[0] = 10.0 * v[0] + 8.0 * v[1];
        out[1] = 8.0 * v[0] + 10.0 * v[1];
    }
};

}  // namespace

int main(int argc, char** argv) {
    namespace problems = teleport::problems;
    bool ok = true;
    ok = bench::add_problem("rosenbrock", problems::rosenbrock(), hand_written_rosenbrock{}) && ok;
    ok = bench::add_problem("booth", problems::booth(), hand_written_booth{}) && ok;
    // the extended function unrolled into one expression (the indexed sum is bench_indexed_sum_N)
    ok = bench::add_problem("extended_rosenbrock_2_unrolled", problems::extended_rosenbrock_unrolled<2>(),
                            bench::hand_written_extended_rosenbrock<2>{}) && ok;
    ok = bench::add_problem("extended_rosenbrock_16_unrolled", problems::extended_rosenbrock_unrolled<16>(),
                            bench::hand_written_extended_rosenbrock<16>{}) && ok;
    return bench::run(argc, argv, ok);
}
