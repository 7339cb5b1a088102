// The paper's problems: known minima and values, and every generated derivative through the
// finite-difference harness.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xbuilder.hpp>

#include <catch2/catch.hpp>

#include "derivative_check.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/quadratic.hpp"
#include "teleport/problems/rosenbrock.hpp"

using teleport::testing::box;
using teleport::testing::check_derivatives;
namespace problems = teleport::problems;

namespace {
// A random SPD matrix (row-major) with eigenvalues log-spaced from 1 down to 1/100.
template <std::size_t N>
std::array<double, N * N> random_spd(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return problems::random_spd_log_spaced<N>(rng, 100.0);
}

template <std::size_t N>
xt::xtensor<double, 1> eigenvalues(const std::array<double, N * N>& a) {
    xt::xtensor<double, 2> m = xt::adapt(a, std::vector<std::size_t>{N, N});
    return xt::linalg::eigvalsh(m);  // ascending
}

template <std::size_t N>
void check_log_spaced_spectrum(std::uint64_t seed, double condition) {
    std::mt19937_64 rng(seed);
    const auto a = problems::random_spd_log_spaced<N>(rng, condition);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < i; ++j) REQUIRE(std::abs(a[i * N + j] - a[j * N + i]) <= 1e-15);
    const auto lambda = eigenvalues<N>(a);
    // ascending: λ at position i is condition^{−(N−1−i)/(N−1)}
    for (std::size_t i = 0; i < N; ++i) {
        const double expected = std::pow(condition, -static_cast<double>(N - 1 - i) / static_cast<double>(N - 1));
        REQUIRE(lambda(i) == Approx(expected).epsilon(1e-12));
    }
    REQUIRE(lambda(N - 1) / lambda(0) == Approx(condition).epsilon(1e-12));
}
}  // namespace

TEST_CASE("random_spd_log_spaced: the spectrum it is named after, a random rotation", "[problems]") {
    check_log_spaced_spectrum<2>(1, 10.0);
    check_log_spaced_spectrum<3>(2, 100.0);
    check_log_spaced_spectrum<5>(3, 1e4);
    check_log_spaced_spectrum<8>(4, 100.0);
    check_log_spaced_spectrum<4>(5, 1.0);  // condition 1: the identity in any basis
    // the rotation comes from the generator: other draws, another matrix with the same spectrum
    std::mt19937_64 rng(6);
    const auto first = problems::random_spd_log_spaced<4>(rng, 100.0);
    const auto second = problems::random_spd_log_spaced<4>(rng, 100.0);
    REQUIRE(first != second);
    std::mt19937_64 again(6);
    REQUIRE(problems::random_spd_log_spaced<4>(again, 100.0) == first);
    // and a quadratic accepts it
    REQUIRE_NOTHROW(problems::quadratic<4>(first));
}

TEST_CASE("quadratic level sets: the largest gradient and the closest point (Props. 5.5, 5.6)", "[problems]") {
    constexpr std::size_t n = 5;
    const auto a = random_spd<n>(31);
    const problems::quadratic<n> f(a);
    xt::xtensor<double, 2> m = xt::adapt(a, std::vector<std::size_t>{n, n});
    const auto [values, vectors] = xt::linalg::eigh(m);  // ascending
    const double lambda_max = values(n - 1);
    std::array<double, n> g{};
    // at a top eigenvector, scaled onto any level set: the largest ‖∇L‖², the closest point
    for (const double scale : {0.1, 1.0, 3.0}) {
        std::array<double, n> w{};
        for (std::size_t i = 0; i < n; ++i) w[i] = scale * vectors(i, n - 1);
        const double loss = f.evaluate_with_gradient(w, g);
        REQUIRE(problems::level_set_grad_ratio(lambda_max, loss, teleport::squared_norm(g)) == Approx(1.0).epsilon(1e-12));
        REQUIRE(problems::level_set_distance_to_minimum(lambda_max, loss) == Approx(scale).epsilon(1e-12));
    }
    // anywhere else: a smaller gradient and a point farther from the minimum
    std::mt19937_64 rng(32);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (int t = 0; t < 200; ++t) {
        std::array<double, n> w{};
        for (double& e : w) e = u(rng);
        const double loss = f.evaluate_with_gradient(w, g);
        REQUIRE(problems::level_set_grad_ratio(lambda_max, loss, teleport::squared_norm(g)) <= 1.0 + 1e-12);
        REQUIRE(problems::level_set_distance_to_minimum(lambda_max, loss) <= std::sqrt(teleport::squared_norm(w)) * (1 + 1e-12));
    }
    // the second eigenvector reaches λ_2/λ_max of the largest gradient
    std::array<double, n> w{};
    for (std::size_t i = 0; i < n; ++i) w[i] = vectors(i, n - 2);
    const double loss = f.evaluate_with_gradient(w, g);
    REQUIRE(problems::level_set_grad_ratio(lambda_max, loss, teleport::squared_norm(g)) ==
            Approx(values(n - 2) / lambda_max).epsilon(1e-10));
    // at the minimum (and where the loss underflows to it) the ratio is 1, not 0/0
    for (const double scale : {0.0, 1e-300}) {
        std::array<double, n> tiny{};
        tiny.back() = scale;
        const double at = f.evaluate_with_gradient(tiny, g);
        REQUIRE(at == 0.0);
        REQUIRE(problems::level_set_grad_ratio(lambda_max, at, teleport::squared_norm(g)) == 1.0);
    }
}

