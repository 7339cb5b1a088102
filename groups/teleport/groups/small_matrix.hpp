// teleport/groups/small_matrix.hpp — fixed-size square matrices for group elements.
//
// Group elements of the test-function and quadratic actions are n×n with n ≤ 8 or so: a BLAS call
// would cost more than the arithmetic, so these are plain row-major arrays with loops the compiler
// unrolls (STYLE: "so(2) and small generators want fixed-size code").
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <stdexcept>

namespace teleport::groups {

template <std::size_t N>
struct small_matrix {
    std::array<double, N * N> a{};

    constexpr double& operator()(std::size_t i, std::size_t j) { return a[i * N + j]; }
    constexpr double operator()(std::size_t i, std::size_t j) const { return a[i * N + j]; }

    static constexpr small_matrix identity() {
        small_matrix m;
        for (std::size_t i = 0; i < N; ++i) m(i, i) = 1.0;
        return m;
    }
    static constexpr small_matrix zero() { return {}; }

    friend constexpr small_matrix operator+(small_matrix x, const small_matrix& y) {
        for (std::size_t k = 0; k < N * N; ++k) x.a[k] += y.a[k];
        return x;
    }
    friend constexpr small_matrix operator-(small_matrix x, const small_matrix& y) {
        for (std::size_t k = 0; k < N * N; ++k) x.a[k] -= y.a[k];
        return x;
    }
    friend constexpr small_matrix operator*(double s, small_matrix x) {
        for (double& e : x.a) e *= s;
        return x;
    }
    friend constexpr small_matrix operator*(const small_matrix& x, const small_matrix& y) {
        small_matrix r;
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t k = 0; k < N; ++k) {
                const double xik = x(i, k);
                for (std::size_t j = 0; j < N; ++j) r(i, j) += xik * y(k, j);
            }
        return r;
    }
    template <class V>
    constexpr V apply(const V& v) const {
        V r{};
        for (std::size_t i = 0; i < N; ++i) {
            double s = 0.0;
            for (std::size_t j = 0; j < N; ++j) s += (*this)(i, j) * v[j];
            r[i] = s;
        }
        return r;
    }
    constexpr small_matrix transpose() const {
        small_matrix t;
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j) t(j, i) = (*this)(i, j);
        return t;
    }
    friend constexpr bool operator==(const small_matrix&, const small_matrix&) = default;
};

/// Largest absolute row sum (the ∞-norm), used to scale before exponentiating.
template <std::size_t N>
double norm_inf(const small_matrix<N>& m) {
    double best = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < N; ++j) s += std::abs(m(i, j));
        best = std::max(best, s);
    }
    return best;
}

/// Max-abs entry difference.
template <std::size_t N>
double max_abs_difference(const small_matrix<N>& x, const small_matrix<N>& y) {
    double d = 0.0;
    for (std::size_t k = 0; k < N * N; ++k) d = std::max(d, std::abs(x.a[k] - y.a[k]));
    return d;
}

/// The inverse: by the adjugate for 2×2 and 3×3 (a group element's inverse is taken once per
/// action call, and elimination costs five times as much there), by Gauss–Jordan elimination with
/// partial pivoting otherwise; throws if singular.
template <std::size_t N>
small_matrix<N> inverse(small_matrix<N> m) {
    if constexpr (N == 2 || N == 3) {
        small_matrix<N> adj;
        if constexpr (N == 2) {
            adj(0, 0) = m(1, 1);
            adj(0, 1) = -m(0, 1);
            adj(1, 0) = -m(1, 0);
            adj(1, 1) = m(0, 0);
        } else {
            for (std::size_t i = 0; i < 3; ++i)
                for (std::size_t j = 0; j < 3; ++j) {
                    // cofactor of m(j, i): the 2×2 minor without row j and column i, signs by cyclic order
                    const std::size_t r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
                    adj(i, j) = m(r0, c0) * m(r1, c1) - m(r0, c1) * m(r1, c0);
                }
        }
        double det = 0.0;
        for (std::size_t k = 0; k < N; ++k) det += m(0, k) * adj(k, 0);
        if (!(std::abs(det) > 0.0) || !std::isfinite(det))
            throw std::domain_error("the matrix is singular: the group element has no inverse");
        return (1.0 / det) * adj;
    }
    small_matrix<N> inv = small_matrix<N>::identity();
    for (std::size_t col = 0; col < N; ++col) {
        std::size_t pivot = col;
        for (std::size_t r = col + 1; r < N; ++r)
            if (std::abs(m(r, col)) > std::abs(m(pivot, col))) pivot = r;
        if (!(std::abs(m(pivot, col)) > 0.0) || !std::isfinite(m(pivot, col)))
            throw std::domain_error("the matrix is singular: the group element has no inverse");
        if (pivot != col)
            for (std::size_t j = 0; j < N; ++j) {
                std::swap(m(col, j), m(pivot, j));
                std::swap(inv(col, j), inv(pivot, j));
            }
        const double d = m(col, col);
        for (std::size_t j = 0; j < N; ++j) {
            m(col, j) /= d;
            inv(col, j) /= d;
        }
        for (std::size_t r = 0; r < N; ++r) {
            if (r == col) continue;
            const double f = m(r, col);
            if (f == 0.0) continue;
            for (std::size_t j = 0; j < N; ++j) {
                m(r, j) -= f * m(col, j);
                inv(r, j) -= f * inv(col, j);
            }
        }
    }
    return inv;
}

