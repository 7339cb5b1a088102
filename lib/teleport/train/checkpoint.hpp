// teleport/train/checkpoint.hpp — checkpoint and resume of mini-batch runs (train/minibatch.hpp).
//
// A checkpoint is a folder: checkpoint.json (a format name, the configuration of the runs, the
// build, the finished runs' records, and for the running one its minibatch_progress and its record
// so far) and the running run's parameters and optimizer vectors as array files. The arrays are
// named with a generation number and written before checkpoint.json is renamed into place, so the
// JSON only ever names complete files; the previous generation's arrays are deleted after it.
// Doubles are stored bit for bit, generator states as text, and every array with its size and
// CRC-32, so a resumed run is the uninterrupted one and a damaged checkpoint is refused with one
// line that says what is wrong.
//
//     checkpoint ck(dir, "my checkpoint 1", config, checkpoint_build(versions), io::npy_files{});
//     ... minibatch_optimize_with_teleport(..., p, epochs, run, checkpoint_epochs(ck, finished, "sgd", 0, run, epochs));
//     const json doc = ck.load();              // --resume: the same format and configuration, or checkpoint_error
//     auto saved = read_progress<Vec>(ck, doc.at("current"), "sgd", epochs, w0.size(), vectors, run);
//     restore(saved, p);                       // p continues where the checkpoint left it
//
// The array files are written and read by a policy (array_files): the library has no file format
// of its own for arrays; the drivers and tests use the .npy files of teleport/io/npy.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "teleport/train/files.hpp"
#include "teleport/train/minibatch.hpp"

namespace teleport {

/// Why a checkpoint cannot be continued; what() is one line.
enum class checkpoint_problem { missing, unreadable, corrupt, other_configuration };

struct checkpoint_error : std::runtime_error {
    checkpoint_error(checkpoint_problem p, const std::string& what) : std::runtime_error(what), problem(p) {}
    checkpoint_problem problem;
};

/// A problem with the content of a checkpoint (reported as "corrupt or incomplete").
struct bad_checkpoint : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// array_files<A, Vec>: writes a parameter vector to a file and reads one of a given size back
/// (throwing on any problem with the file).
template <class A, class Vec>
concept array_files = requires(const A& a, const std::filesystem::path& path, const Vec& v, std::size_t n) {
    a.save(path, v);
    { a.template load<Vec>(path, n) } -> std::convertible_to<Vec>;
};


// --- exact numbers -------------------------------------------------------------------------------

/// A double in the checkpoint, read back bit for bit: a JSON number when finite (nlohmann_json
/// writes the shortest text that reads back to the same double), else "nan", "inf" or "-inf".
inline nlohmann::ordered_json exact(double v) {
    if (std::isfinite(v)) return v;
    return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

inline double exact_double(const nlohmann::ordered_json& j) {
    if (j.is_number()) return j.get<double>();
    if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
        if (s == "inf") return std::numeric_limits<double>::infinity();
        if (s == "-inf") return -std::numeric_limits<double>::infinity();
    }
    throw bad_checkpoint("a number was expected, found " + j.dump());
}

inline nlohmann::ordered_json exact_numbers(const std::vector<double>& values) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (double v : values) j.push_back(exact(v));
    return j;
}

inline std::vector<double> exact_doubles(const nlohmann::ordered_json& j) {
    std::vector<double> values;
    for (const auto& v : j) values.push_back(exact_double(v));
    return values;
}

inline nlohmann::ordered_json exact_metrics(const split_metrics& m) {
    return nlohmann::ordered_json::array({exact(m.loss), exact(m.accuracy), exact(m.grad_norm_sq)});
}

inline split_metrics read_metrics(const nlohmann::ordered_json& j) {
    if (!j.is_array() || j.size() != 3) throw bad_checkpoint("metrics must be [loss, accuracy, grad_norm_sq]");
    return {exact_double(j[0]), exact_double(j[1]), exact_double(j[2])};
}

// --- a run's record ------------------------------------------------------------------------------

