// teleport/teleport.hpp — the generated teleport objective, teleport strategies, and Algorithm 1
// (paper §3) around any optimizer.
//
// For a problem f (a symbolic function: loss, gradient, Hessian-vector product generated at compile
// time) and an action of the group of a Lie algebra on its parameters, the teleport objective is
//     J(θ) = ‖∇L(w′)‖²_η,   w′ = exp(Σ θ_k T_k)·w,
// and its gradient (SPEC §3.1)
//     ∂J/∂θ_k = 2 (H(w′) η ∇L(w′))ᵀ ∂w′/∂θ_k,
// a Hessian-vector product at w′ followed by the action's derivative along ∂g/∂θ_k.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "teleport/function.hpp"
#include "teleport/groups/action.hpp"
#include "teleport/groups/lie_algebra.hpp"
#include "teleport/optimize.hpp"
#include "teleport/vector_ops.hpp"

namespace teleport {

using groups::exp_map;
using groups::small_matrix;

template <class Action>
concept group_action = requires {
    typename Action::algebra;
    { Action::n } -> std::convertible_to<std::size_t>;
};

/// J(θ) = ‖∇L(exp(Σθ_k T_k)·w)‖²_η and its gradient, for a fixed base point w.
template <class F, group_action Action>
class teleport_objective {
  public:
    using algebra = typename Action::algebra;
    static constexpr std::size_t n = Action::n;
    static constexpr std::size_t dimension = algebra::dimension;
    using point = std::array<double, n>;
    using coordinates = std::array<double, dimension>;

    /// eta: the learning-rate matrix of ‖·‖_η (identity when absent).
    teleport_objective(const F& f, const Action& action, const point& w, exp_map map = exp_map::exact,
                       std::optional<small_matrix<n>> eta = std::nullopt)
        : f_(&f), action_(&action), w_(w), map_(map), eta_(eta) {}

    /// w′ = g·w for g reached from θ.
    point moved(const coordinates& theta) const {
        return action_->apply(groups::exponential<algebra>(theta, map_).g, w_);
    }

    /// ‖v‖²_η.
    double norm_sq(const point& v) const {
        if (!eta_) return dot(v, v);
        return dot(v, eta_->apply(v));
    }

    /// J(θ).
    double value(const coordinates& theta) const {
        point g{};
        f_->gradient(moved(theta), g);
        return norm_sq(g);
    }

    /// J(θ), with ∇_θ J written to grad.
    double value_and_gradient(const coordinates& theta, coordinates& grad) const {
        const auto element = groups::exponential<algebra>(theta, map_);
        const point w_moved = action_->apply(element.g, w_);
        point g{};
        f_->gradient(w_moved, g);
        const point eta_g = eta_ ? eta_->apply(g) : g;
        point h_eta_g{};
        f_->hessian_vector_product(w_moved, eta_g, h_eta_g);  // H(w′) η ∇L(w′)
        for (std::size_t k = 0; k < dimension; ++k) {
            const auto dg = groups::exponential_derivative<algebra>(theta, k, element, map_);
            grad[k] = 2.0 * dot(h_eta_g, action_->apply_derivative(element.g, dg, w_));
        }
        return dot(g, eta_g);
    }

    const point& base() const { return w_; }
    exp_map map() const { return map_; }
    const Action& action() const { return *action_; }

  private:
    static double dot(const point& a, const point& b) {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += a[i] * b[i];
        return s;
    }

