// teleport/network_teleport.hpp — teleportation of layered networks (paper §4.2, §6).
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
// The nonlinear action (eq. 8) first replaces W_k by W_k h̃ h̃⁺ (its image under the identity): the
// batch loss is unchanged, the weights are projected onto the batch's span (SPEC §5). The same
// strategies, schedule, state policies and invariance guard as for fixed-size problems apply.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "teleport/activation_space.hpp"
#include "teleport/groups/layer_action.hpp"
#include "teleport/teleport.hpp"
#include "teleport/vector_ops.hpp"

namespace teleport {

/// J(W) = ‖∇L(W)‖² for a network problem and its gradient in the algebra of an action's pairs.
template <class Net, class Action>
class network_teleport_objective {
  public:
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using algebra_elements = std::vector<tensor::matrix<T>>;

    network_teleport_objective(const Net& net, const Action& action) : net_(&net), action_(&action) {
        if (net.shape().widths != action.shape().widths || net.shape().bias != action.shape().bias)
            throw std::invalid_argument("teleport: the action was made for a network of other widths");
    }

    /// J(w).
    T value(const parameters& w) const {
        net_->evaluate_with_gradient(w, g_);
        return squared_norm(g_);
    }

    /// J(w), with the loss L(w) written to loss.
    T value(const parameters& w, T& loss) const {
        loss = net_->evaluate_with_gradient(w, g_);
        return squared_norm(g_);
    }

    /// J(w), with ∂J/∂T_k at the identity written to grad (one matrix per pair).
    T value_and_gradient(const parameters& w, algebra_elements& grad) const {
        const T j = hessian_times_gradient(w);
        grad = action_->gradient_at_identity(w, hg_, net_->x());
        return j;
    }

    /// J(w), with ∂J/∂T_k = L_k R_kᵀ at the identity written to grad as factors (eq. 8).
    T value_and_gradient(const parameters& w, std::vector<groups::low_rank<T>>& grad) const
        requires Action::low_rank_gradient
    {
        const T j = hessian_times_gradient(w);
        grad = action_->gradient_factors(w, hg_, net_->x());
        return j;
    }

    const Net& net() const { return *net_; }
    const Action& action() const { return *action_; }

  private:
    // g_ = ∇L(w), hg_ = 2 H ∇L = ∂J/∂w; returns J = ‖∇L‖²
    T hessian_times_gradient(const parameters& w) const {
        if (g_.size() != w.size()) g_.resize({w.size()});
        net_->hessian_vector_product(w, g_, g_, hg_);  // ∇L, then H∇L, from one forward pass
        for (auto& e : hg_) e *= T(2);
        return squared_norm(g_);
    }