TEST_CASE("random_spd_log_spaced rejects a condition number below 1", "[problems][errors]") {
    std::mt19937_64 rng(7);
    REQUIRE_THROWS_AS(problems::random_spd_log_spaced<3>(rng, 0.5), std::invalid_argument);
    REQUIRE_THROWS_AS(problems::random_spd_log_spaced<3>(rng, std::numeric_limits<double>::quiet_NaN()),
                      std::invalid_argument);
    REQUIRE_THROWS_AS(problems::random_spd_log_spaced<3>(rng, std::numeric_limits<double>::infinity()),
                      std::invalid_argument);
}

TEST_CASE("Rosenbrock: value, minimum and derivatives", "[problems]") {
    const auto f = problems::rosenbrock();
    REQUIRE(f.evaluate(std::array<double, 2>{1, 1}) == 0.0);
    REQUIRE(f.evaluate(std::array<double, 2>{-1, -1}) == 404.0);
    std::array<double, 2> g{};
    f.gradient(std::array<double, 2>{1, 1}, g);
    REQUIRE(g == std::array<double, 2>{0, 0});
    check_derivatives<2>(f, {-2, 2}, 101, 8);
}

TEST_CASE("Booth: value, minimum and derivatives", "[problems]") {
    const auto f = problems::booth();
    REQUIRE(f.evaluate(std::array<double, 2>{1, 3}) == 0.0);
    REQUIRE(f.evaluate(std::array<double, 2>{5, -5}) == 144.0);  // (5 − 10 − 7)² + (10 − 5 − 5)²
    check_derivatives<2>(f, {-6, 6}, 102, 8);
}

TEST_CASE("extended Rosenbrock: value, minimum and derivatives", "[problems]") {
    const auto f = problems::extended_rosenbrock<8>();
    std::array<double, 8> ones{};
    ones.fill(1.0);
    REQUIRE(f.evaluate(ones) == 0.0);
    std::array<double, 8> half{};
    half.fill(0.5);
    REQUIRE(f.evaluate(half) == Approx(7 * 6.5).epsilon(1e-15));  // each term 100·0.25² + 0.5²
    check_derivatives<8>(f, {-1.5, 1.5}, 103, 3);
    // the Hessian is tridiagonal: per term, the two diagonal entries and the one off-diagonal entry
    STATIC_REQUIRE(decltype(f)::hessian_nonzeros_per_term == 3);
    // the unrolled form: 8 diagonal and 7 off-diagonal entries are generated, no more
    STATIC_REQUIRE(decltype(problems::extended_rosenbrock_unrolled<8>())::hessian_nonzeros == 15);
    check_derivatives<8>(problems::extended_rosenbrock_unrolled<8>(), {-1.5, 1.5}, 103, 3);
}

TEST_CASE("quadratic wᵀAw for random SPD matrices", "[problems]") {
    const auto a3 = random_spd<3>(7);
    const problems::quadratic<3> q3(a3);
    check_derivatives<3>(q3, {-2, 2}, 104, 4);
    const auto a6 = random_spd<6>(8);
    const problems::quadratic<6> q6(a6);
    check_derivatives<6>(q6, {-2, 2}, 105, 3);
    // gradient 2Aw and Hessian 2A, exactly as the matrix's upper triangle says: the quadratic reads
    // A_ij for i ≤ j, and random_spd_log_spaced sums each entry on its own, so its lower triangle
    // agrees with the upper one only to rounding
    std::array<double, 6> w{0.5, -1, 2, 0.25, -0.75, 1.5};
    std::array<double, 6> g{};
    std::array<std::array<double, 6>, 6> h{};
    q6.gradient(w, g);
    q6.hessian(w, h);
    for (std::size_t i = 0; i < 6; ++i) {
        double aw = 0;
        for (std::size_t j = 0; j < 6; ++j) {
            aw += a6[i * 6 + j] * w[j];
            REQUIRE(h[i][j] == 2 * a6[std::min(i, j) * 6 + std::max(i, j)]);
        }
        REQUIRE(g[i] == Approx(2 * aw).epsilon(1e-14));
    }
}