/// A run's record so far (rows, teleports with their full reports, times), exactly, under its name.
inline nlohmann::ordered_json minibatch_run_json(const std::string& name, const minibatch_run& run) {
    using json = nlohmann::ordered_json;
    json j;
    j["name"] = name;
    json rows = json::array();
    for (const auto& r : run.epochs)
        rows.push_back({{"epoch", r.epoch},
                        {"train", exact_metrics(r.train)},
                        {"valid", exact_metrics(r.valid)},
                        {"time_s", exact(r.time_s)},
                        {"teleported", r.teleported}});
    j["rows"] = std::move(rows);
    json teleports = json::array();
    for (const auto& t : run.teleports) {
        const auto& r = t.report;
        teleports.push_back({{"step", r.step},
                             {"theta0", exact_numbers(r.theta0)},
                             {"theta", exact_numbers(r.theta)},
                             {"loss_before", exact(r.loss_before)},
                             {"loss_after", exact(r.loss_after)},
                             {"relative_loss_change", exact(r.relative_loss_change)},
                             {"grad_norm_sq_before", exact(r.grad_norm_sq_before)},
                             {"grad_norm_sq_after", exact(r.grad_norm_sq_after)},
                             {"objective_before", exact(r.objective_before)},
                             {"objective_after", exact(r.objective_after)},
                             {"objective_evaluations", r.objective_evaluations},
                             {"accepted", r.accepted},
                             {"rejection", r.rejection},
                             {"payoff_steps", r.payoff_steps},
                             {"loss_with", exact(r.loss_with)},
                             {"loss_without", exact(r.loss_without)},
                             {"payoff_seconds", exact(r.payoff_seconds)},
                             {"batch", t.batch},
                             {"valid_before", exact_metrics(t.valid_before)},
                             {"valid_after", exact_metrics(t.valid_after)},
                             {"seconds", exact(t.seconds)}});
    }
    j["teleports"] = std::move(teleports);
    j["train_seconds"] = exact(run.train_seconds);
    j["teleport_seconds"] = exact(run.teleport_seconds);
    j["eval_seconds"] = exact(run.eval_seconds);
    j["stop_reason"] = run.stop_reason;
    return j;
}

/// Reads the record of run `name` of `epochs` epochs (rows 0, 1, … and at most epochs + 1 of them).
inline minibatch_run read_minibatch_run(const nlohmann::ordered_json& j, const std::string& name, std::size_t epochs) {
    if (j.at("name").get<std::string>() != name)
        throw bad_checkpoint("it holds method '" + j.at("name").get<std::string>() + "' where '" + name +
                             "' was expected");
    minibatch_run run;
    for (const auto& r : j.at("rows")) {
        epoch_record row;
        row.epoch = r.at("epoch").get<std::size_t>();
        row.train = read_metrics(r.at("train"));
        row.valid = read_metrics(r.at("valid"));
        row.time_s = exact_double(r.at("time_s"));
        row.teleported = r.at("teleported").get<bool>();
        if (row.epoch != run.epochs.size()) throw bad_checkpoint(name + ": the epochs of its rows are not 0, 1, 2, ...");
        run.epochs.push_back(row);
    }
    if (run.epochs.empty() || run.epochs.size() > epochs + 1)
        throw bad_checkpoint(name + ": " + std::to_string(run.epochs.size()) + " rows for " + std::to_string(epochs) +
                             " epochs");
    for (const auto& t : j.at("teleports")) {
        batch_teleport_record bt;
        auto& r = bt.report;
        r.step = t.at("step").get<std::size_t>();
        r.theta0 = exact_doubles(t.at("theta0"));
        r.theta = exact_doubles(t.at("theta"));
        r.loss_before = exact_double(t.at("loss_before"));
        r.loss_after = exact_double(t.at("loss_after"));
        r.relative_loss_change = exact_double(t.at("relative_loss_change"));
        r.grad_norm_sq_before = exact_double(t.at("grad_norm_sq_before"));
        r.grad_norm_sq_after = exact_double(t.at("grad_norm_sq_after"));
        r.objective_before = exact_double(t.at("objective_before"));
        r.objective_after = exact_double(t.at("objective_after"));
        r.objective_evaluations = t.at("objective_evaluations").get<std::size_t>();
        r.accepted = t.at("accepted").get<bool>();
        r.rejection = t.at("rejection").get<std::string>();
        r.payoff_steps = t.at("payoff_steps").get<std::size_t>();
        r.loss_with = exact_double(t.at("loss_with"));
        r.loss_without = exact_double(t.at("loss_without"));
        r.payoff_seconds = exact_double(t.at("payoff_seconds"));
        bt.batch = t.at("batch").get<std::size_t>();
        bt.valid_before = read_metrics(t.at("valid_before"));
        bt.valid_after = read_metrics(t.at("valid_after"));
        bt.seconds = exact_double(t.at("seconds"));
        run.teleports.push_back(std::move(bt));
    }
    run.train_seconds = exact_double(j.at("train_seconds"));
    run.teleport_seconds = exact_double(j.at("teleport_seconds"));
    run.eval_seconds = exact_double(j.at("eval_seconds"));
    run.stop_reason = j.at("stop_reason").get<std::string>();
    return run;
}

