// teleport/engine/network_symmetry.hpp — the symmetry of a layered network under a layer action
// (paper §4.2, §6): eq. 6 (linear layers), eq. 8 (an invertible activation) and rescaling.
//
// The objective is J(W) = ‖∇_W L(W)‖² over all weights, on the network's current data (the
// teleport batch). Its gradient with respect to the algebra element T_k of every pair, at the
// identity of the current point, is
//     ∂J/∂T_k = (∂W′/∂T_k)ᵀ · 2 H ∇L,
// a generated Hessian-vector product (teleport/tensor/expression.hpp) followed by the action's
// vector-Jacobian product (layer_action::gradient_at_identity). A search moves by group elements
// g = map(T) and composes them, as the paper's code does (each ascent step restarts from T = 0 at
// the moved point), so every iterate is an exact image of the starting weights under the group.
//
// Two orbit positions implement this (engine/symmetry.hpp): weight_space_orbit evaluates J from
// the weights (every strategy, every action, dense or factored steps); activation_space_orbit
// evaluates it on the batch's activations (engine/activation_space.hpp: eq. 8, factored steps),
// which network_symmetry chooses for gradient and normalized ascent when every step can be
// factored there. Both start from w's image under the identity: w itself for the data-free actions
// and eq. 8's minimal-change form (the default), W_k ↦ W_k h̃ h̃⁺ for eq. 8's projection form (the
// batch loss is unchanged, the weights are projected onto the batch's span; SPEC §5).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "teleport/core/vector_ops.hpp"
#include "teleport/engine/activation_space.hpp"
#include "teleport/engine/engine.hpp"
#include "teleport/engine/objective.hpp"
#include "teleport/engine/symmetry.hpp"
#include "teleport/groups/layer_action.hpp"

namespace teleport {

/// An objective J(W) of a network's weights (‖∇L(W)‖² by default) and its gradient in the algebra
/// of an action's pairs: the objective's ∂J/∂W followed by the action's vector-Jacobian product.
template <class Net, class Action, class Objective = squared_gradient_norm>
class network_teleport_objective {
  public:
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using algebra_elements = std::vector<tensor::matrix<T>>;
    static_assert(point_objective<Objective, Net, parameters>,
                  "a teleport objective requires value(f, w, g, loss) and value_and_gradient(f, w, g, dj)");

    network_teleport_objective(const Net& net, const Action& action, Objective objective = {})
        : net_(&net), action_(&action), objective_(std::move(objective)) {
        if (net.shape().widths != action.shape().widths || net.shape().bias != action.shape().bias)
            throw std::invalid_argument("teleport: the action was made for a network of other widths");
    }

    /// J(w).
    double value(const parameters& w) const {
        double loss = 0;
        return value(w, loss);
    }

    /// J(w), with the loss L(w) written to loss; ∇L(w) is then gradient().
    double value(const parameters& w, double& loss) const { return objective_.value(*net_, w, g_, loss); }

    /// J(w), with ∂J/∂T_k at the identity written to grad (one matrix per pair).
    double value_and_gradient(const parameters& w, algebra_elements& grad) const {
        const double j = objective_.value_and_gradient(*net_, w, g_, dj_);
        grad = action_->gradient_at_identity(w, dj_, net_->x());
        return j;
    }

    /// J(w), with ∂J/∂T_k = L_k R_kᵀ at the identity written to grad as factors (eq. 8).
    double value_and_gradient(const parameters& w, std::vector<groups::low_rank<T>>& grad) const
        requires Action::low_rank_gradient
    {
        const double j = objective_.value_and_gradient(*net_, w, g_, dj_);
        grad = action_->gradient_factors(w, dj_, net_->x());
        return j;
    }

    /// ∇L at the point of the last value or value_and_gradient.
    const parameters& gradient() const { return g_; }
    const Net& net() const { return *net_; }
    const Action& action() const { return *action_; }
    const Objective& objective() const { return objective_; }

