// tests/tiny_network.hpp — the tiny classification problem that the mini-batch tests and the
// data-parallel tests share: a 6-8-8-3 LeakyReLU network with cross-entropy, separable random data
// (class k % 3 shifted by 2 along feature k % 3), its batches, the eq. 8 symmetry on layers 1 and 2
// and a teleport plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "teleport/engine/network_symmetry.hpp"
#include "teleport/problems/mlp.hpp"
#include "teleport/train/evaluation.hpp"
#include "teleport/train/minibatch.hpp"
#include "teleport/train/optimizers.hpp"

namespace tiny_network {

using leaky = teleport::tensor::leaky_relu<1, 10>;
using net_type = teleport::problems::mlp<double, 3, leaky, teleport::problems::mlp_loss::cross_entropy>;
using vec = xt::xtensor<double, 1>;
using nonlinear = teleport::groups::layer_action<teleport::groups::nonlinear_layers, leaky>;

inline constexpr std::size_t classes = 3;
inline const std::vector<std::size_t> widths{6, 8, 8, classes};

/// `train` training and `valid` validation samples of 6 features, 3 classes (seeded).
struct samples {
    xt::xtensor<double, 2> train_x, valid_x;
    std::vector<std::uint8_t> train_y, valid_y;
    samples(std::size_t train, std::size_t valid) {
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

/// Everything a run of the tests needs: `Train` and `Valid` samples, mini-batches of `Batch`,
/// evaluation blocks of `Block`, the network, the symmetry, a start point and a plan (teleports
/// before epochs 1 and 2).
template <std::size_t Train, std::size_t Valid, std::size_t Batch, std::size_t Block>
struct problem {
    samples d{Train, Valid};
    net_type net{widths, xt::zeros<double>({widths.front(), std::size_t{1}}), xt::zeros<double>({classes, std::size_t{1}})};
    teleport::classification_data<net_type> data{net, d.train_x, d.train_y, d.valid_x, d.valid_y, Block, classes};
    teleport::shuffled_batches batches{data.samples(), Batch};
    nonlinear action{teleport::tensor::network_shape{widths, false}, {1, 2}, teleport::exp_map::exact};
    teleport::network_symmetry<net_type, nonlinear> symmetry{net, action};
    vec w0 = teleport::problems::linear_init(net, 5);
    teleport::minibatch_teleports plan{teleport::teleport_schedule::at({1, 2}), 2, settings()};

    static teleport::teleport_settings settings() {
        teleport::teleport_settings s;
        s.strategy = teleport::gradient_ascent{3, 1e-3};
        s.tolerance = 1e-8;
        return s;
    }
    template <class Opt>
    auto progress(const Opt& opt) const {
        return teleport::minibatch_progress<vec, teleport::optimizer_state_t<Opt, vec>>{
            0, w0, opt.make_state(w0), std::mt19937_64(1), std::mt19937_64(2), 0.0};
    }
};

}  // namespace tiny_network
