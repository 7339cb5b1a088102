// rosenbrock — paper §6, Fig. 2 (top row): gradient descent on the Rosenbrock function from
// (−1, −1), with and without symmetry teleportation by its SO(2) coordinate action (paper §4.1).
// Defaults are the paper's: lr 1e−3, 1000 steps, a teleport before steps 99, 199, …, 999 found by
// 10 steps of gradient ascent on θ with lr 0.1 from θ₀ uniform in [0, π).
#include "teleport/problems/rosenbrock.hpp"
#include "test_function_driver.hpp"

int main(int argc, char** argv) {
    teleport::drivers::test_function_experiment e;
    e.name = "rosenbrock";
    e.title = "Rosenbrock";
    e.x0 = {-1.0, -1.0};
    e.minimum = {1.0, 1.0};  // paper eq. 3
    e.learning_rate = 1e-3;
    e.steps = 1000;
    for (std::size_t t = 99; t < e.steps; t += 100) e.schedule.push_back(t);
    e.teleport_learning_rate = 0.1;
    e.teleport_steps = 10;
    return teleport::drivers::run_test_function_driver(e, teleport::problems::rosenbrock(),
                                                       teleport::problems::rosenbrock_action(), argc, argv);
}
