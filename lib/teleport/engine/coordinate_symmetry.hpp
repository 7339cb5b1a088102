// teleport/engine/coordinate_symmetry.hpp — the symmetry of a fixed-size problem under a group
// action on its parameters (coordinate actions φ⁻¹(g φ(w)), the quadratic action).
//
// For a loss f (value, gradient and Hessian-vector product; generated at compile time for symbolic
// functions), an objective J of the point (engine/objective.hpp; ‖∇L‖² by default) and an action
// of the group of a Lie algebra, the teleport objective is J(θ) = J(w′), w′ = exp(Σ θ_k T_k)·w, and
// its gradient (SPEC §3.1)
//     ∂J/∂θ_k = (∂J/∂w(w′))ᵀ ∂w′/∂θ_k        (= 2 (H(w′) η ∇L(w′))ᵀ ∂w′/∂θ_k for ‖∇L‖²_η),
// the objective's gradient at w′ followed by the action's derivative along ∂g/∂θ_k. The orbit is
// charted by θ: a search moves θ (θ += a·d), starting from θ₀ of the settings.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "teleport/core/function.hpp"
#include "teleport/core/storage.hpp"
#include "teleport/engine/engine.hpp"
#include "teleport/engine/objective.hpp"
#include "teleport/engine/symmetry.hpp"
#include "teleport/groups/action.hpp"
#include "teleport/groups/lie_algebra.hpp"

namespace teleport {

using groups::small_matrix;

/// group_action<A>: a group of a Lie algebra acting on fixed-size points by apply(g, w), with
/// apply_derivative(g, dg, w) = d/dt (g + t·dg)·w for the teleport objective's gradient.
template <class Action>
concept group_action = requires(const Action& a, const small_matrix<Action::algebra::n>& g,
                                const std::array<double, Action::n>& w) {
    typename Action::algebra;
    { Action::n } -> std::convertible_to<std::size_t>;
    { a.apply(g, w) } -> std::same_as<std::array<double, Action::n>>;
    { a.apply_derivative(g, g, w) } -> std::same_as<std::array<double, Action::n>>;
};

/// transportable_action<A>: the action also gives its Jacobian ∂(g·w)/∂w, which carries optimizer
/// state along a teleport (state_policy::transport).
template <class Action>
concept transportable_action = group_action<Action> &&
    requires(const Action& a, const small_matrix<Action::algebra::n>& g, const std::array<double, Action::n>& w) {
        { a.jacobian(g, w) } -> std::convertible_to<small_matrix<Action::n>>;
    };

namespace detail {
/// An action may take the group element with its inverse (a representation: nothing to invert);
/// the first-order map's "inverse" I − X is not one, so it always gets g alone.
template <class Action, std::size_t M, class Point>
auto act(const Action& a, const groups::group_element<M>& e, exp_map map, const Point& w) {
    if constexpr (requires { a.apply(e, w); }) {
        if (map != exp_map::first_order) return a.apply(e, w);
    }
    return a.apply(e.g, w);
}
template <class Action, std::size_t M, class Point>
auto act_derivative(const Action& a, const groups::group_element<M>& e, exp_map map,
                    const small_matrix<M>& dg, const Point& w) {
    if constexpr (requires { a.apply_derivative(e, dg, w); }) {
        if (map != exp_map::first_order) return a.apply_derivative(e, dg, w);
    }
    return a.apply_derivative(e.g, dg, w);
}
}  // namespace detail

/// J(θ) = J(exp(Σθ_k T_k)·w) and its gradient, for a fixed base point w.
template <class F, group_action Action, class Objective = squared_gradient_norm>
class teleport_objective {
  public:
    using algebra = typename Action::algebra;
    static constexpr std::size_t n = Action::n;
    static constexpr std::size_t dimension = algebra::dimension;
    using point = std::array<double, n>;
    using coordinates = std::array<double, dimension>;
    static_assert(require_teleportable_function<F, point>());
    static_assert(point_objective<Objective, F, point>,
                  "a teleport objective requires value(f, w, g, loss) and value_and_gradient(f, w, g, dj)");

    teleport_objective(const F& f, const Action& action, const point& w, exp_map map = exp_map::exact,
                       Objective objective = {})
        : f_(&f), action_(&action), w_(w), map_(map), objective_(std::move(objective)) {}

