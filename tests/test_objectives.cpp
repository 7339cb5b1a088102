// Teleport objectives as functions of the point (engine/objective.hpp): the lookahead decrease
// J(w) = L(w) − L(w_k) over k preconditioned GD steps, its gradient ∂J/∂w against central
// differences (tests/derivative_check.hpp), its value against the steps taken by hand and by the
// optimizers, and its errors. Through a symmetry (the algebra gradient, a teleport) in
// test_teleport.cpp and, for networks, test_network_objectives.cpp.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "derivative_check.hpp"
#include "teleport/engine/coordinate_symmetry.hpp"
#include "teleport/engine/objective.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/quadratic.hpp"
#include "teleport/problems/rosenbrock.hpp"
#include "teleport/train/optimizers.hpp"

using namespace teleport;
namespace problems = teleport::problems;
using teleport::testing::vec;

namespace {

template <std::size_t N>
using lookahead = lookahead_decrease<vec<N>>;

// ∂J/∂w of the objective j at w against central differences of J; returns
// ‖generated − differences‖∞ / max(1, ‖differences‖∞) and requires it below rtol.
template <std::size_t N, class F, class J>
double check_point_gradient(const F& f, const J& j, const vec<N>& w, double rtol, const std::string& what) {
    vec<N> g{}, dj{};
    const double value = j.value_and_gradient(f, w, g, dj);
    // the value pass agrees, and both leave ∇L(w) in g
    vec<N> g_value{}, grad{};
    double loss = 0;
    REQUIRE(j.value(f, w, g_value, loss) == value);
    REQUIRE(loss == f.evaluate(w));
    f.gradient(w, grad);
    REQUIRE(g == grad);
    REQUIRE(g_value == grad);

    vec<N> fd{};
    for (std::size_t i = 0; i < N; ++i)
        fd[i] = testing::central_difference<N>(
            [&](const vec<N>& p) {
                vec<N> scratch{};
                double l = 0;
                return j.value(f, p, scratch, l);
            },
            w, i);
    testing::require_close(dj, fd, rtol, what + " at " + testing::show(w));
    double diff = 0;
    for (std::size_t i = 0; i < N; ++i) diff = std::max(diff, std::abs(dj[i] - fd[i]));
    return diff / std::max(1.0, testing::max_abs(fd));
}

// Random points in a box and, per point, the scalar-lr objective and one with a random diagonal P
// (entries lr·U(0.3, 1.7)), for k = 1 and k = 3.
template <std::size_t N, class F>
double check_lookahead_gradients(const F& f, testing::box domain, double lr, std::uint64_t seed,
                                 const std::string& what) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> coordinate(domain.lo, domain.hi), factor(0.3, 1.7);
    double worst = 0;
    for (int point = 0; point < 4; ++point) {
        vec<N> w{};
        for (double& e : w) e = coordinate(rng);
        auto p = std::make_shared<vec<N>>();
        for (double& e : *p) e = lr * factor(rng);
        for (const std::size_t k : {1u, 3u}) {
            const std::string label = what + ", k = " + std::to_string(k);
            worst = std::max(worst, check_point_gradient<N>(f, lookahead<N>(lr, k), w, 1e-6, label + ", P = lr"));
            worst = std::max(worst, check_point_gradient<N>(f, lookahead<N>(p, k), w, 1e-6, label + ", diagonal P"));
        }
    }
    if (std::getenv("TELEPORT_TEST_REPORT")) std::printf("  lookahead dJ/dw %-12s worst relative error %.3g\n", what.c_str(), worst);
    return worst;
}

template <std::size_t N>
std::array<double, N * N> random_spd(std::uint64_t seed, double condition) {
    std::mt19937_64 rng(seed);
    return problems::random_spd_log_spaced<N>(rng, condition);
}

}  // namespace

