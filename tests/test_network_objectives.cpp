// The lookahead objective (engine/objective.hpp) on a network: J(W) = L(W) − L(W_k) over k
// preconditioned GD steps, its algebra gradient through network_symmetry (weight-space
// evaluation, eq. 8's nonlinear_layers action) against finite differences of J(map(εE)·W), in
// double and, against the double result, in float; and a network teleport on it.
// A file and an executable of its own: the mlp instances are costly to compile.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "teleport/network_teleport.hpp"
#include "teleport/problems/mlp.hpp"
#include "teleport/train/optimizers.hpp"

using namespace teleport;

namespace {

using tensor::matrix;
using dvec = xt::xtensor<double, 1>;
using fvec = xt::xtensor<float, 1>;
using leaky = tensor::leaky_relu<1, 10>;
using net_d = problems::mlp<double, 3, leaky, problems::mlp_loss::squared_error, false>;  // two hidden layers
using net_f = problems::mlp<float, 3, leaky, problems::mlp_loss::squared_error, false>;
using action_t = groups::layer_action<groups::nonlinear_layers, leaky>;

matrix<double> normal_matrix(std::size_t rows, std::size_t cols, std::mt19937_64& rng, double sd = 1.0) {
    std::normal_distribution<double> normal(0.0, sd);
    matrix<double> m({rows, cols});
    for (auto& e : m) e = normal(rng);
    return m;
}

// Weights with W_m entries N(0, 1/fan-in) whose hidden pre-activations on x stay 0.01 away from
// LeakyReLU's kink (central differences across a kink measure a jump, not a derivative).
dvec random_weights_off_kinks(const net_d& net, std::mt19937_64& rng) {
    const auto& s = net.shape();
    for (int attempt = 0; attempt < 1000; ++attempt) {
        dvec w = xt::zeros<double>({s.parameter_count()});
        for (std::size_t m = 1; m <= s.layers(); ++m) {
            std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(s.cols(m))));
            for (std::size_t i = s.offset(m); i < s.offset(m) + s.rows(m) * s.cols(m); ++i) w(i) = normal(rng);
        }
        matrix<double> h = net.x();
        double smallest = std::numeric_limits<double>::infinity();
        for (std::size_t m = 1; m < s.layers(); ++m) {
            matrix<double> z = xt::zeros<double>({s.rows(m), h.shape(1)});
            tensor::multiply<double>(false, false, net.weight(w, m), tensor::cref(h), z);
            for (auto& e : z) {
                smallest = std::min(smallest, std::abs(e));
                e = leaky::value(e);
            }
            h = std::move(z);
        }
        if (smallest >= 1e-2) return w;
    }
    FAIL("no weights found away from the kinks");
    return {};
}

// d/dε f(ε) at 0, fourth-order central stencil (as test_networks.cpp: eq. 8's σ⁻¹ has large third
// derivatives).
template <class F>
double derivative_at_zero(F f, double h = 1e-5) {
    return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h);
}

// All algebra coordinates of all pairs, flat.
template <class T>
std::vector<double> flat(const std::vector<matrix<T>>& ts) {
    std::vector<double> out;
    for (const auto& t : ts)
        for (const auto& e : t) out.push_back(double(e));
    return out;
}

// ‖a − b‖∞ / ‖b‖∞.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return diff / scale;
}

template <class T>
using lookahead = lookahead_decrease<xt::xtensor<T, 1>>;

template <class Net, class T = typename Net::value_type>
network_symmetry<Net, action_t, lookahead<T>> symmetry_for(const Net& net, const action_t& action, lookahead<T> j) {
    return {net, action, false, detail::evaluation::weights, std::move(j)};
}

// ∂J/∂T at the identity from network_teleport_objective against differences of J(map(εE)·w) per
// algebra coordinate; returns the relative error.
double check_algebra_gradient(const net_d& net, const action_t& action, const dvec& w, lookahead<double> j) {
    const auto symmetry = symmetry_for(net, action, std::move(j));
    const auto& objective = symmetry.objective();
    std::vector<matrix<double>> grad;
    const double value = objective.value_and_gradient(w, grad);
    REQUIRE(value == objective.value(w));
    auto t = action.zero<double>();
    std::vector<double> fd;
    for (std::size_t p = 0; p < t.size(); ++p)
        for (std::size_t i = 0; i < t[p].size(); ++i)
            fd.push_back(derivative_at_zero([&](double eps) {
                t[p].data()[i] = eps;
                dvec moved = w;
                action.apply(t, moved, net.x());
                t[p].data()[i] = 0;
                return objective.value(moved);
            }));
    const double e = relative_error(flat(grad), fd);
    INFO("lookahead k = " << objective.objective().steps << ", J = " << value << ": relative error " << e);
    REQUIRE(e <= 1e-6);
    return e;
}

}  // namespace

