// teleport/train/files.hpp — writing results so that an interrupted run never leaves half a file,
// nor a folder whose files come from two runs:
//  - a file is written to a temporary name in its folder (".NAME.tmpPID") and renamed into place;
//  - a run's files are one set (result_set): its index, summary.json, is written first marked
//    "incomplete" and last complete, so that an index that says "complete" stands beside files of
//    its own run only, and a reader refuses an incomplete one;
//  - on SIGINT, SIGTERM or SIGHUP (install_interrupt_cleanup) the temporaries being written are
//    removed and the child processes being awaited are ended and awaited before the process ends;
//    temporaries a killed process left (SIGKILL) are removed when their folder is opened again;
//  - output folders are created with their parents; the root folder and an existing file are refused;
//  - a file is read only when it is a regular file (a FIFO would block, a folder fails obscurely);
//  - a JSON library error becomes one short line.
// The checkpoint (train/checkpoint.hpp), the .npy writer and the drivers' output (CSV,
// summary.json, figures) use them.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <ios>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace teleport {

// --- cleanup on an interrupt ----------------------------------------------------------------

namespace detail {
/// A fixed table the signal handler can read without allocating: paths of temporaries being
/// written, and children being awaited. state: 0 free, 1 being filled, 2 armed.
struct cleanup_path_slot {
    std::atomic<int> state{0};
    char path[4096]{};
};
inline constexpr std::size_t cleanup_path_slots = 64;
inline constexpr std::size_t cleanup_child_slots = 8;
inline cleanup_path_slot cleanup_paths[cleanup_path_slots];
inline std::atomic<pid_t> cleanup_children[cleanup_child_slots];

/// Ends a child (SIGTERM, then SIGKILL after 2 s) and awaits it; async-signal-safe.
inline void end_child(pid_t pid) {
    ::kill(pid, SIGTERM);
    for (int tick = 0; tick < 200; ++tick) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return;
        const timespec pause{0, 10'000'000};
        ::nanosleep(&pause, nullptr);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

inline void on_interrupt(int sig) {
    const int saved = errno;
    for (auto& child : cleanup_children) {
        const pid_t pid = child.exchange(0);
        if (pid > 0) end_child(pid);
    }
    for (auto& slot : cleanup_paths)
        if (slot.state.load() == 2) ::unlink(slot.path);
    errno = saved;
    ::signal(sig, SIG_DFL);
    ::raise(sig);  // delivered when the handler returns: the process ends by the signal, as it would have
}
}  // namespace detail

/// On SIGINT, SIGTERM and SIGHUP: remove the temporaries being written (interrupt_cleanup_file),
/// end and await the children being awaited (interrupt_cleanup_child), then end by the signal.
/// A program calls it once at its start (the drivers do, in run_driver).
inline void install_interrupt_cleanup() {
    struct sigaction action {};
    action.sa_handler = detail::on_interrupt;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&action.sa_mask, sig);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old {};
        ::sigaction(sig, nullptr, &old);
        if (old.sa_handler == SIG_IGN) continue;  // e.g. SIGHUP under nohup
        ::sigaction(sig, &action, nullptr);
    }
}

/// While it lives, `path` is removed if the process is interrupted (see install_interrupt_cleanup).
/// A path too long for the table, or a full table, is not armed (the file is then removed as stale
/// when its folder is next opened).
class interrupt_cleanup_file {
  public:
    explicit interrupt_cleanup_file(const std::filesystem::path& path) {
        const std::string& text = path.native();
        if (text.size() >= sizeof(detail::cleanup_path_slot::path)) return;
        for (auto& s : detail::cleanup_paths) {
            int expected = 0;
            if (!s.state.compare_exchange_strong(expected, 1)) continue;
            std::memcpy(s.path, text.c_str(), text.size() + 1);
            s.state.store(2);
            slot_ = &s;
            return;
        }
    }
    ~interrupt_cleanup_file() {
        if (slot_) slot_->state.store(0);
    }
    interrupt_cleanup_file(const interrupt_cleanup_file&) = delete;
    interrupt_cleanup_file& operator=(const interrupt_cleanup_file&) = delete;