// --- generators and arrays -----------------------------------------------------------------------

inline std::string rng_text(const std::mt19937_64& rng) {
    std::ostringstream os;
    os << rng;
    return os.str();
}

inline std::mt19937_64 rng_from_text(const nlohmann::ordered_json& j, const std::string& what) {
    std::istringstream is(j.get<std::string>());
    std::mt19937_64 rng;
    is >> rng;
    if (is.fail() || !(is >> std::ws).eof()) throw bad_checkpoint(what + " is not the state of a std::mt19937_64");
    return rng;
}

/// CRC-32 (zlib) of an array's bytes: the checkpoint notices an array file that was altered after it was written.
template <class Vec>
std::string checksum(const Vec& v) {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    const auto* bytes = reinterpret_cast<const Bytef*>(v.data());
    std::size_t left = v.size() * sizeof(value_type_t<Vec>);
    while (left > 0) {  // zlib takes the length as a uInt
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
        crc = ::crc32(crc, bytes, chunk);
        bytes += chunk;
        left -= chunk;
    }
    char text[16];
    std::snprintf(text, sizeof text, "%08lx", static_cast<unsigned long>(crc));
    return text;
}

/// What the numbers depend on beside the configuration: the library versions (given), the compiler
/// among them, and the BLAS thread count.
inline nlohmann::ordered_json checkpoint_build(nlohmann::ordered_json versions) {
    nlohmann::ordered_json b;
    b["versions"] = std::move(versions);
    const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
    b["openblas_num_threads"] = threads ? nlohmann::ordered_json(threads) : nlohmann::ordered_json(nullptr);
    return b;
}

// --- the checkpoint folder -----------------------------------------------------------------------

/// DIR: checkpoint.json and the running run's arrays (see the top of this file).
template <class Files>
class checkpoint {
  public:
    using json = nlohmann::ordered_json;

    /// format: names the kind of checkpoint (a checkpoint of another kind is refused); config: the
    /// runs' configuration, which must be the same to continue; build: checkpoint_build(…), which
    /// may differ (see build_difference).
    checkpoint(std::filesystem::path dir, std::string format, json config, json build, Files files = {})
        : dir_(std::move(dir)), format_(std::move(format)), config_(std::move(config)), build_(std::move(build)),
          files_(std::move(files)) {}

    std::filesystem::path file() const { return dir_ / "checkpoint.json"; }

    /// Reads checkpoint.json and checks that it is a checkpoint of this format and configuration.
    json load() {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (!fs::exists(file(), ec))
            throw checkpoint_error(checkpoint_problem::missing,
                                   "there is no checkpoint to continue: " + file().string() + " does not exist");
        if (!read_only_) remove_stale_temporaries(dir_);  // of a run killed while it saved
        std::string text;
        try {
            text = read_text_file(file());  // a folder or a FIFO in its place is refused, naming it
        } catch (const std::runtime_error& e) {
            throw checkpoint_error(checkpoint_problem::unreadable, e.what());
        }
        json doc, theirs;
        reading([&] {
            doc = json::parse(text);
            if (!doc.is_object() || !doc.contains("format") || doc["format"] != format_)
                throw bad_checkpoint("it is not a checkpoint of this driver");
            theirs = doc.at("config");
            generation_ = doc.at("generation").get<std::size_t>() + 1;
            for (const auto& name : files_of(doc)) current_.push_back(name);
        });
        if (theirs != config_)
            throw checkpoint_error(checkpoint_problem::other_configuration,
                                   "the checkpoint in " + dir_.string() + " was written with a different configuration: config" +
                                       first_difference(theirs, config_));
        // another build or BLAS thread count may round differently: allowed, but said
        build_difference_ = doc.contains("build") && doc["build"] != build_ ? first_difference(doc["build"], build_) : "";
        return doc;
    }

