// teleport/train/sampling.hpp — the order of the samples: a Fisher–Yates permutation that does
// not depend on the standard library, and the mini-batches of an epoch cut from a fresh one
// (shuffled_batches, the sampler of the mini-batch loop in train/minibatch.hpp). The data loaders
// shuffle a data set with the same permutation (problems/mnist.hpp).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace teleport {

/// Fisher–Yates shuffle of 0, …, n−1 with std::mt19937_64(seed): for i = n−1 down to 1, swap
/// entry i with entry j drawn by std::uniform_int_distribution from [0, i]. Written out so that
/// the order does not depend on how the standard library implements std::shuffle.
inline std::vector<std::size_t> random_permutation(std::size_t n, std::uint64_t seed) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 rng(seed);
    for (std::size_t i = n; i > 1; --i) {
        std::uniform_int_distribution<std::size_t> pick(0, i - 1);
        std::swap(order[i - 1], order[pick(rng)]);
    }
    return order;
}

/// The mini-batches of one epoch: an order of the samples cut into batches of `size` (the last
/// one shorter when size does not divide the number of samples).
class epoch_batches {
  public:
    epoch_batches(std::vector<std::size_t> order, std::size_t size) : order_(std::move(order)), size_(size) {
        if (size == 0) throw std::invalid_argument("mini-batches: the batch size must be positive");
    }
    std::size_t count() const { return (order_.size() + size_ - 1) / size_; }
    std::span<const std::size_t> operator[](std::size_t b) const {
        const std::span<const std::size_t> all(order_);
        return all.subspan(b * size_, std::min(size_, order_.size() - b * size_));
    }

  private:
    std::vector<std::size_t> order_;
    std::size_t size_;
};

/// Mini-batches of a fresh permutation every epoch: random_permutation(samples, rng()), cut into
/// batches of batch_size. The one draw per epoch is all the sampler takes from the generator.
class shuffled_batches {
  public:
    shuffled_batches(std::size_t samples, std::size_t batch_size) : samples_(samples), batch_size_(batch_size) {
        if (batch_size == 0) throw std::invalid_argument("mini-batches: the batch size must be positive");
        if (batch_size > samples)
            throw std::invalid_argument("mini-batches: a batch of " + std::to_string(batch_size) +
                                        " is larger than the " + std::to_string(samples) + " samples");
    }
    std::size_t samples() const { return samples_; }
    std::size_t batch_size() const { return batch_size_; }
    std::size_t count() const { return (samples_ + batch_size_ - 1) / batch_size_; }
    epoch_batches epoch(std::mt19937_64& rng) const { return {random_permutation(samples_, rng()), batch_size_}; }

  private:
    std::size_t samples_, batch_size_;
};

/// batch_sampler<S>: S gives an epoch's mini-batches from a generator, count() of them, each a
/// span of sample indices.
template <class S>
concept batch_sampler = requires(const S& s, std::mt19937_64& rng, std::size_t b) {
    { s.samples() } -> std::convertible_to<std::size_t>;
    { s.count() } -> std::convertible_to<std::size_t>;
    { s.epoch(rng).count() } -> std::convertible_to<std::size_t>;
    { s.epoch(rng)[b] } -> std::convertible_to<std::span<const std::size_t>>;
};

}  // namespace teleport
