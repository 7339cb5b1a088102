// Indexed sums (teleport/expr/indexed_sum.hpp): laws against the unrolled expression, every generated
// order against central differences, both scatter strategies, run-time ranges in the user's
// containers, bad input, and a teleport on a sum with a symmetry.
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "derivative_check.hpp"
#include "teleport/problems/rosenbrock.hpp"
#include "teleport/teleport.hpp"

namespace tg = teleport::groups;
using namespace teleport::expr;
using namespace teleport::expr::literals;
using teleport::testing::check_derivatives;

namespace {

template <class V>
V random_vector(std::size_t n, std::uint64_t seed, double lo = -1.5, double hi = 1.5) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    V v(n);
    for (auto& e : v) e = u(rng);
    return v;
}
template <std::size_t N>
std::array<double, N> random_array(std::uint64_t seed, double lo = -1.5, double hi = 1.5) {
    std::array<double, N> a{};
    const auto v = random_vector<std::vector<double>>(N, seed, lo, hi);
    std::copy(v.begin(), v.end(), a.begin());
    return a;
}

// Largest |a − b| in units of the rounding of the larger magnitude (ulps of max(|a|, |b|, 1e-300)).
double ulps(double a, double b) {
    const double scale = std::max({std::abs(a), std::abs(b), 1e-300});
    return std::abs(a - b) / (scale * std::numeric_limits<double>::epsilon());
}
template <class A, class B>
double max_ulps(const A& a, const B& b, double scale) {
    double m = 0;
    for (std::size_t i = 0; i < std::size(a); ++i)
        m = std::max(m, std::abs(a[i] - b[i]) / (scale * std::numeric_limits<double>::epsilon()));
    return m;
}
template <class A>
double max_abs(const A& a) {
    double m = 0;
    for (double e : a) m = std::max(m, std::abs(e));
    return m;
}

// Σ_i (u_i v_i − p_i)² + (u_i − v_i)²/… : the pairs (u_i, v_i) = (x_i, x_{M+i}) with per-term data p_i.
// The first part is invariant under u → D u, v → D⁻¹ v (D diagonal, positive): a teleport problem.
template <std::size_t M>
constexpr auto product_fit_term() {
    constexpr variable<0, "u_i"> u{};
    constexpr variable<M, "v_i"> v{};
    constexpr parameter<0, "p_i"> p{};
    return pow<2>(u * v - p);
}

// The gradient into storage that cannot be resized (out of line: the compiler would otherwise
// warn about the writes that the size check prevents).
template <class F>
[[gnu::noinline]] void gradient_into(const F& f, const std::vector<double>& x, std::span<double> out) {
    f.gradient(x, out);
}

}  // namespace

TEST_CASE("indexed sum: equals the unrolled expression (value, gradient, Hessian-vector product, Hessian)", "[indexed sum]") {
    constexpr std::size_t N = 24;
    const auto looped = teleport::problems::extended_rosenbrock<N>();
    const auto unrolled = teleport::problems::extended_rosenbrock_unrolled<N>();
    STATIC_REQUIRE(decltype(looped)::dimension == N);
    double worst = 0;
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        const auto x = random_array<N>(seed);
        const auto v = random_array<N>(seed + 100);
        worst = std::max(worst, ulps(looped.evaluate(x), unrolled.evaluate(x)));
        std::array<double, N> g1{}, g2{}, gf{}, h1{}, h2{};
        looped.gradient(x, g1);
        unrolled.gradient(x, g2);
        const double scale = max_abs(g2);
        worst = std::max(worst, max_ulps(g1, g2, scale));
        const double fused = looped.evaluate_with_gradient(x, gf);
        REQUIRE(fused == looped.evaluate(x));  // one pass or two: the same operations
        REQUIRE(gf == g1);
        looped.hessian_vector_product(x, v, h1);
        unrolled.hessian_vector_product(x, v, h2);
        worst = std::max(worst, max_ulps(h1, h2, max_abs(h2)));
        std::array<std::array<double, N>, N> H1{}, H2{};
        looped.hessian(x, H1);
        unrolled.hessian(x, H2);
        for (std::size_t i = 0; i < N; ++i) worst = std::max(worst, max_ulps(H1[i], H2[i], std::max(1.0, max_abs(H2[i]))));
    }
    // the two programs add the same numbers in a different order: differences of a few ulps of the
    // entry's scale (2.2 seen), not more
    INFO("largest difference: " << worst << " ulps");
    REQUIRE(worst <= 4);
}

