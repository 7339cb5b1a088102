#include <catch2/catch.hpp>

// The strict IDX reader and the MNIST loader: small files written to a temporary directory,
// every error the reader reports, the shuffle and split, and the real data set if installed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <xtensor/xmath.hpp>

#include "teleport/io/idx.hpp"
#include "teleport/problems/mnist.hpp"

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;
using teleport::io::idx_error;

namespace {

// A fresh directory under the system temporary directory, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        std::random_device device;
        const std::string name = "teleport_idx_test_" + std::to_string(::getpid()) + "_" + std::to_string(device());
        path_ = fs::temp_directory_path() / name;
        fs::create_directories(path_);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void put_be32(bytes& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>((value >> shift) & 0xffU));
}

// Pixel p of image k in the synthetic files; 255 occurs (image 0, pixel 0) for the scaling test.
std::uint8_t pixel_value(std::size_t k, std::size_t p) {
    return k == 0 && p == 0 ? std::uint8_t{255} : static_cast<std::uint8_t>(k * 20 + p);
}

bytes image_file(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
    bytes out;
    put_be32(out, teleport::io::idx_images_magic);
    put_be32(out, n);
    put_be32(out, rows);
    put_be32(out, cols);
    for (std::size_t k = 0; k < n; ++k)
        for (std::size_t p = 0; p < std::size_t{rows} * cols; ++p) out.push_back(pixel_value(k, p));
    return out;
}

bytes label_file(const bytes& labels) {
    bytes out;
    put_be32(out, teleport::io::idx_labels_magic);
    put_be32(out, static_cast<std::uint32_t>(labels.size()));
    out.insert(out.end(), labels.begin(), labels.end());
    return out;
}

// 0, 1, …, n−1 modulo 10.
bytes labels_up_to(std::size_t n) {
    bytes labels(n);
    for (std::size_t k = 0; k < n; ++k) labels[k] = static_cast<std::uint8_t>(k % 10);
    return labels;
}

void write_plain(const fs::path& path, const bytes& data) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    REQUIRE(out.good());
}

void write_gzip(const fs::path& path, const bytes& data) {
    gzFile file = gzopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    if (!data.empty()) REQUIRE(gzwrite(file, data.data(), static_cast<unsigned>(data.size())) == static_cast<int>(data.size()));
    REQUIRE(gzclose(file) == Z_OK);
}

