// teleport/engine/settings.hpp — what a teleport is asked to do (strategy, start, map, tolerance)
// and what it reports. Shared by every symmetry: the engine (engine/engine.hpp) reads the settings
// and fills the report the same way for fixed-size points and for networks.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
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

/// The safeguarded search (the default): ascent along ∇J/‖∇J‖ with a backtracking step, no
/// learning rate to tune. Each step tries the current step length (at most trust_radius, the
/// largest length of one step in the algebra), halves it until J increases (at most max_halvings
/// times), and doubles it after a success; it stops early when no step increases J. A trial that
/// leaves the group's domain or whose point is not finite or off the level set counts as a step
/// that did not increase J: it shortens the step, it does not fail the teleport. Only increasing
/// steps are taken, and the engine accepts the result only when J ends above its value at w by
/// more than the settings' relative tolerance (gain > 1); otherwise the teleport returns the
/// identity and says so.
struct normalized_ascent {
    std::size_t steps = 10;
    double initial_step = 0.5;
    std::size_t max_halvings = 40;
    double trust_radius = std::numeric_limits<double>::infinity();
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

/// How a search on a coordinate chart picks θ₀ when none is given.
///   automatic  the paper's draw, uniform in [lo, hi) per coordinate, for gradient ascent on a
///              compact group (so(n), whose chart [0, π) makes sense); the identity (θ₀ = 0)
///              otherwise: on a non-compact group (gl(n), scalings) a random θ₀ of size π is a
///              far jump, and the safeguarded search must start where J is J(w)
///   identity   θ₀ = 0
///   uniform    uniform in [lo, hi) per coordinate from the run's seeded generator
/// Network symmetries always start at the identity.
enum class start_kind { automatic, identity, uniform };

/// Where the ascent starts: θ₀ given explicitly, or chosen by `kind`.
struct theta_start {
    std::vector<double> given;  // non-empty: this θ₀
    start_kind kind = start_kind::automatic;
    double lo = 0.0;
    double hi = std::numbers::pi;
};

/// Counterfactual accounting of a teleport (train/algorithm1.hpp): after an accepted teleport the
/// optimizer takes `steps` steps from a copy of the teleported point and from a copy of the point
/// before it (each with a copy of its optimizer state, on the teleport's loss), and the report
/// carries both losses. With `require`, a teleport after which the loss is not lower is undone.
/// On by default (10 steps, required): a teleport that makes the next steps worse is not kept — on
/// a non-compact group ‖∇L‖² grows without bound along the orbit, and a teleport to a much steeper
/// point can make the optimizer diverge. {0, false} turns it off (the paper's Algorithm 1); it only
/// acts where there is an optimizer (train/), not in a bare teleport_once.
struct payoff_check {
    std::size_t steps = 10;  // k; 0: not measured
    bool require = true;     // undo a teleport that does not pay off (needs steps > 0)
};

struct teleport_settings {
    teleport_strategy strategy = normalized_ascent{};
    theta_start start{};
    exp_map map = exp_map::exact;
    double tolerance = 1e-9;  // largest accepted relative change of the loss
    payoff_check payoff{};
};

/// Whether a coordinate search starts from a drawn θ₀ (see start_kind); `compact`: the group is.
inline bool draws_theta0(const teleport_settings& s, bool compact) {
    switch (s.start.kind) {
        case start_kind::identity: return false;
        case start_kind::uniform: return true;
        case start_kind::automatic: return compact && std::holds_alternative<gradient_ascent>(s.strategy);
    }
    return false;
}

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
                if (!(v.trust_radius > 0))
                    throw std::invalid_argument("teleport: the trust radius must be positive (got " +
                                                std::to_string(v.trust_radius) + ")");
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
    if (s.payoff.require && s.payoff.steps == 0)
        throw std::invalid_argument("teleport: requiring a teleport to pay off needs a number of look-ahead steps k > 0");
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
    // counterfactual (payoff_check): the loss after k optimizer steps from the teleported point and
    // from the point before it; NaN when not measured (k = 0, or the search itself was rejected)
    std::size_t payoff_steps = 0;
    double loss_with = std::numeric_limits<double>::quiet_NaN();
    double loss_without = std::numeric_limits<double>::quiet_NaN();
    double payoff_seconds = 0;       // the time the two look-ahead runs took (not in the teleport's)

    bool payoff_measured() const { return payoff_steps > 0; }
    /// The loss after k steps is lower with the teleport than without it (false when the run
    /// with it is no longer finite).
    bool paid_off() const { return payoff_measured() && loss_with < loss_without; }
};

}  // namespace teleport