TEST_CASE("lookahead objective: dJ/dw against central differences, k = 1 and k = 3", "[teleport][objective]") {
    // steps of about 1/λ_max: Rosenbrock's Hessian reaches ~2700 on [−1.5, 1.5]², Booth's is
    // diag-similar to (2, 18), the quadratic's 2A has eigenvalues in [0.2, 2]
    check_lookahead_gradients<2>(problems::rosenbrock(), {-1.5, 1.5}, 5e-4, 11, "rosenbrock");
    check_lookahead_gradients<2>(problems::booth(), {-5.0, 5.0}, 0.05, 12, "booth");
    const problems::quadratic<4> q(random_spd<4>(13, 10.0));
    check_lookahead_gradients<4>(q, {-2.0, 2.0}, 0.4, 14, "quadratic");
}

TEST_CASE("lookahead objective: the value is the decrease over the steps taken by hand", "[teleport][objective]") {
    // L = wᵀAw with A = diag(1, 4): ∇L = 2Aw, the Hessian's λ_max = 8, and GD at lr = 0.24 (just
    // under 2/λ_max) overshoots along e₂: w₂ ← (1 − 8·0.24) w₂ = −0.92 w₂
    const std::array<double, 4> a{1, 0, 0, 4};
    const problems::quadratic<2> q(a);
    const double lr = 0.24;
    const vec<2> w{0.3, 1.1};
    vec<2> g{}, next{};
    const double loss = q.evaluate_with_gradient(w, g);
    for (std::size_t i = 0; i < 2; ++i) next[i] = w[i] - lr * g[i];
    vec<2> scratch{};
    double l = 0;
    REQUIRE(lookahead<2>(lr).value(q, w, scratch, l) == loss - q.evaluate(next));
    REQUIRE(l == loss);
    // the closed form: L(w) − L(w₁) = (1 − 0.52²) w₁² + 4 (1 − 0.92²) w₂²
    REQUIRE(loss - q.evaluate(next) ==
            Approx((1 - 0.52 * 0.52) * w[0] * w[0] + 4 * (1 - 0.92 * 0.92) * w[1] * w[1]).epsilon(1e-14));

    // three steps with a diagonal P, by hand
    auto p = std::make_shared<vec<2>>(vec<2>{0.1, 0.2});
    vec<2> x = w;
    for (int k = 0; k < 3; ++k) {
        q.gradient(x, g);
        for (std::size_t i = 0; i < 2; ++i) x[i] = x[i] - (*p)[i] * g[i];
    }
    REQUIRE(lookahead<2>(p, 3).value(q, w, scratch, l) == loss - q.evaluate(x));

    // on the level set L = 1, the point ‖∇L‖² prefers (e₂: 16 against 4 on e₁) is the one where the
    // step overshoots; the lookahead prefers e₁ (0.7296 against 0.1536)
    const vec<2> e1{1.0, 0.0}, e2{0.0, 0.5};
    REQUIRE(q.evaluate(e1) == q.evaluate(e2));
    double unused = 0;
    REQUIRE(squared_gradient_norm{}.value(q, e2, scratch, unused) > squared_gradient_norm{}.value(q, e1, scratch, unused));
    REQUIRE(lookahead<2>(lr).value(q, e1, scratch, unused) == Approx(1 - 0.52 * 0.52).epsilon(1e-14));
    REQUIRE(lookahead<2>(lr).value(q, e2, scratch, unused) == Approx(1 - 0.92 * 0.92).epsilon(1e-12));
}

TEST_CASE("lookahead objective with step_preconditioner: the decrease over the optimizer's own step",
          "[teleport][objective]") {
    // AdaGrad's next step is x − P ⊙ g with P from its accumulator: J = L(x) − L(step(x)), to rounding
    const auto f = problems::rosenbrock();
    const adagrad opt(0.05);
    vec<2> x{-1.2, 0.8}, g{};
    auto state = opt.make_state(x);
    for (int t = 0; t < 5; ++t) {
        f.gradient(x, g);
        opt.step(state, x, g);
    }
    const auto p = std::make_shared<vec<2>>();
    const lookahead<2> objective(p);  // shares *p: updated below, after the objective is made
    f.gradient(x, g);
    step_preconditioner(opt, state, x, g, *p);
    vec<2> scratch{};
    double loss = 0;
    const double j = objective.value(f, x, scratch, loss);
    vec<2> stepped = x;
    auto s2 = state;
    opt.step(s2, stepped, g);
    REQUIRE(j == Approx(loss - f.evaluate(stepped)).epsilon(1e-12));

    // the same objective held by a const symmetry sees P change between teleports
    const auto action = problems::rosenbrock_action();
    const action_symmetry<decltype(f), decltype(action), lookahead<2>> symmetry(f, action, objective);
    REQUIRE(symmetry.measure(x).objective == j);
    for (double& e : *p) e *= 0.5;
    const double half = symmetry.measure(x).objective;
    REQUIRE(half != j);
    REQUIRE(half == objective.value(f, x, scratch, loss));
}

