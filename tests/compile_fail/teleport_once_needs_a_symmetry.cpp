// Must not compile: a teleport by something that is not a symmetry (an action alone: it has no
// loss bound to it, no measure(w) and no start(w, settings, rng)).
#include <array>
#include <random>

#include "teleport/groups/action.hpp"
#include "teleport/teleport.hpp"

int main() {
    const auto action = teleport::groups::quadratic_action<2>({1.0, 0.0, 0.0, 1.0});
    std::array<double, 2> w{1.0, 2.0};
    std::mt19937_64 rng(0);
    teleport::teleport_report report;
    (void)teleport::teleport_once(action, w, teleport::teleport_settings{}, rng, report);
}
