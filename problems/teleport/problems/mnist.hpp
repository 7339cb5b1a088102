// teleport/problems/mnist.hpp — the MNIST (or Fashion-MNIST) training set, shuffled and split.
//
// load_mnist reads train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] from a directory
// with the strict IDX reader, checks that counts agree and labels are 0..9, optionally keeps the
// first `limit` samples, shuffles with a Fisher–Yates pass driven by std::mt19937_64(seed)
// (teleport::random_permutation of train/sampling.hpp, which also shuffles the mini-batches), and
// splits into training and validation parts. Pixels are scaled to [0, 1] and stored with samples
// as columns: train_x is (rows·cols) × n_train, so column k is sample k. load_mnist_test reads the
// t10k files in file order. Debian's dataset-fashion-mnist package installs the four files in
// default_mnist_dir.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include "teleport/io/idx.hpp"
#include "teleport/train/evaluation.hpp"
#include "teleport/train/sampling.hpp"

namespace teleport::problems {

/// Where Debian's dataset-fashion-mnist package puts the MNIST-format files.
inline constexpr const char* default_mnist_dir = "/usr/share/datasets/fashion-mnist";

/// Training and validation parts of a shuffled MNIST training set; samples are columns.
template <std::floating_point T>
struct mnist_split {
    xt::xtensor<T, 2> train_x;  ///< (rows·cols) × n_train, pixels in [0, 1]
    xt::xtensor<T, 2> valid_x;  ///< (rows·cols) × n_valid
    std::vector<std::uint8_t> train_y;
    std::vector<std::uint8_t> valid_y;
    std::size_t rows = 0;
    std::size_t cols = 0;
};

/// A data set in file order (the MNIST test set); samples are columns.
template <std::floating_point T>
struct mnist_set {
    xt::xtensor<T, 2> x;  ///< (rows·cols) × n, pixels in [0, 1]
    std::vector<std::uint8_t> y;
    std::size_t rows = 0;
    std::size_t cols = 0;
};

namespace detail {

inline constexpr std::uint8_t mnist_classes = 10;

/// dir/name.gz if it exists, else dir/name if it exists, else an error naming both.
inline std::filesystem::path mnist_file(const std::filesystem::path& dir, const std::string& name) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw io::idx_error(dir.string() + ": " +
                            (std::filesystem::exists(dir, ec) ? "is not a directory" : "the directory does not exist") +
                            " (looked for the MNIST file " + name + ".gz or " + name + ")");
    const auto compressed = dir / (name + ".gz");
    if (std::filesystem::exists(compressed, ec)) return compressed;
    const auto plain = dir / name;
    if (std::filesystem::exists(plain, ec)) return plain;
    throw io::idx_error(dir.string() + ": neither " + name + ".gz nor " + name + " exists in this directory");
}

struct mnist_raw {
    io::idx_images images;
    std::vector<std::uint8_t> labels;
};

/// Reads `prefix`-images-idx3-ubyte and `prefix`-labels-idx1-ubyte and checks that they match.
inline mnist_raw mnist_read(const std::filesystem::path& dir, const std::string& prefix) {
    const auto images_path = mnist_file(dir, prefix + "-images-idx3-ubyte");
    const auto labels_path = mnist_file(dir, prefix + "-labels-idx1-ubyte");
    mnist_raw raw{io::read_idx_images(images_path), io::read_idx_labels(labels_path)};
    if (raw.images.n != raw.labels.size())
        throw io::idx_error(images_path.string() + ": holds " + std::to_string(raw.images.n) + " images but " +
                            labels_path.string() + " holds " + std::to_string(raw.labels.size()) + " labels");
    for (std::size_t i = 0; i < raw.labels.size(); ++i)
        if (raw.labels[i] >= mnist_classes)
            throw io::idx_error(labels_path.string() + ": label " + std::to_string(raw.labels[i]) + " at index " +
                                std::to_string(i) + " is above 9 (MNIST has 10 classes)");
    return raw;
}

/// Columns k of the result are the images order[k], scaled to [0, 1]. Works in blocks of
/// samples so that both the reads and the writes stay in cache.
template <std::floating_point T>
xt::xtensor<T, 2> mnist_columns(const io::idx_images& images, std::span<const std::size_t> order) {
    const std::size_t pixels = images.pixels_per_image();
    const std::size_t n = order.size();
    auto x = xt::xtensor<T, 2>::from_shape({pixels, n});
    T* const out = x.data();
    const std::uint8_t* const in = images.pixels.data();
    constexpr std::size_t block = 16;
    for (std::size_t k0 = 0; k0 < n; k0 += block) {
        const std::size_t k1 = std::min(n, k0 + block);
        for (std::size_t p = 0; p < pixels; ++p)
            for (std::size_t k = k0; k < k1; ++k)
                out[p * n + k] = static_cast<T>(in[order[k] * pixels + p]) / T{255};
    }
    return x;
}

}  // namespace detail

