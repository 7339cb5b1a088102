// First-order optimizers sharing one interface, so that teleportation can wrap
// any of them (SPEC §3.1 and §4: "teleporting wraps any optimizer").
//
// An optimizer O is a small immutable object holding hyperparameters:
//
//     O opt{O_settings{.learning_rate = 0.1}};   // or positionally, O opt{0.1, ...};
//                                                // bad values throw std::invalid_argument
//     auto state = opt.make_state(x);            // accumulators sized like x, step count 0
//     opt.step(state, x, g);                     // one update of x given g = ∇L(x)
//     opt.name();                                // "gd", "adagrad", "momentum", "rmsprop", "adam"
//
// Its state S is separate so one optimizer can drive many runs, and so a
// teleport can act on it between steps:
//
//     state.reset();                                  // back to make_state: zeros, step count 0
//     state.steps;                                    // updates applied since make_state/reset
//     state.for_each_gradient_like(fn);               // fn(v) for each momentum-like vector
//     state.for_each_second_moment(fn);               // fn(v) for each squared-gradient accumulator
//
// Gradient-like vectors (momentum, Adam's first moment) transform like ∇L,
// i.e. by the inverse transpose of the action's Jacobian; second moments are
// element-wise squares and have no such rule, so a teleport keeps or resets them.
//
// Every update below is element-wise; g^2, sqrt and / are per element.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "teleport/core/vector_ops.hpp"

