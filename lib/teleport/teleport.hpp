// teleport/teleport.hpp — everything a fixed-size problem needs, in one include: differentiable
// functions, the teleport engine over any symmetry (engine/), the coordinate and quadratic actions'
// symmetry, the optimizers, the optimize loop with its callbacks, and Algorithm 1 (train/).
// Networks: teleport/network_teleport.hpp. docs/architecture.md shows the layers.
#pragma once

#include "teleport/core/any_loss.hpp"
#include "teleport/core/function.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/engine/coordinate_symmetry.hpp"
#include "teleport/engine/engine.hpp"
#include "teleport/engine/objective.hpp"
#include "teleport/engine/settings.hpp"
#include "teleport/groups/any_action.hpp"
#include "teleport/groups/generators.hpp"
#include "teleport/groups/representation.hpp"
#include "teleport/engine/symmetry.hpp"
#include "teleport/train/algorithm1.hpp"
#include "teleport/train/callbacks.hpp"
#include "teleport/train/optimize.hpp"
#include "teleport/train/optimizers.hpp"
