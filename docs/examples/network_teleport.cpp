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

    // the toolkit's teleport: the safeguarded search (normalized ascent, the default) maximizing the
    // decrease of the loss over GD's next step (the lookahead objective), its pay-off measured over
    // 10 GD steps and required (undone if the loss 10 steps on is not lower than without it)
    teleport_settings settings;
    settings.payoff = {10, true};
    const gd opt{1e-4};
    const auto run = optimize_with_teleport(opt, net, lookahead_symmetry(net, action, 1), w, 300,
                                            teleport_schedule::once(5), settings, /*seed=*/0);

    const auto& t = run.teleports.front();
    std::printf("teleport before epoch %zu: %s, loss %.6g -> %.6g (relative change %.1e), |grad L|^2 x%.3g\n", t.step,
                t.accepted ? "accepted" : t.rejection.c_str(), t.loss_before, t.loss_after, t.relative_loss_change,
                t.grad_norm_sq_after / t.grad_norm_sq_before);
    std::printf("loss 10 GD steps on: %.6g with the teleport, %.6g without\n", t.loss_with, t.loss_without);
    std::printf("loss after 300 epochs: %.6g\n", run.steps.back().loss);
    return t.accepted && t.relative_loss_change < 1e-9 && t.paid_off() ? 0 : 1;
}