TEST_CASE("indexed sum: a sum of one term is its body", "[indexed sum]") {
    constexpr variable<0> a{};
    constexpr variable<1> b{};
    constexpr auto body = exp(a * b) + sin(b) * pow<3>(a) - log(2_c + b * b);
    const auto sum = indexed_sum(body, terms<1>);
    const auto f = teleport::make_function<2>(body);
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        const auto x = random_array<2>(seed);
        const auto v = random_array<2>(seed + 7);
        REQUIRE(sum.evaluate(x) == f.evaluate(x));
        std::array<double, 2> g1{}, g2{}, h1{}, h2{};
        sum.gradient(x, g1);
        f.gradient(x, g2);
        REQUIRE(g1 == g2);
        sum.hessian_vector_product(x, v, h1);
        f.hessian_vector_product(x, v, h2);
        for (std::size_t i = 0; i < 2; ++i) REQUIRE(h1[i] == Approx(h2[i]).epsilon(1e-15).margin(1e-300));
    }
}

TEST_CASE("indexed sum: every generated order against central differences", "[indexed sum][derivative]") {
    // stride 1, a three-wide stencil (carried scatter)
    constexpr variable<0> a{};
    constexpr variable<1> b{};
    constexpr variable<2> c{};
    const auto chain = indexed_sum(pow<2>(b - a * a) + sin(c) * a + pow<2>(c * b - 1_c), terms<5>);
    check_derivatives<7>(chain, {-1.5, 1.5}, 301);
    // stride 2 over pairs with a gap-free window, and per-term data
    constexpr parameter<0> p{};
    constexpr parameter<1> q{};
    auto pairs = indexed_sum(pow<2>(a * b - p) + q * exp(c / 4_c) * a, terms<4>, stride<2>);
    const std::vector<double> data{0.5, 1.0, -0.3, 2.0, 1.5, -1.0, 0.0, 0.25};
    pairs.with_data(data);
    check_derivatives<9>(pairs, {-1.5, 1.5}, 302);
    // a wide stencil (x_i with x_{i+20}): the direct scatter
    auto wide = indexed_sum(product_fit_term<20>(), terms<3>);
    wide.with_data(std::vector<double>{0.3, -0.7, 1.1});
    check_derivatives<23>(wide, {-1.5, 1.5}, 303);
}

TEST_CASE("indexed sum: third-order products against differences of the Hessian-vector product", "[indexed sum][derivative]") {
    constexpr variable<0> a{};
    constexpr variable<1> b{};
    constexpr variable<2> c{};
    const std::size_t m = 70;  // from 64 terms on, the products are computed by blocks of terms
    auto f = indexed_sum(pow<3>(a) * b + exp(a * c) - b * b * c * c + tanh(b), m);
    const std::size_t n = f.size();
    std::mt19937_64 rng(304);
    std::normal_distribution<double> normal;
    for (int trial = 0; trial < 4; ++trial) {
        const auto x = random_vector<std::vector<double>>(n, 400 + trial, -1.0, 1.0);
        std::vector<double> u(n), v(n);
        for (auto& e : u) e = normal(rng);
        for (auto& e : v) e = normal(rng);
        std::vector<double> t(n), hp(n), hm(n);
        f.third_derivative_product(x, u, v, t);
        // d/ds [∇²L(x + s u) v] at s = 0
        const double s = 1e-5;
        auto xp = x, xm = x;
        for (std::size_t i = 0; i < n; ++i) {
            xp[i] += s * u[i];
            xm[i] -= s * u[i];
        }
        f.hessian_vector_product(xp, v, hp);
        f.hessian_vector_product(xm, v, hm);
        double scale = 1.0;
        for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(t[i]));
        for (std::size_t i = 0; i < n; ++i) {
            const double fd = (hp[i] - hm[i]) / (2 * s);
            INFO("entry " << i << ": generated " << t[i] << ", differences " << fd);
            REQUIRE(std::abs(t[i] - fd) <= 1e-6 * scale);
        }
        // symmetric in its two directions
        std::vector<double> t2(n);
        f.third_derivative_product(x, v, u, t2);
        for (std::size_t i = 0; i < n; ++i) REQUIRE(t2[i] == Approx(t[i]).epsilon(1e-13).margin(1e-13));
    }
}

