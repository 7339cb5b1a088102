// teleport/io/idx.hpp — a strict reader for IDX files (the MNIST format), plain or gzip-compressed.
//
// An IDX file is a big-endian header (magic 00 00 <type> <dimensions>, then one 32-bit count per
// dimension) followed by the values. Only the two kinds MNIST uses are read: unsigned-byte images
// (magic 0x00000803: count, rows, columns) and unsigned-byte labels (magic 0x00000801: count).
// Compression is recognised by the gzip magic bytes 1f 8b, never by the file name. Everything that
// is wrong with a file — missing, unreadable, not IDX, wrong kind, empty or absurd header,
// truncated, corrupt compressed stream, data after the declared content — is reported as an
// idx_error whose one-line message starts with the file name.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <zlib.h>

namespace teleport::io {

/// Any problem with an IDX file; what() is one line that starts with the file name.
class idx_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Magic numbers of the two IDX kinds MNIST uses.
inline constexpr std::uint32_t idx_images_magic = 0x00000803;
inline constexpr std::uint32_t idx_labels_magic = 0x00000801;

/// No IDX payload may declare more bytes than this (16 GiB): larger headers are corrupt.
inline constexpr std::uint64_t idx_max_payload_bytes = std::uint64_t{1} << 34;

/// n images of rows × cols unsigned-byte pixels, image after image, each row-major.
struct idx_images {
    std::size_t n = 0;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<std::uint8_t> pixels;

    [[nodiscard]] std::size_t pixels_per_image() const noexcept { return rows * cols; }
    /// The pixels of image k (row-major), k < n.
    [[nodiscard]] std::span<const std::uint8_t> image(std::size_t k) const {
        return std::span<const std::uint8_t>(pixels).subspan(k * pixels_per_image(), pixels_per_image());
    }
};

namespace detail {

inline std::string idx_hex32(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
    return text;
}

inline std::string idx_hex_bytes(std::span<const std::uint8_t> bytes) {
    std::string text;
    for (const std::uint8_t b : bytes) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned>(b));
        if (!text.empty()) text += ' ';
        text += hex;
    }
    return text;
}

/// "a label file", "an image file" or a description of any other IDX magic number.
inline std::string idx_describe_magic(std::uint32_t magic) {
    if (magic == idx_labels_magic) return "a label file";
    if (magic == idx_images_magic) return "an image file";
    const unsigned type = (magic >> 8) & 0xffU;
    const unsigned dims = magic & 0xffU;
    std::string type_name;
    switch (type) {
        case 0x08: type_name = "unsigned bytes"; break;
        case 0x09: type_name = "signed bytes"; break;
        case 0x0b: type_name = "16-bit integers"; break;
        case 0x0c: type_name = "32-bit integers"; break;
        case 0x0d: type_name = "32-bit floats"; break;
        case 0x0e: type_name = "64-bit floats"; break;
        default: {
            char text[48];
            std::snprintf(text, sizeof text, "values of unknown type code 0x%02x", type);
            type_name = text;
        }
    }
    return "an IDX file of " + type_name + " with " + std::to_string(dims) + " dimension" + (dims == 1 ? "" : "s");
}

/// The bytes of an IDX file, decompressed if the file starts with the gzip magic.
/// read() returns fewer bytes than asked only at the end of the data.
class idx_source {
public:
    explicit idx_source(const std::filesystem::path& path) : name_(path.string()), in_(buffer_size) {
        std::error_code ec;
        const auto status = std::filesystem::status(path, ec);
        if (!std::filesystem::exists(status)) {
            if (ec && ec != std::errc::no_such_file_or_directory) fail("cannot be accessed: " + ec.message());
            fail("does not exist");
        }
        if (std::filesystem::is_directory(status)) fail("is a directory, not an IDX file");
        // a FIFO, socket or device would block the open or the read (a FIFO with no writer forever)
        if (!std::filesystem::is_regular_file(status)) fail("is not a regular file");
        errno = 0;
        file_.reset(std::fopen(path.c_str(), "rb"));
        if (file_ == nullptr) fail(std::string("cannot be opened: ") + std::strerror(errno));
        ensure_input(2);
        if (in_end_ - in_pos_ >= 2 && in_[in_pos_] == 0x1f && in_[in_pos_ + 1] == 0x8b) {
            gzip_ = true;
            if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw std::bad_alloc();
            zs_initialised_ = true;
        }
    }

