// Every operator and composition of the symbolic engine through the one finite-difference harness.
// Adding an operator means adding a line here.
#include "derivative_check.hpp"
#include "teleport/expression.hpp"

using namespace teleport::expr;
using namespace teleport::expr::literals;
using teleport::testing::box;
using teleport::testing::check_derivatives;

namespace {
constexpr variable<0, "x"> x;
constexpr variable<1, "y"> y;
constexpr variable<2, "z"> z;
constexpr box anywhere{-2.0, 2.0};
constexpr box positive{0.2, 3.0};
}  // namespace

TEST_CASE("derivatives of the arithmetic operators", "[derivative]") {
    check_derivatives<2>(make_function<2>(x + y), anywhere, 1);
    check_derivatives<2>(make_function<2>(x - 3_c * y), anywhere, 2);
    check_derivatives<2>(make_function<2>(x * y * x), anywhere, 3);
    check_derivatives<2>(make_function<2>(x / y), positive, 4);
    check_derivatives<2>(make_function<2>((x * x + 1_c) / (y * y + 1_c)), anywhere, 5);
    check_derivatives<2>(make_function<2>(-x * y + 0.5_c * x), anywhere, 6);
}

TEST_CASE("derivatives of integer powers", "[derivative]") {
    check_derivatives<1>(make_function<1>(pow<2>(x)), anywhere, 11);
    check_derivatives<1>(make_function<1>(pow<5>(x)), anywhere, 12);
    check_derivatives<1>(make_function<1>(pow<-2>(x)), positive, 13);
    check_derivatives<2>(make_function<2>(pow<3>(x * y - 1_c)), anywhere, 14);
}

TEST_CASE("derivatives of the elementary functions", "[derivative]") {
    check_derivatives<1>(make_function<1>(exp(x)), anywhere, 21);
    check_derivatives<1>(make_function<1>(log(x)), positive, 22);
    check_derivatives<1>(make_function<1>(sqrt(x)), positive, 23);
    check_derivatives<1>(make_function<1>(sin(x)), anywhere, 24);
    check_derivatives<1>(make_function<1>(cos(x)), anywhere, 25);
    check_derivatives<1>(make_function<1>(tanh(x)), anywhere, 26);
}

TEST_CASE("derivatives of compositions and shared subexpressions", "[derivative]") {
    check_derivatives<3>(make_function<3>(exp(sin(x) * y) / sqrt(x * x + 1_c) - log(y * y + z * z) + tanh(x - z)),
                         {-1.5, 1.5}, 31);
    check_derivatives<2>(make_function<2>(cos(x * y) * cos(x * y) + sin(x * y) * sin(x * y)), anywhere, 32);
    check_derivatives<3>(make_function<3>(pow<2>(exp(x) - y) * tanh(z) / (1_c + pow<2>(x * y * z))), {-1, 1}, 33);
}

TEST_CASE("derivatives with runtime parameters", "[derivative]") {
    constexpr parameter<0, "a"> a;
    constexpr parameter<1, "b"> b;
    const std::array<double, 2> values{1.5, -0.25};
    check_derivatives<2>(make_function<2>(a * exp(b * x * y) + pow<2>(x - a), values), anywhere, 41);
}

TEST_CASE("substitution and composition give the chain rule", "[derivative]") {
    // f(u, v) = u² sin(v) composed with (u, v) = (x y, x + y²)
    const auto f = pow<2>(x) * sin(y);
    const auto composed = compose(f, x * y, x + y * y);
    check_derivatives<2>(make_function<2>(composed), anywhere, 51);
    const auto direct = pow<2>(x * y) * sin(x + y * y);
    const std::array<double, 2> p{0.7, -1.3};
    REQUIRE(make_function<2>(composed).evaluate(p) == Approx(make_function<2>(direct).evaluate(p)).epsilon(1e-15));
    // substituting one variable
    const auto partial = substitute<1>(f, exp(x));
    check_derivatives<1>(make_function<1>(partial), anywhere, 52);
}

TEST_CASE("float evaluation agrees with double", "[evaluate]") {
    const auto f = make_function<2>(100_c * pow<2>(x * x - y) + pow<2>(x - 1_c));
    const std::array<float, 2> pf{-1.25f, 0.5f};
    const std::array<double, 2> pd{-1.25, 0.5};
    std::array<float, 2> gf{};
    std::array<double, 2> gd{};
    const float lf = f.evaluate_with_gradient(pf, gf);
    const double ld = f.evaluate_with_gradient(pd, gd);
    static_assert(std::is_same_v<decltype(lf), const float>);
    REQUIRE(lf == Approx(ld).epsilon(1e-6));
    REQUIRE(gf[0] == Approx(gd[0]).epsilon(1e-6));
    REQUIRE(gf[1] == Approx(gd[1]).epsilon(1e-6));
}