    const Net* net_;
    const Action* action_;
    mutable parameters g_, hg_;
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

// Factored steps pay while the rank is at most half the width (a dense step costs O(d³) per pair,
// a factored one O(d r (b + c)) plus a 2r × 2r exponential).
template <class Action>
bool factored_steps(const Action& action, std::size_t batch) {
    for (std::size_t k : action.pairs())
        if (2 * action.gradient_rank(k, batch) > action.shape().widths[k]) return false;
    return true;
}

// How a teleport evaluates the objective: in activation space where it can (eq. 8, gradient
// ascent, factored steps; activation_space.hpp), or always from the weights (the generated
// Hessian-vector product of network_teleport_objective; the reference for tests and benchmarks).
enum class evaluation { automatic, weights };

template <class Net, class Action>
void teleport_network(const Net& net, const Action& action, typename Net::parameters& w,
                      const teleport_settings& settings, std::mt19937_64& rng, teleport_report& report,
                      std::vector<groups::layer_element<typename Net::value_type>>* element,
                      evaluation how = evaluation::automatic);
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

namespace detail {

template <class Net, class Action>
void teleport_network(const Net& net, const Action& action, typename Net::parameters& w,
                      const teleport_settings& settings, std::mt19937_64& rng, teleport_report& report,
                      std::vector<groups::layer_element<typename Net::value_type>>* element, evaluation how) {
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
    using gradient_type = std::conditional_t<Action::low_rank_gradient, std::vector<groups::low_rank<T>>,
                                             std::vector<tensor::matrix<T>>>;
    if (settings.map != action.map())
        throw std::invalid_argument(std::string("teleport: the settings ask for the ") + groups::to_string(settings.map) +
                                    " map but the action was built with the " + groups::to_string(action.map()) +
                                    " map");
    report.accepted = false;
    report.rejection.clear();
    const network_teleport_objective<Net, Action> objective(net, action);
    const auto& x = net.x();
    parameters g;
    report.loss_before = double(net.evaluate_with_gradient(w, g));
    report.grad_norm_sq_before = double(teleport::squared_norm(g));

    const double loss_scale = std::max(std::abs(report.loss_before), std::numeric_limits<double>::min());
    std::vector<groups::layer_element<T>> composite;
    if (element) composite = action.template identity<T>();
    auto finish = [&](bool accepted) {
        if (element) *element = accepted ? std::move(composite) : action.template identity<T>();
    };

    // A step of the search: dense group elements, or factored ones when the gradient has low rank.
    struct step_elements {
        std::vector<groups::layer_element<T>> dense;
        std::vector<groups::factored_element<T>> factored;
    };
    auto dense_step = [&](const std::vector<tensor::matrix<T>>& t, T scale) {
        auto scaled = t;
        for (auto& m : scaled) m *= scale;
        return step_elements{action.elements(scaled), {}};
    };
    auto gradient_step = [&](const gradient_type& t, T scale) {
        if constexpr (Action::low_rank_gradient) {
            if (factored_steps(action, x.shape(1))) return step_elements{{}, action.elements(t, scale)};
            std::vector<tensor::matrix<T>> full;
            for (const auto& f : t) full.push_back(groups::dense(f));
            return dense_step(full, scale);
        } else {
            return dense_step(t, scale);
        }
    };
    auto apply_step = [&](const step_elements& e, parameters& point) {
        if constexpr (Action::low_rank_gradient)
            if (!e.factored.empty()) return action.apply(e.factored, point, x);
        action.apply(e.dense, point, x);
    };
    auto compose_step = [&](const step_elements& e) {
        if (!element) return;
        if constexpr (Action::low_rank_gradient)
            if (!e.factored.empty()) return Action::compose(composite, e.factored);
        Action::compose(composite, e.dense);
    };

    parameters current = w;
    std::size_t evaluations = 0;
    bool in_activation_space = false;
    if constexpr (activation_space_evaluable<Net, Action>)
        in_activation_space = how == evaluation::automatic &&
                              std::holds_alternative<gradient_ascent>(settings.strategy) &&
                              factored_steps(action, x.shape(1));
    try {
        if (in_activation_space) {
            if constexpr (activation_space_evaluable<Net, Action>) {
                // the same steps from a state on the batch's activations (the projection included)
                const auto& s = std::get<gradient_ascent>(settings.strategy);
                activation_space_objective<Net, Action> state(net, action);
                state.reset(current);
                std::vector<groups::low_rank<T>> grad;
                for (std::size_t k = 0; k < s.steps; ++k) {
                    const T j = state.value_and_gradient(grad);
                    ++evaluations;
                    if (k == 0) report.objective_before = double(j);
                    step_elements e{{}, action.elements(grad, T(s.learning_rate))};
                    state.apply(e.factored);
                    compose_step(e);
                }
                state.write(current);
            }
        } else {
            if constexpr (!Action::data_free)  // eq. 8: W_k ↦ W_k h̃ h̃⁺, by the rank-0 identity
                action.apply(action.template factored_identity<T>(), current, x);
            gradient_type grad;
            std::visit(
                [&](const auto& s) {
                    using S = std::decay_t<decltype(s)>;
                    if constexpr (std::is_same_v<S, gradient_ascent>) {
                        for (std::size_t k = 0; k < s.steps; ++k) {
                            const T j = objective.value_and_gradient(current, grad);
                            ++evaluations;
                            if (k == 0) report.objective_before = double(j);
                            const auto e = gradient_step(grad, T(s.learning_rate));
                            apply_step(e, current);
                            compose_step(e);
                        }
                    } else if constexpr (std::is_same_v<S, normalized_ascent>) {
                        T value = objective.value_and_gradient(current, grad);
                        ++evaluations;
                        report.objective_before = double(value);
                        double step = s.initial_step;
                        for (std::size_t k = 0; k < s.steps; ++k) {
                            const T norm = std::sqrt(detail::squared_norm(grad));
                            if (!(norm > 0) || !std::isfinite(norm)) break;
                            bool improved = false;
                            for (std::size_t h = 0; h <= s.max_halvings; ++h, step *= 0.5) {
                                parameters trial = current;
                                step_elements e;
                                T trial_value = std::numeric_limits<T>::quiet_NaN(), trial_loss = 0;
                                try {
                                    e = gradient_step(grad, T(step) / norm);
                                    apply_step(e, trial);
                                    trial_value = objective.value(trial, trial_loss);
                                } catch (const std::domain_error&) {
                                    // too long a step (a singular map or a rank-deficient input): shorter
                                }
                                ++evaluations;
                                // a step so long that rounding breaks the symmetry is too long as well
                                const bool invariant =
                                    std::abs(double(trial_loss) - report.loss_before) <= settings.tolerance * loss_scale;
                                if (std::isfinite(trial_value) && invariant && trial_value > value) {
                                    current = std::move(trial);
                                    compose_step(e);
                                    value = objective.value_and_gradient(current, grad);
                                    ++evaluations;
                                    improved = true;
                                    break;
                                }
                            }
                            if (!improved) break;
                            step *= 2.0;
                        }
                    } else {
                        // best of N elements with every algebra coordinate uniform in [lo, hi)
                        std::uniform_real_distribution<double> u(s.lo, s.hi);
                        T best = objective.value(current);
                        ++evaluations;
                        report.objective_before = double(best);
                        parameters best_point = current;
                        std::optional<step_elements> best_step;
                        for (std::size_t k = 1; k < s.samples; ++k) {
                            auto t = action.template zero<T>();
                            for (auto& m : t)
                                for (auto& e : m) e = T(u(rng));
                            parameters trial = current;
                            auto e = dense_step(t, T(1));
                            apply_step(e, trial);
                            const T v = objective.value(trial);
                            ++evaluations;
                            if (std::isfinite(v) && v > best) {
                                best = v;
                                best_point = std::move(trial);
                                best_step = std::move(e);
                            }
                        }
                        current = std::move(best_point);
                        if (best_step) compose_step(*best_step);
                    }
                },
                settings.strategy);
        }
    } catch (const std::domain_error& e) {
        // a singular map, a non-finite algebra element, or an input without full column rank
        report.objective_evaluations = evaluations;
        report.accepted = false;
        report.rejection = std::string("the search failed: ") + e.what();
        report.loss_after = report.loss_before;
        report.grad_norm_sq_after = report.grad_norm_sq_before;
        return finish(false);
    }
    report.objective_evaluations = evaluations;
    report.loss_after = double(net.evaluate_with_gradient(current, g));
    report.grad_norm_sq_after = double(teleport::squared_norm(g));
    report.objective_after = report.grad_norm_sq_after;
    report.relative_loss_change = std::abs(report.loss_after - report.loss_before) / loss_scale;
    if (!std::isfinite(report.loss_after) || !std::isfinite(report.grad_norm_sq_after) || !all_finite(current)) {
        report.accepted = false;
        report.rejection = "the teleported point is not finite";
    } else if (report.relative_loss_change > settings.tolerance) {
        report.accepted = false;
        char text[128];
        std::snprintf(text, sizeof text, "relative loss change %.3g exceeds the tolerance %.3g", report.relative_loss_change,
                      settings.tolerance);
        report.rejection = text;
    } else {
        report.accepted = true;
        w = std::move(current);
        return finish(true);
    }
    finish(false);
}

}  // namespace detail

/// Algorithm 1 for a network: teleport on the network's data before the scheduled steps (epochs
/// of full-batch descent), then the optimizer's step. Transporting optimizer state needs a
/// data-free action (eq. 8 has no Jacobian independent of the batch).
template <class Optimizer, class Net, class Action, class... Callbacks>
    requires requires { typename Action::kind; }
teleport_run_result optimize_with_teleport(const Optimizer& opt, const Net& net, const Action& action,
                                           typename Net::parameters& w, std::size_t steps,
                                           const teleport_schedule& schedule, const teleport_settings& settings,
                                           std::uint64_t seed, state_policy policy = state_policy::keep,
                                           Callbacks&&... callbacks) {
    using T = typename Net::value_type;
    validate(settings);
    if (policy == state_policy::transport && !Action::data_free)
        throw std::invalid_argument("teleport: transporting optimizer state needs a data-free action (linear or rescaling)");
    auto teleport = [&](typename Net::parameters& point, std::mt19937_64& rng, teleport_report& report) {
        std::vector<groups::layer_element<T>> element;
        if (policy == state_policy::transport)
            element = teleport_network(net, action, point, settings, rng, report);
        else
            teleport_network_untracked(net, action, point, settings, rng, report);
        return [&action, element = std::move(element)](auto& m) {
            if constexpr (Action::data_free) action.template transport<T>(element, m);
        };
    };
    return run_with_teleport(opt, net, w, steps, schedule, teleport, seed, policy, std::forward<Callbacks>(callbacks)...);
}

}  // namespace teleport