TEST_CASE("lookahead objective: bad settings throw one-line messages", "[teleport][objective][errors]") {
    const auto f = problems::booth();
    const vec<2> w{1.0, 2.0};
    vec<2> g{}, dj{};
    double loss = 0;
    REQUIRE_THROWS_WITH(lookahead<2>(0.1, 0), "lookahead objective: the number of steps must be at least 1");
    REQUIRE_THROWS_WITH(lookahead<2>(-0.1),
                        "lookahead objective: the learning rate must be finite and positive (got -0.1) when no "
                        "preconditioner is given");
    REQUIRE_THROWS_AS(lookahead<2>(std::nan("")), std::invalid_argument);
    // a default-made objective has neither: an error at its first use
    REQUIRE_THROWS_AS(lookahead<2>{}.value(f, w, g, loss), std::invalid_argument);
    lookahead<2> zero_steps(0.1);
    zero_steps.steps = 0;
    REQUIRE_THROWS_WITH(zero_steps.value_and_gradient(f, w, g, dj),
                        "lookahead objective: the number of steps must be at least 1");

    using dynamic = std::vector<double>;
    struct sphere {
        double evaluate(const dynamic& x) const { return squared_norm(x); }
        void gradient(const dynamic& x, dynamic& out) const {
            for (std::size_t i = 0; i < x.size(); ++i) out[i] = 2 * x[i];
        }
        void hessian_vector_product(const dynamic&, const dynamic& v, dynamic& out) const {
            for (std::size_t i = 0; i < v.size(); ++i) out[i] = 2 * v[i];
        }
    };
    const dynamic x{1.0, 2.0, 3.0};
    dynamic gx, djx;
    const lookahead_decrease<dynamic> short_p(std::make_shared<dynamic>(dynamic{0.1, 0.1}));
    REQUIRE_THROWS_WITH(short_p.value(sphere{}, x, gx, loss),
                        "lookahead objective: the preconditioner has 2 entries but the point has 3");
    const lookahead_decrease<dynamic> negative(std::make_shared<dynamic>(dynamic{0.1, -0.5, 0.1}));
    REQUIRE_THROWS_WITH(negative.value_and_gradient(sphere{}, x, gx, djx),
                        "lookahead objective: preconditioner entry 1 must be finite and non-negative (got -0.5)");
    const lookahead_decrease<dynamic> infinite(
        std::make_shared<dynamic>(dynamic{0.1, 0.1, std::numeric_limits<double>::infinity()}));
    REQUIRE_THROWS_WITH(infinite.value(sphere{}, x, gx, loss),
                        "lookahead objective: preconditioner entry 2 must be finite and non-negative (got inf)");
    // on std::vector points the scratch is sized by the objective: L = ‖x‖², P = 0.1 → x₁ = 0.8 x
    const lookahead_decrease<dynamic> fine(0.1, 2);
    REQUIRE(fine.value_and_gradient(sphere{}, x, gx, djx) == Approx(14.0 * (1 - std::pow(0.8, 4))).epsilon(1e-14));
    REQUIRE(gx == dynamic{2.0, 4.0, 6.0});
    // ∂J/∂w = 2x (1 − 0.8⁴)
    for (std::size_t i = 0; i < 3; ++i) REQUIRE(djx[i] == Approx(2 * x[i] * (1 - std::pow(0.8, 4))).epsilon(1e-14));
}
