#include <catch2/catch.hpp>

// NumPy .npy reading and writing: round trips, the header variants numpy produces, and one test
// per kind of bad file. Files are crafted byte by byte, so numpy is not needed.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include <xtensor/xtensor.hpp>

#include "teleport/io/npy.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using teleport::io::load_npy_matrix;
using teleport::io::load_npy_vector;
using teleport::io::npy_error;
using teleport::io::save_npy;

namespace {

// A fresh directory under the system temporary directory, removed with everything in it.
class temp_dir {
public:
    temp_dir()
    {
        std::random_device random;
        for (;;) {
            path_ = fs::temp_directory_path() /
                    ("teleport-npy-test-" + std::to_string(random()) + "-" + std::to_string(random()));
            if (fs::create_directory(path_)) break;
        }
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir()
    {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    [[nodiscard]] fs::path operator/(std::string_view name) const { return path_ / name; }

private:
    fs::path path_;
};

template <class T>
std::string bytes_of(std::initializer_list<T> values, std::endian order)
{
    std::string out;
    for (const T v : values) {
        std::array<char, sizeof(T)> b;
        std::memcpy(b.data(), &v, sizeof(T));
        if (order != std::endian::native) std::reverse(b.begin(), b.end());
        out.append(b.data(), b.size());
    }
    return out;
}

template <class T>
std::string le(std::initializer_list<T> values)
{
    return bytes_of(values, std::endian::little);
}

template <class T>
std::string be(std::initializer_list<T> values)
{
    return bytes_of(values, std::endian::big);
}

// A .npy file: magic, version, header length, `dict` padded like numpy pads it, then `data`.
std::string npy_bytes(std::string_view dict, std::string_view data, unsigned major = 1, unsigned minor = 0)
{
    const std::size_t length_size = major == 1 ? 2 : 4;
    std::string header(dict);
    while ((8 + length_size + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMP";
    out += 'Y';
    out += static_cast<char>(major);
    out += static_cast<char>(minor);
    for (std::size_t k = 0; k < length_size; ++k) out += static_cast<char>((header.size() >> (8 * k)) & 0xff);
    return out + header + std::string(data);
}

void write_file(const fs::path& file, std::string_view bytes)
{
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string read_file(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The message of the npy_error `f` throws, checked to be one line starting with the file name.
template <class F>
std::string error_of(const fs::path& file, F&& f)
{
    std::string message = "<no npy_error was thrown>";
    try {
        f();
    } catch (const npy_error& e) {
        message = e.what();
    }
    INFO("message: " << message);
    CHECK_THAT(message, StartsWith(file.string() + ": "));
    CHECK(message.find('\n') == std::string::npos);
    return message;
}

// The message loading `bytes` as a double matrix gives.
std::string matrix_error(const temp_dir& dir, std::string_view bytes,
                         std::optional<std::array<std::size_t, 2>> expected = std::nullopt)
{
    const fs::path file = dir / "bad.npy";
    write_file(file, bytes);
    return error_of(file, [&] { (void)load_npy_matrix<double>(file, expected); });
}

// Same shape and the same values; Catch cannot decompose a comparison of xtensor arrays.
template <class A, class B>
bool same(const A& a, const B& b)
{
    return a.shape() == b.shape() && a == b;
}

constexpr std::string_view f8_2x3 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";

}  // namespace

/// True when a temporary file ("….tmp<PID>", teleport/train/files.hpp) is left in the folder.
static bool has_temporary(const temp_dir& dir)
{
    for (const auto& entry : fs::directory_iterator(dir / ""))
        if (entry.path().filename().string().find(".tmp") != std::string::npos) return true;
    return false;
}

TEST_CASE("npy round trip of double and float matrices", "[npy]")
{
    const temp_dir dir;
    const xt::xtensor<double, 2> d{{1.0, -2.5, 3.0e-300, 4.0},
                                   {std::numeric_limits<double>::max(), 0.1, -0.0, 7.0},
                                   {std::numeric_limits<double>::denorm_min(), 1e100, 2.0 / 3.0, -1.0}};
    save_npy(dir / "d.npy", d);
    const auto d_back = load_npy_matrix<double>(dir / "d.npy");
    CHECK(d_back.shape() == d.shape());
    CHECK(same(d_back, d));
    CHECK(same(load_npy_matrix<double>(dir / "d.npy", {{3, 4}}), d));
    CHECK(!has_temporary(dir));

    const xt::xtensor<float, 2> f{{1.5f, -2.0f}, {std::numeric_limits<float>::max(), 1.0f / 3.0f}, {0.0f, 5e-40f}};
    save_npy(dir / "f.npy", f);
    const auto f_back = load_npy_matrix<float>(dir / "f.npy", {{3, 2}});
    CHECK(f_back.shape() == f.shape());
    CHECK(same(f_back, f));
}

TEST_CASE("npy round trip of double and float vectors", "[npy]")
{
    const temp_dir dir;
    const xt::xtensor<double, 1> d{0.5, -1e-10, 3.0, 2.0 / 7.0, 1e300};
    save_npy(dir / "d.npy", d);
    CHECK(same(load_npy_vector<double>(dir / "d.npy"), d));
    CHECK(same(load_npy_vector<double>(dir / "d.npy", 5), d));

    const xt::xtensor<float, 1> f{0.25f, -8.0f, 1.0f / 3.0f};
    save_npy(dir / "f.npy", f);
    CHECK(same(load_npy_vector<float>(dir / "f.npy", 3), f));

    // A 1-D file read as a matrix when the caller asks for n×1 or 1×n.
    const auto column = load_npy_matrix<float>(dir / "f.npy", {{3, 1}});
    REQUIRE(column.shape(0) == 3);
    REQUIRE(column.shape(1) == 1);
    CHECK(column(2, 0) == f(2));
    const auto row = load_npy_matrix<float>(dir / "f.npy", {{1, 3}});
    REQUIRE(row.shape(0) == 1);
    REQUIRE(row.shape(1) == 3);
    CHECK(row(0, 1) == f(1));

    // A one-row or one-column matrix read as a vector.
    save_npy(dir / "row.npy", xt::xtensor<double, 2>{{1.0, 2.0, 3.0}});
    CHECK(same(load_npy_vector<double>(dir / "row.npy", 3), xt::xtensor<double, 1>{1.0, 2.0, 3.0}));
    save_npy(dir / "col.npy", xt::xtensor<double, 2>{{4.0}, {5.0}});
    CHECK(same(load_npy_vector<double>(dir / "col.npy"), xt::xtensor<double, 1>{4.0, 5.0}));
}

TEST_CASE("npy_files: a checkpoint's vectors read back bit for bit, of the size asked for only", "[npy]")
{
    const temp_dir dir;
    using doubles = xt::xtensor<double, 1>;
    using floats = xt::xtensor<float, 1>;
    const teleport::io::npy_files files;
    const doubles d{0.5, -1e-10, 2.0 / 7.0, std::nextafter(1.0, 2.0)};
    files.save(dir / "d.npy", d);
    CHECK(same(files.load<doubles>(dir / "d.npy", 4), d));
    const floats f{0.25f, 1.0f / 3.0f};
    files.save(dir / "f.npy", f);
    CHECK(same(files.load<floats>(dir / "f.npy", 2), f));
    CHECK_THROWS_AS(files.load<doubles>(dir / "d.npy", 3), npy_error);
    CHECK_THROWS_AS(files.load<doubles>(dir / "missing.npy", 4), npy_error);
}

TEST_CASE("npy writer produces numpy's exact bytes", "[npy]")
{
    const temp_dir dir;
    save_npy(dir / "m.npy", xt::xtensor<double, 2>{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}});
    const std::string m = read_file(dir / "m.npy");
    // numpy.save(np.arange(1., 13.).reshape(3, 4)): 21 - len('3') spaces of growth room, then padding.
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }" + std::string(20, ' ');
    dict += std::string(128 - 10 - dict.size() - 1, ' ') + "\n";
    const std::string expected_header = std::string("\x93NUMP") + "Y\x01" + std::string(1, '\0') +
                                         std::string(1, static_cast<char>(118)) + std::string(1, '\0') + dict;
    REQUIRE(m.size() == 128 + 12 * 8);
    CHECK(m.substr(0, 128) == expected_header);
    CHECK(m.substr(128, 16) == le<double>({1.0, 2.0}));

    save_npy(dir / "v.npy", xt::xtensor<float, 1>{1.0f, 2.0f, 3.0f, 4.0f, 5.0f});
    const std::string v = read_file(dir / "v.npy");
    const std::string v_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + std::string(20, ' ');
    REQUIRE(v.size() == 128 + 5 * 4);
    CHECK(v.substr(10, v_dict.size()) == v_dict);
    CHECK(v[127] == '\n');
    CHECK(v.find_first_not_of(' ', 10 + v_dict.size()) == 127);
    CHECK(v.substr(128) == le<float>({1.0f, 2.0f, 3.0f, 4.0f, 5.0f}));

    // The growth room shrinks as the first dimension grows: the header stays 128 bytes long.
    save_npy(dir / "wide.npy", xt::xtensor<float, 2>(std::array<std::size_t, 2>{100000, 2}, 0.0f));
    const std::string wide = read_file(dir / "wide.npy");
    REQUIRE(wide.size() == 128 + 100000 * 2 * 4);
    CHECK(wide.substr(10, 64) == "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 2), }");
    CHECK(wide.find('\n') == 127);

    // Saving replaces an existing file.
    save_npy(dir / "m.npy", xt::xtensor<double, 2>{{42.0}});
    CHECK(same(load_npy_matrix<double>(dir / "m.npy"), xt::xtensor<double, 2>{{42.0}}));
}

TEST_CASE("npy float32 and float64 files convert to the requested type", "[npy]")
{
    const temp_dir dir;
    const xt::xtensor<float, 2> f{{0.1f, 2.0f}, {-3.5f, 1e-30f}};
    save_npy(dir / "f.npy", f);
    const auto as_double = load_npy_matrix<double>(dir / "f.npy");
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 2; ++j) CHECK(as_double(i, j) == static_cast<double>(f(i, j)));

    const xt::xtensor<double, 2> d{{0.1, 2.0 / 3.0}, {-1e-300, 123456789.123}};
    save_npy(dir / "d.npy", d);
    const auto as_float = load_npy_matrix<float>(dir / "d.npy");
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 2; ++j) CHECK(as_float(i, j) == static_cast<float>(d(i, j)));

    const xt::xtensor<double, 1> dv{0.1, 0.2};
    save_npy(dir / "dv.npy", dv);
    const auto fv = load_npy_vector<float>(dir / "dv.npy", 2);
    CHECK(fv(0) == 0.1f);
    CHECK(fv(1) == 0.2f);
}

TEST_CASE("npy header variants numpy can produce", "[npy]")
{
    const temp_dir dir;
    const xt::xtensor<double, 2> expected{{1, 2, 3}, {4, 5, 6}};
    const fs::path file = dir / "x.npy";

    SECTION("fortran_order True is transposed into row-major")
    {
        write_file(file, npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                   le<double>({1, 4, 2, 5, 3, 6})));
        CHECK(same(load_npy_matrix<double>(file, {{2, 3}}), expected));
        write_file(file, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                                   le<float>({1, 4, 2, 5, 3, 6})));
        CHECK(same(load_npy_matrix<double>(file), expected));
        CHECK(same(load_npy_matrix<float>(file), xt::xtensor<float, 2>{{1, 2, 3}, {4, 5, 6}}));
    }
    SECTION("version 2.0 and 3.0 headers")
    {
        write_file(file, npy_bytes(f8_2x3, le<double>({1, 2, 3, 4, 5, 6}), 2, 0));
        CHECK(same(load_npy_matrix<double>(file), expected));
        write_file(file, npy_bytes(f8_2x3, le<double>({1, 2, 3, 4, 5, 6}), 3, 0));
        CHECK(same(load_npy_matrix<double>(file), expected));
    }
    SECTION("big-endian data is byte-swapped")
    {
        write_file(file, npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }",
                                   be<double>({1, 2, 3, 4, 5, 6})));
        CHECK(same(load_npy_matrix<double>(file), expected));
        CHECK(same(load_npy_matrix<float>(file), xt::xtensor<float, 2>{{1, 2, 3}, {4, 5, 6}}));
        write_file(file, npy_bytes("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }",
                                   be<float>({1, 4, 2, 5, 3, 6})));
        CHECK(same(load_npy_matrix<double>(file), expected));
        write_file(file, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", be<float>({7, 8, 9})));
        CHECK(same(load_npy_vector<float>(file), xt::xtensor<float, 1>{7, 8, 9}));
    }
    SECTION("host-order dtypes, key order, quotes, spacing and Python 2 longs")
    {
        write_file(file, npy_bytes("{'shape': (2, 3), 'fortran_order': False, 'descr': 'f8'}",
                                   le<double>({1, 2, 3, 4, 5, 6})));
        CHECK(same(load_npy_matrix<double>(file), expected));
        write_file(file, npy_bytes("{\"descr\":\"=f8\",\"fortran_order\":False,\"shape\":(2L,3L)}",
                                   le<double>({1, 2, 3, 4, 5, 6})));
        CHECK(same(load_npy_matrix<double>(file), expected));
        write_file(file, npy_bytes("  { 'descr' : '|f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
                                   le<float>({1, 2, 3, 4, 5, 6})));
        CHECK(same(load_npy_matrix<double>(file), expected));
    }
}

