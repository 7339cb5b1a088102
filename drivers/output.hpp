// drivers/output.hpp — the drivers' output contract (SPEC §4): every file written atomically
// (temporary file, then rename), one CSV per method, summary.json, and figures rendered by gnuplot.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/Version.hpp>
#include <boost/version.hpp>
#include <nlohmann/json.hpp>
#include <xtensor-blas/xblas_config.hpp>
#include <xtensor/xtensor_config.hpp>

#include "teleport/train/files.hpp"

#if __has_include(<openblas_config.h>)
#include <openblas_config.h>
#endif

namespace teleport::drivers {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
// the library's file helpers (teleport/train/files.hpp), under the names the drivers use
using teleport::json_error_text;
using teleport::make_output_directory;
using teleport::interrupt_cleanup_child;
using teleport::interrupt_cleanup_file;
using teleport::result_set;
using teleport::write_file_atomic;

/// A number as text that reads back to the same double ("nan", "inf" when not finite).
inline std::string format_double(double v) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.17g", v);
    return buffer;
}

/// A number as short text for tables and labels ("0.1", "1e-05").
inline std::string format_short(double v) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return buffer;
}

/// A CSV file built row by row: integers as integers, booleans as 0/1, doubles round-trippable.
class csv_writer {
  public:
    explicit csv_writer(const std::vector<std::string>& columns) : columns_(columns.size()) {
        for (std::size_t i = 0; i < columns.size(); ++i) text_ += (i ? "," : "") + columns[i];
        text_ += '\n';
    }

    template <class... Values>
    void row(const Values&... values) {
        if (sizeof...(Values) != columns_) throw std::logic_error("csv_writer: a row has the wrong number of values");
        std::size_t i = 0;
        ((text_ += (i++ ? "," : ""), text_ += cell(values)), ...);
        text_ += '\n';
    }

    /// A row of cells already formatted (for a run-time number of columns), quoted as text cells.
    void row_cells(const std::vector<std::string>& cells) {
        if (cells.size() != columns_) throw std::logic_error("csv_writer: a row has the wrong number of values");
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i) text_ += ',';
            text_ += quoted(cells[i]);
        }
        text_ += '\n';
    }

    const std::string& str() const { return text_; }
    void write(const fs::path& path) const { write_file_atomic(path, text_); }

    template <class V>
    static std::string cell(const V& v) {
        if constexpr (std::is_same_v<V, bool>) return v ? "1" : "0";
        else if constexpr (std::is_integral_v<V>) return std::to_string(v);
        else if constexpr (std::is_floating_point_v<V>) return format_double(static_cast<double>(v));
        else return quoted(std::string(v));
    }

    /// RFC 4180: a cell holding a comma, a quote or a line break goes in quotes, its quotes doubled.
    static std::string quoted(const std::string& cell) {
        if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
        std::string q = "\"";
        for (char c : cell) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
    }

  private:
    std::size_t columns_;
    std::string text_;
};

/// JSON for a double: null when it is not finite (JSON has no NaN or infinity).
inline json json_number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