namespace teleport {

namespace detail {

inline std::string format_number(double v)
{
    std::ostringstream os;
    os << v;
    return os.str();
}

// Written as !(v > 0) so that NaN is rejected too.
inline double require_finite_positive(std::string_view optimizer, std::string_view parameter,
                                      double v)
{
    if (!(std::isfinite(v) && v > 0))
        throw std::invalid_argument(std::string(optimizer) + ": " + std::string(parameter) +
                                    " must be finite and positive (got " + format_number(v) +
                                    ")");
    return v;
}

// Decay rates live in [0, 1): 1 would never forget (momentum diverges, the
// moving averages freeze at zero) and Adam's bias correction divides by 1 - beta^t.
inline double require_unit_interval(std::string_view optimizer, std::string_view parameter,
                                    double v)
{
    if (!(v >= 0 && v < 1))
        throw std::invalid_argument(std::string(optimizer) + ": " + std::string(parameter) +
                                    " must be in [0, 1) (got " + format_number(v) + ")");
    return v;
}

// A size mismatch would read or write out of bounds, so it is checked on every
// step; the cost is two comparisons.
inline void check_step_sizes(std::string_view optimizer, std::size_t parameters,
                             std::size_t gradient, std::size_t state)
{
    if (gradient != parameters)
        throw std::invalid_argument(std::string(optimizer) + ": gradient has " +
                                    std::to_string(gradient) + " elements but parameters have " +
                                    std::to_string(parameters));
    if (state != parameters)
        throw std::invalid_argument(std::string(optimizer) + ": state was made for " +
                                    std::to_string(state) + " parameters but got " +
                                    std::to_string(parameters));
}

// The element-wise updates: one loop body each. Over contiguous storage the *_update functions run
// it on restrict-qualified pointers, so that the compiler may vectorize it (the square root too:
// the build passes -fno-math-errno); other vector_like containers call the loop directly.
template <class X, class G, class S, class T>
void adagrad_loop(X&& x, const G& g, S&& sum_sq, std::size_t n, T lr, T eps)
{
    for (std::size_t i = 0; i < n; ++i) {
        const T gi = g[i];
        const T s = sum_sq[i] + gi * gi;
        sum_sq[i] = s;
        x[i] -= lr * gi / (std::sqrt(s) + eps);
    }
}
template <class T>
void adagrad_update(T* __restrict x, const T* __restrict g, T* __restrict sum_sq, std::size_t n, T lr, T eps)
{
    adagrad_loop(x, g, sum_sq, n, lr, eps);
}

template <class X, class G, class S, class T>
void rmsprop_loop(X&& x, const G& g, S&& mean_sq, std::size_t n, T lr, T rho, T eps)
{
    for (std::size_t i = 0; i < n; ++i) {
        const T gi = g[i];
        const T m = rho * mean_sq[i] + (T{1} - rho) * gi * gi;
        mean_sq[i] = m;
        x[i] -= lr * gi / (std::sqrt(m) + eps);
    }
}
template <class T>
void rmsprop_update(T* __restrict x, const T* __restrict g, T* __restrict mean_sq, std::size_t n, T lr, T rho, T eps)
{
    rmsprop_loop(x, g, mean_sq, n, lr, rho, eps);
}

template <class X, class G, class M, class T>
void adam_loop(X&& x, const G& g, M&& first, M&& second, std::size_t n, T b1, T b2, T step_size, T inv_sqrt_bc2,
               T eps)
{
    for (std::size_t i = 0; i < n; ++i) {
        const T gi = g[i];
        const T m = b1 * first[i] + (T{1} - b1) * gi;
        const T v = b2 * second[i] + (T{1} - b2) * gi * gi;
        first[i] = m;
        second[i] = v;
        x[i] -= step_size * m / (std::sqrt(v) * inv_sqrt_bc2 + eps);
    }
}
template <class T>
void adam_update(T* __restrict x, const T* __restrict g, T* __restrict first, T* __restrict second, std::size_t n,
                 T b1, T b2, T step_size, T inv_sqrt_bc2, T eps)
{
    adam_loop(x, g, first, second, n, b1, b2, step_size, inv_sqrt_bc2, eps);
}

// Used only to check that a state's visitors accept a generic callable.
struct noop_visitor {
    template <class V>
    void operator()(V&) const noexcept
    {
    }
};

} // namespace detail

// ---------------------------------------------------------------------------
// The interface, as concepts.

/// optimizer_state<S>: resettable, counts its steps, and exposes its
/// gradient-like and second-moment vectors to a visitor.
template <class S>
concept optimizer_state = requires(S& s, const S& cs) {
    s.reset();
    { cs.steps } -> std::convertible_to<std::size_t>;
    s.for_each_gradient_like(detail::noop_visitor{});
    s.for_each_second_moment(detail::noop_visitor{});
};

/// The state type that optimizer O makes for parameters of type Vec.
template <class O, class Vec>
using optimizer_state_t = decltype(std::declval<const O&>().make_state(std::declval<const Vec&>()));

/// optimizer_for<O, Vec>: O can make a state for a Vec and step it.
template <class O, class Vec>
concept optimizer_for =
    vector_like<Vec> &&
    requires(const O& o, const Vec& x) {
        { o.name() } -> std::convertible_to<std::string_view>;
        { o.make_state(x) } -> optimizer_state;
    } &&
    requires(const O& o, optimizer_state_t<O, Vec>& s, Vec& x, const Vec& g) { o.step(s, x, g); };

// ---------------------------------------------------------------------------
// Gradient descent: x <- x - lr g (paper eq. 1).

struct gd_settings {
    double learning_rate = 1e-2;
};

/// gd has no accumulators; its state only counts steps.
template <vector_like Vec>
struct gd_state {
    std::size_t steps = 0;

    void reset() noexcept { steps = 0; }
    template <class Fn>
    void for_each_gradient_like(Fn&&) noexcept
    {
    }
    template <class Fn>
    void for_each_gradient_like(Fn&&) const noexcept
    {
    }
    template <class Fn>
    void for_each_second_moment(Fn&&) noexcept
    {
    }
    template <class Fn>
    void for_each_second_moment(Fn&&) const noexcept
    {
    }
};

class gd {
public:
    using settings_type = gd_settings;

    gd() : gd(gd_settings{}) {}
    explicit gd(const gd_settings& s)
        : s_{detail::require_finite_positive("gd", "learning rate", s.learning_rate)}
    {
    }
    explicit gd(double learning_rate) : gd(gd_settings{learning_rate}) {}

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "gd"; }
    [[nodiscard]] const gd_settings& settings() const noexcept { return s_; }

    template <vector_like Vec>
    [[nodiscard]] gd_state<Vec> make_state(const Vec&) const
    {
        return {};
    }

    template <vector_like Vec>
    void step(gd_state<Vec>& state, Vec& x, const Vec& g) const
    {
        using T = value_type_t<Vec>;
        detail::check_step_sizes(name(), x.size(), g.size(), x.size());
        axpy(-static_cast<T>(s_.learning_rate), g, x);
        ++state.steps;
    }

private:
    gd_settings s_;
};

