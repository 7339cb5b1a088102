// Must not compile: derivative with respect to a variable the expression does not contain.
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> x;
    constexpr variable<1> y;
    constexpr variable<2> z;
    (void)derivative(x * y, z);
}
