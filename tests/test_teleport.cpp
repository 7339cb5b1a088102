// The generated teleport objective, the strategies, the invariance guard and Algorithm 1.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "teleport/train/optimizers.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/quadratic.hpp"
#include "teleport/problems/rosenbrock.hpp"
#include "teleport/teleport.hpp"

using namespace teleport;
namespace problems = teleport::problems;

namespace {

template <std::size_t N>
std::array<double, N * N> random_spd(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return teleport::problems::random_spd_log_spaced<N>(rng, 10.0);
}

// The search of a teleport from w (engine::search on the symmetry's starting position), without
// the acceptance step: the θ it chooses, with θ₀ and the evaluations in the report.
template <class F, class Action>
std::array<double, Action::algebra::dimension> search_theta(const F& f, const Action& action,
                                                            const std::array<double, Action::n>& w,
                                                            const teleport_settings& s, std::mt19937_64& rng,
                                                            teleport_report& report) {
    const action_symmetry<F, Action> symmetry(f, action);
    auto position = symmetry.start(w, s, rng);
    const auto theta0 = position.coordinates();
    report.theta0.assign(theta0.begin(), theta0.end());
    search(position, s, rng, report, [](double) { return true; });
    return position.coordinates();
}

// ∇_θ J against central differences of J at random θ; returns the worst |∇_θ J − differences| /
// max(1, ‖∇_θ J‖∞).
template <class Objective>
double check_objective_gradient(const Objective& objective, std::uint64_t seed, double theta_scale) {
    double worst = 0;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, theta_scale);
    for (int trial = 0; trial < 6; ++trial) {
        typename Objective::coordinates theta{};
        for (double& t : theta) t = normal(rng);
        typename Objective::coordinates grad{};
        const double value = objective.value_and_gradient(theta, grad);
        REQUIRE(value == Approx(objective.value(theta)).epsilon(1e-14));
        double scale = 1.0;
        for (double g : grad) scale = std::max(scale, std::abs(g));
        for (std::size_t k = 0; k < Objective::dimension; ++k) {
            auto up = theta;
            auto down = theta;
            const double h = 1e-6;
            up[k] += h;
            down[k] -= h;
            const double fd = (objective.value(up) - objective.value(down)) / (2 * h);
            INFO("trial " << trial << ", coordinate " << k << ": generated " << grad[k] << ", differences " << fd);
            REQUIRE(std::abs(grad[k] - fd) <= 1e-6 * scale);
            worst = std::max(worst, std::abs(grad[k] - fd) / scale);
        }
    }
    return worst;
}

}  // namespace

TEST_CASE("teleport objective gradient against finite differences", "[teleport]") {
    const auto rosenbrock = problems::rosenbrock();
    const auto rosenbrock_action = problems::rosenbrock_action();
    const auto booth = problems::booth();
    const auto booth_action = problems::booth_action();
    for (const exp_map map : {exp_map::exact, exp_map::cayley, exp_map::first_order}) {
        INFO("map " << groups::to_string(map));
        check_objective_gradient(teleport_objective(rosenbrock, rosenbrock_action, {-1.0, -1.0}, map), 1, 1.0);
        check_objective_gradient(teleport_objective(rosenbrock, rosenbrock_action, {0.3, 1.7}, map), 2, 1.0);
        check_objective_gradient(teleport_objective(booth, booth_action, {5.0, -5.0}, map), 3, 1.0);
        const auto a = random_spd<4>(4);
        const problems::quadratic<4> q(a);
        const auto qa = groups::quadratic_action<4>(a);
        check_objective_gradient(teleport_objective(q, qa, {1.0, -0.5, 0.25, 2.0}, map), 5, 0.5);
    }
    // ‖·‖_η with a learning-rate matrix η
    groups::small_matrix<2> eta;
    eta(0, 0) = 0.5;
    eta(0, 1) = 0.1;
    eta(1, 0) = 0.1;
    eta(1, 1) = 2.0;
    check_objective_gradient(teleport_objective(rosenbrock, rosenbrock_action, {-1.0, -1.0}, exp_map::exact,
                                                metric_gradient_norm<2>{eta}),
                             6, 1.0);
}

