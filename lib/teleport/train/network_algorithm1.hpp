// teleport/train/network_algorithm1.hpp — Algorithm 1 for a layered network: teleports on the
// network's data before the scheduled steps (epochs of full-batch descent), then the optimizer's
// step; optimize() with the network's symmetry (engine/network_symmetry.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include "teleport/engine/network_symmetry.hpp"
#include "teleport/train/algorithm1.hpp"

namespace teleport {

/// Transporting optimizer state needs a data-free action (eq. 8 has no Jacobian independent of
/// the batch); the group element is tracked only then.
template <class Optimizer, class Net, class Action, class... Callbacks>
    requires requires { typename Action::kind; }
teleport_run_result optimize_with_teleport(const Optimizer& opt, const Net& net, const Action& action,
                                           typename Net::parameters& w, std::size_t steps,
                                           const teleport_schedule& schedule, const teleport_settings& settings,
                                           std::uint64_t seed, state_policy policy = state_policy::keep,
                                           Callbacks&&... callbacks) {
    validate(settings);
    if (policy == state_policy::transport && !Action::data_free)
        throw std::invalid_argument(
            "teleport: transporting optimizer state needs a data-free action (linear or rescaling)");
    const network_symmetry<Net, Action> symmetry(net, action, policy == state_policy::transport);
    return optimize_with_teleport(opt, net, symmetry, w, steps, schedule, settings, seed, policy,
                                  std::forward<Callbacks>(callbacks)...);
}

/// The symmetry of a network's loss on its current data under a layer action whose teleports
/// maximize the decrease of the loss over the optimizer's next k steps (lookahead_decrease, from
/// the weights: its gradient needs k generated Hessian-vector products), the optimizer's step
/// re-read before each teleport. track: compose the group element (to transport state).
template <class Net, class Action>
auto lookahead_symmetry(const Net& net, const Action& action, std::size_t k, bool track = false) {
    using point = typename Net::parameters;
    using objective = lookahead_decrease<point>;
    auto p = std::make_shared<point>();
    return step_aware_symmetry<network_symmetry<Net, Action, objective>, Net>(
        network_symmetry<Net, Action, objective>(net, action, track, detail::evaluation::automatic, objective(p, k)), net,
        p);
}

}  // namespace teleport