    /// After load(): "" when the checkpoint was written by this build, else where the builds
    /// differ ("/versions/compiler is … there and … now"); the resumed run may then round otherwise.
    const std::string& build_difference() const { return build_difference_; }

    /// "/path is X there and Y now" for the first place where two JSON documents differ.
    static std::string first_difference(const json& theirs, const json& ours) {
        const json patch = json::diff(theirs, ours);
        const std::string path = patch.empty() ? "" : patch.front().at("path").get<std::string>();
        const typename json::json_pointer pointer(path);
        auto show = [&](const json& j) {
            if (!j.contains(pointer)) return std::string("absent");
            std::string s = j.at(pointer).dump();
            return s.size() > 60 ? s.substr(0, 57) + "..." : s;
        };
        return path + " is " + show(theirs) + " there and " + show(ours) + " now";
    }

    /// Runs fn, reporting any problem with the checkpoint's content as one checkpoint_error naming the file.
    template <class Fn>
    void reading(Fn&& fn) const {
        try {
            fn();
        } catch (const bad_checkpoint& e) {
            throw checkpoint_error(checkpoint_problem::corrupt,
                                   file().string() + " is corrupt or incomplete: " + e.what());
        } catch (const json::exception& e) {
            throw checkpoint_error(checkpoint_problem::corrupt,
                                   file().string() + " is corrupt or incomplete: " + json_error_text(e));
        }
    }

    /// Removes a checkpoint left by an earlier run (a fresh run replaces it), and the temporary
    /// files of an interrupted write; true if there was a checkpoint. Other files stay.
    bool clear() {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (read_only_) return fs::exists(file(), ec);
        bool found = false;
        std::vector<fs::path> ours;
        if (fs::is_directory(dir_, ec))
            for (const auto& entry : fs::directory_iterator(dir_, ec)) {
                const std::string name = entry.path().filename().string();
                if (name == "checkpoint.json" || temporary_owner(name) > 0 || name.starts_with("weights-") ||
                    name.starts_with("optimizer"))
                    ours.push_back(entry.path());
                found = found || name == "checkpoint.json";
            }
        for (const auto& path : ours) fs::remove(path, ec);
        fs::remove(dir_, ec);  // only if empty
        return found;
    }

    /// Writes an array of this generation; returns its entry for checkpoint.json.
    template <class Vec>
    json save_array(const Vec& v, const std::string& stem) {
        static_assert(array_files<Files, Vec>, "a checkpoint's Files must provide save(path, v) and load<Vec>(path, n)");
        const std::string name = stem + "-" + std::to_string(generation_) + ".npy";
        if (!read_only_) {
            make_output_directory(dir_);
            files_.save(dir_ / name, v);
        }
        written_.push_back(name);
        return {{"file", name}, {"size", v.size()}, {"crc32", checksum(v)}};
    }

    /// Reads an array named by checkpoint.json; it must have `size` values and its checksum.
    template <class Vec>
    Vec load_array(const json& j, std::size_t size) const {
        static_assert(array_files<Files, Vec>, "a checkpoint's Files must provide save(path, v) and load<Vec>(path, n)");
        const auto name = j.at("file").get<std::string>();
        if (name.empty() || name.find('/') != std::string::npos || name.front() == '.')
            throw bad_checkpoint("'" + name + "' is not the name of an array of the checkpoint");
        if (j.at("size").get<std::size_t>() != size)
            throw bad_checkpoint(name + " holds " + std::to_string(j.at("size").get<std::size_t>()) + " values, not " +
                                 std::to_string(size));
        Vec v;
        try {
            v = files_.template load<Vec>(dir_ / name, size);
        } catch (const std::exception& e) {  // the file itself is damaged: its reader's message names it
            throw checkpoint_error(checkpoint_problem::corrupt,
                                   std::string("the checkpoint is corrupt or incomplete: ") + e.what());
        }
        if (checksum(v) != j.at("crc32").get<std::string>())
            throw bad_checkpoint(name + " does not hold the values that were written (checksum)");
        return v;
    }