    idx_source(const idx_source&) = delete;
    idx_source& operator=(const idx_source&) = delete;

    ~idx_source() {
        if (zs_initialised_) inflateEnd(&zs_);
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] bool compressed() const noexcept { return gzip_; }
    /// True once a gzip stream has run out of input before its end marker.
    [[nodiscard]] bool stream_truncated() const noexcept { return truncated_; }

    [[noreturn]] void fail(const std::string& what) const { throw idx_error(name_ + ": " + what); }

    std::size_t read(std::uint8_t* out, std::size_t count) {
        return gzip_ ? read_gzip(out, count) : read_plain(out, count);
    }

private:
    static constexpr std::size_t buffer_size = std::size_t{1} << 16;

    /// Moves unread input to the front and reads until at least `want` bytes are buffered or the
    /// file ends.
    void ensure_input(std::size_t want) {
        if (in_end_ - in_pos_ >= want || file_eof_) return;
        std::memmove(in_.data(), in_.data() + in_pos_, in_end_ - in_pos_);
        in_end_ -= in_pos_;
        in_pos_ = 0;
        while (in_end_ < want && !file_eof_) {
            const std::size_t room = in_.size() - in_end_;
            const std::size_t got = std::fread(in_.data() + in_end_, 1, room, file_.get());
            in_end_ += got;
            if (got < room) at_short_read();
        }
    }

    /// fread returns fewer bytes than asked only at the end of the file or on an error.
    void at_short_read() {
        if (std::ferror(file_.get()) != 0) fail(std::string("read error: ") + std::strerror(errno));
        file_eof_ = true;
    }

    std::size_t read_plain(std::uint8_t* out, std::size_t count) {
        const std::size_t buffered = std::min(count, in_end_ - in_pos_);
        std::memcpy(out, in_.data() + in_pos_, buffered);
        in_pos_ += buffered;
        std::size_t got = buffered;
        while (got < count && !file_eof_) {
            got += std::fread(out + got, 1, count - got, file_.get());
            if (got < count) at_short_read();
        }
        return got;
    }

    std::size_t read_gzip(std::uint8_t* out, std::size_t count) {
        std::size_t got = 0;
        while (got < count && !stream_done_) {
            if (in_pos_ == in_end_) {
                ensure_input(1);
                if (in_pos_ == in_end_) {  // the file ends inside the compressed stream
                    truncated_ = true;
                    stream_done_ = true;
                    break;
                }
            }
            const std::size_t out_room = std::min<std::size_t>(count - got, UINT_MAX);
            zs_.next_in = in_.data() + in_pos_;
            zs_.avail_in = static_cast<uInt>(in_end_ - in_pos_);
            zs_.next_out = out + got;
            zs_.avail_out = static_cast<uInt>(out_room);
            const int status = inflate(&zs_, Z_NO_FLUSH);
            in_pos_ = static_cast<std::size_t>(zs_.next_in - in_.data());
            got += out_room - zs_.avail_out;
            if (status == Z_STREAM_END) {
                next_member();
            } else if (status == Z_DATA_ERROR) {
                fail(std::string("corrupt gzip stream: ") + (zs_.msg != nullptr ? zs_.msg : "invalid compressed data"));
            } else if (status == Z_MEM_ERROR) {
                throw std::bad_alloc();
            } else if (status != Z_OK && status != Z_BUF_ERROR) {
                fail("zlib error " + std::to_string(status) + " while decompressing");
            }
        }
        return got;
    }

