// Must not compile: the body of an indexed sum reads no variable (only per-term data).
#include <vector>
#include "teleport/expression.hpp"
using namespace teleport::expr;
int main() {
    constexpr parameter<0> p;
    const auto f = indexed_sum(p * p, 4);
    return static_cast<int>(f.term_count());
}
