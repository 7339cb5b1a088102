// Groups declared by their generators, products, actions composed from blocks (representations),
// parameters in the user's own containers, and the named (type-erased) loss and action.
#include <array>
#include <cmath>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xtensor.hpp>

#include "derivative_check.hpp"
#include "group_laws.hpp"
#include "teleport/teleport.hpp"

namespace tg = teleport::groups;
using group_laws::check_algebra_laws;
using tg::generator;

namespace {

// sl(2): E, F, H.
using sl2 = tg::algebra<2, generator<0, 1,
                                     0, 0>,
                           generator<0, 0,
                                     1, 0>,
                           generator<1, 0,
                                     0, -1>>;
// so(3) and gl(2) written out, in the order of so<3>::generator and gl<2>::generator.
using so3_listed = tg::algebra<3, generator<0, -1, 0, 1, 0, 0, 0, 0, 0>, generator<0, 0, -1, 0, 0, 0, 1, 0, 0>,
                               generator<0, 0, 0, 0, 0, -1, 0, 1, 0>>;
using gl2_listed = tg::algebra<2, generator<1, 0, 0, 0>, generator<0, 1, 0, 0>, generator<0, 0, 1, 0>, generator<0, 0, 0, 1>>;
using scaling3_listed = tg::algebra<3, generator<1, 0, 0, 0, 0, 0, 0, 0, 0>, generator<0, 0, 0, 0, 1, 0, 0, 0, 0>,
                                    generator<0, 0, 0, 0, 0, 0, 0, 0, 1>>;
using so2_listed = tg::algebra<2, generator<0, -1, 1, 0>>;
// A two-generator subalgebra of gl(3): the affine maps of the line, [[a, b, 0], [0, 0, 0], [0, 0, 0]].
using affine_line = tg::algebra<3, generator<1, 0, 0, 0, 0, 0, 0, 0, 0>, generator<0, 1, 0, 0, 0, 0, 0, 0, 0>>;

template <std::size_t N>
double max_abs_diff(const std::array<double, N>& a, const std::array<double, N>& b) {
    double m = 0;
    for (std::size_t i = 0; i < N; ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

template <std::size_t N>
std::array<double, N> random_point(std::mt19937_64& rng, double scale = 1.0) {
    std::normal_distribution<double> normal(0.0, scale);
    std::array<double, N> w{};
    for (double& e : w) e = normal(rng);
    return w;
}

}  // namespace

TEST_CASE("an algebra declared by its generators satisfies the Lie algebra laws", "[user groups]") {
    STATIC_REQUIRE(sl2::n == 2);
    STATIC_REQUIRE(sl2::dimension == 3);
    STATIC_REQUIRE(!sl2::skew_symmetric);
    STATIC_REQUIRE(!sl2::abelian);
    STATIC_REQUIRE(affine_line::dimension == 2);
    STATIC_REQUIRE(!affine_line::abelian);
    STATIC_REQUIRE(so3_listed::skew_symmetric);
    STATIC_REQUIRE(scaling3_listed::diagonal);
    STATIC_REQUIRE(scaling3_listed::abelian);
    STATIC_REQUIRE(decltype(boost::hana::length(sl2::generators))::value == 3);
    check_algebra_laws<sl2>(11);
    check_algebra_laws<affine_line>(12);
    check_algebra_laws<so3_listed>(13);
    check_algebra_laws<gl2_listed>(14);
    check_algebra_laws<scaling3_listed>(15);
    check_algebra_laws<so2_listed>(16);
}

TEST_CASE("so, gl and scaling are the same algebras as their generator lists, with the same closed forms",
          "[user groups]") {
    for (std::size_t k = 0; k < 3; ++k) REQUIRE(so3_listed::generator(k) == tg::so<3>::generator(k));
    for (std::size_t k = 0; k < 4; ++k) REQUIRE(gl2_listed::generator(k) == tg::gl<2>::generator(k));
    for (std::size_t k = 0; k < 3; ++k) REQUIRE(scaling3_listed::generator(k) == tg::scaling<3>::generator(k));
    STATIC_REQUIRE(tg::so<3>::skew_symmetric == so3_listed::skew_symmetric);
    STATIC_REQUIRE(tg::scaling<3>::diagonal && tg::scaling<3>::abelian);
    std::mt19937_64 rng(3);
    for (int trial = 0; trial < 10; ++trial) {
        // the closed forms are chosen by structure, so the listed algebras take the same path: bitwise equal
        const auto t3 = random_point<3>(rng);
        REQUIRE(tg::exponential<scaling3_listed>(t3).g == tg::exponential<tg::scaling<3>>(t3).g);
        REQUIRE(tg::exponential<scaling3_listed>(t3).inverse == tg::exponential<tg::scaling<3>>(t3).inverse);
        REQUIRE(tg::exponential<so3_listed>(t3).g == tg::exponential<tg::so<3>>(t3).g);
        const auto t1 = random_point<1>(rng);
        REQUIRE(tg::exponential<so2_listed>(t1).g == tg::exponential<tg::so<2>>(t1).g);
        const auto t4 = random_point<4>(rng);
        REQUIRE(tg::exponential<gl2_listed>(t4).g == tg::exponential<tg::gl<2>>(t4).g);
        // a diagonal algebra's exponential is the closed form, equal to the series to rounding
        const auto x = tg::algebra_element<scaling3_listed>(t3);
        REQUIRE(tg::max_abs_difference(tg::exponential<scaling3_listed>(t3).g, tg::expm(x)) < 1e-13 * tg::norm_inf(tg::expm(x)));
    }
}

TEST_CASE("a product group is block diagonal, each block by its own factor's closed form", "[user groups]") {
    using P = tg::product<tg::so<2>, tg::scaling<2>, sl2>;
    STATIC_REQUIRE(P::n == 6);
    STATIC_REQUIRE(P::dimension == 6);
    STATIC_REQUIRE(P::count == 3);
    STATIC_REQUIRE(std::is_same_v<P::factor<2>, sl2>);
    STATIC_REQUIRE(!P::skew_symmetric);
    STATIC_REQUIRE(tg::product<tg::so<2>, tg::so<3>>::skew_symmetric);
    REQUIRE(P::name() == "so(2) x diag(2) x span of 3 generators in gl(2)");
    check_algebra_laws<P>(21);
    check_algebra_laws<tg::product<tg::so<2>, tg::so<3>>>(22);
    std::mt19937_64 rng(5);
    const auto theta = random_point<6>(rng);
    const auto e = tg::exponential<P>(theta);
    // blocks: each factor's own exponential, bitwise; zero outside the blocks
    const auto b0 = tg::exponential<tg::so<2>>(std::span<const double, 1>(theta.data(), 1));
    const auto b2 = tg::exponential<sl2>(std::span<const double, 3>(theta.data() + 3, 3));
    REQUIRE(P::block<0>(e.g) == b0.g);
    REQUIRE(P::block<2>(e.g) == b2.g);
    REQUIRE(P::block<2>(e.inverse) == b2.inverse);
    REQUIRE(e.g(0, 3) == 0.0);
    REQUIRE(e.g(5, 1) == 0.0);
    // and the whole equals the general exponential of the block-diagonal X
    REQUIRE(tg::max_abs_difference(e.g, tg::expm(tg::algebra_element<P>(theta))) < 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Representations: actions composed from blocks.

namespace {

// The similarity transform of a state-space model, written by hand: the reference.
struct similarity_by_hand {
    using algebra = tg::gl<3>;
    static constexpr std::size_t n = 15;
    using point = std::array<double, 15>;
    point apply(const tg::small_matrix<3>& t, const point& w) const {
        const auto ti = tg::inverse(t);
        tg::small_matrix<3> a;
        for (std::size_t k = 0; k < 9; ++k) a.a[k] = w[k];
        const auto ta = t * a * ti;
        point out{};
        for (std::size_t k = 0; k < 9; ++k) out[k] = ta.a[k];
        for (std::size_t i = 0; i < 3; ++i) {
            double b = 0, c = 0;
            for (std::size_t k = 0; k < 3; ++k) {
                b += t(i, k) * w[9 + k];
                c += w[12 + k] * ti(k, i);
            }
            out[9 + i] = b;
            out[12 + i] = c;
        }
        return out;
    }
};

// Invariants of (A, B, C) under similarity: Markov parameters C B, C A B and traces of A, A².
struct similarity_invariant_loss {
    using point = std::array<double, 15>;
    static double cab(const point& w, int power) {
        std::array<double, 3> v{w[9], w[10], w[11]};
        for (int p = 0; p < power; ++p) {
            std::array<double, 3> u{};
            for (std::size_t i = 0; i < 3; ++i)
                for (std::size_t k = 0; k < 3; ++k) u[i] += w[i * 3 + k] * v[k];
            v = u;
        }
        return w[12] * v[0] + w[13] * v[1] + w[14] * v[2];
    }
    double evaluate(const point& w) const {
        double tr = w[0] + w[4] + w[8], tr2 = 0;
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t k = 0; k < 3; ++k) tr2 += w[i * 3 + k] * w[k * 3 + i];
        const double r0 = cab(w, 0) - 1.0, r1 = cab(w, 1) - 0.5, r2 = cab(w, 2) - 0.2;
        return r0 * r0 + r1 * r1 + r2 * r2 + (tr - 0.3) * (tr - 0.3) + (tr2 - 1.0) * (tr2 - 1.0);
    }
};

template <class Action, std::size_t N = Action::n>
void check_action_derivatives(const Action& action, std::uint64_t seed, const std::string& what) {
    using A = typename Action::algebra;
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 5; ++trial) {
        const auto w = random_point<N>(rng);
        const auto theta = random_point<A::dimension>(rng, 0.3);
        const auto g = tg::exponential<A>(theta).g;
        // apply_derivative along every generator against central differences of apply in g
        for (std::size_t k = 0; k < A::dimension; ++k) {
            const auto dg = A::generator(k);
            const double h = 1e-6;
            const auto up = action.apply(g + h * dg, w);
            const auto down = action.apply(g - (h * dg), w);
            const auto d = action.apply_derivative(g, dg, w);
            double scale = 1.0;
            for (double e : d) scale = std::max(scale, std::abs(e));
            for (std::size_t i = 0; i < N; ++i) {
                INFO(what << ": d/dt along generator " << k << ", entry " << i);
                REQUIRE(std::abs(d[i] - (up[i] - down[i]) / (2 * h)) <= 1e-7 * scale);
            }
        }
        // the Jacobian in w against central differences
        const auto j = action.jacobian(g, w);
        for (std::size_t c = 0; c < N; ++c) {
            auto up = w, down = w;
            const double h = 1e-6;
            up[c] += h;
            down[c] -= h;
            const auto a = action.apply(g, up), b = action.apply(g, down);
            for (std::size_t r = 0; r < N; ++r) {
                INFO(what << ": jacobian entry " << r << ", " << c);
                REQUIRE(std::abs(j(r, c) - (a[r] - b[r]) / (2 * h)) <= 1e-7 * std::max(1.0, std::abs(j(r, c))));
            }
        }
        // an action: identity at I, and g·(h·w) = (gh)·w
        REQUIRE(max_abs_diff(action.apply(tg::small_matrix<A::n>::identity(), w), w) < 1e-14 * (1 + max_abs_diff(w, std::array<double, N>{})));
        const auto h2 = tg::exponential<A>(random_point<A::dimension>(rng, 0.3)).g;
        REQUIRE(max_abs_diff(action.apply(g, action.apply(h2, w)), action.apply(g * h2, w)) < 1e-12 * (1 + tg::norm_inf(g)) * 10);
    }
}

}  // namespace

TEST_CASE("the similarity transform as a representation equals the hand-written action", "[user groups]") {
    const auto similarity =
        tg::make_representation<tg::gl<3>>(tg::conjugation<3>{}, tg::left<3, 1>{}, tg::right_inverse<1, 3>{});
    STATIC_REQUIRE(decltype(similarity)::n == 15);
    STATIC_REQUIRE(teleport::transportable_action<decltype(similarity)>);
    const similarity_by_hand by_hand;
    const similarity_invariant_loss loss;
    std::mt19937_64 rng(8);
    for (int trial = 0; trial < 20; ++trial) {
        const auto w = random_point<15>(rng);
        const auto g = tg::exponential<tg::gl<3>>(random_point<9>(rng, 0.5)).g;
        const auto moved = similarity.apply(g, w);
        REQUIRE(max_abs_diff(moved, by_hand.apply(g, w)) < 1e-13 * (1 + tg::norm_inf(g) * tg::norm_inf(tg::inverse(g))));
        // exact invariance of a similarity-invariant loss
        REQUIRE(loss.evaluate(moved) == Approx(loss.evaluate(w)).epsilon(1e-12));
    }
    check_action_derivatives(similarity, 9, "similarity");
}

TEST_CASE("every block of a representation: derivative and Jacobian against differences", "[user groups]") {
    using namespace teleport::expr;
    using namespace teleport::expr::literals;
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;
    const auto phi = tg::make_map<2>(x + pow<3>(y) - 2_c, y - 1_c);
    const auto phi_inverse = tg::make_map<2>(x + 2_c - pow<3>(y + 1_c), y + 1_c);
    check_action_derivatives(tg::make_representation<tg::gl<2>>(tg::left<2, 3>{}, tg::right_inverse<3, 2>{}), 31, "left, right_inverse");
    check_action_derivatives(tg::make_representation<tg::gl<2>>(tg::left_inverse_transpose<2, 2>{}, tg::right_transpose<1, 2>{},
                                                                tg::invariant<3>{}, tg::conjugation<2>{}),
                             32, "left_inverse_transpose, right_transpose, invariant, conjugation");
    check_action_derivatives(tg::make_representation<tg::so<2>>(tg::coordinate_block{phi, phi_inverse}, tg::left<2, 1>{}), 33,
                             "coordinate block");
    // a product group: SO(2) on the first block, the positive scalings on the second, sl(2) on the third
    using P = tg::product<tg::so<2>, tg::scaling<2>, sl2>;
    const auto rep = tg::make_representation<P>(tg::on<0>(tg::coordinate_block{phi, phi_inverse}), tg::on<1>(tg::left<2, 2>{}),
                                                tg::on<2>(tg::conjugation<2>{}), tg::invariant<1>{});
    STATIC_REQUIRE(decltype(rep)::n == 11);
    check_action_derivatives(rep, 34, "product");
    // factor I of the product moves only its own block
    std::mt19937_64 rng(4);
    const auto w = random_point<11>(rng);
    std::array<double, 6> theta{};
    theta[1] = 0.4;  // scaling only
    const auto moved = rep.apply(tg::exponential<P>(theta).g, w);
    for (std::size_t i : {4, 5, 6, 7, 8, 9, 10}) REQUIRE(moved[i] == w[i]);  // diag(e^0.4, 1) scales row 0 only
    for (std::size_t i : {0, 1}) REQUIRE(moved[i] == Approx(w[i]).epsilon(1e-14));  // φ⁻¹(φ(w)), rounded
    REQUIRE(moved[2] == Approx(std::exp(0.4) * w[2]).epsilon(1e-15));
    REQUIRE(moved[3] == Approx(std::exp(0.4) * w[3]).epsilon(1e-15));
}

TEST_CASE("the teleport objective of a representation: gradient against differences, invariance", "[user groups]") {
    using namespace teleport::expr;
    using namespace teleport::expr::literals;
    // a symbolic loss invariant under the similarity transform: (CB − 1)² + (tr A − 0.3)² + (tr A² − 1)²
    constexpr auto v = [](auto i) { return variable<decltype(i)::value>{}; };
    constexpr auto cb = sum<3>([&](auto i) {
        return v(std::integral_constant<std::size_t, 12 + decltype(i)::value>{}) *
               v(std::integral_constant<std::size_t, 9 + decltype(i)::value>{});
    });
    constexpr auto tr = variable<0>{} + variable<4>{} + variable<8>{};
    constexpr auto tr2 = sum<9>([&](auto k) {
        constexpr std::size_t i = decltype(k)::value / 3, j = decltype(k)::value % 3;
        return v(std::integral_constant<std::size_t, i * 3 + j>{}) * v(std::integral_constant<std::size_t, j * 3 + i>{});
    });
    const auto loss = teleport::make_function<15>(pow<2>(cb - 1_c) + pow<2>(tr - 0.3_c) + pow<2>(tr2 - 1_c));
    const auto similarity =
        tg::make_representation<tg::gl<3>>(tg::conjugation<3>{}, tg::left<3, 1>{}, tg::right_inverse<1, 3>{});
    std::mt19937_64 rng(12);
    const auto w = random_point<15>(rng);
    const teleport::teleport_objective<decltype(loss), decltype(similarity)> objective(loss, similarity, w);
    for (int trial = 0; trial < 5; ++trial) {
        const auto theta = random_point<9>(rng, 0.2);
        teleport::testing::check_objective_gradient_at(objective, theta);
        REQUIRE(loss.evaluate(objective.moved(theta)) == Approx(loss.evaluate(w)).epsilon(1e-12));
    }
    // a teleport with the library's defaults is accepted and keeps the loss
    teleport::teleport_settings settings;
    std::mt19937_64 search(1);
    teleport::teleport_report report;
    auto x = w;
    (void)teleport::teleport_once(loss, similarity, x, settings, search, report);
    REQUIRE(report.accepted);
    REQUIRE(report.grad_norm_sq_after > report.grad_norm_sq_before);
    // GL(3) is not compact: ‖∇L‖² grows without bound along the orbit, and the search goes far (entries
    // of order 1e4 here), where rounding alone changes L by more than 1e-12; the engine's guard holds
    REQUIRE(std::abs(loss.evaluate(x) - loss.evaluate(w)) <= settings.tolerance * loss.evaluate(w));
}

// ---------------------------------------------------------------------------------------------
// Parameters in the user's containers, named types, checks at the start.

namespace {
struct example_problem {
    static auto make() {
        using namespace teleport::expr;
        using namespace teleport::expr::literals;
        constexpr variable<0, "x"> x;
        constexpr variable<1, "y"> y;
        const auto loss = teleport::make_function<2>(pow<2>(x + pow<3>(y) - 2_c) + pow<2>(y - 1_c));
        const auto phi = tg::make_map<2>(x + pow<3>(y) - 2_c, y - 1_c);
        const auto phi_inverse = tg::make_map<2>(x + 2_c - pow<3>(y + 1_c), y + 1_c);
        return std::pair{loss, tg::make_coordinate_action<tg::so<2>>(phi, phi_inverse)};
    }
};
}  // namespace

TEST_CASE("parameters in std::vector, std::span and xtensor run exactly as std::array", "[user groups]") {
    const auto [loss, action] = example_problem::make();
    const teleport::gd gd{3e-4};
    const auto schedule = teleport::teleport_schedule::every(50, 9);
    const teleport::teleport_settings settings;
    std::array<double, 2> a{-1.0, -1.5};
    const auto ra = teleport::optimize_with_teleport(gd, loss, action, a, 120, schedule, settings, 1);
    std::vector<double> v{-1.0, -1.5};
    const auto rv = teleport::optimize_with_teleport(gd, loss, action, v, 120, schedule, settings, 1);
    std::vector<double> backing{-1.0, -1.5};
    const auto rs = teleport::optimize_with_teleport(gd, loss, action, std::span<double>(backing), 120, schedule, settings, 1);
    xt::xtensor<double, 1> t = {-1.0, -1.5};
    const auto rt = teleport::optimize_with_teleport(gd, loss, action, t, 120, schedule, settings, 1);
    REQUIRE(ra.teleports.size() == 3);
    for (const auto* r : {&rv, &rs, &rt}) {
        REQUIRE(r->steps.back().loss == ra.steps.back().loss);
        REQUIRE(r->teleports.size() == ra.teleports.size());
    }
    REQUIRE(v[0] == a[0]);
    REQUIRE(v[1] == a[1]);
    REQUIRE(backing[1] == a[1]);
    REQUIRE(t(0) == a[0]);
    // the step-aware objective through the same overload
    std::vector<double> l{-1.0, -1.5};
    REQUIRE_NOTHROW(teleport::optimize_with_teleport(gd, loss, teleport::lookahead_symmetry(loss, action, 2), l, 60, schedule,
                                                     settings, 1));
    // a vector of the wrong size is one line, not a crash
    std::vector<double> wrong{1.0, 2.0, 3.0};
    REQUIRE_THROWS_WITH(teleport::optimize_with_teleport(gd, loss, action, wrong, 10, schedule, settings, 1),
                        "teleport: the parameter vector has 3 entries but the problem has 2");
}

TEST_CASE("any_loss and any_action: named types that run exactly as the originals", "[user groups]") {
    const auto [loss, action] = example_problem::make();
    struct holder {  // what a user's simulation class keeps as members
        teleport::any_loss<2> loss;
        tg::any_action<tg::so<2>, 2> action;
    };
    const holder h{loss, action};
    const teleport::gd gd{3e-4};
    const auto schedule = teleport::teleport_schedule::every(50, 9);
    const teleport::teleport_settings settings;
    std::array<double, 2> a{-1.0, -1.5}, b = a;
    const auto ra = teleport::optimize_with_teleport(gd, loss, action, a, 120, schedule, settings, 1);
    const auto rb = teleport::optimize_with_teleport(gd, h.loss, h.action, b, 120, schedule, settings, 1);
    REQUIRE(a == b);
    REQUIRE(ra.steps.back().loss == rb.steps.back().loss);
    REQUIRE(h.loss.has_hessian_vector_product());
    // a loss without an HVP can be held, and says so when one is asked for
    struct no_hvp {
        double evaluate(const std::array<double, 2>& x) const { return x[0] * x[0] + x[1] * x[1]; }
        void gradient(const std::array<double, 2>& x, std::array<double, 2>& g) const { g = {2 * x[0], 2 * x[1]}; }
    };
    const teleport::any_loss<2> plain{no_hvp{}};
    std::array<double, 2> out{};
    REQUIRE(!plain.has_hessian_vector_product());
    REQUIRE_THROWS_WITH(plain.hessian_vector_product(a, a, out), "any_loss: the loss it holds has no hessian_vector_product(x, v, out)");
}

TEST_CASE("a wrong phi inverse is one line at the start, not every teleport rejected", "[user groups]") {
    using namespace teleport::expr;
    using namespace teleport::expr::literals;
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;
    const auto [loss, good] = example_problem::make();
    const auto phi = tg::make_map<2>(x + pow<3>(y) - 2_c, y - 1_c);
    const auto wrong_inverse = tg::make_map<2>(x + 2_c - pow<3>(y), y + 1_c);  // (v + 1)³ written v³
    const auto bad = tg::make_coordinate_action<tg::so<2>>(phi, wrong_inverse);
    std::array<double, 2> w{-1.0, -1.5};
    REQUIRE_NOTHROW(good.check(w));
    REQUIRE_THROWS_AS(bad.check(w), std::invalid_argument);
    REQUIRE_THROWS_AS((tg::make_coordinate_action<tg::so<2>>(phi, wrong_inverse, w)), std::invalid_argument);
    try {
        (void)teleport::optimize_with_teleport(teleport::gd{3e-4}, loss, bad, w, 10, teleport::teleport_schedule::every(5, 0),
                                               teleport::teleport_settings{}, 1);
        FAIL("a wrong phi inverse was accepted");
    } catch (const std::invalid_argument& e) {
        const std::string m = e.what();
        REQUIRE(m.find("phi_inverse is not the inverse of phi") != std::string::npos);
        REQUIRE(m.find('\n') == std::string::npos);
    }
    // inside a representation, the coordinate block is checked the same way
    const auto rep = tg::make_representation<tg::so<2>>(tg::coordinate_block{phi, wrong_inverse});
    REQUIRE_THROWS_AS(rep.check(w), std::invalid_argument);
}

namespace {
// g·w = g w on ℝ² for g ∈ SO(2) (‖w‖² is invariant): a user's action with no jacobian member.
struct rotation {
    using algebra = tg::so<2>;
    static constexpr std::size_t n = 2;
    std::array<double, 2> apply(const tg::small_matrix<2>& g, const std::array<double, 2>& w) const { return g.apply(w); }
    std::array<double, 2> apply_derivative(const tg::small_matrix<2>&, const tg::small_matrix<2>& dg,
                                           const std::array<double, 2>& w) const {
        return dg.apply(w);
    }
};
}  // namespace

TEST_CASE("a user's action without a Jacobian works unless the state is transported", "[user groups]") {
    STATIC_REQUIRE(teleport::group_action<rotation>);
    STATIC_REQUIRE(!teleport::transportable_action<rotation>);
    using namespace teleport::expr;
    using namespace teleport::expr::literals;
    constexpr variable<0> x;
    constexpr variable<1> y;
    const auto loss = teleport::make_function<2>(pow<2>(x) + pow<2>(y));
    std::array<double, 2> w{0.3, -0.4};
    REQUIRE_NOTHROW(teleport::optimize_with_teleport(teleport::gd{0.1}, loss, rotation{}, w, 5,
                                                     teleport::teleport_schedule::every(2, 0), teleport::teleport_settings{}, 1));
    REQUIRE_THROWS_WITH(teleport::optimize_with_teleport(teleport::adam{0.1}, loss, rotation{}, w, 5,
                                                         teleport::teleport_schedule::every(2, 0), teleport::teleport_settings{}, 1,
                                                         teleport::state_policy::transport),
                        "teleport: transporting optimizer state needs the action's jacobian(g, w)");
}

namespace {
// A loss with only the fused evaluate_with_gradient and a Hessian-vector product: L = ‖w‖² + (‖w‖² − 1)².
struct fused_only {
    double evaluate(const std::array<double, 2>& w) const {
        const double r = w[0] * w[0] + w[1] * w[1];
        return r + (r - 1) * (r - 1);
    }
    double evaluate_with_gradient(const std::array<double, 2>& w, std::array<double, 2>& g) const {
        const double r = w[0] * w[0] + w[1] * w[1];
        const double c = 2 + 4 * (r - 1);
        g = {c * w[0], c * w[1]};
        return r + (r - 1) * (r - 1);
    }
    void hessian_vector_product(const std::array<double, 2>& w, const std::array<double, 2>& v, std::array<double, 2>& out) const {
        const double r = w[0] * w[0] + w[1] * w[1];
        const double c = 2 + 4 * (r - 1);
        const double wv = w[0] * v[0] + w[1] * v[1];
        out = {c * v[0] + 8 * wv * w[0], c * v[1] + 8 * wv * w[1]};
    }
};
// ‖w‖² with a rescaling of the plane: GL(1)·SO(2) would not keep it, the anisotropic scaling
// diag(e^a, e^−a) does not either; the rotation does. A coordinate action with φ = identity.
auto rotation_action() {
    using namespace teleport::expr;
    constexpr variable<0> x;
    constexpr variable<1> y;
    return tg::make_coordinate_action<tg::so<2>>(tg::make_map<2>(x, y), tg::make_map<2>(x, y));
}
}  // namespace

TEST_CASE("a loss with only the fused evaluate_with_gradient teleports", "[user groups]") {
    const fused_only loss;
    const auto action = rotation_action();
    std::array<double, 2> w{0.3, -0.4};
    teleport::teleport_settings settings;
    std::mt19937_64 rng(1);
    teleport::teleport_report report;
    (void)teleport::teleport_once(loss, action, w, settings, rng, report);
    // the orbit is a circle on which ‖∇L‖² is constant: nothing to gain, and the search says so
    REQUIRE(!report.accepted);
    REQUIRE(report.relative_loss_change == 0.0);
    std::vector<double> v{0.3, -0.4};
    REQUIRE_NOTHROW(teleport::teleport_once(loss, action, v, settings, rng, report));
    std::vector<double> wrong(3, 0.1);
    REQUIRE_THROWS_WITH(teleport::teleport_once(loss, action, wrong, settings, rng, report),
                        "teleport: the parameter vector has 3 entries but the problem has 2");
}

template <class L, class A>
constexpr bool lookahead_takes = requires(L&& l, A&& a) { teleport::lookahead_symmetry(std::forward<L>(l), std::forward<A>(a), 2); };

TEST_CASE("symmetries refuse temporaries they would keep pointers to", "[user groups]") {
    const auto action = rotation_action();
    using action_type = decltype(rotation_action());
    STATIC_REQUIRE(lookahead_takes<const fused_only&, const action_type&>);
    STATIC_REQUIRE(!lookahead_takes<const fused_only&, action_type>);  // a temporary action
    STATIC_REQUIRE(!lookahead_takes<fused_only, const action_type&>);  // a temporary loss
    STATIC_REQUIRE(std::is_constructible_v<teleport::action_symmetry<fused_only, decltype(action)>, const fused_only&,
                                           const decltype(action)&>);
    STATIC_REQUIRE(!std::is_constructible_v<teleport::action_symmetry<fused_only, decltype(action)>, fused_only,
                                            const decltype(action)&>);
    STATIC_REQUIRE(!std::is_constructible_v<teleport::action_symmetry<fused_only, decltype(action)>, const fused_only&,
                                            decltype(action)>);
}