    /// After the end of a gzip member: another member may follow (as `cat a.gz b.gz` makes);
    /// anything else after the compressed stream is an error.
    void next_member() {
        ensure_input(2);
        const std::size_t left = in_end_ - in_pos_;
        if (left == 0) {
            stream_done_ = true;
        } else if (left >= 2 && in_[in_pos_] == 0x1f && in_[in_pos_ + 1] == 0x8b) {
            inflateReset(&zs_);
        } else {
            fail("corrupt gzip file: data that is not gzip follows the end of the compressed stream");
        }
    }

    struct file_closer {
        void operator()(std::FILE* file) const noexcept { std::fclose(file); }
    };

    std::string name_;
    std::unique_ptr<std::FILE, file_closer> file_;
    std::vector<std::uint8_t> in_;
    std::size_t in_pos_ = 0;
    std::size_t in_end_ = 0;
    bool file_eof_ = false;
    bool gzip_ = false;
    z_stream zs_{};
    bool zs_initialised_ = false;
    bool stream_done_ = false;
    bool truncated_ = false;
};

/// "the gzip stream is truncated: " when the short read came from a truncated gzip file.
inline std::string idx_truncation_prefix(const idx_source& source) {
    return source.stream_truncated() ? "the gzip stream is truncated: " : "";
}

/// Reads the magic number and checks it; `kind` names the expected kind of file.
inline void idx_read_magic(idx_source& source, std::uint32_t expected, const char* kind) {
    std::array<std::uint8_t, 4> bytes{};
    const std::size_t got = source.read(bytes.data(), bytes.size());
    const auto seen = std::span<const std::uint8_t>(bytes).first(got);
    const std::string where = source.compressed() ? "the decompressed data" : "the file";
    if (got > 0 && (bytes[0] != 0 || (got > 1 && bytes[1] != 0))) {
        if (source.compressed())
            source.fail("is gzip-compressed but does not hold an IDX file: the data starts with bytes " +
                        idx_hex_bytes(seen) + ", IDX data starts with 00 00");
        source.fail("is neither gzip-compressed nor an IDX file: it starts with bytes " + idx_hex_bytes(seen) +
                    " (gzip starts with 1f 8b, IDX with 00 00)");
    }
    if (got == 0) {
        if (source.stream_truncated()) source.fail("the gzip stream is truncated: it ends before any data");
        source.fail(source.compressed() ? "is gzip-compressed but decompresses to nothing" : "is empty");
    }
    if (got < 4)
        source.fail(idx_truncation_prefix(source) + where + " ends after " + std::to_string(got) +
                    " of the 4 bytes of the IDX magic number");
    const std::uint32_t magic = (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
                                (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
    if (magic != expected)
        source.fail("bad magic number " + idx_hex32(magic) + ", expected " + idx_hex32(expected) + ": this is " +
                    idx_describe_magic(magic) + ", " + kind + " was expected");
}

/// Reads `count` big-endian 32-bit header fields after the magic number.
template <std::size_t Count>
std::array<std::uint32_t, Count> idx_read_dimensions(idx_source& source) {
    std::array<std::uint8_t, 4 * Count> bytes{};
    const std::size_t got = source.read(bytes.data(), bytes.size());
    if (got < bytes.size())
        source.fail(idx_truncation_prefix(source) + "the header ends after " + std::to_string(4 + got) + " of " +
                    std::to_string(4 + bytes.size()) + " bytes");
    std::array<std::uint32_t, Count> fields{};
    for (std::size_t i = 0; i < Count; ++i)
        fields[i] = (std::uint32_t{bytes[4 * i]} << 24) | (std::uint32_t{bytes[4 * i + 1]} << 16) |
                    (std::uint32_t{bytes[4 * i + 2]} << 8) | std::uint32_t{bytes[4 * i + 3]};
    return fields;
}

/// Reads up to `total` bytes in chunks, so that a header declaring more data than the file
/// holds never causes a large allocation. Returns fewer bytes only if the data ends early.
inline std::vector<std::uint8_t> idx_read_payload(idx_source& source, std::uint64_t total) {
    constexpr std::uint64_t initial_reserve = std::uint64_t{1} << 26;  // 64 MiB: all of MNIST at once
    constexpr std::uint64_t chunk = std::uint64_t{1} << 24;
    std::vector<std::uint8_t> data;
    data.reserve(static_cast<std::size_t>(std::min(total, initial_reserve)));
    while (data.size() < total) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(total - data.size(), chunk));
        const std::size_t old_size = data.size();
        data.resize(old_size + want);
        const std::size_t got = source.read(data.data() + old_size, want);
        if (got < want) {
            data.resize(old_size + got);
            break;
        }
    }
    return data;
}

