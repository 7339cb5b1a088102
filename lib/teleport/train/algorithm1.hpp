// teleport/train/algorithm1.hpp — the paper's Algorithm 1 (full batch) as one call of optimize():
// a teleport is a before_step hook of the loop (teleport_hook), the run's records a callback
// (record_run).
//
//     auto run = teleport::optimize_with_teleport(gd{1e-3}, f, symmetry, x, 1000,
//                                                 teleport_schedule::every(100, 0), settings, seed);
//
// For t = 0 … steps−1: teleport if t is in the schedule (engine/engine.hpp), then take the
// optimizer's step. What happens to the optimizer's state at an accepted teleport is a
// state_policy. Any callbacks of optimize() may be added; they also see every teleport through
// their teleport(report, before, after) hook.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <ranges>
#include <string>
#include <tuple>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "teleport/core/storage.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/engine/coordinate_symmetry.hpp"
#include "teleport/engine/engine.hpp"
#include "teleport/engine/settings.hpp"
#include "teleport/engine/symmetry.hpp"
#include "teleport/train/optimize.hpp"
#include "teleport/train/optimizers.hpp"

namespace teleport {

/// When to teleport: before the optimizer steps (or epochs) in the set (0-based).
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

/// Applies a state policy after an accepted teleport whose move `carry` transports vectors.
template <class State, class Transport>
void apply_state_policy(state_policy policy, State& state, const Transport& carry) {
    if (policy == state_policy::reset) state.reset();
    else if (policy == state_policy::transport) state.for_each_gradient_like(carry);
}

/// A symmetry whose objective models the optimizer's next steps (a lookahead_decrease sharing
/// the preconditioner p, engine/objective.hpp): before each teleport, teleport_with_policy calls
/// prepare(opt, state, x), which writes the optimizer's next step P at x (train/optimizers.hpp,
/// step_preconditioner; ∇L on the teleport's loss f) into p. Otherwise it is the symmetry S.
///
///     auto p = std::make_shared<Vec>();
///     const step_aware_symmetry symmetry(network_symmetry(net, action, false, how,
///                                                         lookahead_decrease<Vec>(p, 1)), net, p);
template <symmetry S, class F>
class step_aware_symmetry : public S {
  public:
    using point = typename S::point;

    step_aware_symmetry(S s, const F& f, std::shared_ptr<point> p) : S(std::move(s)), f_(&f), p_(std::move(p)) {
        if (!p_) throw std::invalid_argument("step_aware_symmetry: no preconditioner to write");
    }

    template <class Optimizer, class State>
    void prepare(const Optimizer& opt, const State& state, const point& x) const {
        if (g_.size() != x.size()) g_ = zeros_like(x);
        (void)evaluate_with_gradient(*f_, x, g_);
        step_preconditioner(opt, state, x, std::as_const(g_), *p_);
    }

  private:
    const F* f_;
    std::shared_ptr<point> p_;
    mutable point g_;
};

/// The symmetry of f under a coordinate action whose teleports maximize the decrease of the loss
/// over the optimizer's next k steps (lookahead_decrease), the optimizer's step re-read before
/// each teleport.
template <class F, group_action Action>
auto lookahead_symmetry(const F& f, const Action& action, std::size_t k) {
    using point = std::array<double, Action::n>;
    auto p = std::make_shared<point>();
    return step_aware_symmetry<action_symmetry<F, Action, lookahead_decrease<point>>, F>(
        action_symmetry<F, Action, lookahead_decrease<point>>(f, action, lookahead_decrease<point>(p, k)), f, p);
}

/// The symmetry keeps pointers to f and the action: a temporary would dangle.
template <class F, group_action Action>
void lookahead_symmetry(const F& f, const Action&& action, std::size_t k) = delete;
template <class F, group_action Action>
void lookahead_symmetry(const F&& f, const Action& action, std::size_t k) = delete;

/// The loss after k steps of the optimizer from x with the optimizer state `state` (both copies),
/// on f: the look-ahead of counterfactual accounting (payoff_check).
template <class Optimizer, class F, class Vec, class State>
double loss_after_steps(const Optimizer& opt, const F& f, Vec x, State state, std::size_t k) {
    Vec g = zeros_like(x);
    for (std::size_t i = 0; i < k; ++i) {
        (void)evaluate_with_gradient(f, std::as_const(x), g);
        opt.step(state, x, std::as_const(g));
    }
    return double(evaluate_with_gradient(f, std::as_const(x), g));
}

/// One teleport of x by the symmetry, with the policy applied to the optimizer state when it is
/// accepted (see teleport_once); returns the wall-clock seconds the method spent on it. Both
/// Algorithm 1 hooks (full batch here, mini-batch in train/minibatch.hpp) teleport through it.
///
/// With settings.payoff.steps = k > 0, an accepted teleport is also accounted for: the optimizer
/// takes k steps on f from copies of the teleported point and of the point before it (each with
/// its optimizer state), and report.loss_with / loss_without receive the two losses; their time is
/// report.payoff_seconds, counted in the returned seconds only with settings.payoff.require, which
/// makes it part of the method: a teleport after which the loss is not lower is then undone (x and
/// the state restored) and reported as rejected.
template <class Optimizer, class F, symmetry S, class State>
double teleport_with_policy(const Optimizer& opt, const F& f, const S& symmetry, typename S::point& x, State& state,
                            const teleport_settings& settings, std::mt19937_64& rng, state_policy policy,
                            teleport_report& report) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t k = settings.payoff.steps;
    std::optional<typename S::point> before;
    std::optional<State> state_before;
    if (k > 0) {
        before.emplace(x);
        state_before.emplace(state);
    }
    if constexpr (requires { symmetry.prepare(opt, std::as_const(state), std::as_const(x)); })
        symmetry.prepare(opt, std::as_const(state), std::as_const(x));  // the objective's model of the next steps
    const auto carry = teleport_once(symmetry, x, settings, rng, report);
    if (carry) apply_state_policy(policy, state, *carry);
    const double seconds = seconds_since(start);
    if (carry && k > 0) {
        const auto look = std::chrono::steady_clock::now();
        report.payoff_steps = k;
        report.loss_with = loss_after_steps(opt, f, x, state, k);
        report.loss_without = loss_after_steps(opt, f, *before, *state_before, k);
        if (settings.payoff.require && !report.paid_off()) {
            char text[160];
            std::snprintf(text, sizeof text, "did not pay off: the loss after %zu steps would be %.6g, against %.6g without",
                          k, report.loss_with, report.loss_without);
            report.accepted = false;
            report.rejection = text;
            x = std::move(*before);
            state = std::move(*state_before);
        }
        report.payoff_seconds = seconds_since(look);
    }
    return settings.payoff.require ? seconds + report.payoff_seconds : seconds;
}

