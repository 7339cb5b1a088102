// teleport/core/storage.hpp — parameters kept in the user's own contiguous storage.
//
// Fixed-size problems work on std::array<double, N>; a user's parameters often live in a
// std::vector<double>, a std::span<double> over a simulation's state or an xt::xtensor<double, 1>.
// The library's entry points for fixed-size problems also take those: the values are copied into
// an std::array (N doubles, once per call, not per step), the work is done, and they are copied back.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace teleport {

/// Contiguous storage of doubles other than the problem's own point type Point.
template <class R, class Point>
concept parameter_storage = !std::same_as<std::remove_cvref_t<R>, Point> && requires(R& r) {
    { std::ranges::data(r) } -> std::same_as<double*>;
    { std::ranges::size(r) } -> std::convertible_to<std::size_t>;
};

/// Runs run(point) on an std::array copy of the storage (its size checked against N) and copies the
/// point back afterwards; returns what run returns.
template <std::size_t N, class R, class Run>
decltype(auto) on_fixed_size(R& storage, Run&& run) {
    const std::size_t size = std::ranges::size(storage);
    if (size != N)
        throw std::invalid_argument("teleport: the parameter vector has " + std::to_string(size) +
                                    " entries but the problem has " + std::to_string(N));
    std::array<double, N> x;
    double* data = std::ranges::data(storage);
    std::copy(data, data + N, x.begin());
    struct write_back {
        std::array<double, N>& x;
        double* data;
        ~write_back() { std::copy(x.begin(), x.end(), data); }
    } back{x, data};
    return std::forward<Run>(run)(x);
}

}  // namespace teleport
