// The optimization loop and its callback protocol.
//
//     optimize(opt, f, x, steps, callbacks...)          // fresh optimizer state
//     optimize(opt, state, f, x, steps, callbacks...)   // continue with an existing state
//
// minimize f from x (updated in place) with up to `steps` updates of `opt`.
// Each iteration k = 0, 1, ... first lets every before_step hook change x and
// the optimizer state (a teleport does; k < steps only), then evaluates L(x_k)
// and ∇L(x_k) (fused when f allows), then
//   - stops with stop_reason::non_finite if L(x_k) or ‖∇L(x_k)‖² is not finite;
//   - stops with stop_reason::max_steps once `steps` updates have been applied;
//   - calls every callback's step hook with step_info{k, L(x_k), ‖∇L(x_k)‖²},
//     and stops with stop_reason::callback if any asks to;
//   - otherwise applies opt.step, giving x_{k+1}.
// So the step hook sees exactly the points an update starts from, one per
// update, and the result describes the point left in x. A run of n updates
// costs n + 1 evaluations; chaining runs on one state repeats no step hook.
//
// Callbacks are duck-typed; every hook is optional, detected at compile time:
//     c.begin(x)                         before the first evaluation
//     c.before_step(k, x, state, events) may change x and the optimizer state before
//                                        point k is evaluated (train/algorithm1.hpp's
//                                        teleport_hook); events.teleport(report, before,
//                                        after) tells every callback of a teleport
//     c.teleport(report, before, after)  a teleport was tried (report.accepted says
//                                        whether x moved from before to after)
//     c.step(info, x)                    returns void, or bool where true means stop
//     c.end(result, x)                   after the loop, also on an early stop
// The step hooks of all callbacks run at each point even when one asks to stop.
// The mini-batch loop (train/minibatch.hpp) drives the same hooks and adds
// epoch and batch hooks.
#pragma once

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "teleport/core/function.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/engine/settings.hpp"
#include "teleport/train/optimizers.hpp"

namespace teleport {

/// Wall-clock seconds since `start` (steady clock): how the loops and their callbacks time things.
[[nodiscard]] inline double seconds_since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Why optimize() returned.
enum class stop_reason {
    max_steps,   ///< the requested number of updates was applied
    callback,    ///< a callback's step hook returned true
    non_finite,  ///< the loss or the gradient at the current point is NaN or infinite
};

[[nodiscard]] constexpr std::string_view to_string(stop_reason r) noexcept
{
    switch (r) {
    case stop_reason::max_steps: return "max_steps";
    case stop_reason::callback: return "callback";
    case stop_reason::non_finite: return "non_finite";
    }
    return "unknown";
}

/// What a step hook sees: the point x_k that update k starts from.
template <std::floating_point T>
struct step_info {
    std::size_t step;  ///< k, counted from 0 within this optimize() call
    T loss;            ///< L(x_k)
    T grad_norm_sq;    ///< ‖∇L(x_k)‖²
};

/// The outcome of optimize(); loss and grad_norm_sq are at the x it leaves.
template <std::floating_point T>
struct optimize_result {
    T loss;
    T grad_norm_sq;
    std::size_t steps;  ///< updates applied in this call
    stop_reason reason;
};

// ---------------------------------------------------------------------------
// The callback protocol. These are public so that other loops (the teleport
// loop) drive callbacks exactly as optimize() does.

template <class C, class Vec>
concept has_begin_hook = requires(C& c, const Vec& x) { c.begin(x); };

template <class C, class Vec>
concept has_step_hook =
    requires(C& c, const step_info<value_type_t<Vec>>& info, const Vec& x) { c.step(info, x); };

template <class C, class Vec>
concept has_end_hook =
    requires(C& c, const optimize_result<value_type_t<Vec>>& r, const Vec& x) { c.end(r, x); };

template <class C, class Vec>
concept has_teleport_hook =
    requires(C& c, const teleport_report& r, const Vec& x) { c.teleport(r, x, x); };

/// Lets a before_step hook tell every callback of the loop what it did.
template <class Vec, class... Callbacks>
class loop_events {
public:
    explicit loop_events(Callbacks&... cbs) : cbs_(cbs...) {}

