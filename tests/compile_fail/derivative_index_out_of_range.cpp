// Must not compile: derivative index 2 of a function of two variables.
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> x;
    constexpr variable<1> y;
    auto f = make_function<2>(x * y);
    (void)f.derivative<2>();
}