  private:
    const Net* net_;
    const Action* action_;
    Objective objective_;
    mutable parameters g_, dj_;  // ∇L and ∂J/∂w, reused between calls
};

namespace detail {
template <class T>
T squared_norm(const std::vector<tensor::matrix<T>>& xs) {
    T s = 0;
    for (const auto& x : xs) s += teleport::squared_norm(x);
    return s;
}
template <class T>
T squared_norm(const std::vector<groups::low_rank<T>>& xs) {
    T s = 0;
    for (const auto& x : xs) s += groups::squared_norm(x);
    return s;
}

// Factored steps pay while every pair's rank(k) is at most half its width (a dense step costs
// O(d³) per pair, a factored one O(d r (b + c)) plus a 2r × 2r exponential).
template <class Action, class Rank>
bool ranks_pay(const Action& action, Rank&& rank) {
    for (std::size_t k : action.pairs())
        if (2 * rank(k) > action.shape().widths[k]) return false;
    return true;
}

// ... with the rank of the weight-space gradient (layer_action::gradient_rank) ...
template <class Action>
bool factored_steps(const Action& action, std::size_t batch) {
    return ranks_pay(action, [&](std::size_t k) { return action.gradient_rank(k, batch); });
}

// ... and of the activation-space one (activation_space_rank: 2b or b + d_{k+1} in the minimal form,
// where the weight-space factors of a dense ∂J/∂w have rank b + d_{k+1})
template <class Action>
bool factored_steps_in_activation_space(const Action& action, std::size_t batch) {
    return ranks_pay(action, [&](std::size_t k) { return activation_space_rank(action, k, batch); });
}

// How a teleport evaluates the objective: in activation space where it can (eq. 8, gradient or
// normalized ascent, factored steps; activation_space.hpp), or always from the weights (the generated
// Hessian-vector product of network_teleport_objective; the reference for tests and benchmarks).
enum class evaluation { automatic, weights };


}  // namespace detail

/// Carries a gradient-like vector (flat like the weights) along an accepted move: M_k ↦ g⁻ᵀ M_k,
/// M_{k+1} ↦ M_{k+1} gᵀ (layer_action::transport). Needs a data-free action and a tracked element.
template <class Action, class T>
struct layer_transport {
    const Action* action;
    std::vector<groups::layer_element<T>> element;  // empty when the search did not track it
    bool tracked = false;

    void operator()(xt::xtensor<T, 1>& m) const {
        if constexpr (Action::data_free) {
            if (!tracked) throw std::logic_error("teleport: the group element was not tracked (network_symmetry::track)");
            action->template transport<T>(element, m);
        } else {
            throw std::logic_error("teleport: transporting optimizer state needs a data-free action (linear or rescaling)");
        }
    }
};

namespace detail {

/// The group element a search has composed so far (when it tracks one).
template <class Action, class T>
class composed_element {
  public:
    composed_element(const Action& action, bool track) : action_(&action), track_(track) {
        if (track) element_ = action.template identity<T>();
    }
    template <class Step>
    void compose(const Step& step) {
        if (track_) Action::compose(element_, step);
    }
    layer_transport<Action, T> transport() const { return {action_, element_, track_}; }

  private:
    const Action* action_;
    bool track_;
    std::vector<groups::layer_element<T>> element_;
};

}  // namespace detail

/// A point g·w of a network's orbit, evaluated from its weights.
template <class Net, class Action, class Objective = squared_gradient_norm>
class weight_space_orbit {
  public:
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using direction = std::conditional_t<Action::low_rank_gradient, std::vector<groups::low_rank<T>>,
                                         std::vector<tensor::matrix<T>>>;

    weight_space_orbit(const network_teleport_objective<Net, Action, Objective>& objective, parameters start,
                       bool track)
        : objective_(&objective), current_(std::move(start)), element_(objective.action(), track) {}

    double value_and_gradient(direction& d) const { return objective_->value_and_gradient(current_, d); }
    double value(double& loss) const { return objective_->value(current_, loss); }
    /// L at the position: one forward pass where the network has evaluate(w).
    double loss() const {
        if constexpr (requires { objective_->net().evaluate(current_); }) {
            return double(objective_->net().evaluate(current_));
        } else {
            double l = 0;
            objective_->value(current_, l);
            return l;
        }
    }
    double squared_norm(const direction& d) const { return double(detail::squared_norm(d)); }

    /// Moves by the element of a·d: factored when the gradient has low rank and the rank pays
    /// (detail::factored_steps), dense otherwise.
    void step(const direction& d, double a) {
        if constexpr (Action::low_rank_gradient) {
            if (detail::factored_steps(action(), batch().shape(1))) {
                const auto e = action().elements(d, T(a));
                action().apply(e, current_, batch());
                element_.compose(e);
                return;
            }
            std::vector<tensor::matrix<T>> full;
            for (const auto& f : d) full.push_back(groups::dense(f));
            dense_step(full, T(a));
        } else {
            dense_step(d, T(a));
        }
    }

    /// Moves by the element of an algebra element with every coordinate uniform in [lo, hi).
    void jump(std::mt19937_64& rng, double lo, double hi) {
        std::uniform_real_distribution<double> u(lo, hi);
        auto t = action().template zero<T>();
        for (auto& m : t)
            for (auto& e : m) e = T(u(rng));
        dense_step(t, T(1));
    }

    /// Gives the moved weights away (the position is done).
    void write(parameters& out, const parameters&) { out = std::move(current_); }
    layer_transport<Action, T> transport() const { return element_.transport(); }