TEST_CASE("lookahead teleport objective: algebra gradient against finite differences, k = 1 and 3",
          "[teleport][objective]") {
    const auto rosenbrock = problems::rosenbrock();
    const auto rosenbrock_action = problems::rosenbrock_action();
    const auto booth = problems::booth();
    const auto booth_action = problems::booth_action();
    const auto a = random_spd<4>(4);
    const problems::quadratic<4> q(a);
    const auto qa = groups::quadratic_action<4>(a);
    using point2 = std::array<double, 2>;
    double worst = 0;
    for (const std::size_t k : {1u, 3u}) {
        INFO("k = " << k);
        // lr about 1/λ_max along the orbit (Rosenbrock's θ spans points with Hessians up to ~10³)
        worst = std::max(worst, check_objective_gradient(teleport_objective(rosenbrock, rosenbrock_action, {-1.0, -1.0},
                                                                            exp_map::exact, lookahead_decrease<point2>(1e-4, k)),
                                                         21, 1.0));
        worst = std::max(worst, check_objective_gradient(teleport_objective(rosenbrock, rosenbrock_action, {0.3, 1.7},
                                                                            exp_map::exact, lookahead_decrease<point2>(1e-3, k)),
                                                         22, 1.0));
        const auto p = std::make_shared<point2>(point2{0.02, 0.07});
        worst = std::max(worst, check_objective_gradient(teleport_objective(booth, booth_action, {5.0, -5.0}, exp_map::exact,
                                                                            lookahead_decrease<point2>(p, k)),
                                                         23, 1.0));
        worst = std::max(worst, check_objective_gradient(teleport_objective(q, qa, {1.0, -0.5, 0.25, 2.0}, exp_map::exact,
                                                                            lookahead_decrease<std::array<double, 4>>(0.9, k)),
                                                         24, 0.5));
    }
    if (std::getenv("TELEPORT_TEST_REPORT"))
        std::printf("  lookahead dJ/dtheta (coordinate actions) worst relative error %.3g\n", worst);
}

TEST_CASE("a lookahead teleport moves to where the next GD step decreases the loss more", "[teleport][objective]") {
    // L = wᵀAw, A = diag(1, 4): GD at lr = 0.24 (just under 2/λ_max = 0.25) overshoots along e₂.
    // From a point near e₂, ‖∇L‖² is already near its maximum on the level set; the lookahead
    // objective turns the point towards e₁, where the step does not overshoot.
    const std::array<double, 4> a{1, 0, 0, 4};
    const problems::quadratic<2> q(a);
    const auto qa = groups::quadratic_action<2>(a);
    const double lr = 0.24;
    using point = std::array<double, 2>;
    const point w0{0.2, 1.0};
    auto after_gd_step = [&](point w) {
        point g{};
        q.gradient(w, g);
        const gd opt{lr};
        auto state = opt.make_state(w);
        opt.step(state, w, g);
        return q.evaluate(w);
    };
    // its value at w is the decrease over that step, exactly
    {
        point g{};
        double loss = 0;
        REQUIRE(lookahead_decrease<point>(lr).value(q, w0, g, loss) == q.evaluate(w0) - after_gd_step(w0));
    }
    teleport_settings s;
    s.strategy = normalized_ascent{50};
    s.start.given = {0.0};
    std::mt19937_64 rng(1);
    for (const std::size_t k : {1u, 3u}) {
        INFO("k = " << k);
        point w = w0;
        teleport_report report;
        teleport_once(q, qa, w, s, rng, report, lookahead_decrease<point>(lr, k));
        INFO(report.rejection);
        REQUIRE(report.accepted);
        REQUIRE(report.objective_after >= report.objective_before);
        REQUIRE(report.relative_loss_change <= s.tolerance);
        REQUIRE(after_gd_step(w) < after_gd_step(w0));
        // near e₁ (up to sign) on the level set: the step shrinks the loss by 1 − 0.52² there
        REQUIRE(std::abs(w[1]) < 0.05 * std::abs(w[0]));
        if (k == 1) REQUIRE(q.evaluate(w) - after_gd_step(w) == Approx((1 - 0.52 * 0.52) * q.evaluate(w0)).epsilon(1e-3));
    }
    // ‖∇L‖² goes the other way: to e₂, where the step overshoots
    point w = w0;
    teleport_report report;
    teleport_once(q, qa, w, s, rng, report);
    REQUIRE(report.accepted);
    REQUIRE(after_gd_step(w) > after_gd_step(w0));
}

