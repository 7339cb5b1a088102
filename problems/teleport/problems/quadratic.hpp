// teleport/problems/quadratic.hpp — the quadratic L_A(w) = wᵀ A w for a symmetric positive definite
// A (paper §5.3), with n known at compile time. The loss is an expression whose coefficients are
// runtime parameters (the upper triangle of A), so its gradient 2Aw, Hessian 2A and Hessian-vector
// product are generated like any other.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "teleport/expression.hpp"

namespace teleport::problems {

namespace detail {

// Check that the n×n matrix `a` (row-major) is symmetric and positive definite; throws otherwise.
inline void require_spd(std::span<const double> a, std::size_t n) {
    if (n == 0) throw std::invalid_argument("quadratic: the matrix must have at least one row");
    if (a.size() != n * n) {
        throw std::invalid_argument("quadratic: expected an " + std::to_string(n) + "x" + std::to_string(n) +
                                    " matrix, got " + std::to_string(a.size()) + " entries");
    }
    double scale = 0.0;
    for (double v : a) {
        if (!std::isfinite(v)) throw std::invalid_argument("quadratic: the matrix has a non-finite entry");
        scale = std::max(scale, std::abs(v));
    }
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j)
            if (std::abs(a[i * n + j] - a[j * n + i]) > 1e-12 * scale)
                throw std::invalid_argument("quadratic: the matrix is not symmetric (entry (" + std::to_string(i) +
                                            ", " + std::to_string(j) + ") differs from its transpose)");
    // Cholesky factorization succeeds exactly when A is positive definite.
    std::vector<double> l(n * n, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        double d = a[j * n + j];
        for (std::size_t k = 0; k < j; ++k) d -= l[j * n + k] * l[j * n + k];
        if (!(d > 0.0)) throw std::invalid_argument("quadratic: the matrix is not positive definite");
        l[j * n + j] = std::sqrt(d);
        for (std::size_t i = j + 1; i < n; ++i) {
            double s = a[i * n + j];
            for (std::size_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
            l[i * n + j] = s / l[j * n + j];
        }
    }
}

}  // namespace detail

/// wᵀAw = Σ_i A_ii w_i² + Σ_{i<j} 2 A_ij w_i w_j, with A_ij (i ≤ j) the runtime parameter number
/// upper_index(i, j).
template <std::size_t N>
constexpr auto quadratic_expression() {
    using namespace expr::literals;
    return expr::sum<N>([](auto i) {
        return expr::sum<N - i()>([&](auto offset) {
            constexpr std::size_t r = decltype(i)::value;
            constexpr std::size_t c = r + decltype(offset)::value;
            constexpr expr::parameter<expr::upper_index<N>(r, c)> a{};
            if constexpr (r == c) return a * expr::pow<2>(expr::variable<r>{});
            else return 2_c * a * (expr::variable<r>{} * expr::variable<c>{});
        });
    });
}

/// L_A(w) = wᵀAw with n = N fixed at compile time; minimum 0 at w = 0.
template <std::size_t N>
class quadratic : public symbolic_function<decltype(quadratic_expression<N>()), N> {
    using base = symbolic_function<decltype(quadratic_expression<N>()), N>;

  public:
    /// A as N·N row-major values; it must be symmetric positive definite.
    explicit quadratic(std::span<const double> a) {
        detail::require_spd(a, N);
        std::array<double, N*(N + 1) / 2> upper{};
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = i; j < N; ++j) upper[expr::upper_index<N>(i, j)] = a[i * N + j];
        base::set_parameters(upper);
        for (std::size_t k = 0; k < N * N; ++k) matrix_[k] = a[k];
    }

    /// A, row-major.
    const std::array<double, N * N>& matrix() const { return matrix_; }

  private:
    std::array<double, N * N> matrix_{};
};

}  // namespace teleport::problems