    /// Writes checkpoint.json: the finished runs' records and the running run (or null), then
    /// deletes the arrays of the previous generation.
    void commit(json finished, json current) {
        namespace fs = std::filesystem;
        if (read_only_) {
            current_ = std::move(written_);
            written_.clear();
            ++generation_;
            return;
        }
        make_output_directory(dir_);
        json doc;
        doc["format"] = format_;
        doc["generation"] = generation_;
        doc["config"] = config_;
        doc["build"] = build_;
        doc["finished"] = std::move(finished);
        doc["current"] = std::move(current);
        write_file_atomic(file(), doc.dump(2) + "\n");
        std::error_code ec;
        for (const auto& name : current_)
            if (std::find(written_.begin(), written_.end(), name) == written_.end()) fs::remove(dir_ / name, ec);
        current_ = std::move(written_);
        written_.clear();
        ++generation_;
    }

    /// From now on this object reads the checkpoint but writes, clears and removes nothing: the
    /// ranks of a data-parallel run other than the first hold the same state as the first, which
    /// alone writes it (train/data_parallel.hpp).
    void set_read_only() { read_only_ = true; }

    /// The runs are complete: the checkpoint goes (with any temporary file an interrupted run left).
    void remove() {
        clear();
        current_.clear();
    }

  private:
    static std::vector<std::string> files_of(const json& doc) {
        std::vector<std::string> names;
        const json& current = doc.at("current");
        if (current.is_null()) return names;
        names.push_back(current.at("weights").at("file").get<std::string>());
        for (const auto& v : current.at("optimizer").at("vectors")) names.push_back(v.at("file").get<std::string>());
        return names;
    }

    std::filesystem::path dir_;
    std::string format_;
    json config_;
    json build_;
    Files files_;
    std::size_t generation_ = 0;
    std::vector<std::string> current_;  // arrays named by the checkpoint.json on disk
    std::vector<std::string> written_;  // arrays written for the next checkpoint.json
    std::string build_difference_;
    bool read_only_ = false;
};

// --- the running run -----------------------------------------------------------------------------

/// The optimizer state's vectors (momentum-like, then squared-gradient accumulators), in the
/// order the state visits them.
template <class Vec, class State>
auto optimizer_vectors(State& state) {
    std::vector<std::conditional_t<std::is_const_v<State>, const Vec*, Vec*>> vectors;
    auto add = [&](auto& v) { vectors.push_back(&v); };
    state.for_each_gradient_like(add);
    state.for_each_second_moment(add);
    return vectors;
}

/// How many vectors the optimizer's state holds.
template <class Opt, class Vec>
std::size_t optimizer_vector_count(const Opt& opt, const Vec& w) {
    auto state = opt.make_state(w);
    return optimizer_vectors<Vec>(state).size();
}

/// The running run's entry of checkpoint.json (its arrays are written as this generation's).
template <class Files, class Vec, class State>
nlohmann::ordered_json progress_json(checkpoint<Files>& ck, const minibatch_progress<Vec, State>& p,
                                     const minibatch_run& run, const std::string& name, std::size_t index) {
    using json = nlohmann::ordered_json;
    json j;
    j["index"] = index;
    j["method"] = name;
    j["epochs_done"] = p.epochs;
    j["weights"] = ck.save_array(p.x, "weights");
    json vectors = json::array();
    for (const auto* v : optimizer_vectors<Vec>(p.state))
        vectors.push_back(ck.save_array(*v, "optimizer" + std::to_string(vectors.size())));
    j["optimizer"] = {{"steps", p.state.steps}, {"vectors", std::move(vectors)}};
    j["shuffle_rng"] = rng_text(p.shuffle_rng);
    j["teleport_rng"] = rng_text(p.teleport_rng);
    j["elapsed"] = exact(p.elapsed);
    j["results"] = minibatch_run_json(name, run);
    return j;
}

/// A running run as the checkpoint holds it, read and checked before anything else is done (the
/// optimizer state's type need not be known yet).
template <class Vec>
struct saved_progress {
    std::size_t epochs = 0;
    Vec x;
    std::vector<Vec> vectors;  // the optimizer state's, in optimizer_vectors order
    std::size_t steps = 0;
    std::mt19937_64 shuffle_rng, teleport_rng;
    double elapsed = 0;
};