TEST_CASE("gradient ascent applies every update, including the last", "[teleport]") {
    const auto f = problems::booth();
    const auto action = problems::booth_action();
    const std::array<double, 2> w{5.0, -5.0};
    const teleport_objective objective(f, action, w);
    teleport_settings s;
    s.strategy = gradient_ascent{3, 1e-3};
    s.start.given = {0.4};
    std::mt19937_64 rng(0);
    teleport_report report;
    const auto theta = search_theta(f, action, w, s, rng, report);
    // replay by hand: three full updates from θ₀
    std::array<double, 1> expected{0.4};
    for (int k = 0; k < 3; ++k) {
        std::array<double, 1> g{};
        objective.value_and_gradient(expected, g);
        expected[0] += 1e-3 * g[0];
    }
    REQUIRE(theta[0] == expected[0]);
    REQUIRE(report.theta0 == std::vector<double>{0.4});
    REQUIRE(report.objective_evaluations == 3);
}

TEST_CASE("normalized ascent and random search increase the objective", "[teleport]") {
    const auto f = problems::rosenbrock();
    const auto action = problems::rosenbrock_action();
    std::mt19937_64 rng(3);
    for (int trial = 0; trial < 10; ++trial) {
        std::uniform_real_distribution<double> u(-2, 2);
        const std::array<double, 2> w{u(rng), u(rng)};
        const teleport_objective objective(f, action, w);
        teleport_settings s;
        s.strategy = normalized_ascent{25};
        teleport_report report;
        const auto theta = search_theta(f, action, w, s, rng, report);
        REQUIRE(objective.value(theta) >= report.objective_before);
        s.strategy = random_search{64};
        teleport_report r2;
        const auto best = search_theta(f, action, w, s, rng, r2);
        REQUIRE(objective.value(best) >= r2.objective_before);
    }
    // on a quadratic, normalized ascent reaches the maximum of ‖∇L‖² on the level set:
    // ‖2Aw‖² ≤ 4 λ_max wᵀAw with equality on the top eigenvector (A = diag(1, 4) here)
    const std::array<double, 4> a{1, 0, 0, 4};
    const problems::quadratic<2> q(a);
    const auto qa = groups::quadratic_action<2>(a);
    std::array<double, 2> w{1.0, 0.0};
    teleport_settings s;
    s.strategy = normalized_ascent{100};
    s.start.given = {0.3};  // θ = 0 is a critical point here (w is the bottom eigenvector)
    teleport_report report;
    teleport_once(q, qa, w, s, rng, report);
    REQUIRE(report.accepted);
    REQUIRE(report.grad_norm_sq_after == Approx(4 * 4 * report.loss_before).epsilon(1e-10));
}

