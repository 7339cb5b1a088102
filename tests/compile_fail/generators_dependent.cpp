// Must not compile: the third generator is the sum of the first two.
#include "teleport/groups/generators.hpp"
namespace tg = teleport::groups;
using twice = tg::algebra<2, tg::generator<1, 0, 0, 0>, tg::generator<0, 0, 0, 1>, tg::generator<1, 0, 0, 1>>;
int main() { return int(twice::dimension); }
