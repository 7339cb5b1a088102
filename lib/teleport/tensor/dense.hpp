// teleport/tensor/dense.hpp — the dense linear algebra under tensor expressions and layer actions.
//
// Matrices are row-major xt::xtensor<T, 2> (T = float or double); kernels take light views
// (pointer, rows, cols) so that a network's weights can live in one flat parameter vector.
//   gemm(C ← α op(A) op(B) + β C)   BLAS above a size threshold, a plain loop below it: on the
//                                    paper's 8×7×4 network a BLAS call costs more than its flops
//   solve(A, B)        A⁻¹B by LU (LAPACK getrf/getrs)
//   expm(X)            e^X and e^{−X} by scaling and squaring with a [6/6] Padé approximant ([3/3]
//                      for ‖X‖₁ ≤ 0.015); the two are inverse to rounding (they share the Padé
//                      numerator and denominator)
//   left_pseudo_inverse(h)   h⁺ = R⁻¹Qᵀ from a QR factorization, for h with full column rank
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

// With HAVE_CBLAS (set by the build), xtensor-blas brings in the C BLAS interface too.
#include <xtensor-blas/xblas.hpp>
#include <xtensor-blas/xlapack.hpp>
#include <xtensor/xtensor.hpp>

namespace teleport::tensor {

template <class T>
using matrix = xt::xtensor<T, 2>;

/// A mutable row-major view: rows × cols elements at data, contiguous.
template <class T>
struct matrix_ref {
    T* data = nullptr;
    std::size_t rows = 0, cols = 0;
    T& operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
    std::size_t size() const { return rows * cols; }
};

/// A read-only row-major view.
template <class T>
struct const_matrix_ref {
    const T* data = nullptr;
    std::size_t rows = 0, cols = 0;
    const_matrix_ref() = default;
    const_matrix_ref(const T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c) {}
    const_matrix_ref(matrix_ref<T> m) : data(m.data), rows(m.rows), cols(m.cols) {}  // NOLINT: a view widens
    const T& operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
    std::size_t size() const { return rows * cols; }
};

template <class T> matrix_ref<T> ref(matrix<T>& m) { return {m.data(), m.shape(0), m.shape(1)}; }
template <class T> const_matrix_ref<T> cref(const matrix<T>& m) { return {m.data(), m.shape(0), m.shape(1)}; }

/// Resize m to rows × cols when its shape differs (contents are then unspecified).
template <class T>
void reshape(matrix<T>& m, std::size_t rows, std::size_t cols) {
    if (m.shape(0) != rows || m.shape(1) != cols) m.resize({rows, cols});
}

inline std::string shape_string(std::size_t rows, std::size_t cols) {
    return std::to_string(rows) + "x" + std::to_string(cols);
}

/// out = a with a row of ones appended below it when `ones` (a bias row), else a copy of a; out is
/// resized.
template <class T>
void append_ones_row(const_matrix_ref<T> a, bool ones, matrix<T>& out) {
    reshape(out, a.rows + (ones ? 1 : 0), a.cols);
    std::copy(a.data, a.data + a.size(), out.data());
    if (ones) std::fill(out.data() + a.size(), out.data() + a.size() + a.cols, T(1));
}

/// Products with at most this many multiply-adds use the loop kernel.
inline constexpr std::size_t small_gemm_limit = 4096;

/// C ← α op(A) op(B) + β C, op(M) = M or Mᵀ. β = 0 overwrites C whatever it held.
template <class T>
void gemm(bool transpose_a, bool transpose_b, T alpha, const_matrix_ref<T> a, const_matrix_ref<T> b, T beta,
          matrix_ref<T> c) {
    const std::size_t m = transpose_a ? a.cols : a.rows;
    const std::size_t k = transpose_a ? a.rows : a.cols;
    const std::size_t kb = transpose_b ? b.cols : b.rows;
    const std::size_t n = transpose_b ? b.rows : b.cols;
    if (k != kb || c.rows != m || c.cols != n)
        throw std::logic_error("gemm: shapes do not agree (" + shape_string(m, k) + " times " + shape_string(kb, n) +
                               " into " + shape_string(c.rows, c.cols) + ")");
    if (m == 0 || n == 0) return;
    if (m * n * k <= small_gemm_limit) {
        // Four entries of a row of C at a time, summed over p in registers and stored once: adding
        // into C in memory for every p (the axpy order) chains each step to the previous store, which
        // made the paper network's products twice as slow.
        const std::size_t a_row = transpose_a ? 1 : a.cols, a_step = transpose_a ? a.cols : 1;  // A(i, p)
        const std::size_t b_step = transpose_b ? 1 : b.cols, b_col = transpose_b ? b.cols : 1;  // B(p, j)
        auto kernel = [&](auto store) {
            for (std::size_t i = 0; i < m; ++i) {
                const T* ai = a.data + i * a_row;
                T* ci = c.data + i * n;
                std::size_t j = 0;
                for (; j + 4 <= n; j += 4) {
                    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    const T* bj = b.data + j * b_col;
                    for (std::size_t p = 0; p < k; ++p) {
                        const T x = ai[p * a_step];
                        const T* bp = bj + p * b_step;
                        s0 += x * bp[0];
                        s1 += x * bp[b_col];
                        s2 += x * bp[2 * b_col];
                        s3 += x * bp[3 * b_col];
                    }
                    store(ci + j, s0);
                    store(ci + j + 1, s1);
                    store(ci + j + 2, s2);
                    store(ci + j + 3, s3);
                }
                for (; j < n; ++j) {
                    T s = 0;
                    const T* bj = b.data + j * b_col;
                    for (std::size_t p = 0; p < k; ++p) s += ai[p * a_step] * bj[p * b_step];
                    store(ci + j, s);
                }
            }
        };
        // C = AB, the common case, without the multiplications by α and β
        if (alpha == T(1) && beta == T(0)) kernel([](T* cij, T sum) { *cij = sum; });
        else if (beta == T(0)) kernel([alpha](T* cij, T sum) { *cij = alpha * sum; });
        else kernel([alpha, beta](T* cij, T sum) { *cij = alpha * sum + beta * *cij; });
        return;
    }
    const auto ta = transpose_a ? CblasTrans : CblasNoTrans;
    const auto tb = transpose_b ? CblasTrans : CblasNoTrans;
    const auto mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const auto lda = static_cast<int>(a.cols), ldb = static_cast<int>(b.cols), ldc = static_cast<int>(n);
    if constexpr (std::is_same_v<T, double>)
        cblas_dgemm(CblasRowMajor, ta, tb, mi, ni, ki, alpha, a.data, lda, b.data, ldb, beta, c.data, ldc);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, mi, ni, ki, alpha, a.data, lda, b.data, ldb, beta, c.data, ldc);
}