/// Teleports before the scheduled steps: a before_step hook of optimize(). The random draws of
/// the searches (θ₀, samples) come from its own generator seeded with `seed`. The optimizer, the
/// loss, the symmetry and the settings are held by reference and read at every teleport, so a
/// callback may change the settings between teleports (a given θ₀ per teleport, say); all must
/// outlive the hook. The optimizer and the loss serve counterfactual accounting (payoff_check).
template <symmetry S, class Optimizer, class F>
class teleport_hook {
  public:
    teleport_hook(const Optimizer& opt, const F& f, const S& symmetry, teleport_schedule schedule,
                  const teleport_settings& settings, std::uint64_t seed, state_policy policy = state_policy::keep)
        : opt_(&opt), f_(&f), symmetry_(&symmetry), schedule_(std::move(schedule)), settings_(&settings), rng_(seed),
          policy_(policy) {
        validate(settings);
    }

    template <class State, class Events>
    void before_step(std::size_t k, typename S::point& x, State& state, const Events& events) {
        if (!schedule_.contains(k)) return;
        teleport_report report;
        report.step = k;
        const typename S::point before = x;
        seconds_ += teleport_with_policy(*opt_, *f_, *symmetry_, x, state, *settings_, rng_, policy_, report);
        events.teleport(report, before, std::as_const(x));
        reports_.push_back(std::move(report));
    }

    const std::vector<teleport_report>& reports() const { return reports_; }
    std::vector<teleport_report>& reports() { return reports_; }
    double seconds() const { return seconds_; }

  private:
    const Optimizer* opt_;
    const F* f_;
    const S* symmetry_;
    teleport_schedule schedule_;
    const teleport_settings* settings_;
    std::mt19937_64 rng_;
    state_policy policy_;
    std::vector<teleport_report> reports_;
    double seconds_ = 0;
};

/// One row of a run: the point an update starts from (and the final point).
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

/// Records every point of a run into a teleport_run_result: a callback of optimize().
class record_run {
  public:
    explicit record_run(teleport_run_result& run) : run_(&run) {}

    template <class Vec>
    void begin(const Vec&) {
        start_ = clock::now();
    }
    template <class Vec>
    void teleport(const teleport_report& report, const Vec&, const Vec&) {
        teleported_ = report.accepted;
    }
    template <std::floating_point T, class Vec>
    void step(const step_info<T>& info, const Vec&) {
        push(info.step, double(info.loss), double(info.grad_norm_sq));
    }
    template <std::floating_point T, class Vec>
    void end(const optimize_result<T>& r, const Vec&) {
        // a stop asked by a callback happens at a point the step hook has recorded already
        if (r.reason != stop_reason::callback) push(r.steps, double(r.loss), double(r.grad_norm_sq));
        run_->total_seconds = seconds();
        run_->reason = r.reason;
    }

