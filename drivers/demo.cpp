// teleport_demo — optimize Rosenbrock and Booth (paper eqs. 3–4) with every optimizer and print
// what was done: the generated derivatives, the settings and the result of each run.
#include <array>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "driver_common.hpp"
#include "teleport/train/callbacks.hpp"
#include "teleport/train/optimize.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/problems/booth.hpp"
#include "teleport/problems/rosenbrock.hpp"

namespace {

struct run_row {
    std::string problem;
    std::string optimizer;
    double learning_rate;
    std::size_t steps;
    double loss;
    double grad_norm_sq;
    double distance;
    std::optional<std::size_t> steps_to_threshold;
    std::string stop;
};

template <class Optimizer, class F>
run_row run_one(const std::string& problem, const F& f, const Optimizer& opt, double lr, std::array<double, 2> x,
                std::array<double, 2> minimum, std::size_t steps, double threshold) {
    teleport::step_history<double> history;
    const auto result = teleport::optimize(opt, f, x, steps, teleport::record_history{history});
    std::optional<std::size_t> reached;
    for (std::size_t k = 0; k < history.loss.size(); ++k)
        if (history.loss[k] < threshold) {
            reached = k;
            break;
        }
    if (!reached && result.loss < threshold) reached = result.steps;
    const double distance = std::hypot(x[0] - minimum[0], x[1] - minimum[1]);
    return {problem, std::string(opt.name()), lr, result.steps, result.loss, result.grad_norm_sq, distance, reached,
            std::string(teleport::to_string(result.reason))};
}

// Settings per problem: the paper's GD learning rate, and for the adaptive methods rates that are
// stable from the paper's starting point (momentum uses lr/10 with μ = 0.9, the same effective step).
struct rates {
    double gd;
    double adagrad;
    double rmsprop;
    double adam;
};

template <class F>
void run_all(std::vector<run_row>& rows, const std::string& problem, const F& f, std::array<double, 2> x0,
             std::array<double, 2> minimum, std::size_t steps, rates lr, double threshold) {
    rows.push_back(run_one(problem, f, teleport::gd{lr.gd}, lr.gd, x0, minimum, steps, threshold));
    rows.push_back(run_one(problem, f, teleport::adagrad{lr.adagrad}, lr.adagrad, x0, minimum, steps, threshold));
    rows.push_back(run_one(problem, f, teleport::momentum{lr.gd / 10, 0.9}, lr.gd / 10, x0, minimum, steps, threshold));
    rows.push_back(run_one(problem, f, teleport::rmsprop{lr.rmsprop}, lr.rmsprop, x0, minimum, steps, threshold));
    rows.push_back(run_one(problem, f, teleport::adam{lr.adam}, lr.adam, x0, minimum, steps, threshold));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Optimize the Rosenbrock and Booth functions with GD, AdaGrad, momentum, RMSProp and Adam."};
    std::size_t rosenbrock_steps = 1000;
    std::size_t booth_steps = 100;
    double threshold = 1e-3;
    app.add_option("--rosenbrock-steps", rosenbrock_steps, "steps on Rosenbrock from (-1, -1), GD lr 1e-3 as in the paper")
        ->capture_default_str()
        ->check(teleport::drivers::positive());
    app.add_option("--booth-steps", booth_steps, "steps on Booth from (5, -5), GD lr 0.08 as in the paper")
        ->capture_default_str()
        ->check(teleport::drivers::positive());
    app.add_option("--threshold", threshold, "loss threshold for the 'steps to reach' column")
        ->capture_default_str()
        ->check(teleport::drivers::positive());

    return teleport::drivers::run_driver("teleport_demo", app, argc, argv, [&] {
        namespace expr = teleport::expr;
        const auto rosenbrock = teleport::problems::rosenbrock();
        const auto booth = teleport::problems::booth();
        std::cout << "Rosenbrock  L = " << rosenbrock.to_string() << "\n"
                  << "  dL/dx_1 = " << expr::to_string(expr::derivative<0>(rosenbrock.expression())) << "\n"
                  << "  dL/dx_2 = " << expr::to_string(expr::derivative<1>(rosenbrock.expression())) << "\n"
                  << "Booth       L = " << booth.to_string() << "\n"
                  << "  dL/dx_1 = " << expr::to_string(expr::derivative<0>(booth.expression())) << "\n"
                  << "  dL/dx_2 = " << expr::to_string(expr::derivative<1>(booth.expression())) << "\n\n";

        std::vector<run_row> rows;
        run_all(rows, "rosenbrock", rosenbrock, {-1.0, -1.0}, {1.0, 1.0}, rosenbrock_steps, {1e-3, 0.5, 1e-2, 5e-2}, threshold);
        run_all(rows, "booth", booth, {5.0, -5.0}, {1.0, 3.0}, booth_steps, {0.08, 2.0, 0.2, 0.5}, threshold);

        std::printf("%-11s %-9s %9s %6s %12s %12s %12s %10s  %s\n", "problem", "optimizer", "lr", "steps", "final loss",
                    "|grad L|^2", "|x - x*|", "steps<thr", "stopped");
        for (const auto& r : rows) {
            const std::string reached = r.steps_to_threshold ? std::to_string(*r.steps_to_threshold) : "-";
            std::printf("%-11s %-9s %9.2g %6zu %12.4e %12.4e %12.4e %10s  %s\n", r.problem.c_str(), r.optimizer.c_str(),
                        r.learning_rate, r.steps, r.loss, r.grad_norm_sq, r.distance, reached.c_str(), r.stop.c_str());
        }
        std::printf("\nsteps<thr: first step at which the loss was below %g ('-': not reached)\n", threshold);
        return 0;
    });
}
