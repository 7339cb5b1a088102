// NumPy .npy files holding float32 or float64 matrices and vectors.
//
//     auto w = teleport::io::load_npy_matrix<double>("w.npy", {{784, 10}});
//     auto b = teleport::io::load_npy_vector<float>("b.npy", 10);
//     teleport::io::save_npy("w_out.npy", w);
//
// Reading accepts format versions 1.0, 2.0 and 3.0 whose header is a dict with exactly the keys
// 'descr', 'fortran_order' (True or False) and 'shape' (a tuple of integers). The dtype must be
// '<f4', '<f8', '>f4' or '>f8' ('=', '|' or no byte-order mark means host order); values are
// converted to the requested type. A matrix comes from a 2-D shape, or from a 1-D shape (n,) when
// the expected shape is n×1 or 1×n (the result then has the expected shape); a vector comes from
// (n,), (n, 1) or (1, n). The data must fill the rest of the file exactly, no dimension may be
// zero, and every value must be finite and within the range of the requested type. Anything else
// throws npy_error, whose what() is one line starting with the file name; the size given by the
// header is checked against the file size before anything is allocated.
//
// Writing produces version 1.0, '<f4' or '<f8', C order, the header padded with spaces and a
// final '\n' to a multiple of 64 bytes exactly as numpy.save does. The bytes go to `file`.tmp,
// which is then renamed over `file`, so `file` is only ever replaced by a complete array.
// Values are written as they are: a non-finite value is saved, but load_npy_* will refuse it.
// npy_files stores a checkpoint's parameter vectors (train/checkpoint.hpp) as such files.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "teleport/train/files.hpp"

namespace teleport::io {

/// Every failure to read or write a .npy file; what() is one line starting with the file name.
class npy_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The element types .npy files are read into and written from.
template <class T>
concept npy_float = std::same_as<T, float> || std::same_as<T, double>;

namespace npy_detail {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "npy.hpp needs a little-endian or big-endian host");
static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4 &&
                  std::numeric_limits<double>::is_iec559 && sizeof(double) == 8,
              "npy.hpp needs IEEE 754 float and double");
static_assert(xt::xtensor<float, 2>::static_layout == xt::layout_type::row_major,
              "npy.hpp needs xtensor's default layout to be row-major");

inline constexpr std::array<unsigned char, 6> magic{0x93, 'N', 'U', 'M', 'P', 'Y'};
// Far above anything a header describing a float array needs; bounds what a hostile file makes us read.
inline constexpr std::uintmax_t max_header_length = std::uintmax_t{1} << 20;
inline constexpr std::size_t array_align = 64;         // numpy's ARRAY_ALIGN
inline constexpr std::size_t growth_axis_digits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS
inline constexpr std::size_t chunk_values = std::size_t{1} << 16;

/// `s` with control and non-ASCII bytes as \xNN, cut to `limit` characters: safe inside a one-line message.
inline std::string printable(std::string_view s, std::size_t limit = 60)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char c : s) {
        if (out.size() >= limit) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    return out;
}

[[noreturn]] inline void fail(const std::filesystem::path& file, const std::string& what)
{
    throw npy_error(printable(file.string(), std::numeric_limits<std::size_t>::max()) + ": " + what);
}

inline std::string errno_text(int err)
{
    return err != 0 ? std::generic_category().message(err) : std::string("unknown error");
}

/// "6x5" for a matrix, "(7,)" for a 1-D shape, "()" for a scalar.
template <class Shape>
std::string shape_text(const Shape& shape)
{
    std::string out;
    if (shape.size() < 2) {
        // Appending rather than "(" + ... avoids a spurious -Wrestrict from GCC 12.
        out += '(';
        if (shape.size() == 1) out.append(std::to_string(shape[0])).append(",");
        out += ')';
        return out;
    }
    for (std::size_t k = 0; k < shape.size(); ++k) {
        if (k != 0) out += 'x';
        out += std::to_string(shape[k]);
    }
    return out;
}

/// The shortest text that reads back as `v`: "0.1", "1e+300", "nan", "-inf".
template <class S>
std::string value_text(S v)
{
    std::array<char, 64> buffer{};
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
    return ec == std::errc() ? std::string(buffer.data(), end) : std::string("?");
}

