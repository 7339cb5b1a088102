// The paper's propositions as property tests (SPEC §3.3): every check of teleport/suites/propositions.hpp
// passes on the paper's problems and on random quadratics, and fails on a deliberately broken input
// (a wrong map, a wrong Jacobian, a false hypothesis, an unconverged teleport), so none of them can
// pass vacuously.
#include <array>
#include <cmath>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "derivative_check.hpp"
#include "teleport/suites/propositions.hpp"

namespace props = teleport::propositions;
namespace problems = teleport::problems;
namespace groups = teleport::groups;
using groups::small_matrix;

namespace {

props::sampling sampling_with(std::uint64_t seed, std::size_t trials, double lo = -2.0, double hi = 2.0) {
    props::sampling s;
    s.seed = seed;
    s.trials = trials;
    s.point_lo = lo;
    s.point_hi = hi;
    return s;
}

// Booth around its minimum (1, 3).
props::sampling booth_sampling(std::uint64_t seed, std::size_t trials) { return sampling_with(seed, trials, -4.0, 6.0); }

// gl(2) coordinates in [−1, 1] and weights in [−1, 1] for the linear network.
props::sampling network_sampling(std::uint64_t seed, std::size_t trials) {
    auto s = sampling_with(seed, trials, -1.0, 1.0);
    s.theta_lo = -1.0;
    s.theta_hi = 1.0;
    return s;
}

auto make_network(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::array<double, 6> x{}, y{};
    for (double& e : x) e = u(rng);
    for (double& e : y) e = u(rng);
    return props::linear_network<2, 2, 2, 3>(x, y);
}

template <std::size_t N>
std::array<double, N * N> spd(std::uint64_t seed, double condition = 100.0) {
    std::mt19937_64 rng(seed);
    return teleport::problems::random_spd_log_spaced<N>(rng, condition);
}

// An action whose jacobian() wrongly ignores the coordinate maps (as if g·w = g w): apply() is right,
// so L stays invariant, but J⁻ᵀ∇L predicts the wrong gradient.
template <class Action>
struct linearized_jacobian : Action {
    explicit linearized_jacobian(Action a) : Action(std::move(a)) {}
    small_matrix<Action::n> jacobian(const small_matrix<Action::n>& g, const std::array<double, Action::n>&) const {
        return g;
    }
};

// A teleport that does not search: one random group element (no ascent, no maximum).
teleport::teleport_settings no_search() {
    teleport::teleport_settings s;
    s.strategy = teleport::random_search{1, -3.0, 3.0};
    s.start.kind = teleport::start_kind::uniform;
    s.start.lo = -3.0;
    s.start.hi = 3.0;
    return s;
}

void require_pass(const props::check_result& r) {
    INFO(r.proposition << " " << r.problem << ": " << r.quantity << " = " << r.value << " (tolerance " << r.tolerance
                       << "); " << r.detail);
    REQUIRE(r.passed);
}

void require_fail(const props::check_result& r) {
    INFO(r.proposition << " " << r.problem << ": " << r.quantity << " = " << r.value << " (tolerance " << r.tolerance
                       << "); " << r.detail);
    REQUIRE_FALSE(r.passed);
}

}  // namespace