  private:
    detail::cleanup_path_slot* slot_ = nullptr;
};

/// While it lives, child `pid` is ended and awaited if the process is interrupted. Call release()
/// once the child has been awaited (its pid may then be reused).
class interrupt_cleanup_child {
  public:
    explicit interrupt_cleanup_child(pid_t pid) {
        for (auto& c : detail::cleanup_children) {
            pid_t expected = 0;
            if (c.compare_exchange_strong(expected, pid)) {
                slot_ = &c;
                return;
            }
        }
    }
    void release() {
        if (slot_) slot_->store(0);
        slot_ = nullptr;
    }
    ~interrupt_cleanup_child() { release(); }
    interrupt_cleanup_child(const interrupt_cleanup_child&) = delete;
    interrupt_cleanup_child& operator=(const interrupt_cleanup_child&) = delete;

  private:
    std::atomic<pid_t>* slot_ = nullptr;
};

// --- temporaries -----------------------------------------------------------------------------

/// The suffix of this process's temporaries: ".tmp<PID>". Every temporary of the library and the
/// drivers ends with it, so that remove_stale_temporaries can tell a dead process's leftovers.
inline std::string temporary_suffix() { return ".tmp" + std::to_string(::getpid()); }

/// The name `path` is written under before it is renamed into place: ".NAME.tmpPID" in its folder.
inline std::filesystem::path temporary_path(const std::filesystem::path& path) {
    return path.parent_path() / ("." + path.filename().string() + temporary_suffix());
}

/// The PID in a temporary's name "….tmp<PID>", or 0 when the name is not one.
inline pid_t temporary_owner(std::string_view name) {
    const auto at = name.rfind(".tmp");
    if (at == std::string_view::npos || at + 4 == name.size() || name.size() - at - 4 > 9) return 0;
    pid_t pid = 0;
    for (char c : name.substr(at + 4)) {
        if (c < '0' || c > '9') return 0;
        pid = pid * 10 + (c - '0');
    }
    return pid;
}

/// Removes from `dir` (not its subfolders) the regular files named "….tmp<PID>" whose process is
/// no longer running, or is this one (nothing of ours is being written when a folder is opened);
/// returns how many. Leftovers of a process killed while it wrote (SIGKILL cannot be handled).
inline std::size_t remove_stale_temporaries(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::size_t removed = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const pid_t owner = temporary_owner(it->path().filename().string());
        std::error_code type_ec;
        if (owner <= 0 || !it->is_regular_file(type_ec)) continue;
        const bool dead = owner == ::getpid() || (::kill(owner, 0) != 0 && errno == ESRCH);
        std::error_code remove_ec;
        if (dead && fs::remove(it->path(), remove_ec)) ++removed;
    }
    return removed;
}

// --- writing ---------------------------------------------------------------------------------

/// Write `content` to `path` so that the file is either absent, the previous version, or complete:
/// the text goes to temporary_path(path), which is then renamed over `path`.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
    namespace fs = std::filesystem;
    const fs::path temporary = temporary_path(path);
    const interrupt_cleanup_file cleanup(temporary);
    std::error_code ignored;
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error("cannot write " + temporary.string());
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.close();
        if (!out) {
            fs::remove(temporary, ignored);
            throw std::runtime_error("writing " + path.string() + " failed");
        }
    }
    std::error_code ec;
    fs::rename(temporary, path, ec);
    if (ec) {
        fs::remove(temporary, ignored);
        throw std::runtime_error("cannot rename " + temporary.string() + " to " + path.string() + ": " + ec.message());
    }
}

