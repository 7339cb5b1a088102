// Must not compile: the nonlinear layer action (paper eq. 8) needs σ⁻¹, and ReLU has none.
#include "teleport/groups/layer_action.hpp"
using namespace teleport;
int main() {
    const groups::layer_action<groups::nonlinear_layers, tensor::relu> action(tensor::network_shape{{2, 3, 1}, false}, {1});
    (void)action;
}
