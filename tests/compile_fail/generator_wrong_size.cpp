// Must not compile: a generator of 3×3 matrices written with 4 entries.
#include "teleport/groups/generators.hpp"
namespace tg = teleport::groups;
using bad = tg::algebra<3, tg::generator<0, 1, 0, 0>>;
int main() { return int(bad::dimension); }
