// teleport/engine/engine.hpp — one teleport, for any symmetry: the search strategies, the
// invariance guard, the acceptance check and the report, written once.
//
//     teleport_report report;
//     if (auto carry = teleport::teleport_once(symmetry, w, settings, rng, report))
//         state.for_each_gradient_like(*carry);   // accepted: w is now g·w
//
// teleport_once(s, w, settings, rng, report) measures L, ‖∇L‖² and J at w, starts a search at
// s.start(w, …), runs the settings' strategy on that orbit position, and accepts the moved point
// when it is finite and its loss is within the relative tolerance of L(w): w is then replaced and
// the position's transport returned; the safeguarded search (normalized_ascent) is accepted only
// when J ends above J(w) by more than the relative tolerance. Otherwise w is left alone, the report says why and the result is empty.
// A search that leaves the group's domain (std::domain_error) is a rejection,
// not an error; bad settings (std::invalid_argument) are errors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "teleport/engine/settings.hpp"
#include "teleport/engine/symmetry.hpp"

namespace teleport {

namespace detail {

template <class O>
void record_coordinates(const O& position, std::vector<double>& out) {
    if constexpr (requires { position.coordinates(); }) {
        const auto c = position.coordinates();
        out.assign(c.begin(), c.end());
    }
}

}  // namespace detail

/// Runs the settings' strategy from `position` (moved in place to the point chosen). `invariant(L)`
/// says whether a trial point's loss L is close enough to the starting loss for the trial to
/// count: a step so long that rounding breaks the symmetry is too long. Fills objective_before and
/// objective_evaluations of the report.
template <orbit_position O, class Invariant>
void search(O& position, const teleport_settings& settings, std::mt19937_64& rng, teleport_report& report,
            Invariant&& invariant) {
    using direction = typename O::direction;
    // a position whose gradient costs about what its value does evaluates trials with both
    constexpr bool fused_trial = requires(O& o, direction& d, double& loss) { o.value_and_gradient(d, loss); };
    std::size_t& evaluations = report.objective_evaluations;
    evaluations = 0;
    direction d{};
    // a trial: a copy of the position moved by a·d (or by a random jump), then evaluated (J, or J
    // with its gradient); NaN when the move left the group's domain or the point is not a valid
    // candidate (its loss moved off the level set)
    auto try_trial = [&](O& trial, auto&& move, auto&& evaluate) -> double {
        double loss = std::numeric_limits<double>::quiet_NaN();
        double value = std::numeric_limits<double>::quiet_NaN();
        try {
            move(trial);
            value = double(evaluate(trial, loss));
        } catch (const std::domain_error&) {
            // too long a step (a singular map, a hidden layer that is no longer finite or of full rank)
        }
        ++evaluations;
        return std::isfinite(value) && invariant(loss) ? value : std::numeric_limits<double>::quiet_NaN();
    };
    auto value_only = [](O& p, double& loss) { return p.value(loss); };
    std::visit(
        [&](const auto& s) {
            using S = std::decay_t<decltype(s)>;
            if constexpr (std::is_same_v<S, gradient_ascent>) {
                // the paper's ascent: every step taken, none checked
                for (std::size_t k = 0; k < s.steps; ++k) {
                    const double j = double(position.value_and_gradient(d));
                    ++evaluations;
                    if (k == 0) report.objective_before = j;
                    position.step(std::as_const(d), s.learning_rate);
                }
            } else if constexpr (std::is_same_v<S, normalized_ascent>) {
                double value = double(position.value_and_gradient(d));
                ++evaluations;
                report.objective_before = value;
                double step = std::min(s.initial_step, s.trust_radius);
                for (std::size_t k = 0; k < s.steps; ++k) {
                    const double norm = std::sqrt(double(position.squared_norm(std::as_const(d))));
                    if (!(norm > 0) || !std::isfinite(norm)) break;
                    bool improved = false;
                    for (std::size_t h = 0; h <= s.max_halvings; ++h, step *= 0.5) {
                        O trial = position;
                        auto move = [&](O& p) { p.step(std::as_const(d), step / norm); };
                        if constexpr (fused_trial) {
                            // one evaluation per trial; a successful one leaves its gradient
                            direction trial_d{};
                            const double v = try_trial(trial, move,
                                                       [&](O& p, double& loss) { return p.value_and_gradient(trial_d, loss); });
                            if (v > value) {  // false for NaN: a failed trial
                                position = std::move(trial);
                                d = std::move(trial_d);
                                value = v;
                                improved = true;
                                break;
                            }
                        } else {
                            if (try_trial(trial, move, value_only) > value) {
                                position = std::move(trial);
                                value = double(position.value_and_gradient(d));
                                ++evaluations;
                                improved = true;
                                break;
                            }
                        }
                    }
                    if (!improved) break;  // a local maximum to within the smallest step
                    step = std::min(2.0 * step, s.trust_radius);
                }
            } else {
                static_assert(std::is_same_v<S, random_search>);
                if constexpr (jumping_orbit_position<O>) {
                    double loss = 0;
                    double best = double(position.value(loss));
                    ++evaluations;
                    report.objective_before = best;
                    const O start = position;
                    for (std::size_t k = 1; k < s.samples; ++k) {
                        O trial = start;
                        const double v = try_trial(trial, [&](O& p) { p.jump(rng, s.lo, s.hi); }, value_only);
                        if (v > best) {
                            best = v;
                            position = std::move(trial);
                        }
                    }
                } else {
                    throw std::invalid_argument("teleport: random search needs an orbit position with jump()");
                }
            }
        },
        settings.strategy);
}

namespace detail {
// the teleport of teleport_once below, for a type known to be a symmetry
template <symmetry S>
std::optional<transport_t<S>> teleport_by(const S& symmetry, typename S::point& w, const teleport_settings& settings,
                                          std::mt19937_64& rng, teleport_report& report) {
    report.accepted = false;
    report.rejection.clear();
    report.theta0.clear();
    report.theta.clear();
    report.objective_evaluations = 0;
    report.payoff_steps = 0;
    report.loss_with = report.loss_without = std::numeric_limits<double>::quiet_NaN();
    report.payoff_seconds = 0;
    const point_measure before = symmetry.measure(w);
    report.loss_before = before.loss;
    report.grad_norm_sq_before = before.grad_norm_sq;
    report.objective_before = before.objective;
    const double scale = std::max(std::abs(report.loss_before), std::numeric_limits<double>::min());
    // a trial counts when its loss is within half the tolerance: the margin absorbs the rounding
    // between a trial's evaluation and the final measure of the point (float32 networks)
    auto invariant = [&](double loss) { return std::abs(loss - report.loss_before) <= 0.5 * settings.tolerance * scale; };

    using position_type = orbit_t<S>;
    std::optional<position_type> position;
    typename S::point moved;
    try {
        position.emplace(symmetry.start(w, settings, rng));
        detail::record_coordinates(*position, report.theta0);
        search(*position, settings, rng, report, invariant);
        detail::record_coordinates(*position, report.theta);
        position->write(moved, std::as_const(w));
    } catch (const std::domain_error& e) {
        // the search left the region where the group element is defined
        report.rejection = std::string("the search failed: ") + e.what();
        report.loss_after = report.loss_before;
        report.grad_norm_sq_after = report.grad_norm_sq_before;
        report.objective_after = report.objective_before;
        report.relative_loss_change = 0;
        return std::nullopt;
    }
    const point_measure after = symmetry.measure(moved);
    report.loss_after = after.loss;
    report.grad_norm_sq_after = after.grad_norm_sq;
    report.objective_after = after.objective;
    report.relative_loss_change = std::abs(report.loss_after - report.loss_before) / scale;

    bool finite = std::isfinite(after.loss) && std::isfinite(after.grad_norm_sq) && std::isfinite(after.objective);
    for (const auto& e : moved) finite = finite && std::isfinite(double(e));
    char text[160];
    if (!finite) {
        report.rejection = "the teleported point is not finite";
    } else if (report.relative_loss_change > settings.tolerance) {
        std::snprintf(text, sizeof text, "relative loss change %.3g exceeds the tolerance %.3g",
                      report.relative_loss_change, settings.tolerance);
        report.rejection = text;
    } else if (std::holds_alternative<normalized_ascent>(settings.strategy) &&
               !(after.objective > before.objective + settings.tolerance * std::abs(before.objective))) {
        // the safeguarded search returns the identity unless it found a larger J (by more than
        // the relative tolerance: a gain within it is rounding)
        std::snprintf(text, sizeof text, "no gain: the objective would go from %.6g to %.6g", before.objective,
                      after.objective);
        report.rejection = text;
    } else {
        report.accepted = true;
        w = std::move(moved);
        return position->transport();
    }
    return std::nullopt;
}
}  // namespace detail

/// One teleport of w by the symmetry s (w replaced by the point found when it is accepted); see the
/// header comment. The result carries a gradient-like vector along the accepted move (empty when
/// rejected).
template <class S, class Point>
auto teleport_once(const S& s, Point& w, const teleport_settings& settings, std::mt19937_64& rng,
                   teleport_report& report) {
    static_assert(symmetry<S>,
                  "teleport_once(s, w, settings, rng, report) requires 's' to be a symmetry: a type 'point', "
                  "s.measure(w) returning a point_measure and s.start(w, settings, rng) returning an orbit "
                  "position (teleport/engine/symmetry.hpp)");
    if constexpr (symmetry<S>) {
        static_assert(std::is_same_v<Point, typename S::point>,
                      "teleport_once(s, w, …) requires 'w' to be the symmetry's point type");
        return detail::teleport_by(s, w, settings, rng, report);
    }
}

}  // namespace teleport
