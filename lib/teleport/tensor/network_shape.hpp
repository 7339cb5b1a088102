// teleport/tensor/network_shape.hpp — where each weight matrix of a layered network sits in one
// flat parameter vector.
#pragma once

#include <cstddef>
#include <vector>

namespace teleport::tensor {

/// Widths d_0 … d_L (input, hidden layers, output) and whether layers have biases. W_m (1-based)
/// is d_m × (d_{m−1} + 1 if biased), row-major, stored after W_1 … W_{m−1}.
struct network_shape {
    std::vector<std::size_t> widths;
    bool bias = false;

    std::size_t layers() const { return widths.size() - 1; }
    std::size_t rows(std::size_t m) const { return widths[m]; }
    std::size_t cols(std::size_t m) const { return widths[m - 1] + (bias ? 1 : 0); }
    std::size_t offset(std::size_t m) const {
        std::size_t o = 0;
        for (std::size_t k = 1; k < m; ++k) o += rows(k) * cols(k);
        return o;
    }
    std::size_t parameter_count() const { return offset(widths.size()); }
};

}  // namespace teleport::tensor
