// mnist — the paper's classification experiment (§6, Fig. 4): a 784-512-512-10 LeakyReLU network
// with softmax cross-entropy on MNIST-format data (Fashion-MNIST by default), trained by mini-batch
// SGD and AdaGrad, each with and without teleportation as in the paper's SGD algorithm (SPEC §3.1):
// before each scheduled epoch, one teleport on each of the first B mini-batches of that epoch.
// Writes one CSV per method, summary.json and figures (SPEC §4).
//
// --sweep when|interval|batches runs the schedule study of Fig. 5 instead: plain SGD and SGD with
// one teleport at different epochs, 5 teleports at different intervals, or teleports on different
// numbers B of mini-batches; the same initialization and batches for every variant.
//
// A long run can be interrupted and continued: after every epoch and after every method the driver
// writes DIR/checkpoint/ (the running method's weights and optimizer state as .npy, everything else
// as JSON, the JSON renamed into place last); --resume continues from it and gives the same numbers
// as an uninterrupted run; --stop-after N stops cleanly after N epochs. The checkpoint is deleted
// when the run completes.
//
// Measured beside the paper's numbers (SPEC §5): eq. 8 is a symmetry only on the teleport's batch,
// so every teleport also records the relative change of the validation loss.
// The main job `reproduce` runs this driver shortened (3 epochs); bench/bench_mnist.cpp times an SGD
// step and a teleport of this network (docs/performance.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "network_experiment.hpp"
#include "output.hpp"
#include "teleport/io/npy.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/problems/mnist.hpp"

namespace {

using namespace teleport;
using namespace teleport::drivers;
using activation = tensor::leaky_relu<1, 10>;

struct options {
    std::string out = "results/mnist";
    std::uint64_t seed = 0;
    bool plot = true;
    std::string data = problems::default_mnist_dir;
    std::size_t limit = 0;
    std::string widths = "784,512,512,10";
    std::string precision = "float";
    std::size_t epochs = 80;
    std::size_t batch = 20;
    double sgd_lr = 2e-3;
    double adagrad_lr = 2e-3;
    double adagrad_epsilon = 1e-10;
    std::string schedule = "1";
    std::size_t teleport_batches = 4;
    std::size_t teleport_steps = 10;
    double teleport_lr = 1e-3;
    std::string symmetry = "nonlinear";
    std::string pairs = "all";
    double tolerance = 0;  // 0: the precision's default
    std::size_t eval_block = 2000;
    std::string sweep;          // "", "when", "interval" or "batches"
    std::string sweep_values;   // "": the kind's default
    std::size_t sweep_teleports = 5;
    bool schedule_given = false, teleport_batches_given = false, sweep_teleports_given = false;
    bool resume = false;
    std::size_t stop_after = 0;  // 0: never
};

/// The data in the layouts the loops want: columns for large evaluation blocks, rows (one sample
/// per row) so that a shuffled mini-batch is gathered from contiguous memory.
template <class T>
struct mnist_data {
    problems::mnist_split<T> split;
    matrix<T> train_rows;  // n_train × pixels
    std::size_t n_train() const { return split.train_y.size(); }
    std::size_t n_valid() const { return split.valid_y.size(); }
};

/// Loss (mean cross-entropy), accuracy and optionally ‖∇L‖² of the full gradient over a split,
/// evaluated in blocks of columns through the network's own loss (the net's data is replaced).
struct split_metrics {
    double loss = 0, accuracy = 0, grad_norm_sq = std::numeric_limits<double>::quiet_NaN();
};

template <class Net>
split_metrics evaluate_split(Net& net, const typename Net::parameters& w, const matrix<typename Net::value_type>& x,
                             const std::vector<std::uint8_t>& labels, std::size_t block, bool gradient,
                             bool accuracy) {
    using T = typename Net::value_type;
    const std::size_t n = labels.size(), pixels = x.shape(0);
    split_metrics m;
    std::vector<double> g_sum(gradient ? w.size() : 0, 0.0);
    typename Net::parameters g;
    std::size_t correct = 0;
    for (std::size_t a = 0; a < n; a += block) {
        const std::size_t nb = std::min(block, n - a);
        auto bx = matrix<T>::from_shape({pixels, nb});
        for (std::size_t p = 0; p < pixels; ++p)
            std::copy_n(x.data() + p * n + a, nb, bx.data() + p * nb);
        auto by = problems::one_hot<T>(std::span<const std::uint8_t>(labels).subspan(a, nb));
        net.set_data(std::move(bx), std::move(by));
        const double weight = double(nb) / double(n);
        if (gradient) {
            m.loss += weight * double(net.evaluate_with_gradient(w, g));
            for (std::size_t i = 0; i < g.size(); ++i) g_sum[i] += weight * double(g[i]);
        } else {
            m.loss += weight * double(net.evaluate(w));
        }
        if (accuracy) {
            const matrix<T> logits = net.predict(w);
            for (std::size_t k = 0; k < nb; ++k) {
                std::size_t best = 0;
                for (std::size_t c = 1; c < logits.shape(0); ++c)
                    if (logits(c, k) > logits(best, k)) best = c;
                correct += best == labels[a + k] ? 1 : 0;
            }
        }
    }
    m.accuracy = accuracy ? double(correct) / double(n) : std::numeric_limits<double>::quiet_NaN();
    if (gradient) {
        m.grad_norm_sq = 0;
        for (double v : g_sum) m.grad_norm_sq += v * v;
    }
    return m;
}

/// The mini-batch of the given training samples: X (pixels × b) and one-hot Y (10 × b).
template <class Net>
void set_batch(Net& net, const mnist_data<typename Net::value_type>& d, std::span<const std::size_t> samples) {
    using T = typename Net::value_type;
    const std::size_t pixels = d.train_rows.shape(1), b = samples.size();
    auto bx = matrix<T>::from_shape({pixels, b});
    matrix<T> by = xt::zeros<T>({std::size_t{10}, b});
    for (std::size_t k = 0; k < b; ++k) {
        const T* row = d.train_rows.data() + samples[k] * pixels;
        for (std::size_t p = 0; p < pixels; ++p) bx.data()[p * b + k] = row[p];
        by(d.split.train_y[samples[k]], k) = T(1);
    }
    net.set_data(std::move(bx), std::move(by));
}


template <class T>
using mnist_net = problems::mlp<T, 3, activation, problems::mlp_loss::cross_entropy>;

struct epoch_row {
    std::size_t epoch = 0;
    split_metrics train, valid;
    double time_s = 0;  // training and teleport time so far (evaluation excluded)
    bool teleported = false;
};

struct mnist_teleport {
    teleport_report report;
    std::size_t batch = 0;  // which of the epoch's first B mini-batches
    split_metrics valid_before, valid_after;  // loss and accuracy on the validation split
    double seconds = 0;
};

/// One method of a run: an optimizer, when and on how many mini-batches it teleports, and what it
/// gave. A run is a list of them (the four of Fig. 4, or plain SGD and the variants of a sweep).
struct mnist_method {
    std::string name, label;
    std::string optimizer;  // "sgd" (gd on the mini-batch gradient) or "adagrad"
    double learning_rate = 0;
    bool teleport = false;
    std::set<std::size_t> schedule;    // teleport before these 0-based epochs
    std::size_t teleport_batches = 0;  // B: mini-batches teleported at each of them

