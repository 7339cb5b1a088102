// Must not compile: 2.0 is a runtime double; an expression's constants are 2_c.
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0, "y"> y;
    const auto f = teleport::make_function<1>(2.0 * y);
    (void)f;
}
