// Recurrences (teleport/expr/recurrence.hpp): every generated order against central differences, the
// generated state-space fit against the hand-written one (docs/examples/state_space_fit.hpp), laws
// against the unrolled expression, checkpointed against stored runs bit for bit, bad input, and a
// teleport of the state-space fit along its GL(3) similarity.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../docs/examples/state_space_fit.hpp"
#include "derivative_check.hpp"
#include "teleport/problems/state_space.hpp"
#include "teleport/teleport.hpp"

namespace tg = teleport::groups;
using namespace teleport::expr;
using namespace teleport::expr::literals;
using teleport::testing::check_gradient_and_product;
using teleport::testing::vec;

namespace {

// The "true" system of the docs example: A's eigenvalues 0.76 ± 0.19i and 0.47.
constexpr std::array<double, 15> truth{0.8, 0.2, 0.0, -0.2, 0.7, 0.1, 0.0, 0.1, 0.5, 1.0, 0.5, -0.3, 1.0, 0.0, 0.5};

// Points near a stable system (far from one, a 10,000-step simulation overflows): every entry of
// `centre` moved by N(0, spread²).
template <std::size_t N>
std::vector<vec<N>> points_near(const vec<N>& centre, double spread, int count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, spread);
    std::vector<vec<N>> points(static_cast<std::size_t>(count), centre);
    for (auto& p : points)
        for (double& e : p) e += normal(rng);
    return points;
}

template <class A, class B>
double relative_difference(const A& a, const B& b) {
    double difference = 0, scale = 0;
    for (std::size_t i = 0; i < std::size(b); ++i) {
        difference = std::max(difference, std::abs(a[i] - b[i]));
        scale = std::max({scale, std::abs(a[i]), std::abs(b[i])});
    }
    return difference / scale;
}
double relative_difference(double a, double b) { return std::abs(a - b) / std::max(std::abs(a), std::abs(b)); }

// A nonlinear recurrence that exercises every rule of the engine: S = 2 states, P = 4 parameters,
// D = 2 data values (u_k, y_k) a step.
constexpr variable<0, "s0"> s0;
constexpr variable<1, "s1"> s1;
constexpr variable<2, "a"> a;
constexpr variable<3, "b"> b;
constexpr variable<4, "c"> c;
constexpr variable<5, "d"> d;
constexpr parameter<0, "u"> u;
constexpr parameter<1, "y"> y;
constexpr auto nonlinear_f0 = tanh(a * s0 + b * s1 + u);
constexpr auto nonlinear_f1 = 9_c / 10_c * exp(-(c * s0 * s0)) * s1 + d * sin(u) / (2_c + cos(s0));
constexpr auto nonlinear_update = next_state(nonlinear_f0, nonlinear_f1);
constexpr auto nonlinear_loss = pow<2>(s0 - y) + d * d * log(1_c + s1 * s1) / 10_c + sqrt(1_c + pow<2>(c * s1 - y));

std::vector<double> uniform_data(std::size_t values, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> data(values);
    for (double& e : data) e = uniform(rng);
    return data;
}

template <initial_state Init>
auto nonlinear(std::size_t K, checkpointing checkpoints, std::uint64_t seed = 3) {
    recurrence_options options;
    options.checkpoints = checkpoints;
    if constexpr (Init == initial_state::data) options.initial_state = {0.3, -0.2};
    return make_recurrence<2, 4, Init>(nonlinear_update, nonlinear_loss, uniform_data(2 * K, seed), options);
}

// The state-space fit's record (the docs example's data: the true system on a random ±1 input).
simulation::state_space_fit record(std::size_t K) {
    std::mt19937_64 rng(1);
    return simulation::measure(truth, K, rng);
}

// Every quantity of two functions on one point and direction, compared bit for bit.
template <class F, class G, std::size_t N>
void require_identical(const F& f, const G& g, const vec<N>& x, const vec<N>& v) {
    vec<N> gf{}, gg{}, hf{}, hg{};
    REQUIRE(f.evaluate(x) == g.evaluate(x));
    f.gradient(x, gf);
    g.gradient(x, gg);
    REQUIRE(gf == gg);
    REQUIRE(f.evaluate_with_gradient(x, gf) == g.evaluate_with_gradient(x, gg));
    REQUIRE(gf == gg);
    f.hessian_vector_product(x, v, hf);
    g.hessian_vector_product(x, v, hg);
    REQUIRE(hf == hg);
}