    /// w′ = g·w for g reached from θ.
    point moved(const coordinates& theta) const {
        return detail::act(*action_, groups::exponential<algebra>(theta, map_), map_, w_);
    }

    /// J(θ).
    double value(const coordinates& theta) const {
        double loss = 0;
        return value(theta, loss);
    }

    /// J(θ), with L(w′) written to loss.
    double value(const coordinates& theta, double& loss) const {
        point g{};
        return objective_.value(*f_, moved(theta), g, loss);
    }

    /// J(θ), with ∇_θ J written to grad.
    double value_and_gradient(const coordinates& theta, coordinates& grad) const {
        double loss = 0;
        return value_and_gradient(theta, grad, loss, false);
    }

    /// J(θ), with ∇_θ J written to grad and L(w′) to loss.
    double value_and_gradient(const coordinates& theta, coordinates& grad, double& loss) const {
        return value_and_gradient(theta, grad, loss, true);
    }

    const point& base() const { return w_; }
    exp_map map() const { return map_; }
    const Action& action() const { return *action_; }
    const Objective& objective() const { return objective_; }

  private:
    double value_and_gradient(const coordinates& theta, coordinates& grad, double& loss, bool with_loss) const {
        const auto element = groups::exponential<algebra>(theta, map_);
        const point w_moved = detail::act(*action_, element, map_, w_);
        point g{}, dj{};
        const double j = objective_.value_and_gradient(*f_, w_moved, g, dj);
        for (std::size_t k = 0; k < dimension; ++k) {
            const auto dg = groups::exponential_derivative<algebra>(theta, k, element, map_);
            grad[k] = teleport::dot(dj, detail::act_derivative(*action_, element, map_, dg, w_));
        }
        if (with_loss) {
            point scratch{};
            loss = double(evaluate_with_gradient(*f_, w_moved, scratch));
        }
        return j;
    }

    const F* f_;
    const Action* action_;
    point w_;
    exp_map map_;
    Objective objective_;
};

/// Carries a gradient-like vector along an accepted move g = g(θ): m ↦ J⁻ᵀ m with J = ∂(g·w)/∂w
/// at the point before the move.
template <group_action Action>
struct coordinate_transport {
    const Action* action;
    groups::group_element<Action::algebra::n> element;
    std::array<double, Action::n> before;

    void operator()(std::array<double, Action::n>& m) const {
        if constexpr (transportable_action<Action>) {
            m = groups::inverse(action->jacobian(element.g, before)).transpose().apply(m);
        } else {
            throw std::logic_error("teleport: transporting optimizer state needs the action's jacobian(g, w)");
        }
    }
};

/// A point g(θ)·w of the orbit of w, charted by θ.
template <class F, group_action Action, class Objective = squared_gradient_norm>
class coordinate_orbit {
  public:
    using objective_type = teleport_objective<F, Action, Objective>;
    using direction = typename objective_type::coordinates;
    using point = typename objective_type::point;

    coordinate_orbit(objective_type objective, const direction& theta)
        : objective_(std::move(objective)), theta_(theta) {}

    double value_and_gradient(direction& d) const { return objective_.value_and_gradient(theta_, d); }
    /// J, its gradient and the loss in one evaluation: a search's trial step costs one evaluation
    /// and, when it succeeds, leaves the gradient there (an HVP is as cheap as a value here).
    double value_and_gradient(direction& d, double& loss) const {
        return objective_.value_and_gradient(theta_, d, loss);
    }
    double value(double& loss) const { return objective_.value(theta_, loss); }
    void step(const direction& d, double a) {
        for (std::size_t i = 0; i < d.size(); ++i) theta_[i] += a * d[i];
    }
    double squared_norm(const direction& d) const {
        double s = 0;
        for (double e : d) s += e * e;
        return s;
    }
    void jump(std::mt19937_64& rng, double lo, double hi) {
        std::uniform_real_distribution<double> u(lo, hi);
        for (double& t : theta_) t = u(rng);
    }
    const direction& coordinates() const { return theta_; }
    /// g(θ)·w; the element is kept for transport() (one exponential for both).
    void write(point& out, const point&) {
        element_ = groups::exponential<typename Action::algebra>(theta_, objective_.map());
        out = detail::act(objective_.action(), *element_, objective_.map(), objective_.base());
    }
    coordinate_transport<Action> transport() const {
        return {&objective_.action(),
                element_ ? *element_ : groups::exponential<typename Action::algebra>(theta_, objective_.map()),
                objective_.base()};
    }