/// Reads the running run's entry (call inside ck.reading): its arrays (`size` values each;
/// `vectors` optimizer vectors) and generator states, and its record so far into run.
template <class Vec, class Files>
saved_progress<Vec> read_progress(const checkpoint<Files>& ck, const nlohmann::ordered_json& j, const std::string& name,
                                  std::size_t epochs, std::size_t size, std::size_t vectors, minibatch_run& run) {
    if (j.at("method").get<std::string>() != name)
        throw bad_checkpoint("the running method is '" + j.at("method").get<std::string>() + "', not '" + name + "'");
    saved_progress<Vec> p;
    p.epochs = j.at("epochs_done").get<std::size_t>();
    if (p.epochs == 0 || p.epochs >= epochs)
        throw bad_checkpoint(std::to_string(p.epochs) + " epochs done of " + std::to_string(epochs));
    p.x = ck.template load_array<Vec>(j.at("weights"), size);
    const auto& stored = j.at("optimizer").at("vectors");
    if (stored.size() != vectors)
        throw bad_checkpoint("it holds " + std::to_string(stored.size()) + " optimizer vectors, " + name + "'s optimizer has " +
                             std::to_string(vectors));
    for (const auto& v : stored) p.vectors.push_back(ck.template load_array<Vec>(v, size));
    p.steps = j.at("optimizer").at("steps").get<std::size_t>();
    p.shuffle_rng = rng_from_text(j.at("shuffle_rng"), "shuffle_rng");
    p.teleport_rng = rng_from_text(j.at("teleport_rng"), "teleport_rng");
    p.elapsed = exact_double(j.at("elapsed"));
    run = read_minibatch_run(j.at("results"), name, epochs);
    if (run.epochs.size() != p.epochs + 1)
        throw bad_checkpoint(name + ": " + std::to_string(run.epochs.size()) + " rows after " + std::to_string(p.epochs) +
                             " epochs");
    return p;
}

/// Continues p from a saved progress (p.state from the same optimizer's make_state).
template <class Vec, class State>
void restore(const saved_progress<Vec>& saved, minibatch_progress<Vec, State>& p) {
    auto vectors = optimizer_vectors<Vec>(p.state);
    if (vectors.size() != saved.vectors.size())
        throw std::logic_error("restore: the saved progress is of an optimizer with other vectors");
    p.epochs = saved.epochs;
    p.x = saved.x;
    for (std::size_t k = 0; k < vectors.size(); ++k) *vectors[k] = saved.vectors[k];
    p.state.steps = saved.steps;
    p.shuffle_rng = saved.shuffle_rng;
    p.teleport_rng = saved.teleport_rng;
    p.elapsed = saved.elapsed;
}

/// Writes the checkpoint after every epoch but the last of a run that goes on: an end_epoch
/// callback of the mini-batch loop, placed after record_epochs (the one-call Algorithm 1 puts it
/// there), so that the saved record holds the epoch's row and a run record_epochs stopped is not
/// saved as running. finished: the finished runs' records (minibatch_run_json), held by reference.
template <class Files>
class checkpoint_epochs {
  public:
    checkpoint_epochs(checkpoint<Files>& ck, const nlohmann::ordered_json& finished, std::string name, std::size_t index,
                      const minibatch_run& run, std::size_t epochs)
        : ck_(&ck), finished_(&finished), name_(std::move(name)), index_(index), run_(&run), epochs_(epochs) {}

    template <class Vec, class State>
    void end_epoch(const minibatch_progress<Vec, State>& p) {
        if (run_->stopped() || p.epochs >= epochs_) return;
        ck_->commit(*finished_, progress_json(*ck_, p, *run_, name_, index_));
    }

  private:
    checkpoint<Files>* ck_;
    const nlohmann::ordered_json* finished_;
    std::string name_;
    std::size_t index_;
    const minibatch_run* run_;
    std::size_t epochs_;
};