// ---------------------------------------------------------------------------
// AdaGrad (Duchi et al. 2011; the diagonal form the paper's experiments use):
//   G <- G + g^2,   x <- x - lr g / (sqrt(G) + eps).

struct adagrad_settings {
    double learning_rate = 1e-2;
    double epsilon = 1e-10;
};

template <vector_like Vec>
struct adagrad_state {
    Vec sum_sq;  // G, the running sum of squared gradients
    std::size_t steps = 0;

    void reset()
    {
        set_zero(sum_sq);
        steps = 0;
    }
    template <class Fn>
    void for_each_gradient_like(Fn&&) noexcept
    {
    }
    template <class Fn>
    void for_each_gradient_like(Fn&&) const noexcept
    {
    }
    template <class Fn>
    void for_each_second_moment(Fn&& fn)
    {
        fn(sum_sq);
    }
    template <class Fn>
    void for_each_second_moment(Fn&& fn) const
    {
        fn(sum_sq);
    }
};

class adagrad {
public:
    using settings_type = adagrad_settings;

    adagrad() : adagrad(adagrad_settings{}) {}
    explicit adagrad(const adagrad_settings& s)
        : s_{detail::require_finite_positive("adagrad", "learning rate", s.learning_rate),
             detail::require_finite_positive("adagrad", "epsilon", s.epsilon)}
    {
    }
    explicit adagrad(double learning_rate, double epsilon = adagrad_settings{}.epsilon)
        : adagrad(adagrad_settings{learning_rate, epsilon})
    {
    }

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "adagrad"; }
    [[nodiscard]] const adagrad_settings& settings() const noexcept { return s_; }

    template <vector_like Vec>
    [[nodiscard]] adagrad_state<Vec> make_state(const Vec& x) const
    {
        return {zeros_like(x), 0};
    }

    template <vector_like Vec>
    void step(adagrad_state<Vec>& state, Vec& x, const Vec& g) const
    {
        using T = value_type_t<Vec>;
        detail::check_step_sizes(name(), x.size(), g.size(), state.sum_sq.size());
        const T lr = static_cast<T>(s_.learning_rate);
        const T eps = static_cast<T>(s_.epsilon);
        if constexpr (detail::contiguous_vector<Vec>)
            detail::adagrad_update(std::data(x), std::data(g), std::data(state.sum_sq), x.size(), lr, eps);
        else
            detail::adagrad_loop(x, g, state.sum_sq, x.size(), lr, eps);
        ++state.steps;
    }

private:
    adagrad_settings s_;
};

// ---------------------------------------------------------------------------
// Heavy-ball momentum (Polyak 1964, in the form PyTorch's SGD uses):
//   v <- mu v + g,   x <- x - lr v.

struct momentum_settings {
    double learning_rate = 1e-2;
    double momentum = 0.9;
};

template <vector_like Vec>
struct momentum_state {
    Vec velocity;  // v, a gradient-like quantity
    std::size_t steps = 0;

    void reset()
    {
        set_zero(velocity);
        steps = 0;
    }
    template <class Fn>
    void for_each_gradient_like(Fn&& fn)
    {
        fn(velocity);
    }
    template <class Fn>
    void for_each_gradient_like(Fn&& fn) const
    {
        fn(velocity);
    }
    template <class Fn>
    void for_each_second_moment(Fn&&) noexcept
    {
    }
    template <class Fn>
    void for_each_second_moment(Fn&&) const noexcept
    {
    }
};

class momentum {
public:
    using settings_type = momentum_settings;

    momentum() : momentum(momentum_settings{}) {}
    explicit momentum(const momentum_settings& s)
        : s_{detail::require_finite_positive("momentum", "learning rate", s.learning_rate),
             detail::require_unit_interval("momentum", "momentum", s.momentum)}
    {
    }
    explicit momentum(double learning_rate, double mu = momentum_settings{}.momentum)
        : momentum(momentum_settings{learning_rate, mu})
    {
    }

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "momentum"; }
    [[nodiscard]] const momentum_settings& settings() const noexcept { return s_; }

    template <vector_like Vec>
    [[nodiscard]] momentum_state<Vec> make_state(const Vec& x) const
    {
        return {zeros_like(x), 0};
    }

    template <vector_like Vec>
    void step(momentum_state<Vec>& state, Vec& x, const Vec& g) const
    {
        using T = value_type_t<Vec>;
        detail::check_step_sizes(name(), x.size(), g.size(), state.velocity.size());
        const T lr = static_cast<T>(s_.learning_rate);
        const T mu = static_cast<T>(s_.momentum);
        const std::size_t n = x.size();
        for (std::size_t i = 0; i < n; ++i) {
            state.velocity[i] = mu * state.velocity[i] + g[i];
            x[i] -= lr * state.velocity[i];
        }
        ++state.steps;
    }

