// teleport/problems/quadratic.hpp — the quadratic L_A(w) = wᵀ A w for a symmetric positive definite
// A (paper §5.3), with n known at compile time. The loss is an expression whose coefficients are
// runtime parameters (the upper triangle of A), so its gradient 2Aw, Hessian 2A and Hessian-vector
// product are generated like any other.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "teleport/expression.hpp"
#include "teleport/groups/lie_algebra.hpp"

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

/// A random symmetric positive definite N×N matrix (row-major) with condition number `condition`
/// and log-spaced spectrum: A = Q diag(λ) Qᵀ with eigenvalues λ_k = condition^{−k/(N−1)}, from 1
/// down to 1/condition, and Q = exp(Σθ_k T_k) ∈ SO(N) for θ uniform in [−π, π) drawn from `rng`.
/// Each entry is summed on its own, so A is symmetric up to rounding (about 1e-17), which the
/// quadratic's own check allows. The quadratic driver (Props. 5.5, 5.6) and the proposition
/// checks draw their matrices here.
template <std::size_t N>
std::array<double, N * N> random_spd_log_spaced(std::mt19937_64& rng, double condition) {
    static_assert(N >= 2, "a log-spaced spectrum needs at least two eigenvalues");
    if (!(condition >= 1.0) || !std::isfinite(condition))
        throw std::invalid_argument("random_spd_log_spaced: the condition number must be finite and at least 1");
    groups::coordinates<groups::so<N>> theta{};
    std::uniform_real_distribution<double> angle(-std::numbers::pi, std::numbers::pi);
    for (double& t : theta) t = angle(rng);
    const auto q = groups::exponential<groups::so<N>>(theta).g;
    std::array<double, N> lambda{};
    for (std::size_t k = 0; k < N; ++k)
        lambda[k] = std::pow(condition, -static_cast<double>(k) / static_cast<double>(N - 1));
    std::array<double, N * N> a{};
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j)
            for (std::size_t k = 0; k < N; ++k) a[i * N + j] += q(i, k) * lambda[k] * q(j, k);
    return a;
}

/// The level set {w : wᵀAw = loss} of L_A, through A's largest eigenvalue λ_max (paper §5.3): its
/// largest ‖∇L‖² = ‖2Aw‖² is 4·λ_max·loss (maximize ‖2Au‖² subject to uᵀAu = loss: Lagrange makes u
/// an eigenvector, the largest eigenvalue wins), reached at its points closest to the minimum 0, at
/// distance √(loss/λ_max) (Props. 5.5, 5.6).
inline double level_set_max_grad_norm_sq(double lambda_max, double loss) { return 4.0 * lambda_max * loss; }
inline double level_set_distance_to_minimum(double lambda_max, double loss) { return std::sqrt(loss / lambda_max); }
/// ‖∇L(w)‖² as a fraction of the largest on w's level set: 1 exactly at the level set's maximizers.
/// At the minimum (loss 0, also when it underflows there) the level set is the point itself and its
/// gradient, 0, is its largest: the ratio is 1, not 0/0.
inline double level_set_grad_ratio(double lambda_max, double loss, double grad_norm_sq) {
    const double largest = level_set_max_grad_norm_sq(lambda_max, loss);
    if (largest == 0.0 && grad_norm_sq == 0.0) return 1.0;
    return grad_norm_sq / largest;
}

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

#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "teleport/expr/vector_expression.hpp"

namespace teleport::problems {

/// L_A(w) = wᵀAw with n given at run time: the expression wᵀ(A w) over a runtime vector, with A
/// declared symmetric, so the generated gradient is 2·(A w) (sharing A w with the loss) and the
/// generated Hessian-vector product is 2·(A v).
class dynamic_quadratic {
    static constexpr auto loss_expression = vexpr::dot(vexpr::w, vexpr::data_matrix<0, true> * vexpr::w);
    using loss_t = std::remove_cvref_t<decltype(loss_expression)>;
    using gradient_t = decltype(vexpr::gradient(loss_expression));
    using hvp_t = decltype(vexpr::hessian_vector_product(loss_expression));

  public:
    /// A as an n×n matrix; it must be symmetric positive definite.
    explicit dynamic_quadratic(xt::xtensor<double, 2> a) : a_(std::move(a)) {
        if (a_.dimension() != 2 || a_.shape(0) != a_.shape(1))
            throw std::invalid_argument("quadratic: the matrix must be square");
        detail::require_spd(std::span<const double>(a_.data(), a_.size()), a_.shape(0));
    }

    std::size_t dimension() const { return a_.shape(0); }
    const xt::xtensor<double, 2>& matrix() const { return a_; }

    template <class X>
    double evaluate(const X& x) const {
        double loss = 0;
        vexpr::program<loss_t>::run<double>(bind(as_tensor(x)), [&](auto, double value) { loss = value; });
        return loss;
    }

    template <class X, class G>
    void gradient(const X& x, G& g) const {
        vexpr::program<gradient_t>::run<double>(bind(as_tensor(x)), [&](auto, const auto& value) { store(value, g); });
    }

    template <class X, class G>
    double evaluate_with_gradient(const X& x, G& g) const {
        double loss = 0;
        vexpr::program<loss_t, gradient_t>::run<double>(bind(as_tensor(x)), [&](auto k, const auto& value) {
            if constexpr (k == 0) loss = value;
            else store(value, g);
        });
        return loss;
    }

    template <class X, class V, class O>
    void hessian_vector_product(const X& x, const V& v, O& out) const {
        const auto vt = as_tensor(v);
        auto b = bind(as_tensor(x));
        b.v = &vt;
        vexpr::program<hvp_t>::run<double>(b, [&](auto, const auto& value) { store(value, out); });
    }

  private:
    xt::xtensor<double, 2> a_;
    const xt::xtensor<double, 2>* matrices_[1] = {&a_};

    template <class X>
    xt::xtensor<double, 1> as_tensor(const X& x) const {
        if (x.size() != dimension())
            throw std::invalid_argument("the point has " + std::to_string(x.size()) + " entries but the function has " +
                                        std::to_string(dimension()) + " variables");
        xt::xtensor<double, 1> t = xt::empty<double>({dimension()});
        for (std::size_t i = 0; i < dimension(); ++i) t(i) = x[i];
        return t;
    }
    vexpr::bindings<double> bind(const xt::xtensor<double, 1>& x) const {
        return {x, nullptr, std::span<const xt::xtensor<double, 2>* const>(matrices_, 1)};
    }
    template <class G>
    void store(const xt::xtensor<double, 1>& value, G& g) const {
        if constexpr (requires { g.resize({dimension()}); }) {
            if (g.size() != dimension()) g.resize({dimension()});
        }
        if (g.size() != dimension())
            throw std::invalid_argument("the gradient has " + std::to_string(g.size()) + " entries but the function has " +
                                        std::to_string(dimension()) + " variables");
        for (std::size_t i = 0; i < dimension(); ++i) g[i] = value(i);
    }
};

}  // namespace teleport::problems