TEST_CASE("indexed sum: a range known at run time, in the user's containers", "[indexed sum]") {
    constexpr std::size_t N = 40;
    const auto fixed = teleport::problems::extended_rosenbrock<N>();
    const auto runtime = teleport::problems::extended_rosenbrock(N);
    REQUIRE(runtime.size() == N);
    REQUIRE(runtime.term_count() == N - 1);
    const auto x = random_array<N>(5);
    const auto v = random_array<N>(6);
    std::array<double, N> g{}, hv{};
    fixed.gradient(x, g);
    fixed.hessian_vector_product(x, v, hv);
    // the same loop body: bitwise equal results, whatever the container
    std::vector<double> xv(x.begin(), x.end()), vv(v.begin(), v.end()), gv, hvv;
    REQUIRE(runtime.evaluate(xv) == fixed.evaluate(x));
    runtime.gradient(xv, gv);  // resized to n
    REQUIRE(std::equal(gv.begin(), gv.end(), g.begin()));
    runtime.hessian_vector_product(xv, vv, hvv);
    REQUIRE(std::equal(hvv.begin(), hvv.end(), hv.begin()));
    xt::xtensor<double, 1> xt_x = xt::adapt(xv, {N});
    xt::xtensor<double, 1> xt_g;
    REQUIRE(runtime.evaluate_with_gradient(xt_x, xt_g) == fixed.evaluate(x));
    REQUIRE(std::equal(xt_g.begin(), xt_g.end(), g.begin()));
    std::vector<double> storage(N);
    std::span<double> gs(storage);
    runtime.gradient(std::span<const double>(xv), gs);
    REQUIRE(storage == gv);
    // float points: the same loop in single precision
    std::vector<float> xf(xv.begin(), xv.end()), gf(N);
    runtime.gradient(xf, gf);
    for (std::size_t i = 0; i < N; ++i) REQUIRE(gf[i] == Approx(g[i]).epsilon(1e-4).margin(1e-3));
    // a sum that starts later and a larger dimension: untouched variables have zero derivatives
    auto shifted = indexed_sum(teleport::problems::extended_rosenbrock_term(), 3);
    shifted.starting_at(2).with_dimension(8);
    REQUIRE(shifted.size() == 8);
    std::vector<double> y{9, 9, 0.5, -0.5, 1.5, 0.25, 9, 9}, gy;
    shifted.gradient(y, gy);
    REQUIRE(gy[0] == 0.0);
    REQUIRE(gy[1] == 0.0);
    REQUIRE(gy[6] == 0.0);
    REQUIRE(gy[7] == 0.0);
    const auto compact = teleport::problems::extended_rosenbrock<4>();
    std::array<double, 4> yc{0.5, -0.5, 1.5, 0.25}, gc{};
    compact.gradient(yc, gc);
    for (std::size_t i = 0; i < 4; ++i) REQUIRE(gy[i + 2] == gc[i]);
    REQUIRE(shifted.evaluate(y) == compact.evaluate(yc));
    // no terms: the zero function
    auto empty = indexed_sum(teleport::problems::extended_rosenbrock_term(), 0);
    empty.with_dimension(3);
    std::vector<double> z{1, 2, 3}, gz;
    REQUIRE(empty.evaluate(z) == 0.0);
    empty.gradient(z, gz);
    REQUIRE(gz == std::vector<double>(3, 0.0));
}