TEST_CASE("a teleport that changes the loss is rejected and reported", "[teleport]") {
    const auto a = random_spd<3>(8);
    const problems::quadratic<3> q(a);
    const auto qa = groups::quadratic_action<3>(a);
    std::array<double, 3> w{1.0, 2.0, -1.0};
    const auto before = w;
    teleport_settings s;
    s.strategy = gradient_ascent{1, 1e-12};
    s.start.given = {0.3, -0.2, 0.1};
    s.map = exp_map::first_order;  // I + X is not in SO(3): the loss changes by about ‖X‖²
    std::mt19937_64 rng(1);
    teleport_report report;
    teleport_once(q, qa, w, s, rng, report);
    REQUIRE_FALSE(report.accepted);
    REQUIRE(report.relative_loss_change > 1e-3);
    REQUIRE(report.rejection.find("exceeds the tolerance") != std::string::npos);
    REQUIRE(w == before);
    // the same with the exact map is accepted
    s.map = exp_map::exact;
    teleport_once(q, qa, w, s, rng, report);
    REQUIRE(report.accepted);
    REQUIRE(report.relative_loss_change < 1e-12);
}

TEST_CASE("teleport settings are validated with plain messages", "[teleport][errors]") {
    teleport_settings s;
    s.strategy = gradient_ascent{0, 0.1};
    REQUIRE_THROWS_WITH(validate(s), "teleport: the number of ascent steps must be positive");
    s.strategy = gradient_ascent{10, -1.0};
    REQUIRE_THROWS_WITH(validate(s), Catch::StartsWith("teleport: the teleport learning rate must be finite and positive"));
    s.strategy = gradient_ascent{10, std::nan("")};
    REQUIRE_THROWS_WITH(validate(s), Catch::StartsWith("teleport: the teleport learning rate must be finite and positive"));
    s.strategy = gradient_ascent{};
    s.tolerance = 0;
    REQUIRE_THROWS_WITH(validate(s), Catch::StartsWith("teleport: the invariance tolerance must be finite and positive"));
    // θ₀ of the wrong length
    s = teleport_settings{};
    s.start.given = {0.1, 0.2};
    const auto f = problems::booth();
    const auto action = problems::booth_action();
    std::array<double, 2> w{5, -5};
    std::mt19937_64 rng(0);
    teleport_report report;
    REQUIRE_THROWS_WITH(teleport_once(f, action, w, s, rng, report),
                        "teleport: theta0 has 2 entries but the group has dimension 1");
    REQUIRE_THROWS_WITH(teleport_schedule::every(0, 0), "teleport schedule: the interval must be positive");
}

TEST_CASE("Algorithm 1: schedule, records, seeds", "[teleport][algorithm]") {
    const auto f = problems::rosenbrock();
    const auto action = problems::rosenbrock_action();
    teleport_settings s;
    s.strategy = gradient_ascent{10, 0.1};
    s.payoff = {0, false};  // the paper's Algorithm 1: every teleport kept
    const auto schedule = teleport_schedule::every(100, 99);
    for (std::size_t t : {0u, 98u, 100u, 150u}) REQUIRE_FALSE(schedule.contains(t));
    for (std::size_t t : {99u, 199u, 999u}) REQUIRE(schedule.contains(t));

    std::array<double, 2> x{-1, -1};
    const auto run = optimize_with_teleport(gd{1e-3}, f, action, x, 1000, schedule, s, 42);
    REQUIRE(run.steps.size() == 1001);  // one per step and the final point
    REQUIRE(run.teleports.size() == 10);
    for (const auto& r : run.steps) REQUIRE(r.teleported == schedule.contains(r.step));
    for (const auto& t : run.teleports) {
        REQUIRE(t.accepted);
        REQUIRE(t.relative_loss_change < 1e-9);
        REQUIRE(t.theta0.size() == 1);
        REQUIRE(t.theta0[0] >= 0.0);
        REQUIRE(t.theta0[0] < std::acos(-1.0));
    }
    REQUIRE(run.steps.back().loss == f.evaluate(x));

    // a run is a function of its seed
    std::array<double, 2> x2{-1, -1};
    const auto again = optimize_with_teleport(gd{1e-3}, f, action, x2, 1000, schedule, s, 42);
    REQUIRE(x2 == x);
    std::array<double, 2> x3{-1, -1};
    const auto other = optimize_with_teleport(gd{1e-3}, f, action, x3, 1000, schedule, s, 43);
    REQUIRE(other.teleports[0].theta0 != run.teleports[0].theta0);

    // without teleport the same loop is plain GD
    std::array<double, 2> plain{-1, -1};
    std::array<double, 2> reference{-1, -1};
    optimize_with_teleport(gd{1e-3}, f, action, plain, 200, teleport_schedule::never(), s, 1);
    optimize(gd{1e-3}, f, reference, 200);
    REQUIRE(plain == reference);
}