bytes read_plain(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message of the idx_error `action` throws; checks that it is one line starting with `path`.
std::string error_of(const fs::path& path, const std::function<void()>& action) {
    try {
        action();
    } catch (const idx_error& error) {
        const std::string message = error.what();
        INFO(message);
        CHECK(message.rfind(path.string() + ": ", 0) == 0);
        CHECK(message.find('\n') == std::string::npos);
        return message;
    }
    FAIL("no idx_error was thrown for " << path);
    return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Writes train (or t10k) files with n images of rows × cols and the given labels.
void write_mnist(const temp_dir& dir, std::uint32_t n, const bytes& labels, bool gzip = true,
                 const std::string& prefix = "train", std::uint32_t rows = 2, std::uint32_t cols = 3) {
    const std::string suffix = gzip ? ".gz" : "";
    const auto write = gzip ? write_gzip : write_plain;
    write(dir / (prefix + "-images-idx3-ubyte" + suffix), image_file(n, rows, cols));
    write(dir / (prefix + "-labels-idx1-ubyte" + suffix), label_file(labels));
}

// The index of the image in column k, recovered from its second pixel (k·20 + 1).
std::size_t sample_in_column(const xt::xtensor<double, 2>& x, std::size_t k) {
    return static_cast<std::size_t>(std::lround((x(1, k) * 255.0 - 1.0) / 20.0));
}

}  // namespace

TEST_CASE("IDX: plain and gzip images and labels read back exactly", "[idx]") {
    const temp_dir dir;
    const bytes labels = {3, 1, 4, 1, 5, 9, 2};
    const bytes images = image_file(7, 4, 5);
    write_plain(dir / "images", images);
    write_plain(dir / "labels", label_file(labels));
    write_gzip(dir / "images.gz", images);
    write_gzip(dir / "labels.gz", label_file(labels));
    // Compression is detected from the content, not the name.
    write_gzip(dir / "images.raw", images);

    for (const char* name : {"images", "images.gz", "images.raw"}) {
        INFO(name);
        const auto read = teleport::io::read_idx_images(dir / name);
        CHECK(read.n == 7);
        CHECK(read.rows == 4);
        CHECK(read.cols == 5);
        CHECK(read.pixels == bytes(images.begin() + 16, images.end()));
        CHECK(read.image(3)[2] == pixel_value(3, 2));
    }
    CHECK(teleport::io::read_idx_labels(dir / "labels") == labels);
    CHECK(teleport::io::read_idx_labels(dir / "labels.gz") == labels);

    // Concatenated gzip members form one stream.
    const bytes file = label_file(labels);
    write_gzip(dir / "part1.gz", bytes(file.begin(), file.begin() + 5));
    write_gzip(dir / "part2.gz", bytes(file.begin() + 5, file.end()));
    bytes joined = read_plain(dir / "part1.gz");
    const bytes second = read_plain(dir / "part2.gz");
    joined.insert(joined.end(), second.begin(), second.end());
    write_plain(dir / "joined.gz", joined);
    CHECK(teleport::io::read_idx_labels(dir / "joined.gz") == labels);
}

TEST_CASE("IDX: missing files, directories and files that are not IDX", "[idx]") {
    const temp_dir dir;
    const auto missing = dir / "nothing-here";
    CHECK(contains(error_of(missing, [&] { (void)teleport::io::read_idx_images(missing); }), "does not exist"));
    CHECK(contains(error_of(dir.path(), [&] { (void)teleport::io::read_idx_labels(dir.path()); }), "is a directory"));

    const auto empty = dir / "empty";
    write_plain(empty, {});
    CHECK(contains(error_of(empty, [&] { (void)teleport::io::read_idx_images(empty); }), "is empty"));

    const auto zip = dir / "archive.zip";
    write_plain(zip, {0x50, 0x4b, 0x03, 0x04, 0x14, 0x00});
    const std::string not_idx = error_of(zip, [&] { (void)teleport::io::read_idx_images(zip); });
    CHECK(contains(not_idx, "is neither gzip-compressed nor an IDX file"));
    CHECK(contains(not_idx, "50 4b 03 04"));

    const auto text_gz = dir / "text.gz";
    write_gzip(text_gz, {'h', 'e', 'l', 'l', 'o'});
    CHECK(contains(error_of(text_gz, [&] { (void)teleport::io::read_idx_labels(text_gz); }),
                   "is gzip-compressed but does not hold an IDX file"));
}

TEST_CASE("IDX: a FIFO or other non-regular file is refused without opening it", "[idx]") {
    // opening a FIFO that has no writer blocks forever: the reader must refuse it first
    const temp_dir dir;
    const auto fifo = dir / "train-images-idx3-ubyte.gz";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(error_of(fifo, [&] { (void)teleport::io::read_idx_images(fifo); }), "is not a regular file"));
    CHECK(contains(error_of(fifo, [&] { (void)teleport::io::read_idx_labels(fifo); }), "is not a regular file"));
    CHECK(contains(error_of(fs::path("/dev/null"), [&] { (void)teleport::io::read_idx_labels("/dev/null"); }),
                   "is not a regular file"));
}

TEST_CASE("IDX: bad magic numbers and swapped image and label files", "[idx]") {
    const temp_dir dir;
    const auto images = dir / "images";
    const auto labels = dir / "labels.gz";
    write_plain(images, image_file(2, 2, 2));
    write_gzip(labels, label_file({1, 2}));

    CHECK(error_of(labels, [&] { (void)teleport::io::read_idx_images(labels); }) ==
          labels.string() +
              ": bad magic number 0x00000801, expected 0x00000803: this is a label file, an image file was expected");
    CHECK(error_of(images, [&] { (void)teleport::io::read_idx_labels(images); }) ==
          images.string() +
              ": bad magic number 0x00000803, expected 0x00000801: this is an image file, a label file was expected");

    bytes floats = image_file(1, 1, 1);
    floats[2] = 0x0d;  // 32-bit floats
    const auto float_file = dir / "floats";
    write_plain(float_file, floats);
    const std::string message = error_of(float_file, [&] { (void)teleport::io::read_idx_images(float_file); });
    CHECK(contains(message, "bad magic number 0x00000d03, expected 0x00000803"));
    CHECK(contains(message, "32-bit floats with 3 dimensions"));
}

