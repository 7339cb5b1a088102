// drivers/driver_common.hpp — what every driver shares: one error style and one exit status, and
// the parsing of lists of numbers given as options.
#pragma once

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "teleport/train/files.hpp"
#include "teleport/train/optimize.hpp"

namespace teleport::drivers {

using clock_type = std::chrono::steady_clock;

using teleport::seconds_since;  // wall time since a steady-clock point, in seconds

/// Why `text` is not a usable double, or "" with the value in `value`: malformed, out of range
/// (beyond ±1.8e308), or subnormal (a non-zero magnitude below 2.2e-308: too small to compute
/// with, and not "non-finite"); infinities are accepted here (the caller decides).
inline std::string double_problem(const std::string& text, double& value) {
    char* end = nullptr;
    errno = 0;
    value = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return "is not a number";
    const bool huge = std::isinf(value) && text.find_first_of("iI") == std::string::npos;
    if (errno == ERANGE && huge) return "is too large (beyond 1.8e308)";
    if ((errno == ERANGE || std::fpclassify(value) == FP_SUBNORMAL) && !std::isinf(value))
        return "is subnormal: too small (non-zero but below 2.2e-308)";
    return {};
}

/// A validator for options that must be finite and strictly positive (rates, step counts); with
/// `infinite_allowed`, +inf is accepted too (a bound that may be absent: "inf").
inline CLI::Validator positive(bool infinite_allowed = false) {
    return CLI::Validator(
        [infinite_allowed](std::string& text) -> std::string {
            double value = 0;
            const std::string problem = double_problem(text, value);
            if (!problem.empty() && problem.find("subnormal") != std::string::npos) return "'" + text + "' " + problem;
            if (problem.empty() && (std::isfinite(value) || infinite_allowed) && value > 0) return {};
            return infinite_allowed ? "must be a positive number or inf (got '" + text + "')"
                                    : "must be a finite positive number (got '" + text + "')";
        },
        infinite_allowed ? "POSITIVE or inf" : "POSITIVE");
}

/// A validator for an option whose empty value would otherwise read as "not given" (a path, a
/// list): given, it must not be empty.
inline CLI::Validator non_empty() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            return text.find_first_not_of(" \t") == std::string::npos ? "must not be empty (leave the option out instead)"
                                                                       : std::string();
        },
        "");
}

/// seed, seed+1, …, seed+count−1 must all be seeds (below 2^64): an error naming both options if not.
inline void check_seed_range(std::uint64_t seed, std::size_t count) {
    if (count > 0 && count - 1 > std::numeric_limits<std::uint64_t>::max() - seed)
        throw std::invalid_argument("--seed " + std::to_string(seed) + " with --seeds " + std::to_string(count) +
                                    ": the last seed would be beyond 2^64-1 (18446744073709551615)");
}

/// The physical memory of this machine in bytes (0 if unknown).
inline double physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

/// Refuses, before anything is allocated, a run whose estimated memory exceeds the machine's:
/// "<what> would need about 40 GB of memory; this machine has 23 GB".
inline void check_memory(double bytes, const std::string& what) {
    const double have = physical_memory_bytes();
    if (have <= 0 || bytes <= have) return;
    auto gb = [](double b) {
        char text[32];
        std::snprintf(text, sizeof text, b >= 1e12 ? "%.3g TB" : "%.3g GB", b >= 1e12 ? b / 1e12 : b / 1e9);
        return std::string(text);
    };
    throw std::invalid_argument(what + " would need about " + gb(bytes) + " of memory; this machine has " + gb(have));
}

/// A validator for counts that must be positive integers (steps, samples).
inline CLI::Validator positive_count() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            bool digits = !text.empty() && text.size() <= 18;
            for (char c : text) digits = digits && c >= '0' && c <= '9';
            if (digits && std::stoull(text) > 0) return {};
            return "must be a positive integer (got '" + text + "')";
        },
        "COUNT");
}

