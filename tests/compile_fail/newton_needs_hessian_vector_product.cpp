// Must not compile: Newton's method on a loss without a Hessian-vector product.
#include <array>

#include "teleport/train/newton.hpp"
#include "teleport/train/optimize.hpp"

struct value_and_gradient_only {
    double evaluate(const std::array<double, 2>& w) const { return w[0] * w[0] + w[1] * w[1]; }
    void gradient(const std::array<double, 2>& w, std::array<double, 2>& g) const { g = {2 * w[0], 2 * w[1]}; }
};

int main() {
    const value_and_gradient_only f;
    std::array<double, 2> x{1.0, 2.0};
    (void)teleport::optimize(teleport::newton(f, 1.0), f, x, 10);
}