    const F* f_;
    const Action* action_;
    point w_;
    exp_map map_;
    std::optional<small_matrix<n>> eta_;
};

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

namespace detail {
template <std::size_t D>
std::array<double, D> draw_start(const theta_start& start, std::mt19937_64& rng) {
    std::array<double, D> theta{};
    if (!start.given.empty()) {
        if (start.given.size() != D)
            throw std::invalid_argument("teleport: theta0 has " + std::to_string(start.given.size()) +
                                        " entries but the group has dimension " + std::to_string(D));
        std::copy(start.given.begin(), start.given.end(), theta.begin());
        return theta;
    }
    std::uniform_real_distribution<double> u(start.lo, start.hi);
    for (double& t : theta) t = start.lo == start.hi ? start.lo : u(rng);
    return theta;
}

}  // namespace detail

/// Search the group for a point of steeper gradient from w; returns the chosen θ (not yet applied).
template <class Objective>
typename Objective::coordinates search(const Objective& objective, const teleport_settings& settings,
                                       std::mt19937_64& rng, teleport_report& report) {
    using coords = typename Objective::coordinates;
    constexpr std::size_t d = Objective::dimension;
    coords theta = detail::draw_start<d>(settings.start, rng);
    report.theta0.assign(theta.begin(), theta.end());
    std::size_t evaluations = 0;
    coords grad{};
    std::visit(
        [&](const auto& s) {
            using S = std::decay_t<decltype(s)>;
            if constexpr (std::is_same_v<S, gradient_ascent>) {
                report.objective_before = objective.value_and_gradient(theta, grad);
                ++evaluations;
                for (std::size_t k = 0; k < s.steps; ++k) {
                    if (k > 0) {
                        objective.value_and_gradient(theta, grad);
                        ++evaluations;
                    }
                    for (std::size_t i = 0; i < d; ++i) theta[i] += s.learning_rate * grad[i];
                }
            } else if constexpr (std::is_same_v<S, normalized_ascent>) {
                double value = objective.value_and_gradient(theta, grad);
                ++evaluations;
                report.objective_before = value;
                double step = s.initial_step;
                for (std::size_t k = 0; k < s.steps; ++k) {
                    const double g = std::sqrt(squared_norm(grad));
                    if (!(g > 0) || !std::isfinite(g)) break;
                    bool improved = false;
                    for (std::size_t h = 0; h <= s.max_halvings; ++h, step *= 0.5) {
                        coords trial = theta;
                        for (std::size_t i = 0; i < d; ++i) trial[i] += step * grad[i] / g;
                        coords trial_grad{};
                        const double trial_value = objective.value_and_gradient(trial, trial_grad);
                        ++evaluations;
                        if (std::isfinite(trial_value) && trial_value > value) {
                            theta = trial;
                            grad = trial_grad;
                            value = trial_value;
                            improved = true;
                            break;
                        }
                    }
                    if (!improved) break;  // a local maximum to within the smallest step
                    step *= 2.0;
                }
            } else {
                std::uniform_real_distribution<double> u(s.lo, s.hi);
                double best = objective.value(theta);
                ++evaluations;
                report.objective_before = best;
                for (std::size_t k = 1; k < s.samples; ++k) {
                    coords candidate{};
                    for (double& t : candidate) t = u(rng);
                    const double v = objective.value(candidate);
                    ++evaluations;
                    if (std::isfinite(v) && v > best) {
                        best = v;
                        theta = candidate;
                    }
                }
            }
        },
        settings.strategy);
    report.objective_evaluations = evaluations;
    report.theta.assign(theta.begin(), theta.end());
    return theta;
}

/// One teleport of w (in place when accepted). A result that changes the loss by more than the
/// relative tolerance, or is not finite, is rejected: w is kept and the report says why.
/// Returns the group element used (identity when rejected), for transporting optimizer state.
template <class F, group_action Action>
groups::group_element<Action::algebra::n> teleport_once(const F& f, const Action& action, std::array<double, Action::n>& w,
                                               const teleport_settings& settings, std::mt19937_64& rng,
                                               teleport_report& report,
                                               std::optional<small_matrix<Action::n>> eta = std::nullopt) {
    using algebra = typename Action::algebra;
    constexpr std::size_t n = Action::n;
    report.accepted = false;
    report.rejection.clear();
    const teleport_objective<F, Action> objective(f, action, w, settings.map, eta);
    std::array<double, n> g{};
    report.loss_before = f.evaluate_with_gradient(w, g);
    report.grad_norm_sq_before = 0;
    for (double e : g) report.grad_norm_sq_before += e * e;

    const auto id = small_matrix<algebra::n>::identity();
    typename teleport_objective<F, Action>::coordinates theta{};
    try {
        theta = search(objective, settings, rng, report);
    } catch (const std::domain_error& e) {
        // the ascent left the region where the group element is defined (θ not finite, a
        // singular Cayley map): no teleport
        report.accepted = false;
        report.rejection = std::string("the search failed: ") + e.what();
        report.loss_after = report.loss_before;
        report.grad_norm_sq_after = report.grad_norm_sq_before;
        return {id, id};
    }
    const auto element = groups::exponential<algebra>(theta, settings.map);
    const auto moved = action.apply(element.g, w);
    std::array<double, n> g_after{};
    report.loss_after = f.evaluate_with_gradient(moved, g_after);
    report.grad_norm_sq_after = 0;
    for (double e : g_after) report.grad_norm_sq_after += e * e;
    report.objective_after = objective.norm_sq(g_after);
    const double scale = std::max(std::abs(report.loss_before), std::numeric_limits<double>::min());
    report.relative_loss_change = std::abs(report.loss_after - report.loss_before) / scale;

    bool finite = std::isfinite(report.loss_after) && std::isfinite(report.grad_norm_sq_after);
    for (double e : moved) finite = finite && std::isfinite(e);
    if (!finite) {
        report.accepted = false;
        report.rejection = "the teleported point is not finite";
    } else if (report.relative_loss_change > settings.tolerance) {
        report.accepted = false;
        char text[128];
        std::snprintf(text, sizeof text, "relative loss change %.3g exceeds the tolerance %.3g",
                      report.relative_loss_change, settings.tolerance);
        report.rejection = text;
    } else {
        report.accepted = true;
        w = moved;
        return element;
    }
    return {id, id};
}

// --- Algorithm 1 -----------------------------------------------------------------------------

/// When to teleport: before the optimizer steps in the set (0-based).
class teleport_schedule {
  public:
    /// No teleport at all (plain optimization through the same loop).
    static teleport_schedule never() { return teleport_schedule{}; }
    /// Before step `first` and every `every` steps after it.
    static teleport_schedule every(std::size_t every, std::size_t first) {
        if (every == 0) throw std::invalid_argument("teleport schedule: the interval must be positive");
        teleport_schedule s;
        s.every_ = every;
        s.first_ = first;
        return s;
    }
    /// Once, before step t.
    static teleport_schedule once(std::size_t t) { return at({t}); }
    /// Before each of the given steps.
    static teleport_schedule at(std::set<std::size_t> steps) {
        teleport_schedule s;
        s.steps_ = std::move(steps);
        return s;
    }
    bool contains(std::size_t t) const {
        if (every_ != 0) return t >= first_ && (t - first_) % every_ == 0;
        return steps_.count(t) != 0;
    }

