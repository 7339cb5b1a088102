// The symbolic engine's laws: simplification (checked at compile time), evaluation on every
// supported container, common-subexpression elimination, printing, and run-time misuse.
#include <array>
#include <stdexcept>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xfixed.hpp>
#include <xtensor/xtensor.hpp>

#include "teleport/expression.hpp"

using namespace teleport::expr;
using namespace teleport::expr::literals;

namespace {
constexpr variable<0, "x"> x;
constexpr variable<1, "y"> y;
template <class A, class B>
constexpr bool same(A, B) {
    return std::is_same_v<A, B>;
}
}  // namespace

// --- simplification does what it claims, as types --------------------------------------------
static_assert(same(derivative<0>(x * x), 2_c * x), "d(x·x)/dx is 2·x");
static_assert(same(derivative<0>(pow<2>(x)), 2_c * x), "d(x²)/dx is 2·x");
static_assert(same(derivative<0>(3_c), zero{}), "the derivative of a constant is the zero type");
static_assert(same(derivative<0>(parameter<0>{}), zero{}), "a runtime parameter is a constant");
static_assert(same(derivative<1>(x * x), zero{}), "x·x does not depend on y");
static_assert(same(x - x, zero{}), "a − a = 0");
static_assert(same(x + x, 2_c * x), "a + a = 2·a");
static_assert(same(0_c * x, zero{}) && same(x * 0_c, zero{}), "0·a = 0");
static_assert(same(1_c * x, x) && same(x * 1_c, x) && same(x + 0_c, x), "identities vanish");
static_assert(same(2_c * (3_c * x), 6_c * x), "constants are folded through products");
static_assert(same(x * 2_c, 2_c * x), "constants go to the front");
static_assert(same(x / 4_c, 0.25_c * x), "division by a constant is a product");
static_assert(same(1_c / 3_c + 1_c / 6_c, c<1, 2>), "rationals are exact");
static_assert(same(pow<2>(pow<3>(x)), pow<6>(x)), "(aᵐ)ⁿ = aᵐⁿ");
static_assert(same(pow<2>(3_c * x), 9_c * pow<2>(x)), "(c·a)ⁿ = cⁿ·aⁿ");
static_assert(same(x * pow<2>(x), pow<3>(x)), "a·a² = a³");
static_assert(same(exp(0_c), 1_c) && same(log(1_c), 0_c) && same(sin(0_c), 0_c) && same(cos(0_c), 1_c),
              "elementary functions at 0 and 1 fold");
static_assert(same((x + y) + (x + y), 2_c * x + 2_c * y), "like terms of flat sums merge");
static_assert(same((x + y) - y, x), "a sum loses a term that cancels");
static_assert(same(derivative<0>(derivative<0>(derivative<0>(pow<3>(x)))), 6_c), "third derivative of x³ is 6");
static_assert(variable_count_v<decltype(x * y)> == 2 && parameter_count_v<decltype(parameter<3>{} * x)> == 4);