TEST_CASE("IDX: empty, absurd and short headers", "[idx]") {
    const temp_dir dir;
    const auto file = dir / "images";

    write_plain(file, image_file(0, 28, 28));
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_images(file); }), "declares 0 images"));

    write_plain(file, image_file(3, 0, 28));
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_images(file); }),
                   "declares images of 0x28 pixels"));

    write_plain(file, label_file({}));
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_labels(file); }), "declares 0 labels"));

    // 2^32−1 images of 65535 × 65535 pixels: the product overflows 64 bits; nothing is allocated.
    bytes huge;
    put_be32(huge, teleport::io::idx_images_magic);
    put_be32(huge, 0xffffffffU);
    put_be32(huge, 0xffffU);
    put_be32(huge, 0xffffU);
    write_plain(file, huge);
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_images(file); }),
                   "more than the 17179869184 bytes any IDX file may hold"));

    // A plausible but false count in a tiny file is found out while reading, in small chunks.
    bytes liar;
    put_be32(liar, teleport::io::idx_images_magic);
    put_be32(liar, 2000000);
    put_be32(liar, 28);
    put_be32(liar, 28);
    liar.resize(liar.size() + 784 * 3 + 5, 7);
    write_plain(file, liar);
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_images(file); }),
                   "holds 3 of 2000000 images (the pixel data ends after 2357 of 1568000000 bytes)"));

    const bytes small = image_file(2, 2, 2);
    write_plain(file, bytes(small.begin(), small.begin() + 10));
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_images(file); }),
                   "the header ends after 10 of 16 bytes"));
    write_plain(file, {0x00, 0x00, 0x08});
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_images(file); }),
                   "ends after 3 of the 4 bytes of the IDX magic number"));
}

TEST_CASE("IDX: truncated images and labels, plain and gzip", "[idx]") {
    const temp_dir dir;
    const bytes images = image_file(10, 28, 28);
    const auto plain = dir / "images";
    write_plain(plain, bytes(images.begin(), images.begin() + 16 + 784 * 7 + 100));
    CHECK(contains(error_of(plain, [&] { (void)teleport::io::read_idx_images(plain); }),
                   ": holds 7 of 10 images (the pixel data ends after 5588 of 7840 bytes)"));

    const bytes labels = label_file(labels_up_to(5));
    const auto short_labels = dir / "labels";
    write_plain(short_labels, bytes(labels.begin(), labels.end() - 2));
    CHECK(contains(error_of(short_labels, [&] { (void)teleport::io::read_idx_labels(short_labels); }),
                   ": holds 3 of 5 labels"));

    // A complete IDX file whose gzip stream is cut in the middle, and one that only lacks the
    // gzip trailer (CRC and length).
    const auto full_gz = dir / "full.gz";
    write_gzip(full_gz, images);
    const bytes compressed = read_plain(full_gz);
    const auto cut = dir / "cut.gz";
    write_plain(cut, bytes(compressed.begin(), compressed.begin() + static_cast<std::ptrdiff_t>(compressed.size() / 2)));
    CHECK(contains(error_of(cut, [&] { (void)teleport::io::read_idx_images(cut); }), "the gzip stream is truncated"));
    const auto no_trailer = dir / "no-trailer.gz";
    write_plain(no_trailer, bytes(compressed.begin(), compressed.end() - 8));
    CHECK(contains(error_of(no_trailer, [&] { (void)teleport::io::read_idx_images(no_trailer); }),
                   "the gzip stream is truncated: all 10 images of 28x28 pixels were read"));

    // A cut gzip file whose content is also short reports both.
    const auto short_gz = dir / "short.gz";
    write_gzip(short_gz, bytes(images.begin(), images.begin() + 16 + 784 * 2));
    const bytes short_compressed = read_plain(short_gz);
    write_plain(short_gz, bytes(short_compressed.begin(), short_compressed.end() - 8));
    CHECK(contains(error_of(short_gz, [&] { (void)teleport::io::read_idx_images(short_gz); }),
                   "the gzip stream is truncated: holds 2 of 10 images"));
}

TEST_CASE("IDX: corrupt gzip streams", "[idx]") {
    const temp_dir dir;
    const auto file = dir / "labels.gz";
    write_gzip(file, label_file(labels_up_to(100)));
    bytes compressed = read_plain(file);

    bytes bad_crc = compressed;
    bad_crc[bad_crc.size() - 8] ^= 0xffU;
    write_plain(file, bad_crc);
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_labels(file); }),
                   "corrupt gzip stream: incorrect data check"));

    bytes bad_method = compressed;
    bad_method[2] = 0x07;  // compression method other than deflate
    write_plain(file, bad_method);
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_labels(file); }), "corrupt gzip stream"));

    bytes garbage = compressed;
    garbage.insert(garbage.end(), {'j', 'u', 'n', 'k'});
    write_plain(file, garbage);
    CHECK(contains(error_of(file, [&] { (void)teleport::io::read_idx_labels(file); }),
                   "data that is not gzip follows the end of the compressed stream"));
}

