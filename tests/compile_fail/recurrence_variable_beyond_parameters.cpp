// Must not compile: the loss of a recurrence with S = 1 state and P = 1 parameter reads variable 2.
#include <vector>
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> s;
    constexpr variable<1> a;
    const std::vector<double> data(8, 0.5);
    const auto f = make_recurrence<1, 1>(next_state(a * s), pow<2>(s - variable<2>{}), data);
    return static_cast<int>(f.evaluate(std::vector<double>{0.5}));
}