/// C = op(A) op(B), C resized.
template <class T>
void multiply(bool transpose_a, bool transpose_b, const_matrix_ref<T> a, const_matrix_ref<T> b, matrix<T>& c) {
    reshape(c, transpose_a ? a.cols : a.rows, transpose_b ? b.rows : b.cols);
    gemm<T>(transpose_a, transpose_b, T(1), a, b, T(0), ref(c));
}

/// A B as a new matrix.
template <class T>
matrix<T> product(const matrix<T>& a, const matrix<T>& b) {
    matrix<T> c;
    multiply<T>(false, false, cref(a), cref(b), c);
    return c;
}

namespace detail {
// In 16×16 tiles: row by row, the writes of a 128-column matrix step by 1 KiB and fall into a
// few L1 sets, so nearly every write missed (58 µs for 128×128; tiled 6 µs).
template <class T>
matrix<T> transposed_copy(const_matrix_ref<T> a) {
    matrix<T> t({a.cols, a.rows});
    constexpr std::size_t tile = 16;
    T* out = t.data();
    for (std::size_t i0 = 0; i0 < a.rows; i0 += tile) {
        const std::size_t i1 = std::min(i0 + tile, a.rows);
        for (std::size_t j0 = 0; j0 < a.cols; j0 += tile) {
            const std::size_t j1 = std::min(j0 + tile, a.cols);
            for (std::size_t i = i0; i < i1; ++i)
                for (std::size_t j = j0; j < j1; ++j) out[j * a.rows + i] = a(i, j);
        }
    }
    return t;
}
}  // namespace detail

