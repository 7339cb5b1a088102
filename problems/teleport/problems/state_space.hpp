// teleport/problems/state_space.hpp — fitting a linear state-space model to an input/output record,
// written as a recurrence: every derivative is generated from one time step, none is hand-coded.
//
//     x_{k+1} = A x_k + B u_k,  y_k ≈ C x_k,  x_0 = 0   (3 states, 1 input, 1 output)
//     L(θ) = (1/K) Σ_{k<K} (C x_k − y_k)²,  θ = (A row by row, B, C): 15 parameters
//
// (A, B, C) ↦ (T A T⁻¹, T B, C T⁻¹), T ∈ GL(3), maps x_k to T x_k and leaves every C x_k, hence L:
// state_space_similarity() is that action on θ.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "teleport/expr/recurrence.hpp"
#include "teleport/expression.hpp"
#include "teleport/groups/representation.hpp"

namespace teleport::problems {

namespace detail {
// Row I of A x + B u: θ_j is variable 3 + j, A_ij = θ_{3i+j}, B_i = θ_{9+i}.
template <std::size_t I>
constexpr auto state_space_row() {
    using namespace expr;
    return variable<3 + 3 * I>{} * variable<0>{} + variable<4 + 3 * I>{} * variable<1>{} +
           variable<5 + 3 * I>{} * variable<2>{} + variable<12 + I>{} * parameter<0, "u">{};
}
}  // namespace detail

/// The step and the loss of the fit: variables 0–2 are the state x_k, 3–17 are θ = (A, B, C);
/// each step reads (u_k, y_k).
inline constexpr auto state_space_step() {
    return expr::next_state(detail::state_space_row<0>(), detail::state_space_row<1>(), detail::state_space_row<2>());
}
/// (C x_k − y_k)², C_j = θ_{12+j}.
inline constexpr auto state_space_residual_loss() {
    using namespace expr;
    constexpr parameter<1, "y"> y;
    return pow<2>(variable<15>{} * variable<0>{} + variable<16>{} * variable<1>{} + variable<17>{} * variable<2>{} - y);
}

/// The fit of the record (inputs u_k, outputs y_k, k < K) as a loss of θ (15 parameters), with the
/// states kept for the backward pass as `checkpoints` says.
inline auto state_space_fit(std::span<const double> inputs, std::span<const double> outputs,
                            expr::checkpointing checkpoints = expr::checkpointing::all()) {
    if (inputs.size() != outputs.size())
        throw std::invalid_argument("state_space_fit: " + std::to_string(inputs.size()) + " inputs but " +
                                    std::to_string(outputs.size()) + " outputs");
    std::vector<double> data(2 * inputs.size());
    for (std::size_t k = 0; k < inputs.size(); ++k) data[2 * k] = inputs[k], data[2 * k + 1] = outputs[k];
    expr::recurrence_options options;
    options.loss = expr::reduction::mean;
    options.checkpoints = checkpoints;
    return expr::make_recurrence<3, 15>(state_space_step(), state_space_residual_loss(), data, std::move(options));
}

/// The similarity transform (A, B, C) ↦ (T A T⁻¹, T B, C T⁻¹) on θ, T ∈ GL(3).
inline auto state_space_similarity() {
    return groups::make_representation<groups::gl<3>>(groups::conjugation<3>{}, groups::left<3, 1>{},
                                                      groups::right_inverse<1, 3>{});
}

}  // namespace teleport::problems