private:
    momentum_settings s_;
};

// ---------------------------------------------------------------------------
// RMSProp (Tieleman & Hinton 2012):
//   G <- rho G + (1 - rho) g^2,   x <- x - lr g / (sqrt(G) + eps).

struct rmsprop_settings {
    double learning_rate = 1e-2;
    double rho = 0.99;
    double epsilon = 1e-8;
};

template <vector_like Vec>
struct rmsprop_state {
    Vec mean_sq;  // G, the moving average of squared gradients
    std::size_t steps = 0;

    void reset()
    {
        set_zero(mean_sq);
        steps = 0;
    }
    template <class Fn>
    void for_each_gradient_like(Fn&&) noexcept
    {
    }
    template <class Fn>
    void for_each_gradient_like(Fn&&) const noexcept
    {
    }
    template <class Fn>
    void for_each_second_moment(Fn&& fn)
    {
        fn(mean_sq);
    }
    template <class Fn>
    void for_each_second_moment(Fn&& fn) const
    {
        fn(mean_sq);
    }
};

class rmsprop {
public:
    using settings_type = rmsprop_settings;

    rmsprop() : rmsprop(rmsprop_settings{}) {}
    explicit rmsprop(const rmsprop_settings& s)
        : s_{detail::require_finite_positive("rmsprop", "learning rate", s.learning_rate),
             detail::require_unit_interval("rmsprop", "rho", s.rho),
             detail::require_finite_positive("rmsprop", "epsilon", s.epsilon)}
    {
    }
    explicit rmsprop(double learning_rate, double rho = rmsprop_settings{}.rho,
                     double epsilon = rmsprop_settings{}.epsilon)
        : rmsprop(rmsprop_settings{learning_rate, rho, epsilon})
    {
    }

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "rmsprop"; }
    [[nodiscard]] const rmsprop_settings& settings() const noexcept { return s_; }

    template <vector_like Vec>
    [[nodiscard]] rmsprop_state<Vec> make_state(const Vec& x) const
    {
        return {zeros_like(x), 0};
    }

    template <vector_like Vec>
    void step(rmsprop_state<Vec>& state, Vec& x, const Vec& g) const
    {
        using T = value_type_t<Vec>;
        detail::check_step_sizes(name(), x.size(), g.size(), state.mean_sq.size());
        const T lr = static_cast<T>(s_.learning_rate);
        const T rho = static_cast<T>(s_.rho);
        const T eps = static_cast<T>(s_.epsilon);
        if constexpr (detail::contiguous_vector<Vec>)
            detail::rmsprop_update(std::data(x), std::data(g), std::data(state.mean_sq), x.size(), lr, rho, eps);
        else
            detail::rmsprop_loop(x, g, state.mean_sq, x.size(), lr, rho, eps);
        ++state.steps;
    }

private:
    rmsprop_settings s_;
};

// ---------------------------------------------------------------------------
// Adam (Kingma & Ba 2015, Algorithm 1), with t the 1-based step number:
//   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
//   x <- x - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).

struct adam_settings {
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-8;
};

template <vector_like Vec>
struct adam_state {
    Vec first_moment;   // m, gradient-like
    Vec second_moment;  // v, squared-gradient-like
    std::size_t steps = 0;  // t; also drives the bias correction, so reset() zeroes it

    void reset()
    {
        set_zero(first_moment);
        set_zero(second_moment);
        steps = 0;
    }
    template <class Fn>
    void for_each_gradient_like(Fn&& fn)
    {
        fn(first_moment);
    }
    template <class Fn>
    void for_each_gradient_like(Fn&& fn) const
    {
        fn(first_moment);
    }
    template <class Fn>
    void for_each_second_moment(Fn&& fn)
    {
        fn(second_moment);
    }
    template <class Fn>
    void for_each_second_moment(Fn&& fn) const
    {
        fn(second_moment);
    }
};