TEST_CASE("indexed sum: long sums (blocks of terms) agree with the term-by-term loop", "[indexed sum]") {
    // From 64 terms on, a stride-1 sum is computed block by block (vectorized); term_by_term() asks
    // for the term-by-term loop. Both add each position's contributions, and the values, in term
    // order: they must agree bitwise, across block boundaries (128 terms) and at the ends. The
    // product is also checked against the sparse Hessian's triplets.
    constexpr variable<0> a{};
    constexpr variable<2> c{};  // a stencil with a gap: x_i and x_{i+2}
    constexpr parameter<0> p{};
    for (std::size_t m : {63u, 64u, 127u, 128u, 129u, 255u, 300u}) {
        auto gap = indexed_sum(pow<2>(c - a * a + p) + sin(a) * c, m);
        std::vector<double> data(m);
        for (std::size_t i = 0; i < m; ++i) data[i] = 0.01 * static_cast<double>(i % 17) - 0.05;
        gap.with_data(data);
        auto check = [&](auto f, std::uint64_t seed) {
            auto by_term = f;
            by_term.term_by_term();
            const std::size_t n = f.size();
            const auto x = random_vector<std::vector<double>>(n, seed);
            const auto v = random_vector<std::vector<double>>(n, seed + 1);
            const auto u = random_vector<std::vector<double>>(n, seed + 2);
            std::vector<double> g, g1, fused, fused1, hv, hv1, t, t1;
            INFO("m = " << m);
            f.gradient(x, g);
            by_term.gradient(x, g1);
            REQUIRE(g == g1);
            const double loss = f.evaluate_with_gradient(x, fused);
            REQUIRE(loss == by_term.evaluate_with_gradient(x, fused1));
            REQUIRE(loss == f.evaluate(x));
            REQUIRE(fused == g);
            REQUIRE(fused1 == g);
            f.hessian_vector_product(x, v, hv);
            by_term.hessian_vector_product(x, v, hv1);
            REQUIRE(hv == hv1);
            f.third_derivative_product(x, u, v, t);
            by_term.third_derivative_product(x, u, v, t1);
            REQUIRE(t == t1);
            std::vector<double> reference(n, 0.0);
            for (const auto& e : f.hessian_triplets(x)) reference[e.row] += e.value * v[e.col];
            const double scale = std::max(1.0, max_abs(reference));
            for (std::size_t i = 0; i < n; ++i) REQUIRE(std::abs(hv[i] - reference[i]) <= 1e-14 * scale);
        };
        check(gap, 700 + m);
        check(teleport::problems::extended_rosenbrock(m + 1), 800 + m);
    }
}

TEST_CASE("indexed sum: the sparse Hessian as triplets", "[indexed sum]") {
    const auto f = teleport::problems::extended_rosenbrock(6);
    const auto x = random_vector<std::vector<double>>(6, 9);
    std::vector<std::vector<double>> dense(6, std::vector<double>(6, 0.0));
    const auto triplets = f.hessian_triplets(x);
    REQUIRE(triplets.size() == 5 * 4);  // per term: two diagonal entries and the mirrored off-diagonal one
    for (const auto& t : triplets) dense[t.row][t.col] += t.value;
    // the Rosenbrock Hessian is tridiagonal: H_ii = 1200 x_i² − 400 x_{i+1} + 2 (i < n−1) + 200 (i > 0)
    for (std::size_t i = 0; i < 6; ++i) {
        double expected = (i + 1 < 6 ? 1200 * x[i] * x[i] - 400 * x[i + 1] + 2 : 0.0) + (i > 0 ? 200.0 : 0.0);
        REQUIRE(dense[i][i] == Approx(expected).epsilon(1e-14));
        if (i + 1 < 6) {
            REQUIRE(dense[i][i + 1] == Approx(-400 * x[i]).epsilon(1e-14));
            REQUIRE(dense[i + 1][i] == dense[i][i + 1]);
        }
        for (std::size_t j = i + 2; j < 6; ++j) REQUIRE(dense[i][j] == 0.0);
    }
}