/// Named mini-batch runs done one after another under one checkpoint (the methods of an
/// experiment, say): after every epoch the running run is saved (checkpoint_epochs), after every
/// run the finished ones; a budget of epochs stops the sequence cleanly with the checkpoint in
/// place, and resume() continues a stopped or interrupted sequence where the checkpoint left it.
template <class Files, class Vec>
class run_sequence {
  public:
    run_sequence(checkpoint<Files>& ck, std::vector<std::string> names, std::size_t epochs)
        : ck_(&ck), names_(std::move(names)), records_(names_.size()), epochs_(epochs) {}

    /// Reads the checkpoint: the finished runs' records and the running run's progress (checked:
    /// `size` parameters, vectors(i) optimizer vectors for run i). Throws checkpoint_error.
    template <class VectorCount>
    void resume(std::size_t size, VectorCount&& vectors) {
        const auto doc = ck_->load();
        ck_->reading([&] {
            const auto& finished = doc.at("finished");
            if (finished.size() > names_.size())
                throw bad_checkpoint(std::to_string(finished.size()) + " finished methods of " +
                                     std::to_string(names_.size()));
            for (const auto& r : finished) {
                records_[first_] = read_minibatch_run(r, names_[first_], epochs_);
                // a finished run has all its rows, unless it ended early and says why
                if (!records_[first_].stopped() && records_[first_].epochs.size() != epochs_ + 1)
                    throw bad_checkpoint(names_[first_] + " is finished but has " +
                                         std::to_string(records_[first_].epochs.size()) + " rows for " +
                                         std::to_string(epochs_) + " epochs (" + std::to_string(epochs_ + 1) +
                                         " expected)");
                ++first_;
            }
            const auto& current = doc.at("current");
            if (current.is_null()) return;
            if (first_ == names_.size() || current.at("index").template get<std::size_t>() != first_)
                throw bad_checkpoint("the running method is not the one after the finished ones");
            saved_ = read_progress<Vec>(*ck_, current, names_[first_], epochs_, size, vectors(first_), records_[first_]);
        });
    }

    std::size_t first() const { return first_; }                       ///< the first run still to do
    const std::optional<saved_progress<Vec>>& saved() const { return saved_; }  ///< where it stopped, if inside
    const std::vector<minibatch_run>& records() const { return records_; }

    /// Does runs first() … in order: run_one(i, from, record, callback) must run run i by the
    /// mini-batch loop from `from` (nullptr: from its start), recording into `record` and passing
    /// `callback` to the loop after record_epochs (minibatch_optimize_with_teleport does). Returns
    /// true when every run is done, false when `budget` epochs (counted over the runs) were used
    /// up first; the checkpoint then holds the rest.
    template <class RunOne>
    bool run(RunOne&& run_one, std::size_t budget) {
        auto finished = nlohmann::ordered_json::array();
        for (std::size_t k = 0; k < first_; ++k) finished.push_back(minibatch_run_json(names_[k], records_[k]));
        for (std::size_t i = first_; i < names_.size(); ++i) {
            const saved_progress<Vec>* from = i == first_ && saved_ ? &*saved_ : nullptr;
            epoch_callback callback{checkpoint_epochs<Files>(*ck_, finished, names_[i], i, records_[i], epochs_), &budget,
                                    &records_[i], epochs_, false};
            run_one(i, from, records_[i], callback);
            if (callback.stopped) return false;
            finished.push_back(minibatch_run_json(names_[i], records_[i]));
            ck_->commit(finished, nullptr);
            if (budget == 0 && i + 1 < names_.size()) return false;
        }
        return true;
    }

  private:
    /// Saves after the epoch and counts it against the budget; stops inside a run that goes on.
    struct epoch_callback {
        checkpoint_epochs<Files> save;
        std::size_t* budget;
        const minibatch_run* record;
        std::size_t epochs;
        bool stopped;

        template <class State>
        bool end_epoch(const minibatch_progress<Vec, State>& p) {
            save.end_epoch(p);
            --*budget;
            stopped = !record->stopped() && p.epochs < epochs && *budget == 0;
            return stopped;
        }
    };

    checkpoint<Files>* ck_;
    std::vector<std::string> names_;
    std::vector<minibatch_run> records_;
    std::size_t epochs_;
    std::size_t first_ = 0;
    std::optional<saved_progress<Vec>> saved_;
};

}  // namespace teleport