class adam {
public:
    using settings_type = adam_settings;

    adam() : adam(adam_settings{}) {}
    explicit adam(const adam_settings& s)
        : s_{detail::require_finite_positive("adam", "learning rate", s.learning_rate),
             detail::require_unit_interval("adam", "beta1", s.beta1),
             detail::require_unit_interval("adam", "beta2", s.beta2),
             detail::require_finite_positive("adam", "epsilon", s.epsilon)}
    {
    }
    explicit adam(double learning_rate, double beta1 = adam_settings{}.beta1,
                  double beta2 = adam_settings{}.beta2, double epsilon = adam_settings{}.epsilon)
        : adam(adam_settings{learning_rate, beta1, beta2, epsilon})
    {
    }

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "adam"; }
    [[nodiscard]] const adam_settings& settings() const noexcept { return s_; }

    template <vector_like Vec>
    [[nodiscard]] adam_state<Vec> make_state(const Vec& x) const
    {
        return {zeros_like(x), zeros_like(x), 0};
    }

    template <vector_like Vec>
    void step(adam_state<Vec>& state, Vec& x, const Vec& g) const
    {
        using T = value_type_t<Vec>;
        detail::check_step_sizes(name(), x.size(), g.size(), state.first_moment.size());
        detail::check_step_sizes(name(), x.size(), g.size(), state.second_moment.size());
        ++state.steps;
        const T b1 = static_cast<T>(s_.beta1);
        const T b2 = static_cast<T>(s_.beta2);
        const T eps = static_cast<T>(s_.epsilon);
        // Bias corrections in double: for float, b^t rounds badly for large t.
        const double t = static_cast<double>(state.steps);
        const T step_size = static_cast<T>(s_.learning_rate / (1 - std::pow(s_.beta1, t)));
        const T inv_sqrt_bc2 = static_cast<T>(1 / std::sqrt(1 - std::pow(s_.beta2, t)));
        if constexpr (detail::contiguous_vector<Vec>)
            detail::adam_update(std::data(x), std::data(g), std::data(state.first_moment), std::data(state.second_moment),
                                x.size(), b1, b2, step_size, inv_sqrt_bc2, eps);
        else
            detail::adam_loop(x, g, state.first_moment, state.second_moment, x.size(), b1, b2, step_size, inv_sqrt_bc2,
                              eps);
    }

private:
    adam_settings s_;
};

// ---------------------------------------------------------------------------
// The diagonal preconditioner of the next step, for the lookahead objective
// (engine/objective.hpp, lookahead_decrease):
//
//     step_preconditioner(opt, state, x, g, p);   // p = P with x − opt.step(x) = P ⊙ g
//
// P is the coefficient of g = ∇L(x) in the optimizer's next update from (x, state), its
// accumulators updated by this g and then held: exact for gd, adagrad and rmsprop, whose next
// step is x − P ⊙ g. momentum and adam also move by a term carried in their gradient-like state
// (lr μ v; Adam's β1 m): P leaves it out, so it is exact only when that state is zero (after
// make_state or reset(), i.e. state_policy::reset at a teleport) and otherwise an approximation
// that ignores the velocity. An optimizer without an overload here (Newton: H⁻¹ is not diagonal)
// stops the build with one sentence.

namespace detail {
template <class Vec>
void size_preconditioner(std::string_view optimizer, const Vec& x, const Vec& g, std::size_t state, Vec& p)
{
    check_step_sizes(optimizer, x.size(), g.size(), state);
    if (p.size() != x.size())
        p = zeros_like(x);
}
// P = lr in every entry (gd; momentum without its velocity term)
template <class Vec>
void learning_rate_preconditioner(std::string_view optimizer, double learning_rate, const Vec& x, const Vec& g,
                                  std::size_t state, Vec& p)
{
    size_preconditioner(optimizer, x, g, state, p);
    const auto lr = static_cast<value_type_t<Vec>>(learning_rate);
    for (std::size_t i = 0; i < p.size(); ++i)
        p[i] = lr;
}
template <class>
inline constexpr bool no_step_preconditioner = false;
} // namespace detail