// e with every data value parameter<j> read from parameter<j + D> instead (the next step's row).
template <std::size_t D, class E>
constexpr auto next_row(E e) {
    if constexpr (is_parameter<E>::value) {
        return parameter<E::index + D>{};
    } else if constexpr (is_variable<E>::value || is_constant_v<E>) {
        return e;
    } else {
        return []<class Op, class... C>(node<Op, C...>) { return teleport::expr::detail::rebuild(Op{}, next_row<D>(C{})...); }(e);
    }
}

}  // namespace

TEST_CASE("recurrence: gradient and Hessian-vector product against central differences", "[recurrence]") {
    for (std::size_t K : {1, 2, 7, 60}) {
        INFO("K = " << K);
        const auto data_start = nonlinear<initial_state::data>(K, checkpointing::all());
        check_gradient_and_product<4>(data_start, points_near<4>({0.5, -0.4, 0.3, 0.8}, 0.3, 3, K), 10 + K);
        const auto differentiated_start = nonlinear<initial_state::parameter>(K, checkpointing::every(3));
        check_gradient_and_product<6>(differentiated_start, points_near<6>({0.5, -0.4, 0.3, 0.8, 0.3, -0.2}, 0.3, 3, K), 20 + K);
    }
}

TEST_CASE("recurrence: the state-space fit's derivatives against central differences at K = 200 and 10,000", "[recurrence]") {
    for (std::size_t K : {200, 10000}) {
        INFO("K = " << K);
        const auto data = record(K);
        const auto fit = teleport::problems::state_space_fit(data.u, data.y);
        check_gradient_and_product<15>(fit, points_near<15>(truth, 0.05, 3, K), K);
    }
}

TEST_CASE("recurrence: the generated state-space fit equals the hand-written adjoint code", "[recurrence]") {
    for (std::size_t K : {200, 10000}) {
        const auto data = record(K);
        const auto fit = teleport::problems::state_space_fit(data.u, data.y);
        for (const auto& p : points_near<15>(truth, 0.1, 4, 7)) {
            const auto v = points_near<15>(vec<15>{}, 1.0, 1, 8)[0];
            vec<15> g{}, h{}, fused{}, hv{}, hand_hv{};
            const double loss = fit.evaluate(p), hand = data.evaluate(p);
            fit.gradient(p, g);
            const double fused_loss = fit.evaluate_with_gradient(p, fused);
            const double hand_loss = data.evaluate_with_gradient(p, h);
            fit.hessian_vector_product(p, v, hv);
            data.hessian_vector_product(p, v, hand_hv);
            INFO("K = " << K << ": loss " << relative_difference(loss, hand) << ", gradient " << relative_difference(g, h)
                        << ", Hessian-vector product " << relative_difference(hv, hand_hv));
            REQUIRE(relative_difference(loss, hand) <= 1e-12);
            REQUIRE(relative_difference(fused_loss, hand_loss) <= 1e-12);
            REQUIRE(relative_difference(g, h) <= 1e-12);
            REQUIRE(relative_difference(fused, h) <= 1e-12);
            REQUIRE(relative_difference(hv, hand_hv) <= 1e-12);
        }
    }
}