template <class S>
void byteswap_in_place(S* values, std::size_t count) noexcept
{
    for (std::size_t k = 0; k < count; ++k) {
        std::array<unsigned char, sizeof(S)> bytes;
        std::memcpy(bytes.data(), values + k, sizeof(S));
        for (std::size_t b = 0; b < sizeof(S) / 2; ++b) std::swap(bytes[b], bytes[sizeof(S) - 1 - b]);
        std::memcpy(values + k, bytes.data(), sizeof(S));
    }
}

/// What the header says, checked: a supported dtype, plausible sizes.
struct header {
    std::string descr;
    std::size_t item_size = 0;  // 4 or 8
    bool swap = false;          // file byte order differs from the host's
    bool fortran_order = false;
    std::vector<std::size_t> shape;
};

/// A tiny parser for the Python literal numpy writes: {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
class dict_parser {
public:
    dict_parser(const std::filesystem::path& file, std::string_view text) : file_(file), text_(text) {}

    header parse()
    {
        header h;
        bool have_descr = false;
        bool have_order = false;
        bool have_shape = false;
        skip_space();
        if (at_end()) malformed("the header is empty");
        if (peek() != '{') malformed("it does not start with '{'");
        ++pos_;
        skip_space();
        while (!at_end() && peek() != '}') {
            const std::string key = parse_string("a key");
            skip_space();
            if (at_end() || peek() != ':') malformed("':' expected after key '" + printable(key) + "'");
            ++pos_;
            skip_space();
            if (key == "descr") {
                if (have_descr) malformed("duplicate key 'descr'");
                have_descr = true;
                if (!at_end() && peek() == '[') {
                    const std::size_t end = text_.find(']', pos_);
                    const std::size_t length = end == std::string_view::npos ? std::string_view::npos : end + 1 - pos_;
                    fail(file_, "structured dtype " + printable(text_.substr(pos_, length)) +
                                    " is not supported; only '<f4', '<f8', '>f4' and '>f8' are accepted");
                }
                h.descr = parse_string("the value of 'descr'");
            } else if (key == "fortran_order") {
                if (have_order) malformed("duplicate key 'fortran_order'");
                have_order = true;
                h.fortran_order = parse_bool();
            } else if (key == "shape") {
                if (have_shape) malformed("duplicate key 'shape'");
                have_shape = true;
                h.shape = parse_shape();
            } else {
                malformed("unexpected key '" + printable(key) + "'");
            }
            skip_space();
            if (at_end()) malformed("'}' missing");
            if (peek() == ',') {
                ++pos_;
                skip_space();
            } else if (peek() != '}') {
                malformed("',' or '}' expected after the value of '" + key + "'");
            }
        }
        if (at_end()) malformed("'}' missing");
        ++pos_;
        skip_space();
        if (!at_end()) {
            std::string_view rest = text_.substr(pos_);
            rest.remove_suffix(rest.size() - 1 - rest.find_last_not_of(" \t\n\r\f\v"));
            malformed("unexpected text after '}': '" + printable(rest) + "'");
        }
        if (!have_descr) malformed("missing the 'descr' key");
        if (!have_order) malformed("missing the 'fortran_order' key");
        if (!have_shape) malformed("missing the 'shape' key");
        return h;
    }

private:
    [[noreturn]] void malformed(const std::string& why) const { fail(file_, "malformed header dict: " + why); }

    [[nodiscard]] bool at_end() const noexcept { return pos_ >= text_.size(); }
    [[nodiscard]] char peek() const noexcept { return text_[pos_]; }