/// Determinant by LU elimination with partial pivoting.
template <std::size_t N>
double determinant(small_matrix<N> m) {
    double det = 1.0;
    for (std::size_t col = 0; col < N; ++col) {
        std::size_t pivot = col;
        for (std::size_t r = col + 1; r < N; ++r)
            if (std::abs(m(r, col)) > std::abs(m(pivot, col))) pivot = r;
        if (m(pivot, col) == 0.0) return 0.0;
        if (pivot != col) {
            for (std::size_t j = 0; j < N; ++j) std::swap(m(col, j), m(pivot, j));
            det = -det;
        }
        det *= m(col, col);
        for (std::size_t r = col + 1; r < N; ++r) {
            const double f = m(r, col) / m(col, col);
            for (std::size_t j = col; j < N; ++j) m(r, j) -= f * m(col, j);
        }
    }
    return det;
}

/// e^X by scaling and squaring: X/2^s has ∞-norm ≤ 1/2, its Taylor series to degree 18
/// (remainder below 1e-22 relative), then s squarings.
template <std::size_t N>
small_matrix<N> expm(const small_matrix<N>& x) {
    const double norm = norm_inf(x);
    if (!std::isfinite(norm)) throw std::domain_error("matrix exponential of a non-finite matrix");
    int s = 0;
    if (norm > 0.5) s = static_cast<int>(std::ceil(std::log2(norm / 0.5)));
    const small_matrix<N> scaled = std::ldexp(1.0, -s) * x;
    small_matrix<N> term = small_matrix<N>::identity();
    small_matrix<N> sum = term;
    for (int k = 1; k <= 18; ++k) {
        term = (1.0 / k) * (term * scaled);
        sum = sum + term;
    }
    for (int k = 0; k < s; ++k) sum = sum * sum;
    return sum;
}

/// The derivative of the exponential: d/dt e^{X + tE} at t = 0, as the derivative of expm's own
/// approximant (the same scaling, Taylor terms and squarings, differentiated term by term):
///     T_k = T_{k−1} Y / k,  dT_k = (dT_{k−1} Y + T_{k−1} E′) / k   (Y = X/2^s, E′ = E/2^s)
///     (S, D) ← (S², S D + D S)  s times.
/// Two N×N products per term instead of an exponential of the 2N×2N block [[X, E], [0, X]].
template <std::size_t N>
small_matrix<N> expm_directional(const small_matrix<N>& x, const small_matrix<N>& e) {
    const double norm = norm_inf(x);
    if (!std::isfinite(norm)) throw std::domain_error("matrix exponential of a non-finite matrix");
    int s = 0;
    if (norm > 0.5) s = static_cast<int>(std::ceil(std::log2(norm / 0.5)));
    const double scale = std::ldexp(1.0, -s);
    const small_matrix<N> y = scale * x;
    const small_matrix<N> ey = scale * e;
    small_matrix<N> term = small_matrix<N>::identity();
    small_matrix<N> dterm;
    small_matrix<N> sum = term;
    small_matrix<N> dsum;
    for (int k = 1; k <= 18; ++k) {
        dterm = (1.0 / k) * (dterm * y + term * ey);
        term = (1.0 / k) * (term * y);
        sum = sum + term;
        dsum = dsum + dterm;
    }
    for (int k = 0; k < s; ++k) {
        dsum = sum * dsum + dsum * sum;
        sum = sum * sum;
    }
    return dsum;
}

}  // namespace teleport::groups