/// Reads to the end of the data and fails if anything follows the declared content. For gzip
/// files this also runs the stream to its end marker, so the CRC and length are checked.
inline void idx_expect_end(idx_source& source, const std::string& declared) {
    std::vector<std::uint8_t> scratch(std::size_t{1} << 16);
    std::uint64_t extra = 0;
    for (;;) {
        const std::size_t got = source.read(scratch.data(), scratch.size());
        extra += got;
        if (got < scratch.size()) break;
    }
    if (extra > 0)
        source.fail(std::string(source.compressed() ? "the decompressed data has " : "has ") + std::to_string(extra) +
                    " byte" + (extra == 1 ? "" : "s") + " of trailing data after the " + declared +
                    " the header declares");
    if (source.stream_truncated())
        source.fail("the gzip stream is truncated: all " + declared +
                    " were read but the compressed stream ends before its end marker");
}

}  // namespace detail

/// Reads an IDX image file (magic 0x00000803), plain or gzip-compressed.
inline idx_images read_idx_images(const std::filesystem::path& path) {
    detail::idx_source source(path);
    detail::idx_read_magic(source, idx_images_magic, "an image file");
    const auto [n, rows, cols] = detail::idx_read_dimensions<3>(source);
    if (n == 0) source.fail("the header declares 0 images");
    if (rows == 0 || cols == 0)
        source.fail("the header declares images of " + std::to_string(rows) + "x" + std::to_string(cols) + " pixels");
    const std::uint64_t per_image = std::uint64_t{rows} * cols;  // < 2^64: both factors < 2^32
    if (per_image > idx_max_payload_bytes / n)
        source.fail("the header declares " + std::to_string(n) + " images of " + std::to_string(rows) + "x" +
                    std::to_string(cols) + " pixels, more than the " + std::to_string(idx_max_payload_bytes) +
                    " bytes any IDX file may hold");
    const std::uint64_t total = per_image * n;
    idx_images images;
    images.n = n;
    images.rows = rows;
    images.cols = cols;
    images.pixels = detail::idx_read_payload(source, total);
    if (images.pixels.size() < total)
        source.fail(detail::idx_truncation_prefix(source) + "holds " +
                    std::to_string(images.pixels.size() / per_image) + " of " + std::to_string(n) +
                    " images (the pixel data ends after " + std::to_string(images.pixels.size()) + " of " +
                    std::to_string(total) + " bytes)");
    detail::idx_expect_end(source, std::to_string(n) + " images of " + std::to_string(rows) + "x" +
                                       std::to_string(cols) + " pixels");
    return images;
}

/// Reads an IDX label file (magic 0x00000801), plain or gzip-compressed. Values are not
/// range-checked here.
inline std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path) {
    detail::idx_source source(path);
    detail::idx_read_magic(source, idx_labels_magic, "a label file");
    const auto [n] = detail::idx_read_dimensions<1>(source);
    if (n == 0) source.fail("the header declares 0 labels");
    std::vector<std::uint8_t> labels = detail::idx_read_payload(source, n);
    if (labels.size() < n)
        source.fail(detail::idx_truncation_prefix(source) + "holds " + std::to_string(labels.size()) + " of " +
                    std::to_string(n) + " labels");
    detail::idx_expect_end(source, std::to_string(n) + " labels");
    return labels;
}

}  // namespace teleport::io