TEST_CASE("npy errors: the file cannot be read or is not .npy", "[npy]")
{
    const temp_dir dir;

    SECTION("missing file")
    {
        const fs::path file = dir / "missing.npy";
        CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<double>(file); }), Contains("no such file"));
        CHECK_THAT(error_of(file, [&] { (void)load_npy_vector<float>(file); }), Contains("no such file"));
    }
    SECTION("a directory")
    {
        const fs::path file = dir / "sub.npy";
        fs::create_directory(file);
        CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<double>(file); }), Contains("directory"));
    }
    SECTION("bad magic string")
    {
        CHECK_THAT(matrix_error(dir, "\x89PNG\r\n\x1a\n and more bytes"),
                   Contains("bad magic string '\\x89PNG\\x0d\\x0a'"));
        CHECK_THAT(matrix_error(dir, ""), Contains("bad magic string: the file has only 0 bytes"));
        CHECK_THAT(matrix_error(dir, "\x93NUM"), Contains("bad magic string: the file has only 4 bytes"));
    }
    SECTION("unsupported version")
    {
        std::string bytes = npy_bytes(f8_2x3, le<double>({1, 2, 3, 4, 5, 6}));
        bytes[6] = 4;
        CHECK_THAT(matrix_error(dir, bytes), Contains("unsupported .npy format version 4.0"));
        bytes[6] = 1;
        bytes[7] = 1;
        CHECK_THAT(matrix_error(dir, bytes), Contains("unsupported .npy format version 1.1"));
        bytes[6] = 0;
        bytes[7] = 0;
        CHECK_THAT(matrix_error(dir, bytes), Contains("unsupported .npy format version 0.0"));
    }
    SECTION("header length beyond the file")
    {
        std::string bytes = npy_bytes(f8_2x3, "");
        bytes[8] = static_cast<char>(0xff);
        bytes[9] = static_cast<char>(0x7f);
        CHECK_THAT(matrix_error(dir, bytes), Contains("header length 32767 goes beyond the end of the file"));
        std::string v2 = npy_bytes(f8_2x3, "", 2, 0);
        v2[11] = static_cast<char>(0xff);
        CHECK_THAT(matrix_error(dir, v2), Contains("header length") && Contains("beyond the end of the file"));
        CHECK_THAT(matrix_error(dir, std::string("\x93NUMPY\x02") + '\0' + "\x10"),
                   Contains("header length beyond the file"));
        CHECK_THAT(matrix_error(dir, "\x93NUMPY"), Contains("header length beyond the file"));
    }
}