/// The Fisher–Yates permutation of 0, …, n−1 from std::mt19937_64(seed) that splits the data; the
/// same permutation shuffles the mini-batches of the training loop (train/sampling.hpp).
inline std::vector<std::size_t> mnist_permutation(std::size_t n, std::uint64_t seed) { return random_permutation(n, seed); }

/// Loads the training set from `dir`, keeps the first `limit` samples (0 = all), shuffles with
/// `seed` and gives round(n·train_fraction) samples to training and the rest to validation
/// (48,000 / 12,000 for the 60,000 MNIST images at the default fraction).
template <std::floating_point T>
mnist_split<T> load_mnist(const std::filesystem::path& dir, std::uint64_t seed, double train_fraction = 0.8,
                          std::size_t limit = 0) {
    if (!(train_fraction > 0.0 && train_fraction < 1.0))
        throw std::invalid_argument("load_mnist: train_fraction must lie strictly between 0 and 1, got " +
                                    std::to_string(train_fraction));
    const detail::mnist_raw raw = detail::mnist_read(dir, "train");
    const std::size_t n = limit == 0 ? raw.images.n : std::min(limit, raw.images.n);
    const auto n_train = static_cast<std::size_t>(std::llround(static_cast<double>(n) * train_fraction));
    if (n_train == 0 || n_train >= n)
        throw std::invalid_argument("load_mnist: a train_fraction of " + std::to_string(train_fraction) + " of " +
                                    std::to_string(n) + " samples leaves the " +
                                    (n_train == 0 ? "training" : "validation") + " part empty");
    const std::vector<std::size_t> order = mnist_permutation(n, seed);
    const auto train_order = std::span<const std::size_t>(order).first(n_train);
    const auto valid_order = std::span<const std::size_t>(order).subspan(n_train);

    mnist_split<T> split;
    split.rows = raw.images.rows;
    split.cols = raw.images.cols;
    split.train_x = detail::mnist_columns<T>(raw.images, train_order);
    split.valid_x = detail::mnist_columns<T>(raw.images, valid_order);
    split.train_y.reserve(n_train);
    for (const std::size_t k : train_order) split.train_y.push_back(raw.labels[k]);
    split.valid_y.reserve(n - n_train);
    for (const std::size_t k : valid_order) split.valid_y.push_back(raw.labels[k]);
    return split;
}

/// Loads the test set (t10k files) from `dir` in file order, the first `limit` samples (0 = all),
/// with the same checks as load_mnist.
template <std::floating_point T>
mnist_set<T> load_mnist_test(const std::filesystem::path& dir, std::size_t limit = 0) {
    const detail::mnist_raw raw = detail::mnist_read(dir, "t10k");
    const std::size_t n = limit == 0 ? raw.images.n : std::min(limit, raw.images.n);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    mnist_set<T> set;
    set.rows = raw.images.rows;
    set.cols = raw.images.cols;
    set.x = detail::mnist_columns<T>(raw.images, order);
    set.y.assign(raw.labels.begin(), raw.labels.begin() + static_cast<std::ptrdiff_t>(n));
    return set;
}

/// One-hot encoding of labels (train/evaluation.hpp).
using teleport::one_hot;

}  // namespace teleport::problems