TEST_CASE("the two-layer linear network and its GL(2) action: derivatives and action derivatives",
          "[propositions]") {
    const auto f = make_network(5);
    teleport::testing::check_derivatives<8>(f, {-1, 1}, 501, 3);

    // apply_derivative and jacobian against central differences of apply()
    const props::layer_action<2, 2, 2> action;
    std::mt19937_64 rng(502);
    const auto s = network_sampling(503, 1);
    for (int trial = 0; trial < 20; ++trial) {
        const auto w = props::detail::random_point<8>(rng, -1, 1);
        const auto g = props::detail::random_element<groups::gl<2>>(rng, s).g;
        const double h = 1e-6;
        for (std::size_t k = 0; k < 4; ++k) {
            const auto dg = groups::gl<2>::generator(k);
            const auto plus = action.apply(g + h * dg, w);
            const auto minus = action.apply(g - h * dg, w);
            const auto d = action.apply_derivative(g, dg, w);
            for (std::size_t i = 0; i < 8; ++i) REQUIRE(d[i] == Approx((plus[i] - minus[i]) / (2 * h)).margin(1e-7));
        }
        const auto j = action.jacobian(g, w);
        for (std::size_t c = 0; c < 8; ++c) {
            auto wp = w, wm = w;
            wp[c] += h;
            wm[c] -= h;
            const auto plus = action.apply(g, wp);
            const auto minus = action.apply(g, wm);
            for (std::size_t i = 0; i < 8; ++i) REQUIRE(j(i, c) == Approx((plus[i] - minus[i]) / (2 * h)).margin(1e-7));
        }
        // the action is a group action: g·(g⁻¹·w) = w
        const auto back = action.apply(g, action.apply(groups::inverse(g), w));
        for (std::size_t i = 0; i < 8; ++i) REQUIRE(back[i] == Approx(w[i]).margin(1e-12));
    }
}

TEST_CASE("Prop. 4.1/4.2: the losses are invariant under their actions", "[propositions]") {
    require_pass(props::check_invariance("4.1", "Rosenbrock", problems::rosenbrock(), problems::rosenbrock_action(),
                                         sampling_with(11, 300)));
    require_pass(props::check_invariance("4.1", "Booth", problems::booth(), problems::booth_action(), booth_sampling(12, 300)));
    const auto a3 = spd<3>(13);
    require_pass(props::check_invariance("4.1", "quadratic n=3", problems::quadratic<3>(a3), groups::quadratic_action<3>(a3),
                                         sampling_with(14, 300)));
    const auto a8 = spd<8>(15);
    require_pass(props::check_invariance("4.1", "quadratic n=8", problems::quadratic<8>(a8), groups::quadratic_action<8>(a8),
                                         sampling_with(16, 300)));
    const auto net = make_network(17);
    require_pass(props::check_invariance("4.2", "linear net", net, props::layer_action<2, 2, 2>{}, network_sampling(18, 300)));

    SECTION("and the check fails when the map is not a symmetry") {
        // the paper's first-order g ≈ I + T is not a rotation, so φ⁻¹(g φ(w)) leaves the level set
        auto s = sampling_with(19, 100);
        s.map = groups::exp_map::first_order;
        const auto r = props::check_invariance("4.1", "Rosenbrock, first order", problems::rosenbrock(),
                                               problems::rosenbrock_action(), s);
        require_fail(r);
        REQUIRE(r.value > 1e-3);
        // Booth's rotation moves Rosenbrock's points off their level sets
        require_fail(props::check_invariance("4.1", "Rosenbrock with Booth's action", problems::rosenbrock(),
                                             problems::booth_action(), sampling_with(20, 100)));
    }
}

