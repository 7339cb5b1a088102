// Must not compile: a teleport's objective needs H(w)v, and this loss gives only L and ∇L.
#include <array>

#include "teleport/groups/action.hpp"
#include "teleport/teleport.hpp"

struct value_and_gradient_only {
    double evaluate(const std::array<double, 2>& w) const { return w[0] * w[0] + w[1] * w[1]; }
    void gradient(const std::array<double, 2>& w, std::array<double, 2>& g) const { g = {2 * w[0], 2 * w[1]}; }
};

int main() {
    const value_and_gradient_only f;
    const auto action = teleport::groups::quadratic_action<2>({1.0, 0.0, 0.0, 1.0});
    std::array<double, 2> x{1.0, 2.0};
    (void)teleport::optimize_with_teleport(teleport::gd{0.1}, f, action, x, 10, teleport::teleport_schedule::once(0),
                                           teleport::teleport_settings{}, 0);
}
