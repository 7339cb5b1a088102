// booth — paper §6, Fig. 2 (bottom row): gradient descent on the Booth function from (5, −5), with
// and without symmetry teleportation by its SO(2) coordinate action (paper §4.1). Defaults are the
// paper's: lr 0.08, 10 steps, one teleport before step 4 (0-based; "before epoch 5" in the paper)
// found by 10 steps of gradient ascent on θ with lr 1e−3 from θ₀ uniform in [0, π).
#include "teleport/problems/booth.hpp"
#include "test_function_driver.hpp"

int main(int argc, char** argv) {
    teleport::drivers::test_function_experiment e;
    e.name = "booth";
    e.title = "Booth";
    e.x0 = {5.0, -5.0};
    e.minimum = {1.0, 3.0};  // paper eq. 4
    e.learning_rate = 0.08;
    e.steps = 10;
    e.schedule = {4};
    e.teleport_learning_rate = 1e-3;
    e.teleport_steps = 10;
    return teleport::drivers::run_test_function_driver(e, teleport::problems::booth(),
                                                       teleport::problems::booth_action(), argc, argv);
}