TEST_CASE("optimizer state at a teleport: keep, reset, transport", "[teleport][algorithm]") {
    const auto f = problems::booth();
    const auto action = problems::booth_action();
    teleport_settings s;
    s.strategy = gradient_ascent{10, 1e-3};
    s.start.given = {1.0};
    s.payoff = {0, false};  // the state policies, not the pay-off
    const momentum opt{0.01, 0.9};
    for (const state_policy p : {state_policy::keep, state_policy::reset, state_policy::transport}) {
        INFO("policy " << to_string(p));
        std::array<double, 2> x{5, -5};
        const auto run = optimize_with_teleport(opt, f, action, x, 8, teleport_schedule::once(4), s, 0, p);
        REQUIRE(run.teleports.size() == 1);
        REQUIRE(run.teleports[0].accepted);

        // the same by hand: 4 steps, teleport, the policy applied to the velocity, 4 steps
        std::array<double, 2> y{5, -5};
        auto state = opt.make_state(y);
        std::array<double, 2> g{};
        for (int t = 0; t < 4; ++t) {
            f.gradient(y, g);
            opt.step(state, y, g);
        }
        const auto before = y;
        std::mt19937_64 rng(0);
        teleport_report report;
        const auto element = teleport_once(f, action, y, s, rng, report);
        if (p == state_policy::reset) {
            state.reset();
        } else if (p == state_policy::transport) {
            // a momentum is gradient-like: it moves by J⁻ᵀ, J = ∂(g·w)/∂w, as ∇L does
            const auto jt_inv = groups::inverse(action.jacobian(element.g, before)).transpose();
            state.velocity = jt_inv.apply(state.velocity);
        }
        for (int t = 0; t < 4; ++t) {
            f.gradient(y, g);
            opt.step(state, y, g);
        }
        REQUIRE(x == y);
    }
    // the law behind transport: for an invariant L, ∇L(g·w) = J⁻ᵀ ∇L(w)
    const std::array<double, 2> w{5, -5};
    const std::array<double, 1> theta{0.7};
    const auto g = groups::exponential<groups::so<2>>(theta).g;
    const auto jt_inv = groups::inverse(action.jacobian(g, w)).transpose();
    std::array<double, 2> grad{};
    std::array<double, 2> grad_moved{};
    f.gradient(w, grad);
    f.gradient(action.apply(g, w), grad_moved);
    const auto predicted = jt_inv.apply(grad);
    REQUIRE(grad_moved[0] == Approx(predicted[0]).epsilon(1e-10));
    REQUIRE(grad_moved[1] == Approx(predicted[1]).epsilon(1e-10));
}

// --- the engine over the symmetry concept ------------------------------------------------------

namespace {

// A symmetry written from the concept alone, on std::vector points: L(w) = (w₀w₁ − 1)² is
// invariant under the scaling (w₀, w₁) ↦ (eᵗw₀, e⁻ᵗw₁). With r = w₀w₁ − 1, J(t) = ‖∇L‖² =
// 4r²(e²ᵗw₀² + e⁻²ᵗw₁²) and dJ/dt = 8r²(e²ᵗw₀² − e⁻²ᵗw₁²).
struct product_loss {
    double evaluate(const std::vector<double>& w) const { return (w[0] * w[1] - 1) * (w[0] * w[1] - 1); }
    void gradient(const std::vector<double>& w, std::vector<double>& g) const {
        const double r = w[0] * w[1] - 1;
        g[0] = 2 * r * w[1];
        g[1] = 2 * r * w[0];
    }
};

struct scaling_orbit {
    using direction = double;
    std::vector<double> base;
    double t = 0;