    void skip_space() noexcept
    {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r' ||
                             peek() == '\f' || peek() == '\v'))
            ++pos_;
    }

    std::string parse_string(const std::string& what)
    {
        if (at_end() || (peek() != '\'' && peek() != '"')) {
            malformed(what + " is not a quoted string" +
                      (at_end() ? std::string() : ": '" + printable(text_.substr(pos_), 20) + "'"));
        }
        const char quote = peek();
        const std::size_t start = ++pos_;
        while (!at_end() && peek() != quote) {
            if (peek() == '\\' || peek() == '\n') malformed(what + " holds an escape or a line break");
            ++pos_;
        }
        if (at_end()) malformed(what + " is an unterminated string");
        const std::string s(text_.substr(start, pos_ - start));
        ++pos_;
        return s;
    }

    bool parse_bool()
    {
        const std::string_view rest = text_.substr(pos_);
        const auto word_ends = [&](std::size_t n) {
            return rest.size() == n || !(std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_');
        };
        if (rest.starts_with("True") && word_ends(4)) {
            pos_ += 4;
            return true;
        }
        if (rest.starts_with("False") && word_ends(5)) {
            pos_ += 5;
            return false;
        }
        malformed("the value of 'fortran_order' is not True or False: '" + printable(rest, 20) + "'");
    }

    std::vector<std::size_t> parse_shape()
    {
        const std::size_t start = pos_;
        const auto unparsable = [&](const std::string& why) {
            std::size_t end = text_.find(')', start);
            end = end == std::string_view::npos ? text_.size() : end + 1;
            malformed("unparsable shape '" + printable(text_.substr(start, end - start), 40) + "': " + why);
        };
        if (at_end() || peek() != '(') unparsable("not a tuple");
        ++pos_;
        std::vector<std::size_t> shape;
        bool tuple = false;  // a single element needs a trailing comma to make a tuple
        skip_space();
        while (!at_end() && peek() != ')') {
            if (shape.size() >= 64) unparsable("too many dimensions");
            if (!std::isdigit(static_cast<unsigned char>(peek()))) unparsable("not a non-negative integer");
            std::size_t value = 0;
            while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) {
                const auto digit = static_cast<std::size_t>(peek() - '0');
                if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) unparsable("dimension too large");
                value = value * 10 + digit;
                ++pos_;
            }
            if (!at_end() && (peek() == 'L' || peek() == 'l')) ++pos_;  // Python 2 long
            shape.push_back(value);
            skip_space();
            if (at_end()) unparsable("')' missing");
            if (peek() == ',') {
                tuple = true;
                ++pos_;
                skip_space();
            } else if (peek() != ')') {
                unparsable("',' or ')' expected");
            }
        }
        if (at_end()) unparsable("')' missing");
        ++pos_;
        if (shape.size() == 1 && !tuple) unparsable("a parenthesized integer, not a tuple");
        return shape;
    }

    const std::filesystem::path& file_;
    std::string_view text_;
    std::size_t pos_ = 0;
};

/// An open .npy file positioned at its data, with its checked header.
struct source {
    std::ifstream in;
    header head;
    std::uintmax_t data_bytes = 0;  // bytes after the header
};

inline void read_exact(std::ifstream& in, const std::filesystem::path& file, char* to, std::uintmax_t bytes)
{
    in.read(to, static_cast<std::streamsize>(bytes));
    if (!in || static_cast<std::uintmax_t>(in.gcount()) != bytes)
        fail(file, "read error (the file changed while being read?)");
}

inline std::uintmax_t little_endian(const unsigned char* bytes, std::size_t n) noexcept
{
    std::uintmax_t v = 0;
    for (std::size_t k = n; k-- > 0;) v = (v << 8) | bytes[k];
    return v;
}

inline source open(const std::filesystem::path& file)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (status.type() == fs::file_type::not_found) fail(file, "cannot open: no such file");
    if (ec) fail(file, "cannot open: " + ec.message());
    if (status.type() == fs::file_type::directory) fail(file, "cannot read: it is a directory");
    if (status.type() != fs::file_type::regular) fail(file, "cannot read: not a regular file");
    const std::uintmax_t size = fs::file_size(file, ec);
    if (ec) fail(file, "cannot read its size: " + ec.message());

    source src;
    errno = 0;
    src.in.open(file, std::ios::binary);
    if (!src.in) fail(file, "cannot open for reading: " + errno_text(errno));

    std::array<unsigned char, 12> pre{};
    const std::size_t pre_size = static_cast<std::size_t>(std::min<std::uintmax_t>(size, pre.size()));
    read_exact(src.in, file, reinterpret_cast<char*>(pre.data()), pre_size);
    if (pre_size < magic.size()) {
        fail(file, "bad magic string: the file has only " + std::to_string(size) +
                       " bytes (a .npy file starts with \\x93NUMPY)");
    }
    if (!std::equal(magic.begin(), magic.end(), pre.begin())) {
        fail(file, "bad magic string '" +
                       printable(std::string_view(reinterpret_cast<const char*>(pre.data()), magic.size())) +
                       "' (a .npy file starts with \\x93NUMPY)");
    }
    if (pre_size < 8) {
        fail(file, "header length beyond the file: the file ends after " + std::to_string(size) +
                       " bytes, inside the format version");
    }
    const unsigned major = pre[6];
    const unsigned minor = pre[7];
    if (minor != 0 || major < 1 || major > 3) {
        fail(file, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " (1.0, 2.0 and 3.0 are accepted)");
    }
    const std::size_t length_size = major == 1 ? 2 : 4;
    const std::size_t preamble = 8 + length_size;
    if (pre_size < preamble) {
        fail(file, "header length beyond the file: the file ends after " + std::to_string(size) +
                       " bytes, inside the header length field");
    }
    const std::uintmax_t header_length = little_endian(pre.data() + 8, length_size);
    if (header_length > size - preamble) {
        fail(file, "header length " + std::to_string(header_length) + " goes beyond the end of the file (" +
                       std::to_string(size - preamble) + " bytes follow the preamble)");
    }
    if (header_length > max_header_length) {
        fail(file, "header length " + std::to_string(header_length) + " is implausibly large (more than " +
                       std::to_string(max_header_length) + " bytes)");
    }
    std::string text(static_cast<std::size_t>(header_length), '\0');
    // The preamble bytes already read past it belong to the header.
    src.in.seekg(static_cast<std::streamoff>(preamble));
    read_exact(src.in, file, text.data(), header_length);
    src.head = dict_parser(file, text).parse();
    src.data_bytes = size - preamble - header_length;

    header& h = src.head;
    std::string_view d = h.descr;
    char order = '=';
    if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '=' || d[0] == '|')) {
        order = d[0];
        d.remove_prefix(1);
    }
    if (d == "f4") {
        h.item_size = 4;
    } else if (d == "f8") {
        h.item_size = 8;
    } else {
        fail(file, "dtype '" + printable(h.descr) +
                       "' is not supported; only float32 and float64 ('<f4', '<f8', '>f4', '>f8') are accepted");
    }
    const bool file_big = order == '>' || ((order == '=' || order == '|') && std::endian::native == std::endian::big);
    h.swap = file_big != (std::endian::native == std::endian::big);
    return src;
}