TEST_CASE("recurrence: K = 1 is the loss at s_0, K = 2 the loss at s_0 plus the loss composed with the step", "[recurrence]") {
    // the point is (θ, s_0): θ = a, b, c, d are variables 0–3, s_0 variables 4–5; step k's data are
    // parameters 2k, 2k + 1
    constexpr auto start = [](auto e) { return compose(e, variable<4>{}, variable<5>{}, variable<0>{}, variable<1>{}, variable<2>{}, variable<3>{}); };
    constexpr auto loss_0 = start(nonlinear_loss);
    constexpr auto s1_0 = start(nonlinear_f0);
    constexpr auto s1_1 = start(nonlinear_f1);
    constexpr auto loss_1 = compose(next_row<2>(nonlinear_loss), s1_0, s1_1, variable<0>{}, variable<1>{}, variable<2>{}, variable<3>{});
    const std::vector<double> data = uniform_data(4, 5);
    const auto one = teleport::make_function<6>(loss_0, std::span<const double>(data.data(), 2));
    const auto two = teleport::make_function<6>(loss_0 + loss_1, data);
    const auto r1 = make_recurrence<2, 4, initial_state::parameter>(nonlinear_update, nonlinear_loss, std::span(data.data(), 2));
    const auto r2 = make_recurrence<2, 4, initial_state::parameter>(nonlinear_update, nonlinear_loss, data);
    double largest = 0;
    for (const auto& x : points_near<6>({0.5, -0.4, 0.3, 0.8, 0.3, -0.2}, 0.3, 5, 9)) {
        const auto v = points_near<6>(vec<6>{}, 1.0, 1, 10)[0];
        auto compare = [&](const auto& r, const auto& e) {
            vec<6> gr{}, ge{}, hr{}, he{};
            r.gradient(x, gr);
            e.gradient(x, ge);
            r.hessian_vector_product(x, v, hr);
            e.hessian_vector_product(x, v, he);
            for (double difference : {relative_difference(r.evaluate(x), e.evaluate(x)), relative_difference(gr, ge), relative_difference(hr, he)})
                largest = std::max(largest, difference);
        };
        compare(r1, one);
        compare(r2, two);
    }
    INFO("largest relative difference " << largest);
    REQUIRE(largest <= 16 * std::numeric_limits<double>::epsilon());
}

TEST_CASE("recurrence: checkpointed runs equal the stored run bit for bit", "[recurrence]") {
    const auto data = record(10000);
    const auto stored = teleport::problems::state_space_fit(data.u, data.y);
    const auto v = points_near<15>(vec<15>{}, 1.0, 1, 11)[0];
    const auto p = points_near<15>(truth, 0.1, 1, 12)[0];
    for (checkpointing c : {checkpointing::sqrt_k(), checkpointing::every(7), checkpointing::every(9999), checkpointing::every(10000),
                            checkpointing::every(20000)}) {
        const auto kept = teleport::problems::state_space_fit(data.u, data.y, c);
        INFO("interval " << kept.checkpoint_interval());
        require_identical(kept, stored, p, v);
    }
    const auto sqrt_k = teleport::problems::state_space_fit(data.u, data.y, checkpointing::sqrt_k());
    REQUIRE(sqrt_k.checkpoint_interval() == 100);
    REQUIRE(sqrt_k.stored_states() == 200);
    REQUIRE(stored.stored_states() == 10000);
    for (std::size_t K : {1, 2, 37}) {
        INFO("K = " << K);
        const auto x = points_near<6>({0.5, -0.4, 0.3, 0.8, 0.3, -0.2}, 0.3, 1, 13)[0];
        const auto w = points_near<6>(vec<6>{}, 1.0, 1, 14)[0];
        for (checkpointing c : {checkpointing::sqrt_k(), checkpointing::every(5), checkpointing::every(2)})
            require_identical(nonlinear<initial_state::parameter>(K, c), nonlinear<initial_state::parameter>(K, checkpointing::all()), x, w);
    }
}

TEST_CASE("recurrence: points in std::array, std::vector and std::span give the same results", "[recurrence]") {
    const auto data = record(50);
    const auto fit = teleport::problems::state_space_fit(data.u, data.y);
    const auto p = points_near<15>(truth, 0.1, 1, 15)[0];
    const std::vector<double> pv(p.begin(), p.end());
    std::vector<double> g;  // resized by the call
    vec<15> ga{};
    fit.gradient(p, ga);
    fit.gradient(pv, g);
    REQUIRE(g.size() == 15);
    REQUIRE(std::equal(g.begin(), g.end(), ga.begin()));
    REQUIRE(fit.evaluate(std::span<const double>(pv)) == fit.evaluate(p));
    REQUIRE(fit.evaluate(simulation::params(p)) == fit.evaluate(p));
}