  private:
    const Action& action() const { return objective_->action(); }
    const tensor::matrix<T>& batch() const { return objective_->net().x(); }
    void dense_step(const std::vector<tensor::matrix<T>>& t, T scale) {
        auto scaled = t;
        for (auto& m : scaled) m *= scale;
        const auto e = action().elements(scaled);
        action().apply(e, current_, batch());
        element_.compose(e);
    }

    const network_teleport_objective<Net, Action, Objective>* objective_;
    parameters current_;
    detail::composed_element<Action, T> element_;
};

/// A point g·w of a network's orbit under eq. 8, kept on the batch's activations
/// (activation_space_objective): the weights are formed once, by write().
template <class Net, class Action>
    requires activation_space_evaluable<Net, Action>
class activation_space_orbit {
  public:
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using direction = std::vector<groups::low_rank<T>>;

    activation_space_orbit(const Net& net, const Action& action, const parameters& start, bool track)
        : state_(net, action), action_(&action), element_(action, track) {
        state_.reset(start);
    }

    T value_and_gradient(direction& d) { return state_.value_and_gradient(d); }
    /// J and its gradient from one pass (the engine's fused trial), with L the loss of the weights
    /// write() would form (written_loss: the state's own loss is invariant by construction and would
    /// hide a symmetry broken by rounding from the engine's check).
    T value_and_gradient(direction& d, double& loss) {
        const T j = state_.value_and_gradient(d);
        loss = double(state_.written_loss());
        return j;
    }
    /// J, from the same pass as the gradient (the state has no cheaper value-only pass), and L as above.
    T value(double& loss) {
        direction unused;
        const T j = state_.value_and_gradient(unused);
        loss = double(state_.written_loss());
        return j;
    }
    double squared_norm(const direction& d) const { return double(detail::squared_norm(d)); }
    void step(const direction& d, double a) {
        const auto e = action_->elements(d, T(a));
        state_.apply(e);
        element_.compose(e);
    }
    void write(parameters& out, const parameters& start) const {
        out = start;  // the layers the action leaves alone
        state_.write(out);
    }
    layer_transport<Action, T> transport() const { return element_.transport(); }

  private:
    activation_space_objective<Net, Action> state_;
    const Action* action_;
    detail::composed_element<Action, T> element_;
};

/// One of two orbit positions with the same direction, chosen when a search starts.
template <class A, class B>
class either_orbit {
  public:
    using direction = typename A::direction;
    static_assert(std::is_same_v<direction, typename B::direction>);

    template <class P>
    explicit either_orbit(P&& p) : position_(std::forward<P>(p)) {}

    double value_and_gradient(direction& d) {
        return std::visit([&](auto& p) { return double(p.value_and_gradient(d)); }, position_);
    }
    /// J, its gradient and L: fused where the position is (activation space), else the gradient's
    /// pass and L from the position's loss().
    double value_and_gradient(direction& d, double& loss) {
        return std::visit(
            [&](auto& p) {
                if constexpr (requires { p.value_and_gradient(d, loss); }) {
                    return double(p.value_and_gradient(d, loss));
                } else {
                    const double j = double(p.value_and_gradient(d));
                    loss = double(p.loss());
                    return j;
                }
            },
            position_);
    }
    double value(double& loss) {
        return std::visit([&](auto& p) { return double(p.value(loss)); }, position_);
    }
    double squared_norm(const direction& d) const {
        return std::visit([&](const auto& p) { return p.squared_norm(d); }, position_);
    }
    void step(const direction& d, double a) {
        std::visit([&](auto& p) { p.step(d, a); }, position_);
    }
    void jump(std::mt19937_64& rng, double lo, double hi) {
        std::visit(
            [&](auto& p) {
                if constexpr (requires { p.jump(rng, lo, hi); }) p.jump(rng, lo, hi);
                else throw std::logic_error("teleport: this orbit position cannot take random steps");
            },
            position_);
    }
    template <class W>
    void write(W& out, const W& start) {
        std::visit([&](auto& p) { p.write(out, start); }, position_);
    }
    auto transport() const {
        return std::visit([](const auto& p) { return p.transport(); }, position_);
    }
    /// Which position was chosen: 0 for A, 1 for B.
    std::size_t alternative() const { return position_.index(); }