/// Checks that the (zero-free) shape describes exactly the data bytes of the file; returns the value count.
inline std::size_t checked_count(const source& src, const std::filesystem::path& file)
{
    std::size_t count = 1;
    for (const std::size_t d : src.head.shape) {
        if (count > std::numeric_limits<std::size_t>::max() / d)
            fail(file, "shape " + shape_text(src.head.shape) + " is too large: its size overflows");
        count *= d;
    }
    if (count > std::numeric_limits<std::size_t>::max() / src.head.item_size)
        fail(file, "shape " + shape_text(src.head.shape) + " is too large: its size in bytes overflows");
    const std::uintmax_t bytes = std::uintmax_t{count} * src.head.item_size;
    if (src.data_bytes < bytes) {
        fail(file, "holds " + std::to_string(src.data_bytes) + " of " + std::to_string(bytes) +
                       " bytes of data (truncated file) for shape " + shape_text(src.head.shape) + " of '" +
                       printable(src.head.descr) + "'");
    }
    if (src.data_bytes > bytes) {
        fail(file, "has " + std::to_string(src.data_bytes - bytes) + " trailing bytes after the " +
                       std::to_string(bytes) + " bytes of data for shape " + shape_text(src.head.shape) + " of '" +
                       printable(src.head.descr) + "'");
    }
    return count;
}

inline void check_no_zero(const source& src, const std::filesystem::path& file)
{
    for (const std::size_t d : src.head.shape)
        if (d == 0) fail(file, "has a zero-size dimension (shape " + shape_text(src.head.shape) + ")");
}

inline std::string position(std::size_t i, std::size_t j, bool vector)
{
    return vector ? "at index " + std::to_string(i) + " (counting from 0)"
                  : "at row " + std::to_string(i) + ", column " + std::to_string(j) + " (counting from 0)";
}

template <class S, class T>
void check_value(S v, const std::filesystem::path& file, std::size_t i, std::size_t j, bool vector)
{
    if (!std::isfinite(v)) fail(file, "non-finite value " + value_text(v) + " " + position(i, j, vector));
    if constexpr (sizeof(S) > sizeof(T)) {
        if (std::fabs(v) > static_cast<S>(std::numeric_limits<T>::max()))
            fail(file, "value " + value_text(v) + " " + position(i, j, vector) + " is outside the range of float");
    }
}