TEST_CASE("recurrence: bad input is refused with one line", "[recurrence]") {
    const std::vector<double> five(5, 0.1);
    REQUIRE_THROWS_WITH((make_recurrence<2, 4>(nonlinear_update, nonlinear_loss, five)),
                        "recurrence: 5 data values are not a multiple of the 2 values each step reads");
    REQUIRE_THROWS_WITH((make_recurrence<2, 4>(nonlinear_update, nonlinear_loss, std::span<const double>())),
                        "recurrence: the number of steps K must be at least 1");
    recurrence_options options;
    options.initial_state = {1, 2, 3};
    REQUIRE_THROWS_WITH((make_recurrence<2, 4>(nonlinear_update, nonlinear_loss, uniform_data(4, 1), options)),
                        "recurrence: the initial state has 3 entries but the state has 2");
    REQUIRE_THROWS_WITH((make_recurrence<2, 4, initial_state::parameter>(nonlinear_update, nonlinear_loss, uniform_data(4, 1), options)),
                        "recurrence: the initial state is a parameter (the point's last 2 entries), so it cannot be given as data");
    options = {};
    options.steps = 3;
    REQUIRE_THROWS_WITH((make_recurrence<2, 4>(nonlinear_update, nonlinear_loss, uniform_data(4, 1), options)),
                        "recurrence: the data hold 2 steps but 3 were asked for");
    options = {};
    options.checkpoints = checkpointing::every(0);
    REQUIRE_THROWS_WITH((make_recurrence<2, 4>(nonlinear_update, nonlinear_loss, uniform_data(4, 1), options)),
                        "recurrence: the checkpoint interval must be at least 1 step");
    // a recurrence that reads no data needs K
    REQUIRE_THROWS_WITH((make_recurrence<1, 1>(next_state(variable<1>{} * s0), pow<2>(s0 - 1_c), std::span<const double>())),
                        "recurrence: the number of steps K must be at least 1");
    options = {};
    options.steps = 4;
    options.initial_state = {2.0};
    const auto decay = make_recurrence<1, 1>(next_state(variable<1>{} * s0), s0 * s0, std::span<const double>(), options);
    REQUIRE(decay.evaluate(std::array<double, 1>{0.5}) == 4.0 + 1.0 + 0.25 + 0.0625);  // Σ (2 · 0.5^k)², exact
    const auto fit = teleport::problems::state_space_fit(std::vector<double>(4, 1.0), std::vector<double>(4, 0.0));
    std::vector<double> wrong(14, 0.0), g;
    REQUIRE_THROWS_WITH(fit.evaluate(wrong), "the point has 14 entries but the function has 15 variables");
    REQUIRE_THROWS_WITH(teleport::problems::state_space_fit(std::vector<double>(4, 1.0), std::vector<double>(3, 0.0)),
                        "state_space_fit: 4 inputs but 3 outputs");
}

TEST_CASE("recurrence: the state-space fit teleports along its GL(3) similarity", "[recurrence]") {
    const auto data = record(200);
    const auto loss = teleport::problems::state_space_fit(data.u, data.y);
    const auto similarity = teleport::problems::state_space_similarity();
    const auto w = points_near<15>(truth, 0.1, 1, 16)[0];
    // L(T·θ) = L(θ) for random T = e^X
    std::mt19937_64 rng(17);
    std::normal_distribution<double> normal(0.0, 0.2);
    for (int trial = 0; trial < 5; ++trial) {
        std::array<double, 9> x{};
        for (double& e : x) e = normal(rng);
        const double moved = loss.evaluate(similarity.apply(tg::exponential<tg::gl<3>>(x).g, w));
        REQUIRE(relative_difference(moved, loss.evaluate(w)) <= 1e-12);
    }
    // the generated teleport objective ‖∇L(e^X·θ)‖², and its gradient in X (which needs the
    // Hessian-vector product) against central differences
    const teleport::teleport_objective<decltype(loss), decltype(similarity)> objective(loss, similarity, w);
    for (int trial = 0; trial < 3; ++trial) {
        std::array<double, 9> theta{};
        for (double& e : theta) e = normal(rng) * 0.5;
        teleport::testing::check_objective_gradient_at(objective, theta);
        REQUIRE(relative_difference(loss.evaluate(objective.moved(theta)), loss.evaluate(w)) <= 1e-12);
    }
    // a teleport with the library's defaults: the objective grows and the loss stays
    teleport::teleport_settings settings;
    std::mt19937_64 search(1);
    teleport::teleport_report report;
    auto moved = w;
    (void)teleport::teleport_once(loss, similarity, moved, settings, search, report);
    INFO("objective " << report.grad_norm_sq_before << " -> " << report.grad_norm_sq_after << ", "
                      << (report.accepted ? "kept" : report.rejection));
    REQUIRE(report.grad_norm_sq_after > report.grad_norm_sq_before);
    REQUIRE(relative_difference(loss.evaluate(moved), loss.evaluate(w)) <= settings.tolerance);
    REQUIRE(moved != w);
}