    std::vector<epoch_row> rows;
    std::vector<mnist_teleport> teleports;
    double train_seconds = 0, teleport_seconds = 0, eval_seconds = 0;
    std::string stop_reason = "epochs";

    std::string optimizer_name() const { return optimizer == "sgd" ? "gd (mini-batch)" : "adagrad"; }
};

std::string epoch_list(const std::set<std::size_t>& epochs) {
    return "[" + join(std::vector<std::size_t>(epochs.begin(), epochs.end())) + "]";
}

// --- the schedule study of Fig. 5 --------------------------------------------------------------

/// Which hyperparameter of the teleport schedule varies, and its values.
struct sweep_plan {
    std::string kind;  // "when", "interval" or "batches"
    std::vector<std::size_t> values;
    std::size_t start = 0;      // interval: the epoch of the first teleport
    std::size_t teleports = 0;  // interval: teleports per variant

    std::string short_figure() const {
        return kind == "when" ? "Fig. 5a, teleport epoch" : kind == "interval" ? "Fig. 5b, teleport interval"
                                                                               : "Fig. 5c, teleported mini-batches";
    }
    std::string figure() const {
        return kind == "when"       ? "Fig. 5a: one teleport at different epochs"
               : kind == "interval" ? "Fig. 5b: " + std::to_string(teleports) + " teleports at different intervals"
                                    : "Fig. 5c: teleports on different numbers of mini-batches";
    }
};

/// The defaults of --sweep-values. The paper's text does not list the values of its Fig. 5; these
/// cover the range it describes (before training, right after the first epoch, later; intervals
/// from every epoch to every 10th; B = 1 to 8).
std::string default_sweep_values(const std::string& kind) {
    return kind == "when" ? "0,1,2,5,10" : kind == "interval" ? "1,2,5,10" : "1,2,4,8";
}

sweep_plan parse_sweep(const options& o, const std::set<std::size_t>& schedule) {
    sweep_plan s;
    s.kind = o.sweep;
    // a given but empty list is refused in main(); the defaults are not empty
    const std::string text = o.sweep_values.empty() ? default_sweep_values(s.kind) : o.sweep_values;
    s.values = parse_count_list(text, "--sweep-values");
    if (s.kind == "when" && o.schedule_given)
        throw std::invalid_argument("--schedule does not apply to --sweep when: its epochs are the --sweep-values");
    if (s.kind == "batches" && o.teleport_batches_given)
        throw std::invalid_argument("--teleport-batches does not apply to --sweep batches: B are the --sweep-values");
    if (s.kind != "interval" && o.sweep_teleports_given)
        throw std::invalid_argument("--sweep-teleports applies to --sweep interval only");
    if (s.kind == "interval") {
        if (schedule.size() != 1)
            throw std::invalid_argument("--sweep interval: --schedule must give the one epoch of the first teleport, got '" +
                                        o.schedule + "'");
        s.start = *schedule.begin();
        s.teleports = o.sweep_teleports;
    }
    if (s.kind == "batches" && schedule.empty())
        throw std::invalid_argument("--sweep batches: --schedule none leaves no epoch to teleport at");
    std::set<std::size_t> seen;
    for (std::size_t v : s.values) {
        if (!seen.insert(v).second)
            throw std::invalid_argument("--sweep-values: " + std::to_string(v) + " is listed twice");
        if (s.kind == "when" && v >= o.epochs)
            throw std::invalid_argument("--sweep-values: epoch " + std::to_string(v) + " is not below --epochs " +
                                        std::to_string(o.epochs));
        if (s.kind != "when" && v == 0)
            throw std::invalid_argument(std::string("--sweep-values: ") +
                                        (s.kind == "interval" ? "an interval" : "a number of mini-batches") +
                                        " must be positive");
        // interval: the last teleport, start + (teleports − 1)·v, must come before the last epoch
        if (s.kind == "interval" && s.teleports > 1 && v > (o.epochs - 1 - s.start) / (s.teleports - 1))
            throw std::invalid_argument("--sweep-values: " + std::to_string(s.teleports) +
                                        " teleports every " + std::to_string(v) + " epochs from epoch " +
                                        std::to_string(s.start) + " do not fit in --epochs " + std::to_string(o.epochs));
    }
    return s;
}

/// The methods of a run: SGD and AdaGrad with and without teleports (Fig. 4), or plain SGD and one
/// SGD variant per value of the sweep (Fig. 5), all with the same initialization and batches.
std::vector<mnist_method> make_methods(const options& o, const std::set<std::size_t>& schedule,
                                       const std::optional<sweep_plan>& sweep) {
    auto method = [](std::string name, std::string label, std::string optimizer, double lr,
                     std::set<std::size_t> epochs, std::size_t batches) {
        mnist_method m;
        m.name = std::move(name);
        m.label = std::move(label);
        m.optimizer = std::move(optimizer);
        m.learning_rate = lr;
        m.teleport = batches > 0;
        m.schedule = std::move(epochs);
        m.teleport_batches = batches;
        return m;
    };
    std::vector<mnist_method> methods;
    if (!sweep) {
        methods.push_back(method("sgd", "sgd", "sgd", o.sgd_lr, {}, 0));
        methods.push_back(method("sgd_teleport", "sgd + teleport", "sgd", o.sgd_lr, schedule, o.teleport_batches));
        methods.push_back(method("adagrad", "adagrad", "adagrad", o.adagrad_lr, {}, 0));
        methods.push_back(
            method("adagrad_teleport", "adagrad + teleport", "adagrad", o.adagrad_lr, schedule, o.teleport_batches));
        return methods;
    }
    methods.push_back(method("sgd", "sgd", "sgd", o.sgd_lr, {}, 0));
    for (std::size_t v : sweep->values) {
        const std::string value = std::to_string(v);
        if (sweep->kind == "when") {
            methods.push_back(method("sgd_teleport_epoch" + value, "teleport [" + value + "]", "sgd", o.sgd_lr, {v},
                                     o.teleport_batches));
        } else if (sweep->kind == "interval") {
            std::set<std::size_t> epochs;
            for (std::size_t k = 0; k < sweep->teleports; ++k) epochs.insert(sweep->start + k * v);
            methods.push_back(method("sgd_teleport_interval" + value, "teleport " + epoch_list(epochs), "sgd", o.sgd_lr,
                                     epochs, o.teleport_batches));
        } else {
            methods.push_back(method("sgd_teleport_batches" + value, "teleport " + epoch_list(schedule) + ", B = " + value,
                                     "sgd", o.sgd_lr, schedule, v));
        }
    }
    return methods;
}

// --- checkpoint --------------------------------------------------------------------------------

/// A problem with the content of a checkpoint (reported as "corrupt or incomplete").
struct bad_checkpoint : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A double in the checkpoint, read back bit for bit: a JSON number when finite (nlohmann_json
/// writes the shortest text that reads back to the same double), else "nan", "inf" or "-inf".
json exact(double v) {
    if (std::isfinite(v)) return v;
    return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

double exact_double(const json& j) {
    if (j.is_number()) return j.get<double>();
    if (j.is_string()) {
        const auto& s = j.get_ref<const std::string&>();
        if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
        if (s == "inf") return std::numeric_limits<double>::infinity();
        if (s == "-inf") return -std::numeric_limits<double>::infinity();
    }
    throw bad_checkpoint("a number was expected, found " + j.dump());
}

json exact_numbers(const std::vector<double>& values) {
    json j = json::array();
    for (double v : values) j.push_back(exact(v));
    return j;
}

std::vector<double> exact_doubles(const json& j) {
    std::vector<double> values;
    for (const auto& v : j) values.push_back(exact_double(v));
    return values;
}

json exact_metrics(const split_metrics& m) {
    return json::array({exact(m.loss), exact(m.accuracy), exact(m.grad_norm_sq)});
}

split_metrics read_metrics(const json& j) {
    if (!j.is_array() || j.size() != 3) throw bad_checkpoint("metrics must be [loss, accuracy, grad_norm_sq]");
    return {exact_double(j[0]), exact_double(j[1]), exact_double(j[2])};
}

/// A method's results so far (rows, teleports with their full reports, times), exactly.
json results_json(const mnist_method& m) {
    json j;
    j["name"] = m.name;
    json rows = json::array();
    for (const auto& r : m.rows)
        rows.push_back({{"epoch", r.epoch},
                        {"train", exact_metrics(r.train)},
                        {"valid", exact_metrics(r.valid)},
                        {"time_s", exact(r.time_s)},
                        {"teleported", r.teleported}});
    j["rows"] = std::move(rows);
    json teleports = json::array();
    for (const auto& t : m.teleports) {
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
                             {"batch", t.batch},
                             {"valid_before", exact_metrics(t.valid_before)},
                             {"valid_after", exact_metrics(t.valid_after)},
                             {"seconds", exact(t.seconds)}});
    }
    j["teleports"] = std::move(teleports);
    j["train_seconds"] = exact(m.train_seconds);
    j["teleport_seconds"] = exact(m.teleport_seconds);
    j["eval_seconds"] = exact(m.eval_seconds);
    j["stop_reason"] = m.stop_reason;
    return j;
}

void read_results(const json& j, mnist_method& m, std::size_t epochs) {
    if (j.at("name").get<std::string>() != m.name)
        throw bad_checkpoint("it holds method '" + j.at("name").get<std::string>() + "' where '" + m.name +
                             "' was expected");
    m.rows.clear();
    for (const auto& r : j.at("rows")) {
        epoch_row row;
        row.epoch = r.at("epoch").get<std::size_t>();
        row.train = read_metrics(r.at("train"));
        row.valid = read_metrics(r.at("valid"));
        row.time_s = exact_double(r.at("time_s"));
        row.teleported = r.at("teleported").get<bool>();
        if (row.epoch != m.rows.size()) throw bad_checkpoint(m.name + ": the epochs of its rows are not 0, 1, 2, ...");
        m.rows.push_back(row);
    }
    if (m.rows.empty() || m.rows.size() > epochs + 1)
        throw bad_checkpoint(m.name + ": " + std::to_string(m.rows.size()) + " rows for " + std::to_string(epochs) +
                             " epochs");
    m.teleports.clear();
    for (const auto& t : j.at("teleports")) {
        mnist_teleport mt;
        auto& r = mt.report;
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
        mt.batch = t.at("batch").get<std::size_t>();
        mt.valid_before = read_metrics(t.at("valid_before"));
        mt.valid_after = read_metrics(t.at("valid_after"));
        mt.seconds = exact_double(t.at("seconds"));
        m.teleports.push_back(std::move(mt));
    }
    m.train_seconds = exact_double(j.at("train_seconds"));
    m.teleport_seconds = exact_double(j.at("teleport_seconds"));
    m.eval_seconds = exact_double(j.at("eval_seconds"));
    m.stop_reason = j.at("stop_reason").get<std::string>();
}

std::string rng_text(const std::mt19937_64& rng) {
    std::ostringstream os;
    os << rng;
    return os.str();
}

std::mt19937_64 rng_from_text(const json& j, const std::string& what) {
    std::istringstream is(j.get<std::string>());
    std::mt19937_64 rng;
    is >> rng;
    if (is.fail() || !(is >> std::ws).eof()) throw bad_checkpoint(what + " is not the state of a std::mt19937_64");
    return rng;
}

/// CRC-32 (zlib) of an array's bytes: the checkpoint notices an array file that was altered after it was written.
template <class T>
std::string checksum(const xt::xtensor<T, 1>& v) {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    const auto* bytes = reinterpret_cast<const Bytef*>(v.data());
    std::size_t left = v.size() * sizeof(T);
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

/// DIR/checkpoint/: checkpoint.json (the configuration, the finished methods' results, and for
/// the running method its epochs done, results so far, random generator states and times) and the
/// running method's weights and optimizer vectors as .npy files. The arrays are named with a
/// generation number and written before checkpoint.json is renamed into place, so the JSON only
/// ever names complete files; the previous generation's arrays are deleted after it.
class checkpoint {
  public:
    static constexpr const char* format = "teleport mnist checkpoint 1";

    /// config: the run's configuration without the options that only affect output.
    checkpoint(fs::path dir, json config) : dir_(std::move(dir)), config_(std::move(config)) {}

    fs::path file() const { return dir_ / "checkpoint.json"; }

    /// Reads checkpoint.json and checks that it is a checkpoint of this driver, of this configuration.
    json load() {
        std::error_code ec;
        if (!fs::exists(file(), ec))
            throw std::runtime_error("--resume: there is no checkpoint to continue: " + file().string() +
                                     " does not exist");
        std::ifstream in(file(), std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.bad()) throw std::runtime_error("--resume: cannot read " + file().string());
        json doc, theirs;
        reading([&] {
            doc = json::parse(text);
            if (!doc.is_object() || !doc.contains("format") || doc["format"] != format)
                throw bad_checkpoint("it is not a checkpoint of this driver");
            theirs = doc.at("config");
            generation_ = doc.at("generation").get<std::size_t>() + 1;
            for (const auto& name : files_of(doc)) current_.push_back(name);
        });
        if (theirs != config_)
            throw std::runtime_error("--resume: the checkpoint in " + dir_.string() +
                                     " was written with a different configuration: config" +
                                     first_difference(theirs, config_) +
                                     " (only --out, --plot, --resume and --stop-after may change)");
        // another build or BLAS thread count may round differently: allowed, but said
        if (doc.contains("build") && doc["build"] != build_)
            std::fprintf(stderr,
                         "mnist: warning: the checkpoint was written by another build or BLAS setting: build%s; "
                         "the resumed run need not match an uninterrupted one bit for bit\n",
                         first_difference(doc["build"], build_).c_str());
        return doc;
    }

    /// "/path is X there and Y now" for the first place where two JSON documents differ.
    static std::string first_difference(const json& theirs, const json& ours) {
        const json patch = json::diff(theirs, ours);
        const std::string path = patch.empty() ? "" : patch.front().at("path").get<std::string>();
        const json::json_pointer pointer(path);
        auto show = [&](const json& j) {
            if (!j.contains(pointer)) return std::string("absent");
            std::string s = j.at(pointer).dump();
            return s.size() > 60 ? s.substr(0, 57) + "..." : s;
        };
        return path + " is " + show(theirs) + " there and " + show(ours) + " now";
    }

    /// What the numbers depend on beside the configuration: the library versions, the compiler and
    /// the BLAS thread count.
    static json build() {
        json b;
        b["versions"] = library_versions();
        const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
        b["openblas_num_threads"] = threads ? json(threads) : json(nullptr);
        return b;
    }

    /// Runs fn, reporting any problem with the checkpoint's content as one line naming the file.
    template <class Fn>
    void reading(Fn&& fn) const {
        try {
            fn();
        } catch (const bad_checkpoint& e) {
            throw std::runtime_error("--resume: " + file().string() + " is corrupt or incomplete: " + e.what());
        } catch (const json::exception& e) {
            throw std::runtime_error("--resume: " + file().string() + " is corrupt or incomplete: " + json_error_text(e));
        } catch (const io::npy_error& e) {
            throw std::runtime_error("--resume: the checkpoint is corrupt or incomplete: " + std::string(e.what()));
        }
    }

    /// Removes a checkpoint left by an earlier run (a fresh run replaces it), and the temporary
    /// files of an interrupted write; true if there was a checkpoint. Other files stay.
    bool clear() {
        std::error_code ec;
        bool found = false;
        std::vector<fs::path> ours;
        if (fs::is_directory(dir_, ec))
            for (const auto& entry : fs::directory_iterator(dir_, ec)) {
                const std::string name = entry.path().filename().string();
                if (name == "checkpoint.json" || name.starts_with(".checkpoint.json.tmp") ||
                    name.starts_with("weights-") || name.starts_with("optimizer"))
                    ours.push_back(entry.path());
                found = found || name == "checkpoint.json";
            }
        for (const auto& path : ours) fs::remove(path, ec);
        fs::remove(dir_, ec);  // only if empty
        return found;
    }

    /// Writes an array of this generation; returns its entry for checkpoint.json.
    template <class T>
    json save_array(const xt::xtensor<T, 1>& v, const std::string& stem) {
        const std::string name = stem + "-" + std::to_string(generation_) + ".npy";
        make_output_directory(dir_);
        io::save_npy(dir_ / name, v);
        written_.push_back(name);
        return {{"file", name}, {"size", v.size()}, {"crc32", checksum(v)}};
    }

    /// Reads an array named by checkpoint.json; it must have `size` values and its checksum.
    template <class T>
    xt::xtensor<T, 1> load_array(const json& j, std::size_t size) const {
        const auto name = j.at("file").get<std::string>();
        if (name.empty() || name.find('/') != std::string::npos || name.front() == '.')
            throw bad_checkpoint("'" + name + "' is not the name of an array of the checkpoint");
        if (j.at("size").get<std::size_t>() != size)
            throw bad_checkpoint(name + " holds " + std::to_string(j.at("size").get<std::size_t>()) + " values, not " +
                                 std::to_string(size));
        auto v = io::load_npy_vector<T>(dir_ / name, size);
        if (checksum(v) != j.at("crc32").get<std::string>())
            throw bad_checkpoint(name + " does not hold the values that were written (checksum)");
        return v;
    }

    /// Writes checkpoint.json: the finished methods' results and the running method (or null),
    /// then deletes the arrays of the previous generation.
    void commit(json finished, json current) {
        make_output_directory(dir_);
        json doc;
        doc["format"] = format;
        doc["generation"] = generation_;
        doc["config"] = config_;
        doc["build"] = build_;
        doc["finished"] = std::move(finished);
        doc["current"] = std::move(current);
        write_json(file(), doc);
        std::error_code ec;
        for (const auto& name : current_)
            if (std::find(written_.begin(), written_.end(), name) == written_.end()) fs::remove(dir_ / name, ec);
        current_ = std::move(written_);
        written_.clear();
        ++generation_;
    }

    /// The run is complete: the checkpoint goes (with any temporary file an interrupted run left).
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

    fs::path dir_;
    json config_;
    const json build_ = build();  // fixed for the process
    std::size_t generation_ = 0;
    std::vector<std::string> current_;  // arrays named by the checkpoint.json on disk
    std::vector<std::string> written_;  // arrays written for the next checkpoint.json
};

/// Where a method stands between two epochs: what is needed to continue it exactly.
template <class T, class State>
struct method_progress {
    std::size_t epochs = 0;  // epochs done
    xt::xtensor<T, 1> w;
    State state;
    std::mt19937_64 shuffle_rng, teleport_rng;
    double elapsed = 0;  // training and teleport seconds so far (the CSV's time_s)
};

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

template <class T, class State>
json progress_json(checkpoint& ck, const method_progress<T, State>& p, const mnist_method& m, std::size_t index) {
    json j;
    j["index"] = index;
    j["method"] = m.name;
    j["epochs_done"] = p.epochs;
    j["weights"] = ck.save_array(p.w, "weights");
    json vectors = json::array();
    for (const auto* v : optimizer_vectors<xt::xtensor<T, 1>>(p.state))
        vectors.push_back(ck.save_array(*v, "optimizer" + std::to_string(vectors.size())));
    j["optimizer"] = {{"steps", p.state.steps}, {"vectors", std::move(vectors)}};
    j["shuffle_rng"] = rng_text(p.shuffle_rng);
    j["teleport_rng"] = rng_text(p.teleport_rng);
    j["elapsed"] = exact(p.elapsed);
    j["results"] = results_json(m);
    return j;
}

/// A running method as the checkpoint holds it, read and checked before anything else is done.
template <class T>
struct saved_progress {
    std::size_t epochs = 0;
    xt::xtensor<T, 1> w;
    std::vector<xt::xtensor<T, 1>> vectors;  // the optimizer state's, in optimizer_vectors order
    std::size_t steps = 0;
    std::mt19937_64 shuffle_rng, teleport_rng;
    double elapsed = 0;
};

/// Reads the running method's entry: its arrays (`size` values each; `vectors` optimizer vectors)
/// and generator states, and its results so far into m.
template <class T>
saved_progress<T> read_progress(const checkpoint& ck, const json& j, mnist_method& m, std::size_t epochs,
                                std::size_t size, std::size_t vectors) {
    if (j.at("method").get<std::string>() != m.name)
        throw bad_checkpoint("the running method is '" + j.at("method").get<std::string>() + "', not '" + m.name + "'");
    saved_progress<T> p;
    p.epochs = j.at("epochs_done").get<std::size_t>();
    if (p.epochs == 0 || p.epochs >= epochs)
        throw bad_checkpoint(std::to_string(p.epochs) + " epochs done of " + std::to_string(epochs));
    p.w = ck.load_array<T>(j.at("weights"), size);
    const json& stored = j.at("optimizer").at("vectors");
    if (stored.size() != vectors)
        throw bad_checkpoint("it holds " + std::to_string(stored.size()) + " optimizer vectors, " + m.optimizer +
                             " has " + std::to_string(vectors));
    for (const auto& v : stored) p.vectors.push_back(ck.load_array<T>(v, size));
    p.steps = j.at("optimizer").at("steps").get<std::size_t>();
    p.shuffle_rng = rng_from_text(j.at("shuffle_rng"), "shuffle_rng");
    p.teleport_rng = rng_from_text(j.at("teleport_rng"), "teleport_rng");
    p.elapsed = exact_double(j.at("elapsed"));
    read_results(j.at("results"), m, epochs);
    if (m.rows.size() != p.epochs + 1)
        throw bad_checkpoint(m.name + ": " + std::to_string(m.rows.size()) + " rows after " + std::to_string(p.epochs) +
                             " epochs");
    return p;
}

/// How many vectors the optimizer's state holds.
template <class Opt, class Vec>
std::size_t optimizer_vector_count(const Opt& opt, const Vec& w) {
    auto state = opt.make_state(w);
    return optimizer_vectors<Vec>(state).size();
}

// --- training ----------------------------------------------------------------------------------

/// Trains one method from p to the last epoch, or until `budget` epochs are used up (returns true
/// then: stopped with more to do). After every epoch but the last, save(p) writes the checkpoint.
template <class T, class Action, class Opt, class State, class Save>
bool train(mnist_method& m, const Opt& opt, mnist_net<T>& net, const Action& action, method_progress<T, State>& p,
           const mnist_data<T>& d, const options& o, const teleport_settings& settings, std::size_t& budget,
           Save&& save) {
    auto& w = p.w;
    auto& teleport_rng = p.teleport_rng;
    typename xt::xtensor<T, 1> g;
    auto record = [&](std::size_t epoch, bool teleported) {
        const auto start = clock_type::now();
        epoch_row r;
        r.epoch = epoch;
        r.train = evaluate_split(net, w, d.split.train_x, d.split.train_y, o.eval_block, true, true);
        r.valid = evaluate_split(net, w, d.split.valid_x, d.split.valid_y, o.eval_block, false, true);
        r.time_s = p.elapsed;
        r.teleported = teleported;
        m.rows.push_back(r);
        m.eval_seconds += seconds_since(start);
    };
    const auto method_start = clock_type::now();
    const std::size_t first = p.epochs;
    if (m.rows.empty()) record(0, false);
    const std::size_t n = d.n_train();
    const std::size_t batches = (n + o.batch - 1) / o.batch;
    for (std::size_t epoch = first; epoch < o.epochs; ++epoch) {
        const auto order = problems::mnist_permutation(n, p.shuffle_rng());
        const std::span<const std::size_t> all(order);
        auto batch_of = [&](std::size_t b) { return all.subspan(b * o.batch, std::min(o.batch, n - b * o.batch)); };
        const bool teleport_now = m.teleport && m.schedule.contains(epoch);
        if (teleport_now) {
            // the paper's SGD algorithm: one teleport on each of the epoch's first B mini-batches
            for (std::size_t b = 0; b < m.teleport_batches; ++b) {  // ≤ batches: checked at the start
                mnist_teleport t;
                t.batch = b;
                // the weights are those of the last evaluation: the epoch's row, then the previous teleport
                t.valid_before = b == 0 ? m.rows.back().valid : m.teleports.back().valid_after;
                const auto start = clock_type::now();
                set_batch(net, d, batch_of(b));
                teleport_network_untracked(net, action, w, settings, teleport_rng, t.report);
                t.seconds = seconds_since(start);
                t.report.step = epoch;
                p.elapsed += t.seconds;
                m.teleport_seconds += t.seconds;
                const auto e1 = clock_type::now();
                t.valid_after = evaluate_split(net, w, d.split.valid_x, d.split.valid_y, o.eval_block, false, true);
                m.eval_seconds += seconds_since(e1);
                m.teleports.push_back(std::move(t));
            }
        }
        const auto start = clock_type::now();
        for (std::size_t b = 0; b < batches; ++b) {
            set_batch(net, d, batch_of(b));
            net.evaluate_with_gradient(w, g);
            opt.step(p.state, w, g);
        }
        const double s = seconds_since(start);
        p.elapsed += s;
        m.train_seconds += s;
        p.epochs = epoch + 1;
        record(epoch + 1, teleport_now);
        --budget;
        const auto& r = m.rows.back();
        const double wall = seconds_since(method_start);
        const double left = wall / double(epoch + 1 - first) * double(o.epochs - epoch - 1);
        std::fprintf(stderr,
                     "mnist: %-17s epoch %3zu/%zu  loss %.5f  acc %.4f  val_loss %.5f  val_acc %.4f  %.2f s training, "
                     "%.0f s so far, ~%.0f s left%s\n",
                     m.label.c_str(), epoch + 1, o.epochs, r.train.loss, r.train.accuracy, r.valid.loss,
                     r.valid.accuracy, s, wall, left, teleport_now ? "  (teleported)" : "");
        if (!std::isfinite(r.train.loss)) {
            m.stop_reason = "the training loss is not finite";
            return false;
        }
        if (p.epochs < o.epochs) {
            save(p);
            if (budget == 0) return true;
        }
    }
    return false;
}

/// Runs method i from its start, or from where the checkpoint left it when `resume` is given.
template <class T, class Action, class Opt>
bool run_method(std::vector<mnist_method>& methods, std::size_t i, const Opt& opt, mnist_net<T>& net,
                const Action& action, const xt::xtensor<T, 1>& w0, const mnist_data<T>& d, const options& o,
                const teleport_settings& settings, checkpoint& ck, const json& finished,
                const saved_progress<T>* resume, std::size_t& budget) {
    using state_type = optimizer_state_t<Opt, xt::xtensor<T, 1>>;
    method_progress<T, state_type> p{0, w0, opt.make_state(w0), std::mt19937_64(o.seed ^ 0x5348554646ull),
                                     std::mt19937_64(o.seed ^ 0x54454c45ull), 0.0};
    if (resume) {
        p.epochs = resume->epochs;
        p.w = resume->w;
        auto vectors = optimizer_vectors<xt::xtensor<T, 1>>(p.state);
        if (vectors.size() != resume->vectors.size()) throw std::logic_error("run_method: optimizer vectors differ");
        for (std::size_t k = 0; k < vectors.size(); ++k) *vectors[k] = resume->vectors[k];
        p.state.steps = resume->steps;
        p.shuffle_rng = resume->shuffle_rng;
        p.teleport_rng = resume->teleport_rng;
        p.elapsed = resume->elapsed;
    }
    auto save = [&](const method_progress<T, state_type>& progress) {
        ck.commit(finished, progress_json(ck, progress, methods[i], i));
    };
    return train(methods[i], opt, net, action, p, d, o, settings, budget, save);
}

// --- output ------------------------------------------------------------------------------------

void write_method_csv(const fs::path& path, const mnist_method& m) {
    csv_writer csv({"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norm_sq", "time_s", "teleported"});
    for (const auto& r : m.rows)
        csv.row(r.epoch, r.train.loss, r.train.accuracy, r.valid.loss, r.valid.accuracy, r.train.grad_norm_sq, r.time_s,
                r.teleported);
    csv.write(path);
}

json method_json(const mnist_method& m) {
    json j;
    j["name"] = m.name;
    j["label"] = m.label;
    j["optimizer"] = m.optimizer_name();
    j["learning_rate"] = m.learning_rate;
    j["teleport"] = m.teleport;
    if (m.teleport) {
        j["schedule"] = std::vector<std::size_t>(m.schedule.begin(), m.schedule.end());
        j["teleport_batches"] = m.teleport_batches;
    }
    j["csv"] = m.name + ".csv";
    const auto& last = m.rows.back();
    j["final_loss"] = json_number(last.train.loss);
    j["final_accuracy"] = json_number(last.train.accuracy);
    j["final_val_loss"] = json_number(last.valid.loss);
    j["final_val_accuracy"] = json_number(last.valid.accuracy);
    j["final_grad_norm_sq"] = json_number(last.train.grad_norm_sq);
    j["updates"] = last.epoch;  // epochs, as in the CSV
    j["stop_reason"] = m.stop_reason;
    j["total_seconds"] = m.train_seconds + m.teleport_seconds;
    j["teleport_seconds"] = m.teleport_seconds;
    j["evaluation_seconds"] = m.eval_seconds;
    std::size_t accepted = 0;
    json teleports = json::array();
    for (const auto& t : m.teleports) {
        json r = teleport_report_json(t.report);
        r["batch"] = t.batch;
        r["seconds"] = t.seconds;
        r["val_loss_before"] = json_number(t.valid_before.loss);
        r["val_loss_after"] = json_number(t.valid_after.loss);
        r["val_relative_loss_change"] = json_number((t.valid_after.loss - t.valid_before.loss) / t.valid_before.loss);
        r["val_accuracy_before"] = json_number(t.valid_before.accuracy);
        r["val_accuracy_after"] = json_number(t.valid_after.accuracy);
        teleports.push_back(std::move(r));
        accepted += t.report.accepted ? 1 : 0;
    }
    j["teleports_accepted"] = accepted;
    j["teleports"] = std::move(teleports);
    return j;
}

/// Figures like the paper's Fig. 4 (or, for a sweep, its Fig. 5): training (solid) and validation
/// (dashed) loss per epoch, ‖∇L‖² of the full training split per epoch, and validation accuracy.
std::vector<std::string> render_figures(const fs::path& dir, const std::vector<mnist_method>& methods,
                                        const std::string& title, gnuplot_renderer& gnuplot) {
    if (gnuplot.terminal().empty()) return {};
    const std::string term = gnuplot.terminal();
    const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    const std::size_t palette = std::size(colors);
    std::string s = "# Figures of the MNIST experiment (" + title + "), written by the driver.\n"
                    "# Re-render in this folder with: gnuplot figures.gp\n"
                    "if (!exists(\"suffix\")) suffix = ''\nset encoding utf8\nset datafile separator ','\n";
    auto head = [&](const std::string& file, const std::string& what, const std::string& ylabel, bool logy) {
        s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output '" + file + "'.suffix\n";
        s += "set datafile separator ','\nset grid\nset key top right\n";
        if (logy) s += "set logscale y\n";
        s += "set title " + gnuplot_quote("MNIST, " + title + ": " + what) + "\nset xlabel 'epoch'\nset ylabel " +
             gnuplot_quote(ylabel) + "\n";
    };
    auto curve = [&](std::size_t i, const std::string& column, const std::string& dash, const std::string& suffix,
                     bool key = true) {
        // past the palette, the colours repeat with a longer dash
        const std::string dt = i < palette ? dash : dash == "1" ? "3" : "4";
        return "'" + methods[i].name + ".csv' every ::1 using 1:" + column + " with lines lw 2 dt " + dt + " lc rgb '" +
               colors[i % palette] + "' " + (key ? "title " + gnuplot_quote(methods[i].label + suffix) : "notitle");
    };
    head("loss.png", "training (solid) and validation (dashed) loss", "cross-entropy", true);
    std::string plot = "plot ";
    for (std::size_t i = 0; i < methods.size(); ++i)  // one key entry per method: its training curve
        plot += curve(i, "2", "1", "") + ", " + curve(i, "4", "2", "", false) + (i + 1 < methods.size() ? ", " : "\n");
    s += plot;
    head("grad.png", "squared gradient norm of the training loss", "||∇L||^2", true);
    plot = "plot ";
    for (std::size_t i = 0; i < methods.size(); ++i) plot += curve(i, "6", "1", "") + (i + 1 < methods.size() ? ", " : "\n");
    s += plot;
    head("accuracy.png", "validation accuracy", "accuracy", false);
    s += "set key bottom right\n";
    plot = "plot ";
    for (std::size_t i = 0; i < methods.size(); ++i) plot += curve(i, "5", "1", "") + (i + 1 < methods.size() ? ", " : "\n");
    s += plot;
    return gnuplot.render(dir, "figures.gp", s, {"loss.png", "grad.png", "accuracy.png"});
}

template <class T, class Action>
int run(const options& o, const std::vector<std::size_t>& widths, int argc, char** argv) {
    using net_type = mnist_net<T>;
    const auto schedule = parse_schedule(o.schedule, o.epochs);
    const auto pairs = parse_pairs(o.pairs, 3);
    std::optional<sweep_plan> sweep;
    if (!o.sweep.empty()) sweep = parse_sweep(o, schedule);
    auto methods = make_methods(o, schedule, sweep);
    const bool teleports = std::ranges::any_of(methods, [](const auto& m) { return m.teleport && !m.schedule.empty(); });
    if constexpr (!Action::data_free)
        for (std::size_t k : pairs)
            if (teleports && o.batch > widths[k - 1])
                throw std::invalid_argument(
                        "the nonlinear action (eq. 8) needs full column rank: the input of layer " + std::to_string(k) +
                        " has " + std::to_string(widths[k - 1]) + " rows but a batch has " + std::to_string(o.batch) +
                        " samples (use a smaller --batch or --symmetry rescaling)");
    const Action action(tensor::network_shape{widths, false}, pairs, exp_map::exact);
    teleport_settings settings;
    settings.strategy = gradient_ascent{o.teleport_steps, o.teleport_lr};
    settings.map = exp_map::exact;
    // float32 rounding through the pseudo-inverse moves the batch loss by up to ~1e-6 relative
    settings.tolerance = o.tolerance > 0 ? o.tolerance : (std::is_same_v<T, float> ? 1e-5 : 1e-9);
    validate(settings);
    const gd sgd_opt{o.sgd_lr};
    const adagrad adagrad_opt{adagrad_settings{o.adagrad_lr, o.adagrad_epsilon}};

    // --- the configuration (summary.json; the checkpoint compares it without the output options)
    json config;
    config["seed"] = o.seed;
    config["data"] = o.data;
    config["limit"] = o.limit;
    config["train_fraction"] = 0.8;
    config["precision"] = o.precision;
    config["widths"] = widths;
    config["bias"] = false;
    config["activation"] = activation::name();
    config["initialization"] = "W_m uniform in [-1/sqrt(d_{m-1}), 1/sqrt(d_{m-1})) from the seed (PyTorch nn.Linear)";
    config["shuffle"] = "a new Fisher-Yates permutation per epoch from the seed; the same batches for every method";
    config["epochs"] = o.epochs;
    config["batch"] = o.batch;
    config["sgd"] = {{"learning_rate", o.sgd_lr}};
    config["adagrad"] = {{"learning_rate", o.adagrad_lr}, {"epsilon", o.adagrad_epsilon}};
    config["symmetry"] = Action::name();
    config["pairs"] = std::vector<std::size_t>(pairs.begin(), pairs.end());
    json tp = teleport_settings_json(settings, state_policy::keep, std::vector<std::size_t>(schedule.begin(), schedule.end()));
    tp["batches"] = o.teleport_batches;
    tp["schedule_meaning"] = "teleport before these 0-based epochs, on the first B mini-batches of the epoch";
    config["teleport"] = tp;
    if (sweep) {
        json s;
        s["kind"] = sweep->kind;
        s["figure"] = sweep->figure();
        s["values"] = sweep->values;
        if (sweep->kind == "interval") {
            s["start"] = sweep->start;
            s["teleports"] = sweep->teleports;
        }
        s["methods"] = "plain SGD and one SGD variant per value; each method's schedule and B are in its entry";
        config["sweep"] = s;
    }
    config["grad_norm_sq"] = "squared norm of the full gradient of the mean loss over the training split";
    config["time_s"] = "training and teleport wall time; evaluation of the splits excluded";
    config["evaluation_block"] = o.eval_block;

    const fs::path dir = o.out;
    make_output_directory(dir);  // before the long part, so that a bad --out fails at once

    net_type net(widths, xt::zeros<T>({widths.front(), std::size_t{1}}), xt::zeros<T>({widths.back(), std::size_t{1}}));
    const auto w0 = problems::linear_init(net, o.seed);

    // --resume: the whole checkpoint is read and checked before the data, so that a bad one fails at once
    checkpoint ck(dir / "checkpoint", config);
    std::size_t first = 0;  // the first method to run
    std::optional<saved_progress<T>> resume;
    if (o.resume) {
        const json doc = ck.load();
        ck.reading([&] {
            const json& finished = doc.at("finished");
            if (finished.size() > methods.size())
                throw bad_checkpoint(std::to_string(finished.size()) + " finished methods of " +
                                     std::to_string(methods.size()));
            for (const auto& r : finished) read_results(r, methods[first++], o.epochs);
            const json& current = doc.at("current");
            if (current.is_null()) return;
            if (first == methods.size() || current.at("index").get<std::size_t>() != first)
                throw bad_checkpoint("the running method is not the one after the finished ones");
            const std::size_t vectors = methods[first].optimizer == "adagrad"
                                            ? optimizer_vector_count(adagrad_opt, w0)
                                            : optimizer_vector_count(sgd_opt, w0);
            resume = read_progress<T>(ck, current, methods[first], o.epochs, w0.size(), vectors);
        });
    }

    const auto load_start = clock_type::now();
    mnist_data<T> d;
    d.split = problems::load_mnist<T>(o.data, o.seed, 0.8, o.limit);
    const std::size_t pixels = d.split.rows * d.split.cols;
    if (widths.front() != pixels)
        throw std::invalid_argument("--widths: the input width is " + std::to_string(widths.front()) +
                                    " but the images have " + std::to_string(pixels) + " pixels");
    if (o.batch > d.n_train())
        throw std::invalid_argument("--batch " + std::to_string(o.batch) + " is larger than the " +
                                    std::to_string(d.n_train()) + " training samples");
    const std::size_t batches = (d.n_train() + o.batch - 1) / o.batch;
    for (const auto& m : methods)  // B of every method (0 without teleports), in the order of the sweep values
        if (m.teleport_batches > batches)
            throw std::invalid_argument((sweep && sweep->kind == "batches" ? "--sweep-values: B = " : "--teleport-batches ") +
                                        std::to_string(m.teleport_batches) + " but an epoch has only " +
                                        std::to_string(batches) + " mini-batches");
    d.train_rows = xt::transpose(d.split.train_x);
    const double load_seconds = seconds_since(load_start);
    std::fprintf(stderr, "mnist: %zu training and %zu validation images from %s (%.1f s), %s, widths %s\n",
                 d.n_train(), d.n_valid(), o.data.c_str(), load_seconds, o.precision.c_str(), join(widths).c_str());
    if (o.resume)
        std::fprintf(stderr, "mnist: resuming from %s: %zu of %zu methods finished%s\n", ck.file().c_str(), first,
                     methods.size(),
                     resume ? (", " + methods[first].name + " after epoch " + std::to_string(resume->epochs)).c_str()
                            : "");
    else if (ck.clear())
        std::fprintf(stderr, "mnist: a fresh run replaces the checkpoint of an earlier run in %s (see --resume)\n",
                     dir.c_str());

    // --- the methods, one after another; the checkpoint after every epoch and every method
    std::size_t budget = o.stop_after > 0 ? o.stop_after : std::numeric_limits<std::size_t>::max();
    auto stop = [&] {
        std::printf("stopped after %zu epoch%s (--stop-after); %s holds the run: continue it with --resume and "
                    "the same options\n",
                    o.stop_after, o.stop_after == 1 ? "" : "s", ck.file().c_str());
        return 0;
    };
    json finished = json::array();  // the results of the finished methods, as the checkpoint holds them
    for (std::size_t k = 0; k < first; ++k) finished.push_back(results_json(methods[k]));
    for (std::size_t i = first; i < methods.size(); ++i) {
        const saved_progress<T>* from = i == first && resume ? &*resume : nullptr;
        const bool stopped =
            methods[i].optimizer == "adagrad"
                ? run_method(methods, i, adagrad_opt, net, action, w0, d, o, settings, ck, finished, from, budget)
                : run_method(methods, i, sgd_opt, net, action, w0, d, o, settings, ck, finished, from, budget);
        if (stopped) return stop();
        finished.push_back(results_json(methods[i]));
        ck.commit(finished, nullptr);
        if (budget == 0 && i + 1 < methods.size()) return stop();
    }

    // --- files
    for (const auto& m : methods) write_method_csv(dir / (m.name + ".csv"), m);
    json summary;
    summary["driver"] = "mnist";
    summary["experiment"] = sweep ? "MNIST teleport schedules (" + sweep->figure() + ")" : "MNIST classification (Fig. 4)";
    summary["loss"] = net_type::formula();
    json full;  // the configuration with the sizes of the split (known once the data is read) and the output options
    for (const auto& [key, value] : config.items()) {
        full[key] = value;
        if (key == "limit") {
            full["train_samples"] = d.n_train();
            full["valid_samples"] = d.n_valid();
        }
    }
    full["out"] = dir.string();
    full["plot"] = o.plot;
    full["command_line"] = command_line_json(argc, argv);
    summary["config"] = full;
    summary["versions"] = library_versions();
    summary["methods"] = json::array();
    for (const auto& m : methods) summary["methods"].push_back(method_json(m));
    std::vector<std::string> figures;
    if (o.plot) {
        gnuplot_renderer gnuplot("mnist");
        figures = render_figures(dir, methods, sweep ? sweep->short_figure() : "Fig. 4", gnuplot);
    }
    summary["figures"] = figures;
    write_json(dir / "summary.json", summary);
    ck.remove();

    // --- printed summary
    std::printf("MNIST (paper %s): L = %s, %s, widths %s, %zu/%zu train/validation images, batch %zu, %zu epochs\n",
                sweep ? sweep->figure().c_str() : "Fig. 4", net_type::formula().c_str(), o.precision.c_str(),
                join(widths).c_str(), d.n_train(), d.n_valid(), o.batch, o.epochs);
    int width = 18;
    for (const auto& m : methods) width = std::max(width, int(m.label.size()));
    std::printf("%-*s %10s %9s %10s %9s %12s %10s %10s %9s\n", width, "method", "loss", "accuracy", "val_loss",
                "val_acc", "|grad L|^2", "train [s]", "teleport[s]", "teleports");
    for (const auto& m : methods) {
        const auto& r = m.rows.back();
        std::size_t accepted = 0;
        for (const auto& t : m.teleports) accepted += t.report.accepted ? 1 : 0;
        const std::string tele = m.teleport ? std::to_string(accepted) + "/" + std::to_string(m.teleports.size()) : "-";
        std::printf("%-*s %10.5f %9.4f %10.5f %9.4f %12.4e %10.2f %10.2f %9s\n", width, m.label.c_str(), r.train.loss,
                    r.train.accuracy, r.valid.loss, r.valid.accuracy, r.train.grad_norm_sq, m.train_seconds,
                    m.teleport_seconds, tele.c_str());
    }
    for (const auto& m : methods) {
        if (m.teleports.empty()) continue;
        std::printf("teleports of %s:\n%6s %5s %12s %10s %12s %12s %9s %11s %13s %8s  %s\n", m.label.c_str(), "epoch",
                    "batch", "batch loss", "rel.change", "|g|^2 before", "|g|^2 after", "gain", "val change",
                    "val accuracy", "time[s]", "result");
        // a search that left the group reports non-finite values: shown as '-'
        auto cell = [](double v, const char* format) {
            char text[32] = "-";
            if (std::isfinite(v)) std::snprintf(text, sizeof text, format, v);
            return std::string(text);
        };
        for (const auto& t : m.teleports) {
            const auto& r = t.report;
            std::printf("%6zu %5zu %12s %10s %12s %12s %9s %11s %6.4f>%6.4f %8.3f  %s\n", r.step, t.batch,
                        cell(r.loss_before, "%.5e").c_str(), cell(r.relative_loss_change, "%.2e").c_str(),
                        cell(r.grad_norm_sq_before, "%.5e").c_str(), cell(r.grad_norm_sq_after, "%.5e").c_str(),
                        cell(r.grad_norm_sq_after / r.grad_norm_sq_before, "%.3g").c_str(),
                        cell((t.valid_after.loss - t.valid_before.loss) / t.valid_before.loss, "%+.2e").c_str(),
                        t.valid_before.accuracy, t.valid_after.accuracy, t.seconds,
                        r.accepted ? "accepted" : ("rejected: " + r.rejection).c_str());
        }
    }
    std::printf("wrote %s:", dir.string().c_str());
    for (const auto& m : methods) std::printf(" %s.csv", m.name.c_str());
    std::printf(" summary.json");
    for (const auto& name : figures) std::printf(" %s", name.c_str());
    std::printf("\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"MNIST classification (paper §6, Fig. 4): a LeakyReLU MLP with softmax cross-entropy trained by "
                 "mini-batch SGD and AdaGrad, each with and without symmetry teleportation (paper eq. 8 on mini-batches, "
                 "or the data-free rescaling); Fashion-MNIST by default, any MNIST-format folder with --data."};
    options o;
    app.add_option("--out", o.out, "output folder (created if needed)")->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the split, the initialization, the shuffles and the teleports")
        ->check(seed_value())
        ->capture_default_str();
    app.add_flag("--plot,!--no-plot", o.plot, "render the figures with gnuplot (PNG); on by default");
    app.add_option("--data", o.data, "folder with train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]")
        ->capture_default_str();
    app.add_option("--limit", o.limit, "use only the first N training images (before the 80/20 split)")
        ->check(positive_count());
    app.add_option("--widths", o.widths, "layer widths d_0,...,d_3 (3 weight matrices; d_0 = pixels, d_3 = 10)")
        ->capture_default_str();
    app.add_option("--precision", o.precision, "floating-point type of the network")
        ->check(one_of({"float", "double"}))
        ->capture_default_str();
    app.add_option("--epochs", o.epochs, "epochs over the training split")->check(positive_count())->capture_default_str();
    app.add_option("--batch", o.batch, "mini-batch size")->check(positive_count())->capture_default_str();
    app.add_option("--sgd-lr", o.sgd_lr, "learning rate of SGD")->check(positive())->capture_default_str();
    app.add_option("--adagrad-lr", o.adagrad_lr, "learning rate of AdaGrad")->check(positive())->capture_default_str();
    app.add_option("--adagrad-epsilon", o.adagrad_epsilon, "epsilon of AdaGrad")->check(positive())->capture_default_str();
    app.add_option("--schedule", o.schedule, "teleport before these epochs (0-based, comma-separated; 'none')")
        ->capture_default_str();
    app.add_option("--teleport-batches", o.teleport_batches, "B: mini-batches teleported at each scheduled epoch")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--teleport-steps", o.teleport_steps, "gradient-ascent steps per teleport")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--teleport-lr", o.teleport_lr, "gradient-ascent learning rate of a teleport")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--symmetry", o.symmetry,
                   "nonlinear: paper eq. 8 (exact on the teleport's batch only); rescaling: positive per-neuron "
                   "scaling (exact on all data)")
        ->check(one_of({"nonlinear", "rescaling"}))
        ->capture_default_str();
    app.add_option("--pairs", o.pairs, "hidden layers whose (W_{k+1}, W_k) pair is teleported: 'all' or a list of 1,2")
        ->capture_default_str();
    app.add_option("--tolerance", o.tolerance,
                   "largest relative change of the batch loss of an accepted teleport (default 1e-5 in float, 1e-9 "
                   "in double)")
        ->check(positive());
    app.add_option("--eval-block", o.eval_block, "samples per block when evaluating a whole split")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--sweep", o.sweep,
                   "instead of Fig. 4, the schedule study of Fig. 5 (plain SGD against SGD variants): when = one "
                   "teleport before each epoch of --sweep-values; interval = --sweep-teleports teleports every k "
                   "epochs from the --schedule epoch, k from --sweep-values; batches = teleports on B mini-batches at "
                   "the --schedule epochs, B from --sweep-values. Default --out: results/mnist/sweep_<kind>")
        ->check(one_of({"when", "interval", "batches"}));
    app.add_option("--sweep-values", o.sweep_values,
                   "the values of --sweep (default: when 0,1,2,5,10; interval 1,2,5,10; batches 1,2,4,8)");
    app.add_option("--sweep-teleports", o.sweep_teleports, "--sweep interval: teleports per variant")
        ->check(positive_count())
        ->capture_default_str();
    app.add_flag("--resume", o.resume,
                 "continue the interrupted run whose checkpoint is in --out (DIR/checkpoint/); every option but "
                 "--out, --plot and --stop-after must be as in that run");
    app.add_option("--stop-after", o.stop_after,
                   "stop cleanly after N epochs (counted over the methods, in this invocation), leaving the "
                   "checkpoint for --resume")
        ->check(positive_count());

    return run_driver("mnist", app, argc, argv, [&] {
        o.schedule_given = app.count("--schedule") > 0;
        o.teleport_batches_given = app.count("--teleport-batches") > 0;
        o.sweep_teleports_given = app.count("--sweep-teleports") > 0;
        if (o.sweep.empty() && (app.count("--sweep-values") > 0 || o.sweep_teleports_given))
            throw std::invalid_argument("--sweep-values and --sweep-teleports need --sweep");
        if (app.count("--sweep-values") > 0 && o.sweep_values.find_first_not_of(" \t,") == std::string::npos)
            throw std::invalid_argument("--sweep-values: the list is empty");
        if (!o.sweep.empty() && app.count("--out") == 0) o.out = "results/mnist/sweep_" + o.sweep;
        const auto widths = parse_count_list(o.widths, "--widths");
        if (widths.size() != 4)
            throw std::invalid_argument("--widths: 4 widths (3 weight matrices) are needed, " +
                                        std::to_string(widths.size()) + " given");
        for (std::size_t w : widths)
            if (w == 0) throw std::invalid_argument("--widths: every width must be positive");
        if (widths.back() != 10)
            throw std::invalid_argument("--widths: the output width must be 10 (the classes), got " +
                                        std::to_string(widths.back()));
        using nonlinear = groups::layer_action<groups::nonlinear_layers, activation>;
        using rescaling = groups::layer_action<groups::rescaling_layers, activation>;
        if (o.precision == "double")
            return o.symmetry == "rescaling" ? run<double, rescaling>(o, widths, argc, argv)
                                             : run<double, nonlinear>(o, widths, argc, argv);
        return o.symmetry == "rescaling" ? run<float, rescaling>(o, widths, argc, argv)
                                         : run<float, nonlinear>(o, widths, argc, argv);
    });
}
