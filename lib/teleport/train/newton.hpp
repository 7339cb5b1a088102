// teleport/train/newton.hpp — Newton's method in the optimizer interface of train/optimizers.hpp,
// so that it runs through the same loop (and records the same rows) as GD:
//
//     w ← w − lr · H(w)⁻¹ ∇L(w)
//
//     teleport::newton opt(f, 1.0);             // lr = 1: the full step, exact on a quadratic
//     teleport::optimize(opt, f, w, 10);        // or optimize_with_teleport(opt, f, action, …)
//
// Unlike the first-order optimizers it reads the loss itself: H(w) is assembled from n
// Hessian-vector products f.hessian_vector_product(w, e_k, column_k) and inverted by Gauss–Jordan
// elimination (groups/small_matrix.hpp), so it is meant for fixed-size points std::array<double, n>
// with small n (n products and an n³ inversion per step). Prop. 5.7 of the paper relates the
// gradient direction at a teleported point to this one.
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string_view>

#include "teleport/core/vector_ops.hpp"
#include "teleport/groups/small_matrix.hpp"
#include "teleport/train/optimizers.hpp"

namespace teleport {

/// hessian_function<F, Vec>: a const F gives the Hessian-vector product
/// f.hessian_vector_product(x, v, out), out = H(x) v, for points of type Vec.
template <class F, class Vec>
concept hessian_function = vector_like<Vec> && requires(const F& f, const Vec& x, const Vec& v, Vec& out) {
    f.hessian_vector_product(x, v, out);
};

/// Newton's method with learning rate lr (1: the full step). It holds f by reference; f must
/// outlive the optimizer. Its state only counts steps (gd_state): there is nothing for a teleport
/// to carry along.
template <class F>
class newton {
public:
    newton(const F& f, double learning_rate)
        : f_(&f), lr_(detail::require_finite_positive("newton", "learning rate", learning_rate))
    {
    }

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "newton"; }
    [[nodiscard]] double learning_rate() const noexcept { return lr_; }

    template <std::size_t N>
    [[nodiscard]] gd_state<std::array<double, N>> make_state(const std::array<double, N>&) const
    {
        require_hessian<std::array<double, N>>();
        return {};
    }

    /// x ← x − lr·H(x)⁻¹g, g = ∇L(x); throws std::domain_error when H(x) is singular.
    template <std::size_t N>
    void step(gd_state<std::array<double, N>>& state, std::array<double, N>& x, const std::array<double, N>& g) const
    {
        require_hessian<std::array<double, N>>();
        groups::small_matrix<N> h;
        for (std::size_t k = 0; k < N; ++k) {
            std::array<double, N> e{}, column{};
            e[k] = 1.0;
            f_->hessian_vector_product(x, e, column);
            for (std::size_t i = 0; i < N; ++i) h(i, k) = column[i];
        }
        groups::small_matrix<N> h_inverse;
        try {
            h_inverse = groups::inverse(h);
        } catch (const std::domain_error&) {
            throw std::domain_error("newton: the Hessian is singular at the current point");
        }
        const auto direction = h_inverse.apply(g);
        for (std::size_t i = 0; i < N; ++i) x[i] -= lr_ * direction[i];
        ++state.steps;
    }

private:
    template <class Vec>
    static constexpr void require_hessian()
    {
        static_assert(hessian_function<F, Vec>, "Newton's method requires the loss to provide "
                                                "hessian_vector_product(x, v, out), the product H(x) v");
    }

    const F* f_;
    double lr_;
};

} // namespace teleport
