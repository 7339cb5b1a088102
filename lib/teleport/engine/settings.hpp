// teleport/engine/settings.hpp — what a teleport is asked to do (strategy, start, map, tolerance)
// and what it reports. Shared by every symmetry: the engine (engine/engine.hpp) reads the settings
// and fills the report the same way for fixed-size points and for networks.
#pragma once

#include <cmath>
#include <cstddef>
#include <numbers>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "teleport/groups/lie_algebra.hpp"

namespace teleport {

using groups::exp_map;

// --- strategies --------------------------------------------------------------------------------

/// The paper's teleport: gradient ascent on θ with a fixed learning rate. All `steps` updates are
/// applied (the public reference computes the last update and then discards it).
struct gradient_ascent {
    std::size_t steps = 10;
    double learning_rate = 0.1;
};

/// Ascent along ∇J/‖∇J‖ with a backtracking step: no learning rate to tune. Each step tries the
/// current step length, halves it until J increases (at most max_halvings times), and doubles it
/// after a success; it stops early when no step increases J.
struct normalized_ascent {
    std::size_t steps = 10;
    double initial_step = 0.5;
    std::size_t max_halvings = 40;
};

/// Best of N group elements with θ drawn uniformly from [lo, hi) per coordinate.
struct random_search {
    std::size_t samples = 32;
    double lo = 0.0;
    double hi = std::numbers::pi;
};

using teleport_strategy = std::variant<gradient_ascent, normalized_ascent, random_search>;

inline std::string strategy_name(const teleport_strategy& s) {
    return std::visit(
        [](const auto& v) -> std::string {
            using S = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<S, gradient_ascent>) return "gradient-ascent";
            else if constexpr (std::is_same_v<S, normalized_ascent>) return "normalized-ascent";
            else return "random-search";
        },
        s);
}

/// Where the ascent starts: θ₀ given explicitly, or drawn uniformly from [lo, hi) per coordinate
/// from the run's seeded generator (the paper draws θ₀ uniformly in [0, π)).
struct theta_start {
    std::vector<double> given;  // empty: draw
    double lo = 0.0;
    double hi = std::numbers::pi;
};

struct teleport_settings {
    teleport_strategy strategy = gradient_ascent{};
    theta_start start{};
    exp_map map = exp_map::exact;
    double tolerance = 1e-9;  // largest accepted relative change of the loss
};

/// Validates settings; throws std::invalid_argument with a one-sentence message.
inline void validate(const teleport_settings& s) {
    auto positive = [](double v, const char* what) {
        if (!std::isfinite(v) || !(v > 0))
            throw std::invalid_argument(std::string("teleport: ") + what + " must be finite and positive (got " +
                                        std::to_string(v) + ")");
    };
    auto count = [](std::size_t v, const char* what) {
        if (v == 0) throw std::invalid_argument(std::string("teleport: ") + what + " must be positive");
    };
    std::visit(
        [&](const auto& v) {
            using S = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<S, gradient_ascent>) {
                count(v.steps, "the number of ascent steps");
                positive(v.learning_rate, "the teleport learning rate");
            } else if constexpr (std::is_same_v<S, normalized_ascent>) {
                count(v.steps, "the number of ascent steps");
                positive(v.initial_step, "the initial step");
            } else {
                count(v.samples, "the number of random samples");
                if (!(v.lo < v.hi)) throw std::invalid_argument("teleport: the sampling range must satisfy lo < hi");
            }
        },
        s.strategy);
    positive(s.tolerance, "the invariance tolerance");
    for (double t : s.start.given)
        if (!std::isfinite(t)) throw std::invalid_argument("teleport: theta0 has a non-finite entry");
    if (s.start.given.empty() && !(s.start.lo <= s.start.hi))
        throw std::invalid_argument("teleport: the theta0 range must satisfy lo <= hi");
}

/// What one teleport did.
struct teleport_report {
    std::size_t step = 0;            // optimizer step before which it happened
    std::vector<double> theta0;      // where the search started
    std::vector<double> theta;       // the group coordinates chosen
    double loss_before = 0;
    double loss_after = 0;
    double relative_loss_change = 0;
    double grad_norm_sq_before = 0;  // ‖∇L‖² (Euclidean) before and after
    double grad_norm_sq_after = 0;
    double objective_before = 0;     // J at θ₀ and at θ (‖∇L‖²_η)
    double objective_after = 0;
    std::size_t objective_evaluations = 0;
    bool accepted = false;
    std::string rejection;           // why not, when rejected
};

}  // namespace teleport
