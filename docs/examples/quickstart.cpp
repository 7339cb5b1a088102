// The guide's example (docs/guide.md): write a loss, take its gradient and Hessian-vector
// product, and run an optimizer. Built and run as a test so that the guide stays true.
#include <array>
#include <cmath>
#include <iostream>

#include "teleport/train/callbacks.hpp"
#include "teleport/expression.hpp"
#include "teleport/train/optimize.hpp"
#include "teleport/train/optimizers.hpp"

int main() {
    using namespace teleport::expr;           // variables, operators, exp, pow<N>, …
    using namespace teleport::expr::literals;  // 3_c, 0.5_c: exact compile-time constants

    // 1. A loss: Beale's function, not one of the paper's.
    constexpr variable<0, "x"> x;
    constexpr variable<1, "y"> y;
    const auto beale = pow<2>(1.5_c - x + x * y) + pow<2>(2.25_c - x + x * pow<2>(y)) +
                       pow<2>(2.625_c - x + x * pow<3>(y));
    const auto f = teleport::make_function<2>(beale);
    std::cout << "L(x, y)  = " << f.to_string() << "\n";
    std::cout << "dL/dy    = " << to_string(derivative<1>(beale)) << "\n";
    std::cout << "LaTeX    : " << f.to_latex() << "\n";

    // 2. Its gradient and a Hessian-vector product, generated at compile time.
    const std::array<double, 2> w{1.0, 1.0};
    std::array<double, 2> g{};
    const double loss = f.evaluate_with_gradient(w, g);  // one pass, shared subexpressions once
    const std::array<double, 2> v{1.0, 0.0};
    std::array<double, 2> hv{};
    f.hessian_vector_product(w, v, hv);
    std::cout << "L(1,1) = " << loss << ", grad = (" << g[0] << ", " << g[1] << "), H e1 = (" << hv[0] << ", "
              << hv[1] << ")\n";

    // 3. An optimizer, with a callback that records the loss and stops early.
    std::array<double, 2> start{1.0, 1.0};
    teleport::step_history<double> history;
    const auto result = teleport::optimize(teleport::adam{0.01}, f, start, 20000, teleport::record_history{history},
                                           teleport::stop_below{1e-12});
    std::cout << "Adam: " << result.steps << " steps, loss " << result.loss << ", at (" << start[0] << ", "
              << start[1] << "), stopped: " << teleport::to_string(result.reason) << "\n";

    // Beale's minimum is (3, 0.5): the example fails (non-zero exit) if the optimizer did not get there.
    return (std::abs(start[0] - 3.0) < 1e-4 && std::abs(start[1] - 0.5) < 1e-4) ? 0 : 1;
}