  private:
    std::variant<A, B> position_;
};

namespace detail {
// the activation-space evaluation is of ‖∇L‖² under eq. 8 only
template <class Net, class Action, class Objective>
constexpr bool in_activation_space =
    activation_space_evaluable<Net, Action> && std::is_same_v<Objective, squared_gradient_norm>;

template <class Net, class Action, class Objective, bool = in_activation_space<Net, Action, Objective>>
struct network_orbit_type {
    using type = weight_space_orbit<Net, Action, Objective>;
};
template <class Net, class Action, class Objective>
struct network_orbit_type<Net, Action, Objective, true> {
    using type = either_orbit<weight_space_orbit<Net, Action, Objective>, activation_space_orbit<Net, Action>>;
};
}  // namespace detail

/// The symmetry of a network's loss on its current data under a layer action, for an objective of
/// the weights.
template <class Net, class Action, class Objective = squared_gradient_norm>
class network_symmetry {
  public:
    using T = typename Net::value_type;
    using point = typename Net::parameters;
    using orbit = typename detail::network_orbit_type<Net, Action, Objective>::type;

    /// track: compose the group element of the search (needed to transport optimizer state; it
    /// costs dense d_k × d_k products per step). how: detail::evaluation::weights forces the
    /// evaluation from the weights (tests, benchmarks).
    network_symmetry(const Net& net, const Action& action, bool track = false,
                     detail::evaluation how = detail::evaluation::automatic, Objective objective = {})
        : objective_(net, action, std::move(objective)), track_(track), how_(how) {}

    point_measure measure(const point& w) const {
        point_measure m;
        m.objective = objective_.value(w, m.loss);
        if constexpr (std::is_same_v<Objective, squared_gradient_norm>)
            m.grad_norm_sq = m.objective;  // the same squared norm of ∇L: not computed twice
        else
            m.grad_norm_sq = double(teleport::squared_norm(objective_.gradient()));
        return m;
    }

    orbit start(const point& w, const teleport_settings& settings, std::mt19937_64&) const {
        const Action& action = objective_.action();
        const auto& x = objective_.net().x();
        if (settings.map != action.map())
            throw std::invalid_argument(std::string("teleport: the settings ask for the ") +
                                        groups::to_string(settings.map) + " map but the action was built with the " +
                                        groups::to_string(action.map()) + " map");
        if constexpr (detail::in_activation_space<Net, Action, Objective>) {
            const bool ascent = std::holds_alternative<gradient_ascent>(settings.strategy) ||
                                std::holds_alternative<normalized_ascent>(settings.strategy);
            if (how_ == detail::evaluation::automatic && ascent &&
                detail::factored_steps_in_activation_space(action, x.shape(1)))
                return orbit(activation_space_orbit<Net, Action>(objective_.net(), action, w, track_));
        }
        point current = w;
        if constexpr (!Action::data_free) {
            // eq. 8's projection form: W_k ↦ W_k h̃ h̃⁺, by the rank-0 identity (the minimal form's
            // identity is the identity)
            if (action.projects()) action.apply(action.template factored_identity<T>(), current, x);
        }
        return orbit(weight_space_orbit<Net, Action, Objective>(objective_, std::move(current), track_));
    }

    const network_teleport_objective<Net, Action, Objective>& objective() const { return objective_; }

  private:
    network_teleport_objective<Net, Action, Objective> objective_;
    bool track_;
    detail::evaluation how_;
};

namespace detail {
/// One network teleport through the engine; element (when given) receives the group element
/// applied, the identity when rejected.
template <class Net, class Action>
void teleport_network(const Net& net, const Action& action, typename Net::parameters& w,
                      const teleport_settings& settings, std::mt19937_64& rng, teleport_report& report,
                      std::vector<groups::layer_element<typename Net::value_type>>* element,
                      evaluation how = evaluation::automatic) {
    const network_symmetry<Net, Action> symmetry(net, action, element != nullptr, how);
    const auto carry = teleport_once(symmetry, w, settings, rng, report);
    if (element) *element = carry ? carry->element : action.template identity<typename Net::value_type>();
}
}  // namespace detail

/// One teleport of the weights w on the network's current data (in place when accepted). Returns
/// the group element applied (the identity when rejected), for transporting optimizer state.
template <class Net, class Action>
std::vector<groups::layer_element<typename Net::value_type>> teleport_network(
    const Net& net, const Action& action, typename Net::parameters& w, const teleport_settings& settings,
    std::mt19937_64& rng, teleport_report& report) {
    std::vector<groups::layer_element<typename Net::value_type>> element;
    detail::teleport_network(net, action, w, settings, rng, report, &element);
    return element;
}

/// The same teleport without tracking the group element: when nothing is transported, this saves
/// the dense d_k × d_k products of composing the search's steps.
template <class Net, class Action>
void teleport_network_untracked(const Net& net, const Action& action, typename Net::parameters& w,
                                const teleport_settings& settings, std::mt19937_64& rng, teleport_report& report) {
    detail::teleport_network(net, action, w, settings, rng, report, nullptr);
}

}  // namespace teleport