TEST_CASE("evaluation on std::array, std::vector, xtensor and fixed xtensor", "[evaluate]") {
    const auto f = make_function<2>(100_c * pow<2>(x * x - y) + pow<2>(x - 1_c));
    const double expected_loss = 404.0;  // at (−1, −1): 100·(1+1)² + (−2)²
    const std::array<double, 2> expected_gradient{-804.0, -400.0};

    std::array<double, 2> pa{-1, -1};
    std::vector<double> pv{-1, -1};
    xt::xtensor<double, 1> px = {-1.0, -1.0};
    xt::xtensor_fixed<double, xt::xshape<2>> pf = {-1.0, -1.0};

    std::array<double, 2> ga{};
    std::vector<double> gv;         // resized by the call
    xt::xtensor<double, 1> gx;      // resized by the call
    xt::xtensor_fixed<double, xt::xshape<2>> gf;
    REQUIRE(f.evaluate_with_gradient(pa, ga) == expected_loss);
    REQUIRE(f.evaluate_with_gradient(pv, gv) == expected_loss);
    REQUIRE(f.evaluate_with_gradient(px, gx) == expected_loss);
    REQUIRE(f.evaluate_with_gradient(pf, gf) == expected_loss);
    for (std::size_t i = 0; i < 2; ++i) {
        REQUIRE(ga[i] == expected_gradient[i]);
        REQUIRE(gv[i] == expected_gradient[i]);
        REQUIRE(gx(i) == expected_gradient[i]);
        REQUIRE(gf(i) == expected_gradient[i]);
    }
    xt::xtensor<double, 2> h;
    f.hessian(px, h);
    REQUIRE(h(0, 0) == 1602.0);  // 1200x² − 400y + 2
    REQUIRE(h(0, 1) == 400.0);   // −400x
    REQUIRE(h(1, 0) == 400.0);
    REQUIRE(h(1, 1) == 200.0);
}

TEST_CASE("a point of the wrong size is rejected at run time with a plain message", "[evaluate][errors]") {
    const auto f = make_function<2>(x * y);
    std::vector<double> three{1, 2, 3};
    REQUIRE_THROWS_WITH(f.evaluate(three), "the point has 3 entries but the function has 2 variables");
    const std::array<double, 1> params{1.0};
    REQUIRE_THROWS_WITH(make_function<2>(parameter<0>{} * x * y, std::vector<double>{1.0, 2.0}),
                        "the function has 1 runtime parameters but 2 values were given");
    REQUIRE(make_function<2>(parameter<0>{} * x * y, params).evaluate(std::array<double, 2>{2, 3}) == 6.0);
}

TEST_CASE("shared subexpressions are evaluated once", "[evaluate][cse]") {
    // exp(x·y) appears in the loss and in both partial derivatives: one slot serves all three
    const auto e = exp(x * y) + sin(x * y);
    using fn = decltype(make_function<2>(e));
    STATIC_REQUIRE(fn::loss_nodes == 4);  // x·y, exp, sin, +
    // gradient: exp(xy)·y + cos(xy)·y and the same with x; the fused program shares x·y, exp(x·y)
    STATIC_REQUIRE(fn::fused_nodes < fn::loss_nodes + 2 * 5);
    STATIC_REQUIRE(program<decltype(x * y), decltype(exp(x * y)), decltype(exp(x * y) * y)>::node_count == 3);
    REQUIRE(evaluate(x * y + 1_c, std::array<double, 2>{2, 3}) == 7.0);
    REQUIRE(evaluate(parameter<0>{} * x, std::array<double, 1>{2}, std::array<double, 1>{-1.5}) == -3.0);
}

TEST_CASE("printing as text and LaTeX", "[print]") {
    const auto rosenbrock = 100_c * pow<2>(x * x - y) + pow<2>(x - 1_c);
    REQUIRE(to_string(rosenbrock) == "100*(x^2 - y)^2 + (x - 1)^2");
    REQUIRE(to_latex(rosenbrock) == "100 \\left(x^{2} - y\\right)^{2} + \\left(x - 1\\right)^{2}");
    REQUIRE(to_string(derivative<1>(rosenbrock)) == "-200*(x^2 - y)");
    REQUIRE(to_string(exp(x) / sqrt(y) - c<1, 2> * x) == "exp(x)/sqrt(y) - 1/2*x");
    REQUIRE(to_latex(exp(x) / sqrt(y)) == "\\frac{\\exp\\left(x\\right)}{\\sqrt{y}}");
    REQUIRE(to_string(variable<3>{} * parameter<2>{}) == "x3*p2");
    REQUIRE(to_latex(variable<3>{} * parameter<2>{}) == "x_{3} \\cdot p_{2}");
    REQUIRE(to_string(pow<-2>(x)) == "x^(-2)");
}
