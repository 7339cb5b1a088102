// Must not compile: the expression uses x2 but the function is declared with 2 variables.
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> x;
    constexpr variable<2> z;
    (void)make_function<2>(x * z);
}
