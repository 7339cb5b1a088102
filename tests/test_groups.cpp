// Lie algebras and their exponential maps: laws checked on every generator set, and the actions'
// exact invariance.
#include <array>
#include <cmath>
#include <random>

#include <catch2/catch.hpp>

#include "group_laws.hpp"
#include "teleport/groups/action.hpp"
#include "teleport/groups/lie_algebra.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/quadratic.hpp"
#include "teleport/problems/rosenbrock.hpp"

using namespace teleport::groups;

using group_laws::check_algebra_laws;
using group_laws::random_theta;

TEST_CASE("Lie algebra laws and exponential maps", "[groups]") {
    check_algebra_laws<so<2>>(1);
    check_algebra_laws<so<3>>(2);
    check_algebra_laws<so<5>>(3);
    check_algebra_laws<gl<2>>(4);
    check_algebra_laws<gl<3>>(5);
    check_algebra_laws<scaling<3>>(6);
    STATIC_REQUIRE(so<4>::dimension == 6);
    STATIC_REQUIRE(gl<3>::dimension == 9);
    STATIC_REQUIRE(scaling<5>::dimension == 5);
}

TEST_CASE("so(2) is the rotation group, with J = [[0, −1], [1, 0]]", "[groups]") {
    const std::array<double, 1> theta{std::acos(-1.0) / 2};
    const auto r = exponential<so<2>>(theta);
    REQUIRE(r.g(0, 0) == Approx(0.0).margin(1e-16));
    REQUIRE(r.g(0, 1) == -1.0);
    REQUIRE(r.g(1, 0) == 1.0);
    const auto general = expm(algebra_element<so<2>>(theta));
    REQUIRE(max_abs_difference(general, r.g) < 1e-15);
}

TEST_CASE("the first-order map I + T is inverse only to first order", "[groups]") {
    std::array<double, 4> theta{0.05, -0.02, 0.03, 0.01};
    const auto e = exponential<gl<2>>(theta, exp_map::first_order);
    const double defect = max_abs_difference(e.g * e.inverse, small_matrix<2>::identity());
    // (I + X)(I − X) = I − X²: the defect is ‖X²‖, second order in θ, and not zero
    const auto x = algebra_element<gl<2>>(theta);
    REQUIRE(defect == Approx(max_abs_difference(x * x, small_matrix<2>::zero())).epsilon(1e-12));
    REQUIRE(defect > 1e-4);
}

TEST_CASE("the paper's actions leave the loss invariant", "[groups][invariance]") {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> coordinate(-3, 3);
    std::uniform_real_distribution<double> angle(-3.2, 3.2);
    const auto rosenbrock = teleport::problems::rosenbrock();
    const auto booth = teleport::problems::booth();
    const auto rosenbrock_action = teleport::problems::rosenbrock_action();
    const auto booth_action = teleport::problems::booth_action();
    for (int trial = 0; trial < 200; ++trial) {
        const vec<2> w{coordinate(rng), coordinate(rng)};
        const std::array<double, 1> theta{angle(rng)};
        for (const exp_map map : {exp_map::exact, exp_map::cayley}) {
            const auto g = exponential<so<2>>(theta, map).g;
            const double lr = rosenbrock.evaluate(w);
            const double lb = booth.evaluate(w);
            REQUIRE(std::abs(rosenbrock.evaluate(rosenbrock_action.apply(g, w)) - lr) <= 1e-12 * std::max(1.0, lr));
            REQUIRE(std::abs(booth.evaluate(booth_action.apply(g, w)) - lb) <= 1e-12 * std::max(1.0, lb));
        }
        // φ⁻¹ ∘ φ is the identity, and the action's Jacobian matches differences
        const auto u = rosenbrock_action.phi()(w);
        const auto back = rosenbrock_action.phi_inverse()(u);
        REQUIRE(back[0] == Approx(w[0]).epsilon(1e-14));
        REQUIRE(back[1] == Approx(w[1]).epsilon(1e-12).margin(1e-12));
        const auto g = exponential<so<2>>(theta).g;
        const auto j = rosenbrock_action.jacobian(g, w);
        for (std::size_t c = 0; c < 2; ++c) {
            vec<2> up = w;
            vec<2> down = w;
            const double h = 1e-6;
            up[c] += h;
            down[c] -= h;
            const auto a = rosenbrock_action.apply(g, up);
            const auto b = rosenbrock_action.apply(g, down);
            for (std::size_t r = 0; r < 2; ++r)
                REQUIRE(j(r, c) == Approx((a[r] - b[r]) / (2 * h)).epsilon(1e-6).margin(1e-6));
        }
    }
}

TEST_CASE("the quadratic action leaves wᵀAw invariant, the first-order map does not", "[groups][invariance]") {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    std::array<double, 16> b{};
    for (double& e : b) e = normal(rng);
    std::array<double, 16> a{};
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) {
            for (std::size_t k = 0; k < 4; ++k) a[i * 4 + j] += b[i * 4 + k] * b[j * 4 + k];
            if (i == j) a[i * 4 + j] += 1.0;
        }
    const teleport::problems::quadratic<4> f(a);
    const auto action = quadratic_action<4>(a);
    double worst_first_order = 0;
    for (int trial = 0; trial < 50; ++trial) {
        vec<4> w{};
        for (double& e : w) e = normal(rng);
        std::array<double, 6> theta{};
        for (double& t : theta) t = 0.1 * normal(rng);
        const double l = f.evaluate(w);
        REQUIRE(std::abs(f.evaluate(action.apply(exponential<so<4>>(theta).g, w)) - l) <= 1e-12 * l);
        REQUIRE(std::abs(f.evaluate(action.apply(exponential<so<4>>(theta, exp_map::cayley).g, w)) - l) <= 1e-12 * l);
        worst_first_order = std::max(
            worst_first_order, std::abs(f.evaluate(action.apply(exponential<so<4>>(theta, exp_map::first_order).g, w)) - l) / l);
    }
    // I + X with ‖X‖ ~ 0.1 changes the loss by about ‖X‖² — the drift the exact maps avoid
    REQUIRE(worst_first_order > 1e-3);
}