TEST_CASE("npy errors: malformed header dict", "[npy]")
{
    const temp_dir dir;
    const std::string data = le<double>({1, 2, 3, 4, 5, 6});
    const auto error = [&](std::string_view dict) { return matrix_error(dir, npy_bytes(dict, data)); };

    CHECK_THAT(error("{'fortran_order': False, 'shape': (2, 3), }"),
               Contains("malformed header dict") && Contains("missing the 'descr' key"));
    CHECK_THAT(error("{'descr': '<f8', 'shape': (2, 3), }"), Contains("missing the 'fortran_order' key"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, }"), Contains("missing the 'shape' key"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }"),
               Contains("unparsable shape '(2, x)'"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }"), Contains("unparsable shape"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }"),
               Contains("unparsable shape") && Contains("not a tuple"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (6), }"),
               Contains("unparsable shape '(6)'") && Contains("not a tuple"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (2 3), }"), Contains("unparsable shape"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3"), Contains("unparsable shape"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }"),
               Contains("unparsable shape") && Contains("too large"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3), }"),
               Contains("'fortran_order' is not True or False"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': Falsey, 'shape': (2, 3), }"),
               Contains("'fortran_order' is not True or False"));
    CHECK_THAT(error("{'descr': <f8, 'fortran_order': False, 'shape': (2, 3), }"),
               Contains("'descr' is not a quoted string"));
    CHECK_THAT(error("{'descr': '<f8, 'fortran_order': False, 'shape': (2, 3), }"), Contains("malformed header dict"));
    CHECK_THAT(error("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"),
               Contains("duplicate key 'descr'"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}"),
               Contains("unexpected key 'extra'"));
    CHECK_THAT(error("{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3), }"),
               Contains("',' or '}' expected"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), } junk"),
               Contains("unexpected text after '}': 'junk'"));
    CHECK_THAT(error("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), "), Contains("'}' missing"));
    CHECK_THAT(error("descr: f8"), Contains("does not start with '{'"));
    CHECK_THAT(error(""), Contains("the header is empty"));
    CHECK_THAT(matrix_error(dir, std::string("\x93NUMPY\x01") + '\0' + '\0' + '\0'),
               Contains("malformed header dict: the header is empty"));
}

