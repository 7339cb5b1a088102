// Must not compile: so(3) acts on 3 coordinates, the map has 2 variables.
#include "teleport/groups/action.hpp"
using namespace teleport::expr;
using namespace teleport::expr::literals;
int main() {
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;
    const auto phi = teleport::groups::make_map<2>(x, y - 1_c);
    const auto phi_inverse = teleport::groups::make_map<2>(x, y + 1_c);
    const auto action = teleport::groups::make_coordinate_action<teleport::groups::so<3>>(phi, phi_inverse);
    (void)action;
}