TEST_CASE("quadratic rejects a matrix that is not symmetric positive definite", "[problems][errors]") {
    REQUIRE_THROWS_WITH(problems::quadratic<2>(std::array<double, 4>{1, 2, 0, 1}),
                        "quadratic: the matrix is not symmetric (entry (0, 1) differs from its transpose)");
    REQUIRE_THROWS_WITH(problems::quadratic<2>(std::array<double, 4>{1, 2, 2, 1}),
                        "quadratic: the matrix is not positive definite");
    REQUIRE_THROWS_WITH(problems::quadratic<2>(std::array<double, 4>{1, 0, 0, std::nan("")}),
                        "quadratic: the matrix has a non-finite entry");
    REQUIRE_THROWS_WITH(problems::quadratic<2>(std::array<double, 3>{1, 0, 0}),
                        "quadratic: expected an 2x2 matrix, got 3 entries");
}

TEST_CASE("quadratic with n given at run time: generated gradient and HVP", "[problems]") {
    for (const std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{12}}) {
        CAPTURE(n);
        std::mt19937_64 rng(200 + n);
        std::normal_distribution<double> normal;
        xt::xtensor<double, 2> b = xt::empty<double>({n, n});
        for (double& e : b) e = normal(rng);
        xt::xtensor<double, 2> a = xt::linalg::dot(b, xt::transpose(b)) + static_cast<double>(n) * xt::eye<double>(n);
        a = 0.5 * (a + xt::transpose(a));  // exactly symmetric
        const problems::dynamic_quadratic q(a);
        REQUIRE(q.dimension() == n);

        std::vector<double> w(n);
        std::vector<double> v(n);
        for (double& e : w) e = normal(rng);
        for (double& e : v) e = normal(rng);
        std::vector<double> g;
        std::vector<double> hv;
        const double loss = q.evaluate_with_gradient(w, g);
        REQUIRE(loss == Approx(q.evaluate(w)).epsilon(1e-15));
        q.hessian_vector_product(w, v, hv);
        REQUIRE(g.size() == n);
        REQUIRE(hv.size() == n);

        // gradient against central differences of the loss; HVP against differences of the gradient
        double scale_g = 1.0;
        double scale_h = 1.0;
        for (std::size_t i = 0; i < n; ++i) {
            scale_g = std::max(scale_g, std::abs(g[i]));
            scale_h = std::max(scale_h, std::abs(hv[i]));
        }
        const double h = 1e-5;
        std::vector<double> gp;
        std::vector<double> gm;
        std::vector<double> wp = w;
        std::vector<double> wm = w;
        for (std::size_t i = 0; i < n; ++i) {
            wp[i] += h * v[i];
            wm[i] -= h * v[i];
        }
        q.gradient(wp, gp);
        q.gradient(wm, gm);
        for (std::size_t i = 0; i < n; ++i) {
            std::vector<double> up = w;
            std::vector<double> down = w;
            up[i] += h;
            down[i] -= h;
            const double fd = (q.evaluate(up) - q.evaluate(down)) / (2 * h);
            REQUIRE(std::abs(g[i] - fd) <= 1e-6 * scale_g);
            REQUIRE(std::abs(hv[i] - (gp[i] - gm[i]) / (2 * h)) <= 1e-6 * scale_h);
            // and exactly the formulas 2Aw, 2Av
            double aw = 0;
            double av = 0;
            for (std::size_t j = 0; j < n; ++j) {
                aw += a(i, j) * w[j];
                av += a(i, j) * v[j];
            }
            REQUIRE(g[i] == Approx(2 * aw).epsilon(1e-12));
            REQUIRE(hv[i] == Approx(2 * av).epsilon(1e-12));
        }
    }
}

TEST_CASE("quadratic with n at run time agrees with n at compile time", "[problems]") {
    const auto a4 = random_spd<4>(9);
    const problems::quadratic<4> fixed(a4);
    xt::xtensor<double, 2> a = xt::adapt(a4, std::vector<std::size_t>{4, 4});
    const problems::dynamic_quadratic dynamic(a);
    const std::array<double, 4> w{0.3, -1.2, 0.8, 2.0};
    std::array<double, 4> g_fixed{};
    xt::xtensor<double, 1> g_dynamic;
    REQUIRE(dynamic.evaluate_with_gradient(w, g_dynamic) == Approx(fixed.evaluate_with_gradient(w, g_fixed)).epsilon(1e-14));
    for (std::size_t i = 0; i < 4; ++i) REQUIRE(g_dynamic(i) == Approx(g_fixed[i]).epsilon(1e-14));
}

TEST_CASE("quadratic with n at run time rejects bad input", "[problems][errors]") {
    REQUIRE_THROWS_WITH(problems::dynamic_quadratic(xt::xtensor<double, 2>{{1, 2}, {2, 1}}),
                        "quadratic: the matrix is not positive definite");
    REQUIRE_THROWS_WITH(problems::dynamic_quadratic(xt::xtensor<double, 2>{{1, 0, 0}, {0, 1, 0}}),
                        "quadratic: the matrix must be square");
    const problems::dynamic_quadratic q(xt::xtensor<double, 2>{{2, 0}, {0, 1}});
    REQUIRE_THROWS_WITH(q.evaluate(std::vector<double>{1, 2, 3}), "the point has 3 entries but the function has 2 variables");
}
