// The optimization loop and its callback protocol.
//
//     optimize(opt, f, x, steps, callbacks...)          // fresh optimizer state
//     optimize(opt, state, f, x, steps, callbacks...)   // continue with an existing state
//
// minimize f from x (updated in place) with up to `steps` updates of `opt`.
// Each iteration k = 0, 1, ... evaluates L(x_k) and ∇L(x_k) (fused when f
// allows), then
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
//     c.begin(x)                  before the first evaluation
//     c.step(info, x)             returns void, or bool where true means stop
//     c.end(result, x)            after the loop, also on an early stop
// The step hooks of all callbacks run at each point even when one asks to stop.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "teleport/function.hpp"
#include "teleport/optimizers.hpp"
#include "teleport/vector_ops.hpp"

namespace teleport {

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

/// callback_for<C, Vec>: C has at least one hook; a type with none is almost
/// certainly an argument passed in the wrong place.
template <class C, class Vec>
concept callback_for = has_begin_hook<C, Vec> || has_step_hook<C, Vec> || has_end_hook<C, Vec>;

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
    static_assert((callback_for<std::remove_reference_t<Callbacks>, Vec> && ...),
                  "optimize requires every callback to have begin(x), step(info, x) or "
                  "end(result, x)");

    using T = value_type_t<Vec>;
    if (steps == 0)
        throw std::invalid_argument("optimize: number of steps must be positive");

    Vec g = zeros_like(x);
    notify_begin(x, cbs...);

    optimize_result<T> result{T{0}, T{0}, 0, stop_reason::max_steps};
    for (std::size_t k = 0;; ++k) {
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