  private:
    objective_type objective_;
    direction theta_;
    std::optional<groups::group_element<Action::algebra::n>> element_;  // set by write()
};

/// The symmetry of a fixed-size loss f under a group action, for an objective of the point.
template <class F, group_action Action, class Objective = squared_gradient_norm>
class action_symmetry {
  public:
    using point = std::array<double, Action::n>;
    using algebra = typename Action::algebra;
    static_assert(require_teleportable_function<F, point>());

    action_symmetry(const F& f, const Action& action, Objective objective = {})
        : f_(&f), action_(&action), objective_(std::move(objective)) {}
    /// It keeps pointers to f and the action: a temporary would dangle.
    action_symmetry(const F&&, const Action&, Objective = {}) = delete;
    action_symmetry(const F&, const Action&&, Objective = {}) = delete;

    point_measure measure(const point& w) const {
        point g{};
        point_measure m;
        m.objective = objective_.value(*f_, w, g, m.loss);
        m.grad_norm_sq = teleport::squared_norm(g);
        return m;
    }

    /// so(n) is compact: the paper's uniform θ₀ in [0, π) covers it (settings.hpp, start_kind).
    static constexpr bool compact = [] {
        if constexpr (requires { algebra::skew_symmetric; }) return bool(algebra::skew_symmetric);
        else return false;
    }();

    /// The search starts at θ₀: given in the settings, drawn uniformly from their range, or at
    /// the identity (start_kind).
    coordinate_orbit<F, Action, Objective> start(const point& w, const teleport_settings& settings,
                                                 std::mt19937_64& rng) const {
        constexpr std::size_t d = algebra::dimension;
        std::array<double, d> theta{};
        const auto& s = settings.start;
        if (!s.given.empty()) {
            if (s.given.size() != d)
                throw std::invalid_argument("teleport: theta0 has " + std::to_string(s.given.size()) +
                                            " entries but the group has dimension " + std::to_string(d));
            std::copy(s.given.begin(), s.given.end(), theta.begin());
        } else if (draws_theta0(settings, compact)) {
            std::uniform_real_distribution<double> u(s.lo, s.hi);
            for (double& t : theta) t = s.lo == s.hi ? s.lo : u(rng);
        }  // else the identity, θ₀ = 0
        return {objective(w, settings.map), theta};
    }

    teleport_objective<F, Action, Objective> objective(const point& w, exp_map map = exp_map::exact) const {
        return {*f_, *action_, w, map, objective_};
    }
    const Action& action() const { return *action_; }

  private:
    const F* f_;
    const Action* action_;
    Objective objective_;
};

template <class F, group_action Action>
action_symmetry(const F&, const Action&) -> action_symmetry<F, Action>;

/// One teleport of w (in place when accepted), returning the group element used (the identity
/// when rejected). The same as teleport_once(action_symmetry(f, action, objective), w, …).
template <class F, group_action Action, class Objective = squared_gradient_norm>
groups::group_element<Action::algebra::n> teleport_once(const F& f, const Action& action,
                                                        std::array<double, Action::n>& w,
                                                        const teleport_settings& settings, std::mt19937_64& rng,
                                                        teleport_report& report, Objective objective = {}) {
    if constexpr (requires { action.check(w); }) action.check(w);
    const auto carry =
        teleport_once(action_symmetry<F, Action, Objective>(f, action, std::move(objective)), w, settings, rng, report);
    if (carry) return carry->element;
    const auto id = small_matrix<Action::algebra::n>::identity();
    return {id, id};
}

/// The same, on parameters in the user's own storage (std::vector<double>, std::span<double>, …).
template <class F, group_action Action, parameter_storage<std::array<double, Action::n>> R,
          class Objective = squared_gradient_norm>
groups::group_element<Action::algebra::n> teleport_once(const F& f, const Action& action, R&& w,
                                                        const teleport_settings& settings, std::mt19937_64& rng,
                                                        teleport_report& report, Objective objective = {}) {
    return on_fixed_size<Action::n>(w, [&](std::array<double, Action::n>& x) {
        return teleport_once(f, action, x, settings, rng, report, std::move(objective));
    });
}

}  // namespace teleport
