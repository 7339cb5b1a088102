// Must not compile: a recurrence with a state of 3 components whose update gives only 2.
#include <vector>
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr variable<0> s0;
    constexpr variable<1> s1;
    constexpr variable<3> a;
    const std::vector<double> data(8, 0.5);
    const auto f = make_recurrence<3, 1>(next_state(a * s0, a * s1), pow<2>(s0 - parameter<0>{}), data);
    return static_cast<int>(f.evaluate(std::vector<double>{0.5}));
}