/// A⁻¹B for square A (LU with partial pivoting). Throws std::domain_error when A is singular.
template <class T>
matrix<T> solve(const matrix<T>& a, const matrix<T>& b) {
    const std::size_t n = a.shape(0);
    if (a.shape(1) != n || b.shape(0) != n)
        throw std::logic_error("solve: shapes do not agree (" + shape_string(a.shape(0), a.shape(1)) + " and " +
                               shape_string(b.shape(0), b.shape(1)) + ")");
    // The row-major buffer of A read column-major is Aᵀ; factor that and solve with the transpose.
    matrix<T> lu = a;
    std::vector<int> pivots(n);
    const int ni = static_cast<int>(n);
    int info = cxxlapack::getrf<int>(ni, ni, lu.data(), ni, pivots.data());
    if (info != 0) throw std::domain_error("solve: the matrix is singular");
    // right-hand sides column-major: the row-major buffer of Bᵀ
    matrix<T> x = detail::transposed_copy(cref(b));
    info = cxxlapack::getrs<int>('T', ni, static_cast<int>(b.shape(1)), lu.data(), ni, pivots.data(), x.data(), ni);
    if (info != 0) throw std::domain_error("solve: LAPACK getrs failed");
    return detail::transposed_copy(cref(x));
}

/// ‖A‖₁ (largest column sum of absolute values).
template <class T>
T norm1(const matrix<T>& a) {
    std::vector<T> sums(a.shape(1), T(0));
    for (std::size_t i = 0; i < a.shape(0); ++i)
        for (std::size_t j = 0; j < a.shape(1); ++j) sums[j] += std::abs(a(i, j));
    return sums.empty() ? T(0) : *std::max_element(sums.begin(), sums.end());
}

template <class T>
matrix<T> identity(std::size_t n) {
    matrix<T> m = xt::zeros<T>({n, n});
    for (std::size_t i = 0; i < n; ++i) m(i, i) = T(1);
    return m;
}

/// e^X and its exact inverse e^{−X}.
template <class T>
struct exponential_pair {
    matrix<T> g, g_inverse;
};

/// Scaling and squaring with the [6/6] Padé approximant r(X) = (V − U)⁻¹(V + U), U odd and V even
/// in X. After scaling ‖X/2^s‖₁ ≤ 1/2 the approximant's relative error is below 1e−16. The
/// inverse is (V + U)⁻¹(V − U) squared the same number of times, so g·g⁻¹ = I to rounding.
/// Small X (‖X‖₁ ≤ θ₃ = 1.495585217958292e−2, as a teleport ascent step usually is) take the [3/3]
/// approximant unscaled: its backward error is below the double unit roundoff there (Higham, "The
/// scaling and squaring method for the matrix exponential revisited", SIAM J. Matrix Anal. Appl.
/// 26(4), 2005, table 2.3), and it needs two products instead of four.
template <class T>
exponential_pair<T> expm(const matrix<T>& x) {
    const std::size_t n = x.shape(0);
    if (x.shape(1) != n) throw std::logic_error("expm: the matrix is not square");
    for (T e : x)
        if (!std::isfinite(e)) throw std::domain_error("expm: the matrix has a non-finite entry");
    const T norm = norm1(x);
    if (norm <= T(1.495585217958292e-2)) {
        // [3/3] Padé coefficients 1, 1/2, 1/10, 1/120
        const matrix<T> x2 = product(x, x);
        matrix<T> v = T(0.1) * x2;
        for (std::size_t i = 0; i < n; ++i) v(i, i) += T(1);
        matrix<T> inner = T(1.0 / 120) * x2;
        for (std::size_t i = 0; i < n; ++i) inner(i, i) += T(0.5);
        const matrix<T> u = product(x, inner);
        return {solve<T>(v - u, v + u), solve<T>(v + u, v - u)};
    }
    int s = 0;
    if (norm > T(0.5)) s = static_cast<int>(std::ceil(std::log2(norm / T(0.5))));
    const matrix<T> a = x * std::ldexp(T(1), -s);
    // [6/6] Padé coefficients c_k = (12−k)! 6! / (12! k! (6−k)!)
    constexpr double c[7] = {1.0, 1.0 / 2, 5.0 / 44, 1.0 / 66, 1.0 / 792, 1.0 / 15840, 1.0 / 665280};
    const matrix<T> a2 = product(a, a);
    const matrix<T> a4 = product(a2, a2);
    const matrix<T> a6 = product(a4, a2);
    matrix<T> v = T(c[6]) * a6 + T(c[4]) * a4 + T(c[2]) * a2;
    for (std::size_t i = 0; i < n; ++i) v(i, i) += T(c[0]);
    matrix<T> inner = T(c[5]) * a4 + T(c[3]) * a2;
    for (std::size_t i = 0; i < n; ++i) inner(i, i) += T(c[1]);
    const matrix<T> u = product(a, inner);
    exponential_pair<T> r{solve<T>(v - u, v + u), solve<T>(v + u, v - u)};
    for (int k = 0; k < s; ++k) {
        r.g = product(r.g, r.g);
        r.g_inverse = product(r.g_inverse, r.g_inverse);
    }
    return r;
}

