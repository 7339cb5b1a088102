// Must not compile: E and F of sl(2) alone do not close ([E, F] = H is not in their span).
#include "teleport/groups/generators.hpp"
namespace tg = teleport::groups;
using ef = tg::algebra<2, tg::generator<0, 1, 0, 0>, tg::generator<0, 0, 1, 0>>;
int main() { return int(ef::dimension); }
