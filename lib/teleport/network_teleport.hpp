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
#include <random>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

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
        if (g_.size() != w.size()) g_.resize({w.size()});
        net_->hessian_vector_product(w, g_, g_, hg_);  // ∇L, then H∇L, from one forward pass
        for (auto& e : hg_) e *= T(2);
        grad = action_->gradient_at_identity(w, hg_, net_->x());
        return squared_norm(g_);
    }

    const Net& net() const { return *net_; }
    const Action& action() const { return *action_; }

  private:
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
}  // namespace detail

/// One teleport of the weights w on the network's current data (in place when accepted). Returns
/// the group element applied (the identity when rejected), for transporting optimizer state.
template <class Net, class Action>
std::vector<groups::layer_element<typename Net::value_type>> teleport_network(
    const Net& net, const Action& action, typename Net::parameters& w, const teleport_settings& settings,
    std::mt19937_64& rng, teleport_report& report) {
    using T = typename Net::value_type;
    using parameters = typename Net::parameters;
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
    report.grad_norm_sq_before = double(squared_norm(g));

    const double loss_scale = std::max(std::abs(report.loss_before), std::numeric_limits<double>::min());
    auto composite = action.template identity<T>();
    parameters current = w;
    std::size_t evaluations = 0;
    try {
        if constexpr (!Action::data_free) action.apply(composite, current, x);  // W_k ↦ W_k h̃ h̃⁺
        std::vector<tensor::matrix<T>> grad;
        auto move = [&](parameters& point, const std::vector<tensor::matrix<T>>& t, T scale) {
            auto scaled = t;
            for (auto& m : scaled) m *= scale;
            const auto e = action.elements(scaled);
            action.apply(e, point, x);
            return e;
        };
        std::visit(
            [&](const auto& s) {
                using S = std::decay_t<decltype(s)>;
                if constexpr (std::is_same_v<S, gradient_ascent>) {
                    for (std::size_t k = 0; k < s.steps; ++k) {
                        const T j = objective.value_and_gradient(current, grad);
                        ++evaluations;
                        if (k == 0) report.objective_before = double(j);
                        Action::compose(composite, move(current, grad, T(s.learning_rate)));
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
                            std::vector<groups::layer_element<T>> e;
                            T trial_value = std::numeric_limits<T>::quiet_NaN(), trial_loss = 0;
                            try {
                                e = move(trial, grad, T(step) / norm);
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
                                Action::compose(composite, e);
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
                    std::vector<groups::layer_element<T>> best_element = action.template identity<T>();
                    for (std::size_t k = 1; k < s.samples; ++k) {
                        auto t = action.template zero<T>();
                        for (auto& m : t)
                            for (auto& e : m) e = T(u(rng));
                        parameters trial = current;
                        const auto e = move(trial, t, T(1));
                        const T v = objective.value(trial);
                        ++evaluations;
                        if (std::isfinite(v) && v > best) {
                            best = v;
                            best_point = std::move(trial);
                            best_element = e;
                        }
                    }
                    current = std::move(best_point);
                    Action::compose(composite, best_element);
                }
            },
            settings.strategy);
    } catch (const std::domain_error& e) {
        // a singular map, a non-finite algebra element, or an input without full column rank
        report.objective_evaluations = evaluations;
        report.accepted = false;
        report.rejection = std::string("the search failed: ") + e.what();
        report.loss_after = report.loss_before;
        report.grad_norm_sq_after = report.grad_norm_sq_before;
        return action.template identity<T>();
    }
    report.objective_evaluations = evaluations;
    report.loss_after = double(net.evaluate_with_gradient(current, g));
    report.grad_norm_sq_after = double(squared_norm(g));
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
        return composite;
    }
    return action.template identity<T>();
}

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
        auto element = teleport_network(net, action, point, settings, rng, report);
        return [&action, element = std::move(element)](auto& m) {
            if constexpr (Action::data_free) action.template transport<T>(element, m);
        };
    };
    return run_with_teleport(opt, net, w, steps, schedule, teleport, seed, policy, std::forward<Callbacks>(callbacks)...);
}

}  // namespace teleport