TEST_CASE("npy errors: unsupported dtype", "[npy]")
{
    const temp_dir dir;
    for (const std::string descr : {"<i4", "<i8", "|u1", "<c16", "<c8", "<f2", "|O", "<f16", "float64", "|b1", ""}) {
        INFO("descr " << descr);
        const std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2, 3), }";
        const auto message = matrix_error(dir, npy_bytes(dict, std::string(48, 'x')));
        CHECK_THAT(message, Contains("dtype '" + descr + "' is not supported") && Contains("'<f4', '<f8'"));
    }
    CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2, 3), }",
                                           std::string(48, 'x'))),
               Contains("structured dtype") && Contains("not supported"));
}

TEST_CASE("npy errors: shape", "[npy]")
{
    const temp_dir dir;

    SECTION("shape mismatch")
    {
        const auto six_by_five = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (6, 5), }",
                                           std::string(240, '\0'));
        CHECK_THAT(matrix_error(dir, six_by_five, {{7, 6}}), Contains("has shape 6x5 but 7x6 is needed"));
        CHECK_THAT(matrix_error(dir, six_by_five, {{5, 6}}), Contains("has shape 6x5 but 5x6 is needed"));
        const fs::path file = dir / "v.npy";
        write_file(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", std::string(28, '\0')));
        CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<float>(file, {{6, 1}}); }),
                   Contains("has shape (7,) but 6x1 is needed"));
        CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<float>(file, {{7, 2}}); }),
                   Contains("has shape (7,) but 7x2 is needed"));
        CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<float>(file); }),
                   Contains("has 1-D shape (7,)") && Contains("7x1 or 1x7"));
        CHECK_THAT(error_of(file, [&] { (void)load_npy_vector<float>(file, 8); }),
                   Contains("has shape (7,) but (8,) is needed"));
        write_file(file, six_by_five);
        CHECK_THAT(error_of(file, [&] { (void)load_npy_vector<double>(file); }),
                   Contains("has shape 6x5, which is not a vector"));
    }
    SECTION("wrong number of dimensions")
    {
        CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 4), }",
                                               std::string(192, '\0'))),
                   Contains("has 3 dimensions (shape 2x3x4) but a matrix needs 2"));
        CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                                               std::string(8, '\0'))),
                   Contains("has 0 dimensions (shape ())"));
    }
    SECTION("zero-size dimension")
    {
        CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5), }", "")),
                   Contains("has a zero-size dimension (shape 0x5)"));
        CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 0), }", ""),
                                {{3, 0}}),
                   Contains("zero-size dimension"));
        const fs::path file = dir / "empty.npy";
        write_file(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", ""));
        CHECK_THAT(error_of(file, [&] { (void)load_npy_vector<float>(file); }), Contains("zero-size dimension"));
    }
}

