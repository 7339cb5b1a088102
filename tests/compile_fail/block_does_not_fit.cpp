// Must not compile: GL(3) cannot multiply a 2×1 block from the left.
#include "teleport/groups/representation.hpp"
namespace tg = teleport::groups;
int main() {
    const auto action = tg::make_representation<tg::gl<3>>(tg::conjugation<3>{}, tg::left<2, 1>{});
    (void)action;
}