/// gd: P = lr.
template <vector_like Vec>
void step_preconditioner(const gd& opt, const gd_state<Vec>&, const Vec& x, const Vec& g, Vec& p)
{
    detail::learning_rate_preconditioner(opt.name(), opt.settings().learning_rate, x, g, x.size(), p);
}

/// adagrad: P = lr / (√(G + g²) + ε), what its next step divides by.
template <vector_like Vec>
void step_preconditioner(const adagrad& opt, const adagrad_state<Vec>& state, const Vec& x, const Vec& g, Vec& p)
{
    using T = value_type_t<Vec>;
    detail::size_preconditioner(opt.name(), x, g, state.sum_sq.size(), p);
    const T lr = static_cast<T>(opt.settings().learning_rate);
    const T eps = static_cast<T>(opt.settings().epsilon);
    for (std::size_t i = 0; i < p.size(); ++i)
        p[i] = lr / (std::sqrt(state.sum_sq[i] + g[i] * g[i]) + eps);
}

/// rmsprop: P = lr / (√(ρ G + (1 − ρ) g²) + ε).
template <vector_like Vec>
void step_preconditioner(const rmsprop& opt, const rmsprop_state<Vec>& state, const Vec& x, const Vec& g, Vec& p)
{
    using T = value_type_t<Vec>;
    detail::size_preconditioner(opt.name(), x, g, state.mean_sq.size(), p);
    const T lr = static_cast<T>(opt.settings().learning_rate);
    const T rho = static_cast<T>(opt.settings().rho);
    const T eps = static_cast<T>(opt.settings().epsilon);
    for (std::size_t i = 0; i < p.size(); ++i)
        p[i] = lr / (std::sqrt(rho * state.mean_sq[i] + (T{1} - rho) * g[i] * g[i]) + eps);
}

/// momentum: P = lr, the coefficient of g in x − lr (μ v + g); the velocity term lr μ v is left
/// out (exact when v = 0).
template <vector_like Vec>
void step_preconditioner(const momentum& opt, const momentum_state<Vec>& state, const Vec& x, const Vec& g, Vec& p)
{
    detail::learning_rate_preconditioner(opt.name(), opt.settings().learning_rate, x, g, state.velocity.size(), p);
}

/// adam: P = lr (1 − β1)/(1 − β1^t) / (√(v′/(1 − β2^t)) + ε), v′ = β2 v + (1 − β2) g², t the next
/// step's number: the coefficient of g in the next step; the first moment's share β1 m is left out
/// (exact when m = 0).
template <vector_like Vec>
void step_preconditioner(const adam& opt, const adam_state<Vec>& state, const Vec& x, const Vec& g, Vec& p)
{
    using T = value_type_t<Vec>;
    detail::size_preconditioner(opt.name(), x, g, state.first_moment.size(), p);
    detail::check_step_sizes(opt.name(), x.size(), g.size(), state.second_moment.size());
    const auto& s = opt.settings();
    const double t = static_cast<double>(state.steps + 1);
    const T step_size = static_cast<T>(s.learning_rate / (1 - std::pow(s.beta1, t)));
    const T inv_sqrt_bc2 = static_cast<T>(1 / std::sqrt(1 - std::pow(s.beta2, t)));
    const T b1 = static_cast<T>(s.beta1);
    const T b2 = static_cast<T>(s.beta2);
    const T eps = static_cast<T>(s.epsilon);
    for (std::size_t i = 0; i < p.size(); ++i) {
        const T v = b2 * state.second_moment[i] + (T{1} - b2) * g[i] * g[i];
        p[i] = step_size * (T{1} - b1) / (std::sqrt(v) * inv_sqrt_bc2 + eps);
    }
}

/// Any other optimizer: a build error in one sentence.
template <class Optimizer, class State, class Vec>
void step_preconditioner(const Optimizer&, const State&, const Vec&, const Vec&, Vec&)
{
    static_assert(detail::no_step_preconditioner<Optimizer>,
                  "the lookahead objective needs the optimizer's next step as x - P g for a diagonal P "
                  "(this optimizer cannot provide it: step_preconditioner has no overload for it)");
}

} // namespace teleport