TEST_CASE("npy errors: data size", "[npy]")
{
    const temp_dir dir;
    const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 5), }";

    CHECK_THAT(matrix_error(dir, npy_bytes(dict, std::string(118, '\0'))), Contains("holds 118 of 240 bytes of data"));
    CHECK_THAT(matrix_error(dir, npy_bytes(dict, "")), Contains("holds 0 of 240 bytes of data"));
    CHECK_THAT(matrix_error(dir, npy_bytes(dict, std::string(241, '\0'))),
               Contains("has 1 trailing bytes after the 240 bytes of data"));
    CHECK_THAT(matrix_error(dir, npy_bytes(dict, std::string(480, '\0'))), Contains("has 240 trailing bytes"));

    // Hostile shapes are rejected from the file size, before any allocation.
    CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }",
                                           std::string(64, '\0'))),
               Contains("holds 64 of 80000000000 bytes of data"));
    CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, "
                                           "4294967296), }",
                                           std::string(64, '\0'))),
               Contains("shape 4294967296x4294967296 is too large"));
    CHECK_THAT(matrix_error(dir, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, "
                                           "1), }",
                                           std::string(64, '\0'))),
               Contains("is too large"));
    const fs::path file = dir / "v.npy";
    write_file(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", "abc"));
    CHECK_THAT(error_of(file, [&] { (void)load_npy_vector<float>(file); }),
               Contains("holds 3 of 4000000000000 bytes of data"));
}

