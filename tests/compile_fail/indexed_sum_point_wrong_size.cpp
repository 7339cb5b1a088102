// Must not compile: a std::array point of 5 entries for an indexed sum over a compile-time range of
// 3 terms of a two-variable stencil (4 variables).
#include <array>
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> x;
    constexpr variable<1> y;
    const auto f = indexed_sum(pow<2>(y - x), terms<3>);
    std::array<double, 5> p{};
    return static_cast<int>(f.evaluate(p));
}