    std::vector<double> at(double s) const { return {std::exp(s) * base[0], std::exp(-s) * base[1]}; }
    double value(double& loss) const {
        const auto w = at(t);
        loss = product_loss{}.evaluate(w);
        std::vector<double> g(2);
        product_loss{}.gradient(w, g);
        return g[0] * g[0] + g[1] * g[1];
    }
    double value_and_gradient(double& d) const {
        const auto w = at(t);
        const double r = w[0] * w[1] - 1;
        d = 8 * r * r * (w[0] * w[0] - w[1] * w[1]);
        double loss = 0;
        return value(loss);
    }
    void step(const double& d, double a) {
        if (!std::isfinite(t + a * d)) throw std::domain_error("the scaling is not finite");
        t += a * d;
    }
    double squared_norm(const double& d) const { return d * d; }
    void jump(std::mt19937_64& rng, double lo, double hi) { t = std::uniform_real_distribution<double>(lo, hi)(rng); }
    std::array<double, 1> coordinates() const { return {t}; }
    void write(std::vector<double>& out, const std::vector<double>&) const { out = at(t); }
    // a gradient-like vector moves by the inverse transpose of diag(eᵗ, e⁻ᵗ)
    auto transport() const {
        return [s = t](std::vector<double>& m) {
            m[0] *= std::exp(-s);
            m[1] *= std::exp(s);
        };
    }
};

struct scaling_symmetry {
    using point = std::vector<double>;
    point_measure measure(const point& w) const {
        point_measure m;
        scaling_orbit o{w, 0};
        m.objective = m.grad_norm_sq = o.value(m.loss);
        return m;
    }
    scaling_orbit start(const point& w, const teleport_settings&, std::mt19937_64&) const { return {w, 0}; }
};

using rosenbrock_t = std::decay_t<decltype(problems::rosenbrock())>;
using rosenbrock_action_t = std::decay_t<decltype(problems::rosenbrock_action())>;
static_assert(symmetry<action_symmetry<rosenbrock_t, rosenbrock_action_t>>);
static_assert(jumping_orbit_position<coordinate_orbit<rosenbrock_t, rosenbrock_action_t>>);
static_assert(symmetry<scaling_symmetry>);
static_assert(jumping_orbit_position<scaling_orbit>);
static_assert(!symmetry<rosenbrock_action_t>);

struct jump_at_3 {
    std::size_t steps_seen = 0;
    template <class State, class Events>
    void before_step(std::size_t k, std::array<double, 2>& x, State& state, const Events&) {
        if (k != 3) return;
        x = {0.5, 0.5};
        steps_seen = state.steps;
    }
};

struct count_teleports {
    std::size_t* n;
    void teleport(const teleport_report&, const std::array<double, 2>&, const std::array<double, 2>&) { ++*n; }
};

}  // namespace

TEST_CASE("the engine teleports any type that models the symmetry concept", "[teleport][engine]") {
    const scaling_symmetry symmetry;
    std::mt19937_64 rng(5);
    for (const auto& strategy : {teleport_strategy{gradient_ascent{10, 1e-4}}, teleport_strategy{normalized_ascent{20}},
                                 teleport_strategy{random_search{32, -2.0, 2.0}}}) {
        INFO(strategy_name(strategy));
        teleport_settings s;
        s.strategy = strategy;
        std::vector<double> w{2.0, 1.5};  // r = 2, w₀ > w₁: J grows with t
        const auto before = w;
        teleport_report report;
        const auto carry = teleport_once(symmetry, w, s, rng, report);
        INFO(report.rejection << " t=" << (report.theta.empty() ? 0.0 : report.theta[0]) << " J " << report.objective_before << " -> " << report.objective_after);
        REQUIRE(report.accepted);
        REQUIRE(carry.has_value());
        REQUIRE(report.relative_loss_change <= 1e-12);
        REQUIRE(report.grad_norm_sq_after > report.grad_norm_sq_before);
        REQUIRE(report.objective_after == report.grad_norm_sq_after);
        REQUIRE(report.theta.size() == 1);
        REQUIRE(w == scaling_orbit{before, report.theta[0]}.at(report.theta[0]));
        // the transported gradient is the gradient at the moved point: ∇L(g·w) = J⁻ᵀ∇L(w)
        std::vector<double> g(2), g_after(2);
        product_loss{}.gradient(before, g);
        (*carry)(g);
        product_loss{}.gradient(w, g_after);
        REQUIRE(g[0] == Approx(g_after[0]).epsilon(1e-12));
        REQUIRE(g[1] == Approx(g_after[1]).epsilon(1e-12));
    }
}

