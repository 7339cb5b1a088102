// teleport/engine/symmetry.hpp — what the teleport engine needs from a symmetry.
//
// A teleport moves a point w along its orbit {g·w : g ∈ G}, on which the loss is constant, to a
// point where an objective J (engine/objective.hpp; ‖∇L‖² by default) is larger. The engine (engine/engine.hpp) runs
// every search strategy, the invariance guard, the acceptance check and the report once, over two
// concepts:
//
//   symmetry S                      a group action bound to a loss
//     S::point                      the parameters (std::array, xt::xtensor, …)
//     s.measure(w)                  L(w), ‖∇L(w)‖² and J(w) at a point       -> point_measure
//     s.start(w, settings, rng)     a position on w's orbit where a search begins
//                                   (θ₀ of the settings for coordinate actions; the identity,
//                                   after eq. 8's projection, for layer actions)
//
//   orbit position O                a point g·w of the orbit, with g kept (composed) as it moves
//     O::direction                  an element of the Lie algebra (dense, or factored L Rᵀ)
//     o.value_and_gradient(d)       J here, and ∂J/∂T at the identity of here written to d
//     o.value(loss)                 J here, and the loss here written to loss (for the guard)
//     o.step(d, a)                  move by the group element reached from a·d, composing it
//     o.squared_norm(d)             ‖d‖² in the algebra (normalized steps)
//     o.write(out, w)               the moved point g·w into out, once, at the end of a search (w:
//                                   the start point, for positions that keep only part of it;
//                                   the position may give its storage away)
//     o.transport()                 what carries a gradient-like vector along, m ↦ J⁻ᵀ m, where J
//                                   = ∂(g·w)/∂w (optimizer state; see train/algorithm1.hpp)
//   and optionally
//     o.jump(rng, lo, hi)           replace g by the element at algebra coordinates drawn
//                                   uniformly from [lo, hi) in the orbit's chart (random search)
//     o.coordinates()               the chart coordinates of g, for the report (θ)
//     o.value_and_gradient(d, loss) J, its gradient and the loss at once: where the gradient costs
//                                   about what the value does (fixed-size problems), a trial step
//                                   of normalized ascent is one such evaluation
//
// A position is copied for a trial step and dropped when the trial fails, so step() may throw
// std::domain_error when a step leaves the region where the group element is defined (a singular
// Cayley map, a hidden layer that stops being finite or loses rank): the search then shortens the
// step, or gives up and the teleport is rejected.
//
// Implementations: action_symmetry (engine/coordinate_symmetry.hpp: coordinate actions φ⁻¹(gφ(w))
// and the quadratic action, fixed-size points) and network_symmetry (engine/network_symmetry.hpp:
// the layer actions of eq. 6, eq. 8 and rescaling, evaluated from the weights or, for eq. 8, on the
// batch's activations).
#pragma once

#include <concepts>
#include <cstddef>
#include <random>
#include <utility>

#include "teleport/engine/settings.hpp"

namespace teleport {

/// The loss, ‖∇L‖² (Euclidean) and the teleport objective J at one point.
struct point_measure {
    double loss = 0;
    double grad_norm_sq = 0;
    double objective = 0;
};

/// A position on an orbit that a search can move (see the header comment).
template <class O>
concept orbit_position =
    std::copyable<O> && requires(O& o, const O& co, typename O::direction& d, double a, double& loss) {
        typename O::direction;
        { o.value_and_gradient(d) } -> std::convertible_to<double>;
        { o.value(loss) } -> std::convertible_to<double>;
        o.step(std::as_const(d), a);
        { co.squared_norm(std::as_const(d)) } -> std::convertible_to<double>;
        o.transport();
    };

/// A position that random search can use: it can jump to random chart coordinates.
template <class O>
concept jumping_orbit_position =
    orbit_position<O> && requires(O& o, std::mt19937_64& rng, double lo, double hi) { o.jump(rng, lo, hi); };

/// A group action bound to a loss: what teleport_once needs (see the header comment).
template <class S>
concept symmetry = requires(const S& s, const typename S::point& w, typename S::point& out,
                            const teleport_settings& settings, std::mt19937_64& rng) {
    typename S::point;
    { s.measure(w) } -> std::same_as<point_measure>;
    { s.start(w, settings, rng) } -> orbit_position;
    s.start(w, settings, rng).write(out, w);
};

template <symmetry S>
using orbit_t = decltype(std::declval<const S&>().start(std::declval<const typename S::point&>(),
                                                        std::declval<const teleport_settings&>(),
                                                        std::declval<std::mt19937_64&>()));

template <symmetry S>
using transport_t = decltype(std::declval<const orbit_t<S>&>().transport());

}  // namespace teleport
