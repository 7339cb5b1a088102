// Must not compile: a loss of 3 variables with an action on 2 parameters.
#include <array>
#include "teleport/teleport.hpp"
using namespace teleport::expr;
using namespace teleport::expr::literals;
int main() {
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;
    constexpr variable<2, "z"> z;
    const auto loss = teleport::make_function<3>(x * x + y * y + z * z);
    const auto action = teleport::groups::make_coordinate_action<teleport::groups::so<2>>(
        teleport::groups::make_map<2>(x, y), teleport::groups::make_map<2>(x, y));
    std::array<double, 2> w{1.0, 2.0};
    (void)teleport::optimize_with_teleport(teleport::gd{0.1}, loss, action, w, 10, teleport::teleport_schedule::never(),
                                           teleport::teleport_settings{}, 1);
}