TEST_CASE("indexed sum: bad input gets one line", "[indexed sum]") {
    const auto f = teleport::problems::extended_rosenbrock(5);
    std::vector<double> x(4, 0.5), g;
    REQUIRE_THROWS_WITH(f.evaluate(x), "indexed_sum: the point has 4 entries but the function has 5 variables");
    std::vector<double> y(5, 0.5), v(6, 1.0), out;
    REQUIRE_THROWS_WITH(f.hessian_vector_product(y, v, out),
                        "indexed_sum: the direction has 6 entries but the function has 5 variables");
    std::vector<double> three(3);
    REQUIRE_THROWS_WITH(gradient_into(f, y, three), "indexed_sum: the gradient has 3 entries but the function has 5 variables");
    REQUIRE_THROWS_WITH(teleport::problems::extended_rosenbrock(1), "the extended Rosenbrock function needs at least two variables");
    auto fit = indexed_sum(product_fit_term<3>(), 2);
    REQUIRE_THROWS_WITH(fit.with_data(std::vector<double>{1.0}), "indexed_sum: the terms need 2 x 1 data values but 1 were given");
    std::vector<double> w(5, 1.0);
    REQUIRE_THROWS_WITH(fit.evaluate(w), "indexed_sum: the body reads 1 data values per term but none were bound (with_data)");
    REQUIRE_THROWS_WITH(fit.with_dimension(4), "indexed_sum: dimension 4 is below the 5 variables the terms read");
    REQUIRE_THROWS_WITH(indexed_sum(product_fit_term<3>(), std::size_t(-1) / 2, stride<2>),
                        Catch::Matchers::StartsWith("indexed_sum: ") && Catch::Matchers::Contains("do not fit in the index range"));
}

TEST_CASE("indexed sum: teleportable (the pairs' scaling symmetry)", "[indexed sum][teleport]") {
    // L(u, v) = Σ_i (u_i v_i − p_i)² over M = 4 pairs: u_i = x_i, v_i = x_{4+i}. Invariant under
    // u → D u, v → D⁻¹ v, D = diag(e^t): the representation left (on u) and left_inverse_transpose (on v).
    constexpr std::size_t M = 4;
    auto loss = indexed_sum(product_fit_term<M>(), terms<M>);
    loss.with_data(std::vector<double>{0.5, -1.0, 2.0, 0.25});
    STATIC_REQUIRE(decltype(loss)::dimension == 2 * M);
    const auto scale = tg::make_representation<tg::scaling<M>>(tg::left<M, 1>{}, tg::left_inverse_transpose<M, 1>{});
    std::array<double, 2 * M> w{1.5, 0.2, -0.7, 2.0, 0.3, 0.9, -1.2, 0.1};
    REQUIRE_NOTHROW(scale.check(w));
    const double before = loss.evaluate(w);
    const teleport::teleport_objective<decltype(loss), decltype(scale)> objective(loss, scale, w);
    std::mt19937_64 rng(305);
    std::normal_distribution<double> normal(0.0, 0.3);
    for (int trial = 0; trial < 5; ++trial) {
        std::array<double, M> theta{};
        for (double& t : theta) t = normal(rng);
        teleport::testing::check_objective_gradient_at(objective, theta);
        REQUIRE(std::abs(loss.evaluate(objective.moved(theta)) - before) <= 1e-12 * before);
    }
    teleport::teleport_settings settings;
    std::mt19937_64 search(1);
    teleport::teleport_report report;
    auto x = w;
    (void)teleport::teleport_once(loss, scale, x, settings, search, report);
    REQUIRE(report.accepted);
    REQUIRE(report.grad_norm_sq_after > report.grad_norm_sq_before);
    REQUIRE(std::abs(loss.evaluate(x) - before) <= settings.tolerance * before);
}