TEST_CASE("network lookahead objective: algebra gradient against finite differences, k = 1 and 3",
          "[networks][teleport][objective]") {
    std::mt19937_64 rng(901);
    const net_d net({5, 6, 7, 8}, normal_matrix(5, 4, rng), normal_matrix(8, 4, rng));
    const action_t action(net.shape(), {1, 2});
    double worst = 0;
    for (int trial = 0; trial < 2; ++trial) {
        dvec w = random_weights_off_kinks(net, rng);
        action.apply(action.identity<double>(), w, net.x());  // eq. 8's image of w under the identity
        auto p = std::make_shared<dvec>(xt::zeros<double>({w.size()}));
        std::uniform_real_distribution<double> u(0.005, 0.02);
        for (auto& e : *p) e = u(rng);
        for (const std::size_t k : {1u, 3u}) {
            worst = std::max(worst, check_algebra_gradient(net, action, w, lookahead<double>(0.01, k)));
            worst = std::max(worst, check_algebra_gradient(net, action, w, lookahead<double>(p, k)));
        }
    }
    if (std::getenv("TELEPORT_TEST_REPORT"))
        std::printf("  lookahead dJ/dT (network, eq. 8) worst relative error %.3g\n", worst);
}

TEST_CASE("network lookahead objective in float agrees with double", "[networks][teleport][objective]") {
    std::mt19937_64 rng(902);
    const matrix<double> x = normal_matrix(5, 4, rng), y = normal_matrix(8, 4, rng);
    const net_d nd({5, 6, 7, 8}, x, y);
    const net_f nf({5, 6, 7, 8}, xt::cast<float>(x), xt::cast<float>(y));
    const action_t action(nd.shape(), {1, 2});
    dvec w = random_weights_off_kinks(nd, rng);
    action.apply(action.identity<double>(), w, nd.x());
    const fvec wf = xt::cast<float>(w);
    for (const std::size_t k : {1u, 3u}) {
        INFO("k = " << k);
        std::vector<matrix<double>> gd_;
        std::vector<matrix<float>> gf;
        const double jd = symmetry_for(nd, action, lookahead<double>(0.01, k)).objective().value_and_gradient(w, gd_);
        const double jf = symmetry_for(nf, action, lookahead<float>(0.01, k)).objective().value_and_gradient(wf, gf);
        INFO("J double " << jd << ", float " << jf);
        REQUIRE(std::abs(jf - jd) <= 1e-4 * std::abs(jd) + 1e-5);
        REQUIRE(relative_error(flat(gf), flat(gd_)) <= 1e-3);
    }
}

TEST_CASE("a network teleport on the lookahead objective makes the next GD step decrease the loss more",
          "[networks][teleport][objective]") {
    std::mt19937_64 rng(903);
    const net_d net({5, 6, 7, 8}, normal_matrix(5, 4, rng), normal_matrix(8, 4, rng));
    const action_t action(net.shape(), {1, 2});
    const double lr = 0.05;
    const gd opt{lr};
    auto after_step = [&](dvec w) {
        dvec g;
        net.gradient(w, g);
        auto state = opt.make_state(w);
        opt.step(state, w, g);
        return double(net.evaluate(w));
    };
    teleport_settings settings;
    settings.strategy = normalized_ascent{10};
    for (const std::size_t k : {1u, 3u}) {
        INFO("k = " << k);
        const dvec w0 = random_weights_off_kinks(net, rng);
        // the preconditioner is shared: set from the optimizer after the symmetry is made
        auto p = std::make_shared<dvec>();
        const auto symmetry = symmetry_for(net, action, lookahead<double>(p, k));
        dvec g;
        net.gradient(w0, g);
        step_preconditioner(opt, opt.make_state(w0), w0, g, *p);
        dvec w = w0;
        teleport_report report;
        teleport_once(symmetry, w, settings, rng, report);
        INFO(report.rejection << "; J " << report.objective_before << " -> " << report.objective_after << ", loss "
                              << report.loss_before << " -> " << report.loss_after);
        REQUIRE(report.accepted);
        REQUIRE(report.objective_after >= report.objective_before);
        REQUIRE(report.relative_loss_change <= settings.tolerance);
        if (std::getenv("TELEPORT_TEST_REPORT"))
            std::printf("  lookahead network teleport k=%zu: J %.4g -> %.4g, loss after a GD step %.4g -> %.4g\n", k,
                        report.objective_before, report.objective_after, after_step(w0), after_step(w));
        REQUIRE(after_step(w) < after_step(w0));
    }
}