TEST_CASE("IDX: trailing data after the declared content", "[idx]") {
    const temp_dir dir;
    bytes images = image_file(3, 2, 2);
    images.insert(images.end(), {1, 2, 3});
    const auto plain = dir / "images";
    write_plain(plain, images);
    CHECK(contains(error_of(plain, [&] { (void)teleport::io::read_idx_images(plain); }),
                   ": has 3 bytes of trailing data after the 3 images of 2x2 pixels the header declares"));

    bytes labels = label_file({1, 2});
    labels.push_back(0);
    const auto gz = dir / "labels.gz";
    write_gzip(gz, labels);
    CHECK(contains(error_of(gz, [&] { (void)teleport::io::read_idx_labels(gz); }),
                   ": the decompressed data has 1 byte of trailing data after the 2 labels"));
}

TEST_CASE("MNIST loader: file checks", "[idx]") {
    SECTION("no files") {
        const temp_dir dir;
        const std::string message =
            error_of(dir.path(), [&] { (void)teleport::problems::load_mnist<double>(dir.path(), 1); });
        CHECK(contains(message, "neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte exists"));
        const auto absent = dir / "absent";
        CHECK(contains(error_of(absent, [&] { (void)teleport::problems::load_mnist<double>(absent, 1); }),
                       "the directory does not exist"));
    }
    SECTION("image and label counts differ") {
        const temp_dir dir;
        write_mnist(dir, 10, labels_up_to(9));
        const auto images = dir / "train-images-idx3-ubyte.gz";
        CHECK(error_of(images, [&] { (void)teleport::problems::load_mnist<double>(dir.path(), 1); }) ==
              images.string() + ": holds 10 images but " + (dir / "train-labels-idx1-ubyte.gz").string() +
                  " holds 9 labels");
    }
    SECTION("a label above 9") {
        const temp_dir dir;
        bytes labels = labels_up_to(10);
        labels[6] = 12;
        write_mnist(dir, 10, labels, false);
        const auto file = dir / "train-labels-idx1-ubyte";
        CHECK(contains(error_of(file, [&] { (void)teleport::problems::load_mnist<double>(dir.path(), 1); }),
                       ": label 12 at index 6 is above 9"));
        // The raw reader does not judge values.
        CHECK(teleport::io::read_idx_labels(file)[6] == 12);
    }
    SECTION("the .gz file is preferred when both exist") {
        const temp_dir dir;
        write_mnist(dir, 10, labels_up_to(10), true);
        write_plain(dir / "train-images-idx3-ubyte", {'b', 'a', 'd'});
        write_plain(dir / "train-labels-idx1-ubyte", {'b', 'a', 'd'});
        CHECK(teleport::problems::load_mnist<double>(dir.path(), 1).train_y.size() == 8);
    }
    SECTION("empty parts") {
        const temp_dir dir;
        write_mnist(dir, 10, labels_up_to(10));
        CHECK_THROWS_AS(teleport::problems::load_mnist<double>(dir.path(), 1, 0.8, 1), std::invalid_argument);
        CHECK_THROWS_AS(teleport::problems::load_mnist<double>(dir.path(), 1, 0.99), std::invalid_argument);
        CHECK_THROWS_AS(teleport::problems::load_mnist<double>(dir.path(), 1, 0.0), std::invalid_argument);
        CHECK_THROWS_AS(teleport::problems::load_mnist<double>(dir.path(), 1, 1.0), std::invalid_argument);
    }
}