/// The left pseudo-inverse h⁺ = (hᵀh)⁻¹hᵀ of a d×b matrix with full column rank (b ≤ d), computed
/// as R⁻¹Qᵀ from h = QR. Throws std::domain_error naming `what` when the rank is not full.
template <class T>
matrix<T> left_pseudo_inverse(const_matrix_ref<T> h, const std::string& what) {
    const std::size_t d = h.rows, b = h.cols;
    if (b > d)
        throw std::domain_error(what + " is " + shape_string(d, b) + ": a batch of " + std::to_string(b) +
                                " exceeds its " + std::to_string(d) + " rows, so it cannot have full column rank");
    matrix<T> qr = detail::transposed_copy(h);  // column-major d×b
    const int di = static_cast<int>(d), bi = static_cast<int>(b);
    std::vector<T> tau(b);
    T query = 0;
    cxxlapack::geqrf<int>(di, bi, qr.data(), di, tau.data(), &query, -1);
    std::vector<T> work(static_cast<std::size_t>(std::max<T>(query, T(b))) + 1);
    int info = cxxlapack::geqrf<int>(di, bi, qr.data(), di, tau.data(), work.data(), static_cast<int>(work.size()));
    if (info != 0) throw std::domain_error("left_pseudo_inverse: LAPACK geqrf failed");
    matrix<T> r = xt::zeros<T>({b, b});  // row-major
    T largest = 0, smallest = std::numeric_limits<T>::infinity();
    for (std::size_t j = 0; j < b; ++j) {
        for (std::size_t i = 0; i <= j; ++i) r(i, j) = qr.data()[j * d + i];
        largest = std::max(largest, std::abs(r(j, j)));
        smallest = std::min(smallest, std::abs(r(j, j)));
    }
    if (!(smallest > T(d) * std::numeric_limits<T>::epsilon() * largest))
        throw std::domain_error(what + " (" + shape_string(d, b) +
                                ") does not have full column rank: its samples are linearly dependent");
    cxxlapack::orgqr<int>(di, bi, bi, qr.data(), di, tau.data(), &query, -1);
    work.resize(static_cast<std::size_t>(std::max<T>(query, T(b))) + 1);
    info = cxxlapack::orgqr<int>(di, bi, bi, qr.data(), di, tau.data(), work.data(), static_cast<int>(work.size()));
    if (info != 0) throw std::domain_error("left_pseudo_inverse: LAPACK orgqr failed");
    // qr now holds Q column-major, which read row-major is Qᵀ (b×d); solve R X = Qᵀ in place.
    matrix<T> x({b, d});
    std::copy(qr.data(), qr.data() + b * d, x.data());
    if constexpr (std::is_same_v<T, double>)
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, bi, di, 1.0, r.data(), bi,
                    x.data(), di);
    else
        cblas_strsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, bi, di, 1.0f, r.data(), bi,
                    x.data(), di);
    return x;
}

}  // namespace teleport::tensor
