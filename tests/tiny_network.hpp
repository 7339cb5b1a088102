// tests/tiny_network.hpp — the tiny classification problem that the mini-batch tests and the
// data-parallel tests share: a 6-8-8-3 LeakyReLU network with cross-entropy, and separable random
// data (class k % 3 shifted by 2 along feature k % 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "teleport/engine/network_symmetry.hpp"
#include "teleport/problems/mlp.hpp"

namespace tiny_network {

using leaky = teleport::tensor::leaky_relu<1, 10>;
using net_type = teleport::problems::mlp<double, 3, leaky, teleport::problems::mlp_loss::cross_entropy>;
using vec = xt::xtensor<double, 1>;
using nonlinear = teleport::groups::layer_action<teleport::groups::nonlinear_layers, leaky>;

inline constexpr std::size_t classes = 3;
inline const std::vector<std::size_t> widths{6, 8, 8, classes};

/// `train` training and `valid` validation samples of 6 features, 3 classes (seeded).
struct data {
    xt::xtensor<double, 2> train_x, valid_x;
    std::vector<std::uint8_t> train_y, valid_y;
    data(std::size_t train, std::size_t valid) {
        std::mt19937_64 rng(11);
        std::normal_distribution<double> normal;
        auto make = [&](std::size_t n, xt::xtensor<double, 2>& x, std::vector<std::uint8_t>& y) {
            x = xt::xtensor<double, 2>::from_shape({widths.front(), n});
            for (std::size_t k = 0; k < n; ++k) {
                y.push_back(static_cast<std::uint8_t>(k % classes));
                for (std::size_t p = 0; p < widths.front(); ++p) x(p, k) = normal(rng) + (p == y.back() ? 2.0 : 0.0);
            }
        };
        make(train, train_x, train_y);
        make(valid, valid_x, valid_y);
    }
};

}  // namespace tiny_network