TEST_CASE("MNIST loader: split, shuffle, scaling and column layout", "[idx]") {
    const temp_dir dir;
    write_mnist(dir, 10, labels_up_to(10));
    const auto split = teleport::problems::load_mnist<double>(dir.path(), 42);

    CHECK(split.rows == 2);
    CHECK(split.cols == 3);
    REQUIRE(split.train_x.shape(0) == 6);
    REQUIRE(split.train_x.shape(1) == 8);
    REQUIRE(split.valid_x.shape(0) == 6);
    REQUIRE(split.valid_x.shape(1) == 2);
    REQUIRE(split.train_y.size() == 8);
    REQUIRE(split.valid_y.size() == 2);

    // Labels are the sample indices, so every column can be checked against its sample.
    std::vector<std::size_t> order;
    const auto check_columns = [&](const xt::xtensor<double, 2>& x, const bytes& y) {
        for (std::size_t k = 0; k < y.size(); ++k) {
            const std::size_t sample = y[k];
            CHECK(sample_in_column(x, k) == sample);
            for (std::size_t p = 0; p < 6; ++p) CHECK(x(p, k) == static_cast<double>(pixel_value(sample, p)) / 255.0);
            order.push_back(sample);
        }
    };
    check_columns(split.train_x, split.train_y);
    check_columns(split.valid_x, split.valid_y);
    CHECK(std::set<std::size_t>(order.begin(), order.end()).size() == 10);

    // Pixel 255 becomes exactly 1, pixel 0 exactly 0; everything lies in [0, 1].
    CHECK(std::find(order.begin(), order.end(), std::size_t{0}) != order.end());
    const auto column_of_zero = std::find(split.train_y.begin(), split.train_y.end(), 0);
    if (column_of_zero != split.train_y.end())
        CHECK(split.train_x(0, static_cast<std::size_t>(column_of_zero - split.train_y.begin())) == 1.0);
    else
        CHECK(split.valid_x(0, static_cast<std::size_t>(std::find(split.valid_y.begin(), split.valid_y.end(), 0) -
                                                         split.valid_y.begin())) == 1.0);
    CHECK(xt::amin(split.train_x)() >= 0.0);
    CHECK(xt::amax(split.train_x)() <= 1.0);

    // The same seed gives the same order, another seed another order.
    const auto again = teleport::problems::load_mnist<double>(dir.path(), 42);
    CHECK(again.train_y == split.train_y);
    CHECK(again.valid_y == split.valid_y);
    CHECK(again.train_x == split.train_x);
    const auto other = teleport::problems::load_mnist<double>(dir.path(), 43);
    CHECK((other.train_y != split.train_y || other.valid_y != split.valid_y));
    CHECK(teleport::problems::mnist_permutation(1000, 7) == teleport::problems::mnist_permutation(1000, 7));
    CHECK(teleport::problems::mnist_permutation(1000, 7) != teleport::problems::mnist_permutation(1000, 8));

    // float works the same; limit keeps the first samples only.
    const auto limited = teleport::problems::load_mnist<float>(dir.path(), 42, 0.8, 5);
    CHECK(limited.train_x.shape(1) == 4);
    CHECK(limited.valid_x.shape(1) == 1);
    for (const auto label : limited.train_y) CHECK(label < 5);
    CHECK(limited.valid_y[0] < 5);
    const auto half = teleport::problems::load_mnist<float>(dir.path(), 42, 0.5);
    CHECK(half.train_x.shape(1) == 5);
    CHECK(half.valid_x.shape(1) == 5);
}

TEST_CASE("MNIST loader: test set and one-hot labels", "[idx]") {
    const temp_dir dir;
    write_mnist(dir, 4, {7, 0, 9, 3}, false, "t10k");
    const auto test = teleport::problems::load_mnist_test<double>(dir.path());
    REQUIRE(test.x.shape(0) == 6);
    REQUIRE(test.x.shape(1) == 4);
    CHECK(test.y == bytes{7, 0, 9, 3});
    for (std::size_t k = 0; k < 4; ++k) CHECK(sample_in_column(test.x, k) == k);
    CHECK(teleport::problems::load_mnist_test<double>(dir.path(), 2).x.shape(1) == 2);

    const auto y = teleport::problems::one_hot<double>(test.y);
    REQUIRE(y.shape(0) == 10);
    REQUIRE(y.shape(1) == 4);
    for (std::size_t k = 0; k < 4; ++k)
        for (std::size_t c = 0; c < 10; ++c) CHECK(y(c, k) == (c == test.y[k] ? 1.0 : 0.0));
    CHECK(teleport::problems::one_hot<float>(test.y, 12).shape(0) == 12);
    CHECK_THROWS_AS(teleport::problems::one_hot<float>(test.y, 8), std::invalid_argument);
}

TEST_CASE("MNIST loader: the installed data set", "[idx]") {
    const fs::path dir = teleport::problems::default_mnist_dir;
    if (!fs::is_directory(dir)) {
        WARN("skipped: " << dir << " does not exist (install dataset-fashion-mnist)");
        return;
    }
    const auto split = teleport::problems::load_mnist<double>(dir, 1, 0.8, 1000);
    CHECK(split.rows == 28);
    CHECK(split.cols == 28);
    CHECK(split.train_x.shape(0) == 784);
    CHECK(split.train_x.shape(1) == 800);
    CHECK(split.valid_x.shape(0) == 784);
    CHECK(split.valid_x.shape(1) == 200);
    CHECK(split.train_y.size() == 800);
    CHECK(split.valid_y.size() == 200);
    CHECK(std::all_of(split.train_y.begin(), split.train_y.end(), [](std::uint8_t label) { return label <= 9; }));
    CHECK(std::all_of(split.valid_y.begin(), split.valid_y.end(), [](std::uint8_t label) { return label <= 9; }));
    CHECK(xt::amin(split.train_x)() >= 0.0);
    CHECK(xt::amax(split.train_x)() <= 1.0);
}