/// Reads rows*cols values stored as S (C or Fortran order) into the row-major `out`.
template <class S, class T>
void read_values(source& src, const std::filesystem::path& file, std::size_t rows, std::size_t cols, T* out,
                 bool vector)
{
    const std::size_t count = rows * cols;
    const bool fortran = src.head.fortran_order && rows > 1 && cols > 1;
    if constexpr (std::is_same_v<S, T>) {
        if (!fortran) {
            read_exact(src.in, file, reinterpret_cast<char*>(out), std::uintmax_t{count} * sizeof(S));
            if (src.head.swap) byteswap_in_place(out, count);
            for (std::size_t k = 0; k < count; ++k) {
                if (!std::isfinite(out[k])) check_value<S, T>(out[k], file, vector ? k : k / cols, k % cols, vector);
            }
            return;
        }
    }
    std::vector<S> chunk(std::min(count, chunk_values));
    std::size_t i = 0;
    std::size_t j = 0;
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(chunk.size(), count - done);
        read_exact(src.in, file, reinterpret_cast<char*>(chunk.data()), std::uintmax_t{n} * sizeof(S));
        if (src.head.swap) byteswap_in_place(chunk.data(), n);
        for (std::size_t k = 0; k < n; ++k) {
            const S v = chunk[k];
            check_value<S, T>(v, file, vector ? done + k : i, j, vector);
            out[i * cols + j] = static_cast<T>(v);
            if (fortran) {
                if (++i == rows) {
                    i = 0;
                    ++j;
                }
            } else if (++j == cols) {
                j = 0;
                ++i;
            }
        }
        done += n;
    }
}

template <class T>
void read_into(source& src, const std::filesystem::path& file, std::size_t rows, std::size_t cols, T* out,
               bool vector)
{
    if (src.head.item_size == 4)
        read_values<float>(src, file, rows, cols, out, vector);
    else
        read_values<double>(src, file, rows, cols, out, vector);
}

template <class Container, class Shape>
Container allocate(const std::filesystem::path& file, const Shape& shape)
{
    try {
        return Container(shape);
    } catch (const std::bad_alloc&) {
        fail(file, "cannot allocate memory for shape " + shape_text(shape));
    }
}

template <npy_float T>
const char* descr() noexcept
{
    return sizeof(T) == 4 ? "<f4" : "<f8";
}

/// The version 1.0 preamble and header numpy.save writes for a C-order array of this shape.
template <npy_float T>
std::string preamble(const std::vector<std::size_t>& shape)
{
    std::string dict = std::string("{'descr': '") + descr<T>() + "', 'fortran_order': False, 'shape': (";
    for (std::size_t k = 0; k < shape.size(); ++k) {
        if (k != 0) dict += ", ";
        dict += std::to_string(shape[k]);
    }
    dict += shape.size() == 1 ? ",), }" : "), }";
    if (!shape.empty()) dict.append(growth_axis_digits - std::to_string(shape[0]).size(), ' ');
    const std::size_t unpadded = magic.size() + 2 + 2 + dict.size() + 1;
    dict.append(array_align - unpadded % array_align, ' ');
    dict += '\n';
    std::string out(magic.begin(), magic.end());
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(dict.size() & 0xff);
    out += static_cast<char>(dict.size() >> 8);
    return out + dict;
}

template <npy_float T>
void save(const std::filesystem::path& file, const std::vector<std::size_t>& shape, const T* data, std::size_t count)
{
    namespace fs = std::filesystem;
    const fs::path tmp = temporary_path(file);  // ".NAME.tmpPID", removed on an interrupt or as stale later
    const interrupt_cleanup_file cleanup(tmp);
    const auto give_up = [&](const std::string& why) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        fail(file, why);
    };
    {
        errno = 0;
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) give_up("cannot create " + printable(tmp.string(), 200) + ": " + errno_text(errno));
        const std::string head = preamble<T>(shape);
        out.write(head.data(), static_cast<std::streamsize>(head.size()));
        if constexpr (std::endian::native == std::endian::little) {
            out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
        } else {
            std::vector<T> chunk;
            for (std::size_t done = 0; done < count && out; done += chunk.size()) {
                chunk.assign(data + done, data + done + std::min(chunk_values, count - done));
                byteswap_in_place(chunk.data(), chunk.size());
                out.write(reinterpret_cast<const char*>(chunk.data()),
                          static_cast<std::streamsize>(chunk.size() * sizeof(T)));
            }
        }
        out.flush();
        out.close();
        if (!out) give_up("cannot write " + printable(tmp.string(), 200) + ": " + errno_text(errno));
    }
    std::error_code ec;
    fs::rename(tmp, file, ec);
    if (ec) give_up("cannot rename " + printable(tmp.string(), 200) + " to it: " + ec.message());
}

}  // namespace npy_detail