TEST_CASE("the invariance guard keeps a search on the level set", "[teleport][engine]") {
    // I + X (the first-order map) is not in SO(3): long steps change the loss. Normalized ascent
    // shortens them until the loss stays within the tolerance, so the teleport is accepted; the
    // paper's unchecked ascent takes them and is rejected at the end.
    const auto a = random_spd<3>(8);
    const problems::quadratic<3> q(a);
    const auto qa = groups::quadratic_action<3>(a);
    teleport_settings s;
    s.start.given = {0.0, 0.0, 0.0};
    s.map = exp_map::first_order;
    std::mt19937_64 rng(1);
    std::array<double, 3> w{1.0, 2.0, -1.0};
    s.strategy = normalized_ascent{10};
    teleport_report guarded;
    teleport_once(q, qa, w, s, rng, guarded);
    REQUIRE(guarded.accepted);
    REQUIRE(guarded.relative_loss_change <= s.tolerance);
    REQUIRE(guarded.objective_after >= guarded.objective_before);
    std::array<double, 3> v{1.0, 2.0, -1.0};
    s.strategy = gradient_ascent{10, 0.1};
    teleport_report unchecked;
    teleport_once(q, qa, v, s, rng, unchecked);
    REQUIRE_FALSE(unchecked.accepted);
    REQUIRE(unchecked.relative_loss_change > s.tolerance);
}

TEST_CASE("a before_step hook changes the point and the state; callbacks see every teleport", "[teleport][algorithm]") {
    const auto f = problems::rosenbrock();
    const auto action = problems::rosenbrock_action();
    const action_symmetry symmetry(f, action);
    teleport_settings s;
    s.strategy = gradient_ascent{10, 0.1};
    // a hook of its own: move x to a fixed point before step 3 and note the state's steps there
    jump_at_3 jump;
    step_history<double> history;
    std::array<double, 2> x{-1, -1};
    optimize(gd{1e-3}, f, x, 6, jump, record_history{history});
    REQUIRE(jump.steps_seen == 3);
    REQUIRE(history.loss[3] == f.evaluate(std::array<double, 2>{0.5, 0.5}));

    // teleports through the hook, recorded by the callbacks of the same loop
    teleport_points<std::array<double, 2>> points;
    std::size_t events = 0;
    std::array<double, 2> y{-1, -1};
    const auto run = optimize_with_teleport(gd{1e-3}, f, symmetry, y, 300, teleport_schedule::every(100, 50), s, 7,
                                            state_policy::keep, record_teleports(points), count_teleports{&events});
    REQUIRE(run.teleports.size() == 3);
    REQUIRE(events == 3);
    REQUIRE(points.before.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& r = run.teleports[i];
        REQUIRE(r.accepted);
        REQUIRE(f.evaluate(points.before[i]) == r.loss_before);
        REQUIRE(f.evaluate(points.after[i]) == r.loss_after);
        // after = g(θ)·before for the θ reported
        const auto element = groups::exponential<typename decltype(action)::algebra>(
            std::span<const double, 1>(r.theta.data(), 1), s.map);
        const auto moved = action.apply(element.g, points.before[i]);
        REQUIRE(moved == points.after[i]);
        REQUIRE(run.steps[r.step].loss == r.loss_after);
    }
}
