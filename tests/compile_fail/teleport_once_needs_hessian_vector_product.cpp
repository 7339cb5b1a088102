// Must not compile: one teleport of a loss without a Hessian-vector product.
#include <array>
#include <random>

#include "teleport/groups/action.hpp"
#include "teleport/teleport.hpp"

struct value_and_gradient_only {
    double evaluate(const std::array<double, 2>& w) const { return w[0] * w[0] + w[1] * w[1]; }
    void gradient(const std::array<double, 2>& w, std::array<double, 2>& g) const { g = {2 * w[0], 2 * w[1]}; }
};

int main() {
    const value_and_gradient_only f;
    const auto action = teleport::groups::quadratic_action<2>({1.0, 0.0, 0.0, 1.0});
    std::array<double, 2> w{1.0, 2.0};
    std::mt19937_64 rng(0);
    teleport::teleport_report report;
    (void)teleport::teleport_once(f, action, w, teleport::teleport_settings{}, rng, report);
}