TEST_CASE("Prop. 5.1: the gradient transforms by J^-T, and teleporting accelerates exactly when the condition holds",
          "[propositions]") {
    const auto rosenbrock = problems::rosenbrock();
    const auto booth = problems::booth();
    const auto net = make_network(21);
    const auto a5 = spd<5>(22);
    const problems::quadratic<5> q5(a5);
    const auto q5_action = groups::quadratic_action<5>(a5);

    require_pass(props::check_gradient_transport("Rosenbrock", rosenbrock, problems::rosenbrock_action(), sampling_with(23, 300)));
    require_pass(props::check_gradient_transport("Booth", booth, problems::booth_action(), booth_sampling(24, 300)));
    require_pass(props::check_gradient_transport("linear net", net, props::layer_action<2, 2, 2>{}, network_sampling(25, 300)));
    require_pass(props::check_gradient_transport("quadratic n=5", q5, q5_action, sampling_with(26, 300)));

    require_pass(props::check_acceleration_condition("Rosenbrock", rosenbrock, problems::rosenbrock_action(), sampling_with(27, 300)));
    require_pass(props::check_acceleration_condition("Booth", booth, problems::booth_action(), booth_sampling(28, 300)));
    require_pass(props::check_acceleration_condition("linear net", net, props::layer_action<2, 2, 2>{}, network_sampling(29, 300)));
    require_pass(props::check_acceleration_condition("quadratic n=5", q5, q5_action, sampling_with(30, 300)));

    SECTION("both outcomes occur: the GL(2) action speeds GD up for some g and slows it down for others") {
        const auto r = props::check_acceleration_condition("linear net", net, props::layer_action<2, 2, 2>{},
                                                           network_sampling(31, 300));
        REQUIRE(r.detail.find(" 0 faster") == std::string::npos);
        REQUIRE(r.detail.find(" 0 slower") == std::string::npos);
    }

    SECTION("and both checks fail with a Jacobian that ignores the coordinate maps") {
        const linearized_jacobian wrong(problems::rosenbrock_action());
        require_fail(props::check_gradient_transport("Rosenbrock, wrong J", rosenbrock, wrong, sampling_with(32, 100)));
        const auto r = props::check_acceleration_condition("Rosenbrock, wrong J", rosenbrock, wrong, sampling_with(33, 100));
        require_fail(r);
        REQUIRE(r.value > 10);  // many sign mismatches, not a borderline case
    }
}

TEST_CASE("Cor. 5.2: an action in O_eta leaves |grad L|^2_eta unchanged", "[propositions]") {
    std::array<double, 16> id{};
    for (std::size_t i = 0; i < 4; ++i) id[i * 4 + i] = 1.0;
    require_pass(props::check_orthogonal_invariance("|w|^2, SO(4)", problems::quadratic<4>(id), groups::quadratic_action<4>(id),
                                                    sampling_with(41, 300)));
    const auto a = spd<4>(42);
    const problems::quadratic<4> q(a);
    small_matrix<4> am;
    am.a = a;
    require_pass(props::check_orthogonal_invariance("quadratic, eta = A^-1", q, groups::quadratic_action<4>(a),
                                                    sampling_with(43, 300), groups::inverse(am)));

    SECTION("and fails for a non-orthogonal action with eta = I") {
        const auto r = props::check_orthogonal_invariance("quadratic, eta = I", q, groups::quadratic_action<4>(a),
                                                          sampling_with(44, 100));
        require_fail(r);
        REQUIRE(r.value > 1e-2);
    }
}

TEST_CASE("Prop. 5.4: the gradient ordering persists for T steps under condition (13)", "[propositions]") {
    const auto booth = problems::booth();
    const auto booth_q = props::read_quadratic<2>(booth, {1.0, 3.0});
    REQUIRE(booth_q.lambda_max() == Approx(9.0));  // A = [[5, 4], [4, 5]]
    require_pass(props::check_gradient_ordering("Booth", booth, problems::booth_action(), 2 * booth_q.lambda_max(),
                                                booth_sampling(51, 400)));
    const auto a6 = spd<6>(52);
    const problems::quadratic<6> q6(a6);
    const auto q = props::read_quadratic<6>(q6, {});
    // the Hessian read off the problem has A's spectrum: log-spaced from 1 down to 1/100
    REQUIRE(q.lambda_max() == Approx(1.0));
    REQUIRE(q.spectrum.values[0] == Approx(0.01));
    require_pass(props::check_gradient_ordering("quadratic n=6", q6, groups::quadratic_action<6>(a6), 2 * q.lambda_max(),
                                                sampling_with(53, 400)));

    SECTION("and fails when the Lipschitz constant is understated (the hypothesis is false)") {
        const auto r = props::check_gradient_ordering("quadratic n=6, L/100", q6, groups::quadratic_action<6>(a6),
                                                      2 * q.lambda_max() / 100, sampling_with(54, 400));
        require_fail(r);
        REQUIRE(r.value > 1e-3);
    }
}