inline void write_json(const fs::path& path, const json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

/// The command line as a JSON array of strings, for summary.json.
inline json command_line_json(int argc, char** argv) {
    json args = json::array();
    for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
    return args;
}

/// The versions a run was built with, for summary.json.
inline json library_versions() {
    json v;
#ifdef TELEPORT_VERSION
    v["teleport"] = TELEPORT_VERSION;
#endif
    v["xtensor"] = std::to_string(XTENSOR_VERSION_MAJOR) + "." + std::to_string(XTENSOR_VERSION_MINOR) + "." +
                   std::to_string(XTENSOR_VERSION_PATCH);
    v["xtensor-blas"] = std::to_string(XTENSOR_BLAS_VERSION_MAJOR) + "." + std::to_string(XTENSOR_BLAS_VERSION_MINOR) +
                        "." + std::to_string(XTENSOR_BLAS_VERSION_PATCH);
#ifdef OPENBLAS_VERSION
    {
        std::string s = OPENBLAS_VERSION;
        const auto first = s.find_first_not_of(' ');
        const auto last = s.find_last_not_of(' ');
        v["openblas"] = first == std::string::npos ? s : s.substr(first, last - first + 1);
    }
#endif
    v["boost"] = std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                 std::to_string(BOOST_VERSION % 100);
    v["cli11"] = CLI11_VERSION;
    v["nlohmann_json"] = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR) +
                         "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH);
#if defined(__clang__)
    v["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    v["compiler"] = std::string("gcc ") + __VERSION__;
#else
    v["compiler"] = "unknown";
#endif
    v["cplusplus"] = static_cast<long>(__cplusplus);
    return v;
}

// --- figures ---------------------------------------------------------------------------------

/// How a child process ended: `error` says why it could not be started or waited for; otherwise
/// exit_status (exited) or signal (killed) is set.
struct process_result {
    std::string error;
    int exit_status = -1;
    int signal = 0;
    bool exited() const { return error.empty() && exit_status >= 0; }
};

/// Runs args (no shell; args[0] looked up on PATH when search_path) with stdin from /dev/null and
/// stdout and stderr into the named files (created or truncated; "" leaves the stream inherited),
/// and waits for it. The child never outlives this process: an interrupt ends and awaits it
/// (teleport::install_interrupt_cleanup), and on Linux it gets SIGTERM should this process be killed.
inline process_result run_process(const std::vector<std::string>& args, const std::string& stdout_path,
                                  const std::string& stderr_path, bool search_path) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    process_result r;
    auto system_error = [](const char* what, int code) {
        return std::string(what) + " (" + std::error_code(code, std::generic_category()).message() + ")";
    };
    int report[2];  // the child writes errno here when it cannot start the program; closed on exec
    if (::pipe2(report, O_CLOEXEC) != 0) {
        r.error = system_error("could not be started", errno);
        return r;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {  // the child: async-signal-safe calls only, until exec
#ifdef __linux__
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
#endif
        auto redirect = [](int fd, const char* path, int flags) {
            const int opened = ::open(path, flags, 0644);
            return opened >= 0 && ::dup2(opened, fd) >= 0 && (opened == fd || ::close(opened) == 0);
        };
        bool ok = redirect(STDIN_FILENO, "/dev/null", O_RDONLY);
        if (ok && !stdout_path.empty()) ok = redirect(STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
        if (ok && !stderr_path.empty()) ok = redirect(STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
        if (ok) {
            if (search_path) ::execvp(argv[0], argv.data());
            else ::execv(argv[0], argv.data());
        }
        const int code = errno;
        [[maybe_unused]] const auto written = ::write(report[1], &code, sizeof code);
        ::_exit(127);
    }
    ::close(report[1]);
    if (pid < 0) {
        ::close(report[0]);
        r.error = system_error("could not be started", errno);
        return r;
    }
    interrupt_cleanup_child awaited(pid);
    int code = 0;
    ssize_t got;
    while ((got = ::read(report[0], &code, sizeof code)) < 0 && errno == EINTR) {
    }
    ::close(report[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            r.error = system_error("could not be waited for", errno);
            return r;
        }
    awaited.release();
    if (got == sizeof code) {
        r.error = system_error("could not be started", code);
        return r;
    }
    if (WIFEXITED(status)) r.exit_status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    return r;
}

/// A string literal for a gnuplot script (single quotes; a quote inside is doubled).
inline std::string gnuplot_quote(std::string_view s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') q += '\'';
        q += c;
    }
    return q + "'";
}

/// Renders figures with gnuplot, when it is installed. Figures are optional: a missing gnuplot or
/// a failed rendering is a warning (printed once), never an error.
class gnuplot_renderer {
  public:
    explicit gnuplot_renderer(std::string driver) : driver_(std::move(driver)) {}

    /// "pngcairo" when gnuplot has it, else "png"; empty when gnuplot cannot be run.
    const std::string& terminal() {
        if (!probed_) {
            probed_ = true;
            if (run({"gnuplot", "-e", "set terminal pngcairo"}, "/dev/null") == 0) terminal_ = "pngcairo";
            else if (run({"gnuplot", "-e", "set terminal png"}, "/dev/null") == 0) terminal_ = "png";
            else warn("gnuplot was not found (or cannot write PNG); figures are skipped");
        }
        return terminal_;
    }

    /// Writes `script` to dir/script_name and runs it in dir. The script names its outputs
    /// 'name.png'.suffix; they are rendered under a temporary suffix and renamed once gnuplot has
    /// succeeded, so an interrupted rendering leaves no half image. Returns the figures written.
    std::vector<std::string> render(const fs::path& dir, const std::string& script_name, const std::string& script,
                                    const std::vector<std::string>& outputs) {
        if (terminal().empty()) return {};
        write_file_atomic(dir / script_name, script);
        const std::string suffix = teleport::temporary_suffix();
        const fs::path log = dir / ("." + script_name + ".log" + suffix);
        const fs::path absolute = fs::absolute(dir);
        // an interrupt removes the log and the half-rendered figures (and ends gnuplot: run_process)
        std::vector<std::unique_ptr<interrupt_cleanup_file>> cleanup;
        cleanup.push_back(std::make_unique<interrupt_cleanup_file>(log));
        for (const auto& name : outputs) cleanup.push_back(std::make_unique<interrupt_cleanup_file>(dir / (name + suffix)));
        const int status = run({"gnuplot", "-e",
                                "suffix=" + gnuplot_quote(suffix) + "; cd " + gnuplot_quote(absolute.string()),
                                (absolute / script_name).string()},
                               log.string());
        std::vector<std::string> written;
        std::error_code ec;
        for (const auto& name : outputs) {
            const fs::path temporary = dir / (name + suffix);
            if (status == 0 && fs::exists(temporary)) {
                fs::rename(temporary, dir / name, ec);
                if (!ec) written.push_back(name);
            }
            fs::remove(temporary, ec);
        }
        if (status != 0) {
            std::string first_line;
            std::ifstream in(log);
            while (std::getline(in, first_line))
                if (first_line.find_first_not_of(" \t^") != std::string::npos &&
                    first_line.find("line ") != std::string::npos)
                    break;
            warn("gnuplot failed on " + (dir / script_name).string() +
                 (first_line.empty() ? std::string() : " (" + first_line + ")") + "; figures are skipped");
        }
        fs::remove(log, ec);
        return written;
    }

  private:
    void warn(const std::string& message) {
        if (warned_) return;
        warned_ = true;
        std::cerr << driver_ << ": warning: " << message << "\n";
    }

    /// Runs a program found on PATH with stdout to /dev/null and stderr to `error_log`; returns
    /// its exit status, or -1 when it could not be started or did not exit normally.
    static int run(const std::vector<std::string>& args, const std::string& error_log) {
        const process_result r = run_process(args, "/dev/null", error_log, true);
        return r.exited() ? r.exit_status : -1;
    }

    std::string driver_;
    std::string terminal_;
    bool probed_ = false;
    bool warned_ = false;
};

}  // namespace teleport::drivers