TEST_CASE("npy errors: non-finite values", "[npy]")
{
    const temp_dir dir;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const std::string c_order = "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }";
    const std::string f_order = "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }";

    // Row 3, column 2 is the last value in C order, and also in Fortran order.
    CHECK_THAT(matrix_error(dir, npy_bytes(c_order, le<double>({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, nan}))),
               Contains("non-finite value nan at row 3, column 2"));
    // Value 7 in C order is row 2, column 1; in Fortran order it is row 3, column 1.
    CHECK_THAT(matrix_error(dir, npy_bytes(c_order, le<double>({0, 0, 0, 0, 0, 0, 0, inf, 0, 0, 0, 0}))),
               Contains("non-finite value inf at row 2, column 1"));
    CHECK_THAT(matrix_error(dir, npy_bytes(f_order, le<double>({0, 0, 0, 0, 0, 0, 0, -inf, 0, 0, 0, 0}))),
               Contains("non-finite value -inf at row 3, column 1"));

    const fs::path file = dir / "x.npy";
    write_file(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                               le<float>({1.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f, 0.0f})));
    CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<float>(file); }),
               Contains("non-finite value nan at row 0, column 1"));
    CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<double>(file); }),
               Contains("non-finite value nan at row 0, column 1"));

    write_file(file, npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", be<double>({1, 2, inf})));
    CHECK_THAT(error_of(file, [&] { (void)load_npy_vector<double>(file); }),
               Contains("non-finite value inf at index 2"));

    // A finite float64 beyond float's range cannot become a float.
    write_file(file, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", le<double>({1, 1e300})));
    CHECK_THAT(error_of(file, [&] { (void)load_npy_matrix<float>(file); }),
               Contains("value 1e+300 at row 0, column 1") && Contains("outside the range of float"));
    CHECK(load_npy_matrix<double>(file)(0, 1) == 1e300);
}

TEST_CASE("npy errors: writing", "[npy]")
{
    const temp_dir dir;
    const fs::path file = dir / "no-such-dir" / "x.npy";
    CHECK_THAT(error_of(file, [&] { save_npy(file, xt::xtensor<double, 2>{{1.0}}); }), Contains("cannot create"));
    CHECK(!fs::exists(dir / "no-such-dir"));

    // The rename onto a directory fails: the temporary file is removed and the directory left alone.
    const fs::path taken = dir / "taken.npy";
    fs::create_directory(taken);
    fs::create_directory(taken / "inside");
    CHECK_THAT(error_of(taken, [&] { save_npy(taken, xt::xtensor<float, 1>{1.0f}); }), Contains("cannot rename"));
    CHECK(!has_temporary(dir));
    CHECK(fs::is_directory(taken / "inside"));
}
