// Must not compile: optimize() is given something that is not a differentiable function.
#include <array>

#include "teleport/train/optimize.hpp"

struct value_only {
    double evaluate(const std::array<double, 2>& w) const { return w[0] * w[0] + w[1] * w[1]; }
};

int main() {
    std::array<double, 2> x{1.0, 2.0};
    (void)teleport::optimize(teleport::gd{0.1}, value_only{}, x, 10);
}