/// The 2-D array in `file`, converted to T; see the top of this file for what is accepted.
/// With `expected_shape`, any other shape is an error.
template <npy_float T>
xt::xtensor<T, 2> load_npy_matrix(const std::filesystem::path& file,
                                  std::optional<std::array<std::size_t, 2>> expected_shape = std::nullopt)
{
    using npy_detail::fail;
    using npy_detail::shape_text;
    npy_detail::source src = npy_detail::open(file);
    const std::vector<std::size_t>& shape = src.head.shape;
    if (shape.size() != 1 && shape.size() != 2) {
        fail(file, "has " + std::to_string(shape.size()) + " dimensions (shape " + shape_text(shape) +
                       ") but a matrix needs 2");
    }
    npy_detail::check_no_zero(src, file);
    std::array<std::size_t, 2> dims{};
    if (shape.size() == 2) {
        dims = {shape[0], shape[1]};
        if (expected_shape && *expected_shape != dims)
            fail(file, "has shape " + shape_text(dims) + " but " + shape_text(*expected_shape) + " is needed");
    } else {
        const std::size_t n = shape[0];
        if (!expected_shape) {
            fail(file, "has 1-D shape " + shape_text(shape) + "; reading it as a matrix needs an expected shape of " +
                           std::to_string(n) + "x1 or 1x" + std::to_string(n));
        }
        const std::array<std::size_t, 2> column{n, 1};
        const std::array<std::size_t, 2> row{1, n};
        if (*expected_shape != column && *expected_shape != row)
            fail(file, "has shape " + shape_text(shape) + " but " + shape_text(*expected_shape) + " is needed");
        dims = *expected_shape;
    }
    npy_detail::checked_count(src, file);
    auto result = npy_detail::allocate<xt::xtensor<T, 2>>(file, dims);
    npy_detail::read_into(src, file, dims[0], dims[1], result.data(), false);
    return result;
}

/// The 1-D array in `file` (shape (n,), (n, 1) or (1, n)), converted to T; see the top of this file.
/// With `expected_size`, any other length is an error.
template <npy_float T>
xt::xtensor<T, 1> load_npy_vector(const std::filesystem::path& file,
                                  std::optional<std::size_t> expected_size = std::nullopt)
{
    using npy_detail::fail;
    using npy_detail::shape_text;
    npy_detail::source src = npy_detail::open(file);
    const std::vector<std::size_t>& shape = src.head.shape;
    if (shape.size() != 1 && shape.size() != 2) {
        fail(file, "has " + std::to_string(shape.size()) + " dimensions (shape " + shape_text(shape) +
                       ") but a vector needs 1");
    }
    npy_detail::check_no_zero(src, file);
    if (shape.size() == 2 && shape[0] != 1 && shape[1] != 1)
        fail(file, "has shape " + shape_text(shape) + ", which is not a vector, nor a 1-row or 1-column matrix");
    const std::size_t n = shape.size() == 1 ? shape[0] : shape[0] * shape[1];
    if (expected_size && *expected_size != n) {
        fail(file, "has shape " + shape_text(shape) + " but " +
                       shape_text(std::array<std::size_t, 1>{*expected_size}) + " is needed");
    }
    npy_detail::checked_count(src, file);
    auto result = npy_detail::allocate<xt::xtensor<T, 1>>(file, std::array<std::size_t, 1>{n});
    npy_detail::read_into(src, file, n, 1, result.data(), true);
    return result;
}

/// Writes `a` to `file` as numpy.save would (version 1.0, C order), through `file`.tmp.
template <npy_float T>
void save_npy(const std::filesystem::path& file, const xt::xtensor<T, 2>& a)
{
    npy_detail::save(file, {a.shape(0), a.shape(1)}, a.data(), a.size());
}

/// Writes the vector `a` to `file` with shape (n,), as numpy.save would.
template <npy_float T>
void save_npy(const std::filesystem::path& file, const xt::xtensor<T, 1>& a)
{
    npy_detail::save(file, {a.shape(0)}, a.data(), a.size());
}

/// Parameter vectors as .npy files, the array files of a checkpoint (train/checkpoint.hpp,
/// array_files): save writes one with save_npy, load reads one of exactly n values back.
struct npy_files {
    template <class Vec>
    void save(const std::filesystem::path& file, const Vec& v) const
    {
        save_npy(file, v);
    }

    template <class Vec>
    Vec load(const std::filesystem::path& file, std::size_t n) const
    {
        return load_npy_vector<typename Vec::value_type>(file, n);
    }
};

}  // namespace teleport::io