  private:
    using clock = std::chrono::steady_clock;
    double seconds() const { return seconds_since(start_); }
    void push(std::size_t step, double loss, double grad_norm_sq) {
        run_->steps.push_back({step, loss, grad_norm_sq, seconds(), teleported_});
        teleported_ = false;
    }

    teleport_run_result* run_;
    clock::time_point start_ = clock::now();
    bool teleported_ = false;
};

/// The points before and after every teleport of a run (after == before when rejected), in the
/// order of the run's reports: a callback of optimize() and of the mini-batch loop.
template <class Vec>
struct teleport_points {
    std::vector<Vec> before, after;
};

template <class Vec>
class record_teleports {
  public:
    explicit record_teleports(teleport_points<Vec>& points) : points_(&points) {}
    void teleport(const teleport_report&, const Vec& before, const Vec& after) {
        points_->before.push_back(before);
        points_->after.push_back(after);
    }

  private:
    teleport_points<Vec>* points_;
};

/// Algorithm 1 for any symmetry of f: optimize() with a teleport_hook and record_run.
template <class Optimizer, class F, symmetry S, class... Callbacks>
teleport_run_result optimize_with_teleport(const Optimizer& opt, const F& f, const S& symmetry,
                                           typename S::point& x, std::size_t steps,
                                           const teleport_schedule& schedule, const teleport_settings& settings,
                                           std::uint64_t seed, state_policy policy = state_policy::keep,
                                           Callbacks&&... callbacks) {
    if constexpr (requires { symmetry.action().check(x); }) symmetry.action().check(x);  // φ⁻¹(φ(x)) = x
    teleport_hook<S, Optimizer, F> hook(opt, f, symmetry, schedule, settings, seed, policy);
    teleport_run_result run;
    run.steps.reserve(steps + 1);
    optimize(opt, f, x, steps, hook, record_run(run), std::forward<Callbacks>(callbacks)...);
    run.teleports = std::move(hook.reports());
    run.teleport_seconds = hook.seconds();
    return run;
}

namespace detail {
template <class F, std::size_t N>
constexpr bool loss_dimension_fits() {
    if constexpr (requires { F::dimension; }) return F::dimension == N;
    else return true;
}
}  // namespace detail

/// Algorithm 1 with a group action on a fixed-size point (action_symmetry of f, ‖∇L‖²).
template <class Optimizer, class F, group_action Action, class... Callbacks>
teleport_run_result optimize_with_teleport(const Optimizer& opt, const F& f, const Action& action,
                                           std::array<double, Action::n>& x, std::size_t steps,
                                           const teleport_schedule& schedule, const teleport_settings& settings,
                                           std::uint64_t seed, state_policy policy = state_policy::keep,
                                           Callbacks&&... callbacks) {
    static_assert(detail::loss_dimension_fits<F, Action::n>(),
                  "the loss has a different number of variables than the parameters the action acts on");
    if (policy == state_policy::transport && !transportable_action<Action>)
        throw std::invalid_argument("teleport: transporting optimizer state needs the action's jacobian(g, w)");
    const action_symmetry<F, Action> symmetry(f, action);  // the symmetry overload checks the action at x
    return optimize_with_teleport(opt, f, symmetry, x, steps, schedule, settings, seed, policy,
                                  std::forward<Callbacks>(callbacks)...);
}

/// Algorithm 1 for a symmetry of fixed-size points, on parameters in the user's own storage.
template <class Optimizer, class F, symmetry S, parameter_storage<typename S::point> R, class... Callbacks>
    requires requires { std::tuple_size<typename S::point>::value; }
teleport_run_result optimize_with_teleport(const Optimizer& opt, const F& f, const S& symmetry, R&& x,
                                           std::size_t steps, const teleport_schedule& schedule,
                                           const teleport_settings& settings, std::uint64_t seed,
                                           state_policy policy = state_policy::keep, Callbacks&&... callbacks) {
    return on_fixed_size<std::tuple_size<typename S::point>::value>(x, [&](typename S::point& p) {
        return optimize_with_teleport(opt, f, symmetry, p, steps, schedule, settings, seed, policy,
                                      std::forward<Callbacks>(callbacks)...);
    });
}

/// Algorithm 1 with a group action, on parameters in the user's own storage.
template <class Optimizer, class F, group_action Action, parameter_storage<std::array<double, Action::n>> R,
          class... Callbacks>
teleport_run_result optimize_with_teleport(const Optimizer& opt, const F& f, const Action& action, R&& x,
                                           std::size_t steps, const teleport_schedule& schedule,
                                           const teleport_settings& settings, std::uint64_t seed,
                                           state_policy policy = state_policy::keep, Callbacks&&... callbacks) {
    return on_fixed_size<Action::n>(x, [&](std::array<double, Action::n>& p) {
        return optimize_with_teleport(opt, f, action, p, steps, schedule, settings, seed, policy,
                                      std::forward<Callbacks>(callbacks)...);
    });
}

}  // namespace teleport