  private:
    std::set<std::size_t> steps_;
    std::size_t every_ = 0;
    std::size_t first_ = 0;
};

/// What happens to the optimizer's state at a teleport. keep (default): accumulators carry on as
/// if nothing happened (what the paper's code does). reset: back to a fresh state. transport:
/// gradient-like vectors (momentum, Adam's first moment) move with the parameters by the inverse
/// transpose of the action's Jacobian, m ↦ J⁻ᵀ m, as a gradient does; squared-gradient
/// accumulators are kept (they have no linear transformation law).
enum class state_policy { keep, reset, transport };

inline const char* to_string(state_policy p) {
    switch (p) {
        case state_policy::keep: return "keep";
        case state_policy::reset: return "reset";
        case state_policy::transport: return "transport";
    }
    return "?";
}

struct step_record {
    std::size_t step;
    double loss;
    double grad_norm_sq;
    double time_s;     // wall-clock since the start of the run
    bool teleported;   // an accepted teleport moved the point right before this step
};

struct teleport_run_result {
    std::vector<step_record> steps;      // one per optimizer step, and the final point
    std::vector<teleport_report> teleports;
    double total_seconds = 0;
    double teleport_seconds = 0;
    stop_reason reason = stop_reason::max_steps;
};

/// Algorithm 1 around any teleport procedure. `teleport(x, rng, report)` teleports x in place (or
/// leaves it and says why in the report) and returns a callable that carries a gradient-like vector
/// along (m ↦ J⁻ᵀ m), used when the policy is transport. For t = 0 … steps−1: teleport if t is in
/// the schedule, then take the optimizer's step; the callbacks of optimize() are called as there.
template <class Optimizer, class F, vector_like Vec, class Teleport, class... Callbacks>
teleport_run_result run_with_teleport(const Optimizer& opt, const F& f, Vec& x, std::size_t steps,
                                      const teleport_schedule& schedule, Teleport&& teleport, std::uint64_t seed,
                                      state_policy policy, Callbacks&&... callbacks) {
    using clock = std::chrono::steady_clock;
    using T = value_type_t<Vec>;
    if (steps == 0) throw std::invalid_argument("optimize: number of steps must be positive");
    std::mt19937_64 rng(seed);
    auto state = opt.make_state(x);
    teleport_run_result run;
    run.steps.reserve(steps + 1);
    Vec g = zeros_like(x);
    const auto start = clock::now();
    auto seconds = [&](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    notify_begin(x, callbacks...);
    bool teleported = false;
    for (std::size_t t = 0;; ++t) {
        if (t < steps && schedule.contains(t)) {
            const auto t0 = clock::now();
            teleport_report report;
            report.step = t;
            auto transport = teleport(x, rng, report);
            if (report.accepted) {
                if (policy == state_policy::reset) state.reset();
                else if (policy == state_policy::transport) state.for_each_gradient_like(transport);
            }
            teleported = report.accepted;
            run.teleports.push_back(std::move(report));
            run.teleport_seconds += seconds(t0, clock::now());
        }
        const T loss = f.evaluate_with_gradient(x, g);
        const T gn = squared_norm(g);
        run.steps.push_back({t, double(loss), double(gn), seconds(start, clock::now()), teleported});
        teleported = false;
        if (!std::isfinite(loss) || !std::isfinite(gn)) {
            run.reason = stop_reason::non_finite;
            break;
        }
        if (t == steps) break;
        if (notify_step(step_info<T>{t, loss, gn}, std::as_const(x), callbacks...)) {
            run.reason = stop_reason::callback;
            break;
        }
        opt.step(state, x, g);
    }
    run.total_seconds = seconds(start, clock::now());
    const auto& last = run.steps.back();
    notify_end(optimize_result<T>{T(last.loss), T(last.grad_norm_sq), last.step, run.reason}, x, callbacks...);
    return run;
}

/// Algorithm 1 with a group action on a fixed-size point: teleport_once before the scheduled steps.
/// The random draws (θ₀, samples) come from a generator seeded with `seed`.
template <class Optimizer, class F, group_action Action, class... Callbacks>
teleport_run_result optimize_with_teleport(const Optimizer& opt, const F& f, const Action& action,
                                           std::array<double, Action::n>& x, std::size_t steps,
                                           const teleport_schedule& schedule, const teleport_settings& settings,
                                           std::uint64_t seed, state_policy policy = state_policy::keep,
                                           Callbacks&&... callbacks) {
    constexpr std::size_t n = Action::n;
    validate(settings);
    auto teleport = [&](std::array<double, n>& point, std::mt19937_64& rng, teleport_report& report) {
        const std::array<double, n> before = point;
        const auto element = teleport_once(f, action, point, settings, rng, report);
        // J⁻ᵀ m with J = ∂(g·w)/∂w at the point before the teleport
        return [&action, element, before](std::array<double, n>& m) {
            const auto jt_inv = groups::inverse(action.jacobian(element.g, before)).transpose();
            m = jt_inv.apply(m);
        };
    };
    return run_with_teleport(opt, f, x, steps, schedule, teleport, seed, policy, std::forward<Callbacks>(callbacks)...);
}

}  // namespace teleport
