// Must not compile: the lookahead objective with an optimizer whose next step is not x − P ∇L for a
// diagonal P (Newton's method: H⁻¹ is not diagonal).
#include <array>

#include "teleport/problems/rosenbrock.hpp"
#include "teleport/teleport.hpp"
#include "teleport/train/newton.hpp"

int main() {
    const auto f = teleport::problems::rosenbrock();
    const auto action = teleport::problems::rosenbrock_action();
    std::array<double, 2> x{-1.0, -1.0};
    (void)teleport::optimize_with_teleport(teleport::newton(f, 1.0), f, teleport::lookahead_symmetry(f, action, 1), x,
                                           10, teleport::teleport_schedule::once(0), teleport::teleport_settings{}, 0);
}