    /// A teleport was tried at x = before; x is now `after` (the same point when rejected).
    void teleport(const teleport_report& report, const Vec& before, const Vec& after) const
    {
        std::apply(
            [&](auto&... cb) {
                [[maybe_unused]] auto one = [&](auto& c) {
                    if constexpr (has_teleport_hook<std::remove_reference_t<decltype(c)>, Vec>)
                        c.teleport(report, before, after);
                };
                (one(cb), ...);
            },
            cbs_);
    }

private:
    std::tuple<Callbacks&...> cbs_;
};

template <class C, class Vec, class State>
concept has_before_step_hook = requires(C& c, std::size_t k, Vec& x, State& state,
                                        const loop_events<Vec>& events) {
    c.before_step(k, x, state, events);
};

/// callback_for<C, Vec, State>: C has at least one hook; a type with none is
/// almost certainly an argument passed in the wrong place.
template <class C, class Vec, class State>
concept callback_for = has_begin_hook<C, Vec> || has_step_hook<C, Vec> || has_end_hook<C, Vec> ||
                       has_teleport_hook<C, Vec> || has_before_step_hook<C, Vec, State>;

/// Calls every before_step hook, in order; each sees what the previous ones did.
template <class Vec, class State, class Events, class... Callbacks>
void notify_before_step(std::size_t k, Vec& x, State& state, const Events& events, Callbacks&... cbs)
{
    [[maybe_unused]] auto one = [&](auto& cb) {
        if constexpr (requires { cb.before_step(k, x, state, events); })
            cb.before_step(k, x, state, events);
    };
    (one(cbs), ...);
}

template <class Vec, class... Callbacks>
void notify_begin(const Vec& x, Callbacks&... cbs)
{
    [[maybe_unused]] auto one = [&x](auto& cb) {
        if constexpr (has_begin_hook<std::remove_reference_t<decltype(cb)>, Vec>)
            cb.begin(x);
    };
    (one(cbs), ...);
}

/// Calls every step hook; true if any asked to stop.
template <class Vec, class... Callbacks>
[[nodiscard]] bool notify_step(const step_info<value_type_t<Vec>>& info, const Vec& x,
                               Callbacks&... cbs)
{
    bool stop = false;
    [[maybe_unused]] auto one = [&](auto& cb) {
        using C = std::remove_reference_t<decltype(cb)>;
        if constexpr (has_step_hook<C, Vec>) {
            using R = decltype(cb.step(info, x));
            if constexpr (std::is_void_v<R>) {
                cb.step(info, x);
            } else {
                static_assert(std::convertible_to<R, bool>,
                              "a callback's step(info, x) must return void or bool");
                if (static_cast<bool>(cb.step(info, x)))
                    stop = true;
            }
        }
    };
    (one(cbs), ...);
    return stop;
}

template <class Vec, class... Callbacks>
void notify_end(const optimize_result<value_type_t<Vec>>& result, const Vec& x, Callbacks&... cbs)
{
    [[maybe_unused]] auto one = [&](auto& cb) {
        if constexpr (has_end_hook<std::remove_reference_t<decltype(cb)>, Vec>)
            cb.end(result, x);
    };
    (one(cbs), ...);
}

// ---------------------------------------------------------------------------

/// Continues a run: `state` must come from opt.make_state for parameters of
/// x's type and size; its accumulators and step count carry over between calls.
template <class Optimizer, class State, class F, class Vec, class... Callbacks>
optimize_result<value_type_t<Vec>> optimize(const Optimizer& opt, State& state, const F& f, Vec& x,
                                            std::size_t steps, Callbacks&&... cbs)
{
    static_assert(vector_like<Vec>,
                  "optimize requires 'x' to be a copyable 1-D container of float or double "
                  "with size() and operator[]");
    static_assert(evaluable_with_gradient<F, Vec>,
                  "optimize requires 'f' to provide evaluate(x) and gradient(x, g), or "
                  "evaluate_with_gradient(x, g), callable on a const object");
    static_assert(optimizer_for<Optimizer, Vec>,
                  "optimize requires 'opt' to provide name(), make_state(x) and step(state, x, g)");
    static_assert(std::same_as<State, optimizer_state_t<Optimizer, Vec>>,
                  "optimize requires 'state' to be the type opt.make_state(x) returns");
    static_assert((callback_for<std::remove_reference_t<Callbacks>, Vec, State> && ...),
                  "optimize requires every callback to have begin(x), before_step(k, x, state, "
                  "events), teleport(report, before, after), step(info, x) or end(result, x)");

    using T = value_type_t<Vec>;
    if (steps == 0)
        throw std::invalid_argument("optimize: number of steps must be positive");

    Vec g = zeros_like(x);
    const loop_events<Vec, std::remove_reference_t<Callbacks>...> events(cbs...);
    notify_begin(x, cbs...);

    optimize_result<T> result{T{0}, T{0}, 0, stop_reason::max_steps};
    for (std::size_t k = 0;; ++k) {
        if (k < steps)
            notify_before_step(k, x, state, events, cbs...);
        const T loss = static_cast<T>(evaluate_with_gradient(f, std::as_const(x), g));
        // A finite squared norm also certifies a finite gradient (see squared_norm).
        const T grad_norm_sq = squared_norm(g);
        result.loss = loss;
        result.grad_norm_sq = grad_norm_sq;
        result.steps = k;
        if (!std::isfinite(loss) || !std::isfinite(grad_norm_sq)) {
            result.reason = stop_reason::non_finite;
            break;
        }
        if (k == steps) {
            result.reason = stop_reason::max_steps;
            break;
        }
        if (notify_step(step_info<T>{k, loss, grad_norm_sq}, std::as_const(x), cbs...)) {
            result.reason = stop_reason::callback;
            break;
        }
        opt.step(state, x, std::as_const(g));
    }

    notify_end(result, std::as_const(x), cbs...);
    return result;
}

/// Minimizes f from x (updated in place) with up to `steps` updates of opt,
/// starting from a fresh optimizer state.
template <class Optimizer, class F, class Vec, class... Callbacks>
optimize_result<value_type_t<Vec>> optimize(const Optimizer& opt, const F& f, Vec& x,
                                            std::size_t steps, Callbacks&&... cbs)
{
    static_assert(optimizer_for<Optimizer, Vec>,
                  "optimize requires 'opt' to provide name(), make_state(x) and step(state, x, g)");
    auto state = opt.make_state(std::as_const(x));
    return optimize(opt, state, f, x, steps, cbs...);
}

} // namespace teleport