TEST_CASE("Prop. 5.5: after a teleport to the max-gradient point, GD stays on maximizers", "[propositions]") {
    const auto a = spd<5>(61);
    const problems::quadratic<5> f(a);
    const auto action = groups::quadratic_action<5>(a);
    const auto q = props::read_quadratic<5>(f, {});
    const auto settings = props::converged_teleport(groups::exp_map::cayley);
    require_pass(props::check_maximality_along_flow<5>("quadratic n=5", f, action, q, sampling_with(62, 6), settings));
    const auto booth = problems::booth();
    require_pass(props::check_maximality_along_flow<2>("Booth", booth, problems::booth_action(),
                                                       props::read_quadratic<2>(booth, {1.0, 3.0}), booth_sampling(63, 6),
                                                       props::converged_teleport()));

    SECTION("and fails from a point that is not the maximizer") {
        const auto r = props::check_maximality_along_flow<5>("quadratic n=5, no search", f, action, q,
                                                             sampling_with(64, 6), no_search());
        require_fail(r);
        REQUIRE(r.value > 1e-2);
    }
}

TEST_CASE("Prop. 5.6: the max-gradient point of a level set is the closest to the minimum", "[propositions]") {
    const auto a = spd<7>(71);
    const problems::quadratic<7> f(a);
    const auto action = groups::quadratic_action<7>(a);
    const auto q = props::read_quadratic<7>(f, {});
    require_pass(props::check_closest_to_minimum<7>("quadratic n=7", f, action, q, sampling_with(72, 6),
                                                    props::converged_teleport(groups::exp_map::cayley)));
    const auto booth = problems::booth();
    require_pass(props::check_closest_to_minimum<2>("Booth", booth, problems::booth_action(),
                                                    props::read_quadratic<2>(booth, {1.0, 3.0}), booth_sampling(73, 6),
                                                    props::converged_teleport()));

    SECTION("and fails for a point of the level set that is not the teleport's target") {
        const auto r = props::check_closest_to_minimum<7>("quadratic n=7, no search", f, action, q, sampling_with(74, 6),
                                                          no_search());
        require_fail(r);
        REQUIRE(r.value > 1e-2);
    }
}

TEST_CASE("Prop. 5.7: at a teleported local maximum the gradient is the Newton direction", "[propositions]") {
    const auto settings = props::converged_teleport();
    require_pass(props::check_newton_direction("Rosenbrock", problems::rosenbrock(), problems::rosenbrock_action(),
                                               sampling_with(81, 12), settings));
    require_pass(props::check_newton_direction("Booth", problems::booth(), problems::booth_action(), booth_sampling(82, 12),
                                               settings));
    const auto a = spd<4>(83);
    const problems::quadratic<4> f(a);
    require_pass(props::check_newton_direction("quadratic n=4", f, groups::quadratic_action<4>(a), sampling_with(84, 8),
                                               props::converged_teleport(groups::exp_map::cayley)));

    SECTION("and the check fails away from the maximum") {
        const auto r = props::check_newton_direction("Rosenbrock, no search", problems::rosenbrock(),
                                                     problems::rosenbrock_action(), sampling_with(85, 12), no_search());
        require_fail(r);
        REQUIRE(r.value > 1e-4);
        require_fail(props::check_newton_direction("quadratic n=4, no search", f, groups::quadratic_action<4>(a),
                                                   sampling_with(86, 8), no_search()));
    }
}

TEST_CASE("the standard suite passes and is a function of its seed", "[propositions]") {
    const auto first = props::standard_suite(7, 24);
    const auto second = props::standard_suite(7, 24);
    REQUIRE(first.size() == second.size());
    REQUIRE(first.size() >= 70);
    for (std::size_t i = 0; i < first.size(); ++i) {
        require_pass(first[i]);
        REQUIRE(first[i].value == second[i].value);
        REQUIRE(first[i].problem == second[i].problem);
    }
}
