// A three-layer LeakyReLU regression network trained by GD with one teleport (docs/networks.md).
#include <cstdio>
#include <random>

#include "teleport/network_teleport.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/problems/mlp.hpp"

int main() {
    using namespace teleport;
    using act = tensor::leaky_relu<1, 10>;  // slope 0.1: invertible, so eq. 8 applies

    // data: samples are columns; X is d0 x n, Y is d3 x n
    std::mt19937_64 rng(0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto draw = [&](std::size_t r, std::size_t c) {
        tensor::matrix<double> m({r, c});
        for (auto& e : m) e = u(rng);
        return m;
    };
    const problems::mlp<double, 3, act> net({5, 6, 7, 8}, draw(5, 4), draw(8, 4));
    auto w = net.pack(std::vector{draw(6, 5), draw(7, 6), draw(8, 7)});  // W1, W2, W3 in one flat vector

    // the group: GL(6) x GL(7) acting on the pairs (W2, W1) and (W3, W2) by paper eq. 8
    const groups::layer_action<groups::nonlinear_layers, act> action(net.shape(), {1, 2});

    teleport_settings settings;
    settings.strategy = gradient_ascent{8, 1e-7};  // the paper's 8 ascent steps, lr 1e-7
    const auto run = optimize_with_teleport(gd{1e-4}, net, action, w, 300, teleport_schedule::once(5), settings,
                                            /*seed=*/0);

    const auto& t = run.teleports.front();
    std::printf("teleport before epoch %zu: %s, loss %.6g -> %.6g (relative change %.1e), |grad L|^2 x%.3g\n", t.step,
                t.accepted ? "accepted" : t.rejection.c_str(), t.loss_before, t.loss_after, t.relative_loss_change,
                t.grad_norm_sq_after / t.grad_norm_sq_before);
    std::printf("loss after 300 epochs: %.6g\n", run.steps.back().loss);
    return t.accepted && t.relative_loss_change < 1e-9 ? 0 : 1;
}
