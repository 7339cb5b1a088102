// Newton's method (train/newton.hpp): exact in one full step on a quadratic, a damped step scales
// the error by (1 − lr), quadratic convergence near a minimum of Rosenbrock, and its errors.
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "teleport/problems/quadratic.hpp"
#include "teleport/problems/rosenbrock.hpp"
#include "teleport/train/callbacks.hpp"
#include "teleport/train/newton.hpp"
#include "teleport/train/optimize.hpp"

namespace problems = teleport::problems;

namespace {

template <std::size_t N>
problems::quadratic<N> random_quadratic(std::uint64_t seed, double condition) {
    std::mt19937_64 rng(seed);
    return problems::quadratic<N>(problems::random_spd_log_spaced<N>(rng, condition));
}

template <std::size_t N>
double norm(const std::array<double, N>& w) {
    return std::sqrt(teleport::squared_norm(w));
}

// L(w) = Σ w_i: its Hessian is zero, so Newton has no step to take.
struct linear_function {
    double evaluate(const std::array<double, 2>& w) const { return w[0] + w[1]; }
    void gradient(const std::array<double, 2>&, std::array<double, 2>& g) const { g = {1.0, 1.0}; }
    void hessian_vector_product(const std::array<double, 2>&, const std::array<double, 2>&,
                                std::array<double, 2>& out) const {
        out = {0.0, 0.0};
    }
};

}  // namespace

TEST_CASE("Newton: one full step lands on the minimum of a quadratic", "[newton]") {
    const auto f = random_quadratic<4>(11, 100.0);
    const std::array<double, 4> w0{0.7, -1.3, 0.4, 2.1};
    std::array<double, 4> w = w0;
    const teleport::newton opt(f, 1.0);
    auto state = opt.make_state(w);
    std::array<double, 4> g{};
    f.gradient(w, g);
    opt.step(state, w, g);
    REQUIRE(state.steps == 1);
    // H⁻¹∇L = (2A)⁻¹ 2Aw = w: the step removes w up to the rounding of a condition-100 inverse
    REQUIRE(norm(w) <= 1e-13 * norm(w0));
    REQUIRE(f.evaluate(w) <= 1e-24 * f.evaluate(w0));

    // the same through the optimize loop: the point after the first update is the minimum
    teleport::step_history<double> h;
    w = w0;
    const auto r = teleport::optimize(opt, f, w, 3, teleport::record_history{h});
    REQUIRE(r.steps == 3);
    REQUIRE(h.loss[0] == Approx(f.evaluate(w0)).epsilon(1e-15));
    REQUIRE(h.loss[1] <= 1e-24 * h.loss[0]);
    REQUIRE(r.loss <= 1e-24 * h.loss[0]);
}

TEST_CASE("Newton: a damped step moves a quadratic's error by the factor 1 - lr", "[newton]") {
    const auto f = random_quadratic<5>(12, 1e3);
    const std::array<double, 5> w0{0.2, -0.9, 1.5, -0.3, 0.8};
    for (const double lr : {0.1, 0.5, 0.9}) {
        const teleport::newton opt(f, lr);
        REQUIRE(opt.learning_rate() == lr);
        std::array<double, 5> w = w0;
        auto state = opt.make_state(w);
        std::array<double, 5> g{};
        f.gradient(w, g);
        opt.step(state, w, g);
        for (std::size_t i = 0; i < 5; ++i) REQUIRE(w[i] == Approx((1.0 - lr) * w0[i]).epsilon(1e-10).margin(1e-14));
        // and on the loss: L(w_k) = (1 − lr)^{2k} L(w_0) along the loop, whatever the conditioning
        teleport::step_history<double> h;
        w = w0;
        (void)teleport::optimize(opt, f, w, 10, teleport::record_history{h});
        for (std::size_t k = 1; k < h.size(); ++k)
            REQUIRE(h.loss[k] == Approx(h.loss[k - 1] * (1.0 - lr) * (1.0 - lr)).epsilon(1e-8));
    }
}

TEST_CASE("Newton: quadratic convergence near the minimum of Rosenbrock", "[newton]") {
    const auto f = problems::rosenbrock();
    std::array<double, 2> w{1.05, 1.08};
    const teleport::newton opt(f, 1.0);
    auto state = opt.make_state(w);
    std::array<double, 2> g{};
    double previous = std::hypot(w[0] - 1.0, w[1] - 1.0);
    // e_{k+1} ≤ C e_k² while the error is above rounding
    for (int k = 0; k < 4 && previous > 1e-7; ++k) {
        f.gradient(w, g);
        opt.step(state, w, g);
        const double error = std::hypot(w[0] - 1.0, w[1] - 1.0);
        REQUIRE(error <= 1e3 * previous * previous);
        previous = error;
    }
    f.gradient(w, g);
    opt.step(state, w, g);
    REQUIRE(std::hypot(w[0] - 1.0, w[1] - 1.0) <= 1e-12);
}

TEST_CASE("Newton: a singular Hessian and a bad learning rate are errors", "[newton][errors]") {
    const linear_function f;
    const teleport::newton opt(f, 1.0);
    std::array<double, 2> w{1.0, 2.0};
    auto state = opt.make_state(w);
    const std::array<double, 2> g{1.0, 1.0};
    REQUIRE_THROWS_WITH(opt.step(state, w, g), Catch::Contains("Hessian is singular"));
    REQUIRE(w == std::array<double, 2>{1.0, 2.0});  // left alone
    REQUIRE(state.steps == 0);

    REQUIRE_THROWS_AS(teleport::newton(f, 0.0), std::invalid_argument);
    REQUIRE_THROWS_AS(teleport::newton(f, -1.0), std::invalid_argument);
    REQUIRE_THROWS_AS(teleport::newton(f, std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
}
