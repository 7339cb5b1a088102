// teleport/network_teleport.hpp — teleport/teleport.hpp plus layered networks: the layer actions'
// symmetry (engine/network_symmetry.hpp, engine/activation_space.hpp) and Algorithm 1 for networks
// (train/network_algorithm1.hpp).
#pragma once

#include "teleport/engine/activation_space.hpp"
#include "teleport/engine/network_symmetry.hpp"
#include "teleport/teleport.hpp"
#include "teleport/train/network_algorithm1.hpp"
