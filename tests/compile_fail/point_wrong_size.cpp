// Must not compile: a std::array point of 3 entries for a function of 2 variables.
#include <array>
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> x;
    constexpr variable<1> y;
    auto f = make_function<2>(x * y);
    std::array<double, 3> p{};
    return static_cast<int>(f.evaluate(p));
}