/// Create an output folder (and its parents) and remove the temporaries a killed run left in it; a
/// clear error when that is impossible. Refused: an empty name, the root folder (a run writes
/// several files and may replace them: never among the system's folders), and an existing
/// non-folder.
inline void make_output_directory(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    if (dir.empty()) throw std::runtime_error("the output folder is an empty name");
    std::error_code ec;
    const fs::path resolved = fs::weakly_canonical(fs::absolute(dir, ec), ec);
    if (!ec && resolved == resolved.root_path())
        throw std::runtime_error("refusing to write results into the root folder " + dir.string() +
                                 " (give a folder of their own)");
    ec.clear();
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        throw std::runtime_error("the output folder " + dir.string() + " exists and is not a folder");
    ec.clear();
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw std::runtime_error("cannot create the output folder " + dir.string() +
                                 (ec ? ": " + ec.message() : std::string()));
    remove_stale_temporaries(dir);
}

// --- a run's files as one set --------------------------------------------------------------------

/// The files of a run as one set, consistent after an interrupt: the index (summary.json) is
/// written at once marked {"status": "incomplete"}, then the run writes its other files, then
/// complete() writes the index with "status": "complete" — last, and atomically. A folder whose
/// index says "complete" therefore holds that run's files (an interrupt can no longer leave a
/// previous run's index beside a new run's files), and readers refuse an incomplete index
/// (result_status). The folder is created, and stale temporaries removed, as make_output_directory.
class result_set {
  public:
    using json = nlohmann::ordered_json;

    /// header: what the incomplete index says besides its status (the driver's name, say).
    result_set(std::filesystem::path dir, const json& header = json::object(), std::string index = "summary.json")
        : dir_(std::move(dir)), index_(std::move(index)) {
        make_output_directory(dir_);
        json doc;
        doc["status"] = "incomplete";
        for (const auto& [key, value] : header.items()) doc[key] = value;
        doc["note"] = "the run writing this folder has not finished (or was interrupted): its other files may be "
                      "missing or left by an earlier run";
        write_file_atomic(dir_ / index_, doc.dump(2) + "\n");
    }

    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path index_path() const { return dir_ / index_; }

    /// Writes the index, "status": "complete" first; call it after every other file of the run.
    void complete(const json& index) const {
        json doc;
        doc["status"] = "complete";
        for (const auto& [key, value] : index.items())
            if (key != "status") doc[key] = value;
        write_file_atomic(dir_ / index_, doc.dump(2) + "\n");
    }

  private:
    std::filesystem::path dir_;
    std::string index_;
};

/// The status of a run's index: "" when it is complete or has no status (written before result_set
/// existed), else why its folder is not a consistent set of results.
inline std::string result_status(const nlohmann::ordered_json& index) {
    if (!index.is_object() || !index.contains("status")) return {};
    const auto& s = index["status"];
    if (s == "complete") return {};
    if (s == "incomplete")
        return "the run that writes it has not finished or was interrupted (status \"incomplete\"): its files are "
               "not one run's";
    return "its status is " + s.dump() + ", neither \"complete\" nor \"incomplete\"";
}

// --- reading ---------------------------------------------------------------------------------

/// The whole of a regular file, or an error naming it: a missing file, a folder, a FIFO, a device
/// or a socket is refused before it is opened (opening a FIFO would block).
inline std::string read_text_file(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) throw std::runtime_error("cannot read " + path.string() + ": it does not exist");
    if (fs::is_directory(status)) throw std::runtime_error("cannot read " + path.string() + ": it is a folder");
    if (!fs::is_regular_file(status)) throw std::runtime_error("cannot read " + path.string() + ": not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    std::string text;
    try {
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot read " + path.string() + ": " + e.what());
    }
    if (in.bad()) throw std::runtime_error("cannot read " + path.string());
    return text;
}

/// A JSON library error as one short line: a parse error quotes what it read last, which can be
/// thousands of characters.
inline std::string json_error_text(const nlohmann::ordered_json::exception& e) {
    std::string what = e.what();
    if (what.size() > 200) what = what.substr(0, 197) + "...";
    return what;
}

}  // namespace teleport
