// Laws every Lie algebra and its exponential maps satisfy, checked for any generator set
// (tests/test_groups.cpp: so, gl, scaling; tests/test_user_groups.cpp: user-declared algebras).
#pragma once

#include <array>
#include <cmath>
#include <random>

#include <catch2/catch.hpp>

#include "teleport/groups/lie_algebra.hpp"
#include "teleport/groups/small_matrix.hpp"

namespace group_laws {

using namespace teleport::groups;

template <class A>
std::array<double, A::dimension> random_theta(std::mt19937_64& rng, double scale) {
    std::normal_distribution<double> normal(0.0, scale);
    std::array<double, A::dimension> t{};
    for (double& e : t) e = normal(rng);
    return t;
}

template <class A>
void check_algebra_laws(std::uint64_t seed) {
    constexpr std::size_t n = A::n;
    INFO(A::name());
    // generators: linearly independent basis elements, bracket antisymmetric, Jacobi identity
    for (std::size_t i = 0; i < A::dimension; ++i) {
        const auto ti = A::generator(i);
        if constexpr (A::skew_symmetric) REQUIRE(ti.transpose() == -1.0 * ti);
        for (std::size_t j = 0; j < A::dimension; ++j) {
            const auto tj = A::generator(j);
            REQUIRE(bracket(ti, tj) == -1.0 * bracket(tj, ti));
            if (i != j) REQUIRE(!(ti == tj));
            for (std::size_t k = 0; k < A::dimension; ++k) {
                const auto tk = A::generator(k);
                const auto jacobi = bracket(ti, bracket(tj, tk)) + bracket(tj, bracket(tk, ti)) + bracket(tk, bracket(ti, tj));
                REQUIRE(max_abs_difference(jacobi, small_matrix<n>::zero()) == 0.0);
            }
        }
    }
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 20; ++trial) {
        const auto theta = random_theta<A>(rng, 0.8);
        const auto e = exponential<A>(theta);
        const small_matrix<n> id = small_matrix<n>::identity();
        // exp(−X) = exp(X)⁻¹, both ways
        auto minus = theta;
        for (double& t : minus) t = -t;
        REQUIRE(max_abs_difference(exponential<A>(minus).g, e.inverse) < 1e-13);
        REQUIRE(max_abs_difference(e.g * e.inverse, id) < 1e-13);
        REQUIRE(max_abs_difference(inverse(e.g), e.inverse) < 1e-12);
        // exp of a skew-symmetric matrix: orthogonal with determinant 1; Cayley too
        if constexpr (A::skew_symmetric) {
            REQUIRE(max_abs_difference(e.g.transpose() * e.g, id) < 1e-13);
            REQUIRE(determinant(e.g) == Approx(1.0).epsilon(1e-13));
            const auto c = exponential<A>(theta, exp_map::cayley);
            REQUIRE(max_abs_difference(c.g.transpose() * c.g, id) < 1e-13);
            REQUIRE(max_abs_difference(c.g * c.inverse, id) < 1e-13);
            REQUIRE(determinant(c.g) == Approx(1.0).epsilon(1e-13));
        }
        // det e^X = e^{tr X}
        double trace = 0;
        const auto x = algebra_element<A>(theta);
        for (std::size_t i = 0; i < n; ++i) trace += x(i, i);
        REQUIRE(determinant(e.g) == Approx(std::exp(trace)).epsilon(1e-12));
        // small X: exp agrees with its series I + X + X²/2 + X³/6 to fourth order
        auto small = theta;
        for (double& t : small) t *= 1e-3;
        const auto xs = algebra_element<A>(small);
        const auto series = id + xs + 0.5 * (xs * xs) + (1.0 / 6.0) * (xs * xs * xs);
        REQUIRE(max_abs_difference(exponential<A>(small).g, series) < 1e-11);
        // the derivative of the map against central differences, for every map
        // (at half the scale: the Cayley map is singular where an eigenvalue of X/2 is 1)
        auto half = theta;
        for (double& t : half) t *= 0.5;
        for (const exp_map map : {exp_map::exact, exp_map::cayley, exp_map::first_order}) {
            const auto theta = half;
            const auto at = exponential<A>(theta, map);
            for (std::size_t k = 0; k < A::dimension; ++k) {
                const auto d = exponential_derivative<A>(theta, k, at, map);
                auto up = theta;
                auto down = theta;
                const double h = 1e-6;
                up[k] += h;
                down[k] -= h;
                const auto fd = (1.0 / (2 * h)) * (exponential<A>(up, map).g - exponential<A>(down, map).g);
                INFO("map " << to_string(map) << ", generator " << k);
                REQUIRE(max_abs_difference(d, fd) < 1e-7 * std::max(1.0, norm_inf(d)));
            }
        }
    }
}

}  // namespace group_laws