/// A validator for a seed: a non-negative integer below 2^64.
inline CLI::Validator seed_value() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            bool digits = !text.empty() && text.size() <= 20;
            for (char c : text) digits = digits && c >= '0' && c <= '9';
            if (digits) {
                errno = 0;
                (void)std::strtoull(text.c_str(), nullptr, 10);
                if (errno != ERANGE) return {};
            }
            return "must be an integer from 0 to 2^64-1 (got '" + text + "')";
        },
        "SEED");
}

/// Run a driver's body; bad input (a CLI11 parse error or an exception from the library) becomes
/// one line "<driver>: error: <what>" on stderr and exit status 2, never a crash.
template <class Body>
int run_driver(std::string_view name, CLI::App& app, int argc, char** argv, Body&& body) {
    // Network teleports allocate temporaries of 128 KiB and more (a 128×128 matrix and up); glibc
    // serves such blocks by mmap and returns them on free, so every step pays for fresh pages
    // (page faults cost about as much as the arithmetic here, docs/performance.md). Keeping them on
    // the heap makes freed blocks reusable.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    install_interrupt_cleanup();  // an interrupt removes temporaries and ends gnuplot (train/files.hpp)
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << name << ": error: " << e.what() << "\n";
        return 2;
    }
    try {
        return body();
    } catch (const std::bad_alloc&) {
        std::cerr << name << ": error: out of memory: the sizes asked for (steps, samples, widths, ...) are too "
                     "large for this machine\n";
        return 2;
    } catch (const std::exception& e) {
        std::string what = e.what();
        for (char& c : what)
            if (c == '\n') c = ' ';  // the error stays one line
        std::cerr << name << ": error: " << what << "\n";
        return 2;
    }
}

// --- lists of numbers ------------------------------------------------------------------------

namespace detail {
inline std::vector<std::string> split_commas(std::string_view text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = text.find(',', start);
        std::string part(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        const auto first = part.find_first_not_of(" \t");
        const auto last = part.find_last_not_of(" \t");
        parts.push_back(first == std::string::npos ? std::string() : part.substr(first, last - first + 1));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return parts;
}
}  // namespace detail

/// "a,b,c" as finite doubles; a malformed or non-finite entry is an error naming the option.
inline std::vector<double> parse_double_list(std::string_view text, std::string_view option) {
    std::vector<double> values;
    std::size_t index = 0;
    for (const auto& part : detail::split_commas(text)) {
        ++index;
        double v = 0;
        std::string problem = double_problem(part, v);
        if (problem.empty() && !std::isfinite(v)) problem = "is not a finite number";
        else if (problem == "is not a number") problem = "is not a finite number";
        if (!problem.empty())
            throw std::invalid_argument(std::string(option) + ": entry " + std::to_string(index) + " ('" + part +
                                        "') " + problem);
        values.push_back(v);
    }
    return values;
}

/// "a,b,c" as non-negative integers (step numbers); a malformed entry is an error naming the option.
inline std::vector<std::size_t> parse_count_list(std::string_view text, std::string_view option) {
    std::vector<std::size_t> values;
    std::size_t index = 0;
    for (const auto& part : detail::split_commas(text)) {
        ++index;
        bool ok = !part.empty() && part.size() <= 18;
        for (char c : part) ok = ok && c >= '0' && c <= '9';
        if (!ok)
            throw std::invalid_argument(std::string(option) + ": entry " + std::to_string(index) + " ('" + part +
                                        "') is not a non-negative integer");
        values.push_back(static_cast<std::size_t>(std::stoull(part)));
    }
    return values;
}

/// The side of a square matrix given as `count` values; an error naming the option if none.
inline std::size_t square_side(std::size_t count, std::string_view option) {
    std::size_t side = 0;
    while ((side + 1) * (side + 1) <= count) ++side;
    if (side * side != count)
        throw std::invalid_argument(std::string(option) + ": " + std::to_string(count) + " values are not a square matrix");
    return side;
}

/// Values joined by commas, for defaults shown in --help and for summaries.
template <class T>
std::string join(const std::vector<T>& values, std::string_view separator = ",") {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) s += separator;
        if constexpr (std::is_floating_point_v<T>) {
            std::ostringstream os;
            os.precision(17);
            os << values[i];
            s += os.str();
        } else {
            s += std::to_string(values[i]);
        }
    }
    return s;
}

}  // namespace teleport::drivers
