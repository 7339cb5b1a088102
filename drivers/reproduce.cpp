// reproduce — the main job: run every experiment of the paper on its defaults by executing the
// sibling driver executables (rosenbrock, booth, quadratic, mlp_regression, propositions, runtime,
// mnist, in that order), each into <out>/<experiment>/, then print one table of all of them (drivers/
// summary.hpp): per experiment and optimizer the final loss and the steps and seconds to reach a
// few loss thresholds, without and with teleportation, and write it as <out>/summary.json,
// summary.csv and summary.txt. MNIST is shortened to --mnist-epochs epochs (the paper runs 80).
//
// Each driver's printed report goes to <out>/<experiment>/output.txt; its progress and warnings
// (stderr) pass through. A driver that fails does not stop the others: the table holds the ones
// that succeeded, one line "reproduce: error: <experiment> failed ..." per failure follows it, and
// the exit status is 1. Bad input to reproduce itself exits 2 before any driver runs.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "driver_common.hpp"
#include "output.hpp"
#include "summary.hpp"

namespace {

using namespace teleport::drivers;

/// The experiments, in the order they run (the quick ones first, MNIST last).
struct experiment {
    const char* name;
    const char* what;
};
const std::vector<experiment>& experiments() {
    static const std::vector<experiment> list{
        {"rosenbrock", "GD on Rosenbrock with and without teleports (Fig. 2)"},
        {"booth", "GD on Booth with and without teleports (Fig. 2)"},
        {"quadratic", "GD with one teleport, GD and Newton on a quadratic (Props. 5.5, 5.6)"},
        {"mlp_regression", "GD and AdaGrad on an MLP regression, 5 seeds (Fig. 3)"},
        {"propositions", "numerical checks of the propositions (sections 4-5)"},
        {"runtime", "time of GD epochs and teleports against width and depth (Fig. 6)"},
        {"mnist", "SGD and AdaGrad on Fashion-MNIST, shortened (Fig. 4)"},
    };
    return list;
}

struct options {
    std::string out = "results";
    std::string seed;  // empty: every driver's own default
    bool plot = true;
    std::size_t mnist_epochs = 3;
    std::string data;  // empty: the mnist driver's default
    std::string only;  // unless given: every experiment
    bool only_given = false;
    bool resume = false;  // continue an interrupted MNIST run from its checkpoint
    std::size_t mnist_ranks = 1;  // > 1: mnist data-parallel under mpirun (docs/distributed.md)
    std::string mpirun;           // its path, found on PATH
};

/// The experiments named by --only (comma-separated, each once), in the order they run.
std::vector<experiment> selected(const std::string& only, bool given) {
    if (!given) return experiments();
    std::vector<std::string> names;
    for (const auto& name : detail::split_commas(only)) {
        const bool known = std::any_of(experiments().begin(), experiments().end(),
                                       [&](const experiment& e) { return name == e.name; });
        if (!known) {
            std::string list;
            for (const auto& e : experiments()) list += (list.empty() ? "" : ", ") + std::string(e.name);
            throw std::invalid_argument("--only: unknown experiment '" + name + "' (known: " + list + ")");
        }
        if (std::find(names.begin(), names.end(), name) != names.end())
            throw std::invalid_argument("--only: '" + name + "' is listed twice");
        names.push_back(name);
    }
    std::vector<experiment> chosen;
    for (const auto& e : experiments())
        if (std::find(names.begin(), names.end(), e.name) != names.end()) chosen.push_back(e);
    return chosen;
}

/// The command line of one driver: its executable, its output folder and the options shared with
/// reproduce (propositions writes no files: it takes only --seed).
std::vector<std::string> command(const fs::path& exe, const experiment& e, const options& o, const fs::path& dir) {
    std::vector<std::string> args{exe.string()};
    const std::string name = e.name;
    if (name != "propositions") {
        args.insert(args.end(), {"--out", dir.string()});
        if (!o.plot) args.push_back("--no-plot");
    }
    if (!o.seed.empty()) args.insert(args.end(), {"--seed", o.seed});
    if (name == "mnist") {
        args.insert(args.end(), {"--epochs", std::to_string(o.mnist_epochs)});
        if (!o.data.empty()) args.insert(args.end(), {"--data", o.data});
        std::error_code ec;
        if (o.resume && fs::exists(dir / "checkpoint" / "checkpoint.json", ec)) args.push_back("--resume");
        if (o.mnist_ranks > 1) args.insert(args.begin(), {o.mpirun, "-np", std::to_string(o.mnist_ranks)});
    }
    return args;
}

/// How a driver ended: "" when it exited with status 0, else what happened.
struct child_result {
    std::string failure;
    int exit_status = -1;
    double seconds = 0;
};

/// Runs args (no shell) with stdin from /dev/null, stdout into `log` (written under a temporary
/// name and renamed when the driver has ended) and stderr passed through.
child_result run_child(const std::vector<std::string>& args, const fs::path& log) {
    const fs::path temporary =
        log.parent_path() / ("." + log.filename().string() + ".tmp" + std::to_string(::getpid()));
    const auto start = clock_type::now();
    const process_result p = run_process(args, temporary.string(), "", false);
    child_result r;
    std::error_code ec;
    if (!p.error.empty()) {
        fs::remove(temporary, ec);
        r.failure = p.error;
        return r;
    }
    r.seconds = seconds_since(start);
    fs::rename(temporary, log, ec);
    if (ec) fs::remove(temporary, ec);
    if (p.exited()) {
        r.exit_status = p.exit_status;
        if (r.exit_status != 0) r.failure = "exit status " + std::to_string(r.exit_status);
    } else if (p.signal != 0) {
        const char* name = strsignal(p.signal);
        r.failure = "killed by signal " + std::to_string(p.signal) + (name ? " (" + std::string(name) + ")" : "");
    } else {
        r.failure = "ended abnormally";
    }
    return r;
}

/// The runtime experiment (Fig. 6) has no methods and no loss curve: its rows, compactly.
json runtime_rows(const json& s) {
    json rows = json::array();
    for (const char* part : {"width", "depth"})
        if (s.contains(part) && s[part].is_array())
            for (const json& r : s[part]) {
                json row;
                row["part"] = part;
                for (const char* key : {"d", "layers", "epochs", "teleports", "accepted", "total_seconds", "gd_seconds",
                                        "teleport_seconds", "final_loss"})
                    row[key] = r.contains(key) ? r[key] : json(nullptr);
                rows.push_back(std::move(row));
            }
    return rows;
}

std::string runtime_text(const json& s, const json& rows) {
    std::string text;
    char line[200];
    const json& config = s.contains("config") ? s["config"] : json::object();
    std::snprintf(line, sizeof line,
                  "runtime (Fig. 6): %s GD epochs per configuration, a teleport before epoch 0 and every %s\n",
                  config.value("epochs", json(nullptr)).dump().c_str(),
                  config.value("every", json(nullptr)).dump().c_str());
    text += line;
    std::snprintf(line, sizeof line, "%-6s %5s %7s %10s %11s %11s %14s %14s\n", "part", "d", "layers", "teleports",
                  "total [s]", "tele. [s]", "GD epoch [us]", "teleport [ms]");
    text += line;
    const auto number = [](const json& j) { return j.is_number() ? j.get<double>() : std::nan(""); };
    for (const json& r : rows) {
        const double epochs = number(r["epochs"]), teleports = number(r["teleports"]);
        std::snprintf(line, sizeof line, "%-6s %5.0f %7.0f %10s %11.3e %11.3e %14.3f %14.3f\n",
                      r["part"].get<std::string>().c_str(), number(r["d"]), number(r["layers"]),
                      (r["accepted"].dump() + "/" + r["teleports"].dump()).c_str(), number(r["total_seconds"]),
                      number(r["teleport_seconds"]), 1e6 * number(r["gd_seconds"]) / epochs,
                      1e3 * number(r["teleport_seconds"]) / teleports);
        text += line;
    }
    return text;
}

/// "77 checks, 0 failed" from the propositions driver's report.
json propositions_result(const fs::path& log) {
    std::ifstream in(log);
    std::string line, last;
    const std::regex pattern(R"(^(\d+) checks, (\d+) failed)");
    std::smatch match;
    while (std::getline(in, line))
        if (std::regex_search(line, match, pattern)) last = line;
    if (last.empty() || !std::regex_search(last, match, pattern))
        throw std::runtime_error(log.string() + " has no line 'N checks, M failed'");
    return {{"checks", std::stoul(match[1].str())}, {"failed", std::stoul(match[2].str())}, {"report", last}};
}

/// The command line as a shell would take it (an argument with spaces or quotes in single quotes).
std::string quoted_command(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) {
        const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789-_./=,:+@%") == std::string::npos;
        std::string q = "'";
        for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        s += (s.empty() ? "" : " ") + (plain ? a : q + "'");
    }
    return s;
}

int reproduce(options o, int argc, char** argv) {
    const auto start = clock_type::now();
    const auto chosen = selected(o.only, o.only_given);
    if (o.out.empty()) throw std::invalid_argument("--out: the folder name is empty");
    if (o.mnist_epochs < 2)
        throw std::invalid_argument("--mnist-epochs: must be at least 2 (the teleports are before epoch 1)");

    // The drivers are the executables beside this one (Meson builds them in one folder).
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot locate this executable (/proc/self/exe: " + ec.message() + ")");
    const fs::path bin = self.parent_path();
    if (o.mnist_ranks > 1) {
        const char* path = std::getenv("PATH");
        for (std::string_view rest = path ? path : ""; o.mpirun.empty() && !rest.empty();) {
            const auto colon = rest.find(':');
            const fs::path candidate = fs::path(rest.substr(0, colon)) / "mpirun";
            if (::access(candidate.c_str(), X_OK) == 0) o.mpirun = candidate;
            rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
        }
        if (o.mpirun.empty()) throw std::invalid_argument("--mnist-ranks: mpirun is not on PATH (apt install openmpi-bin)");
    }
    for (const auto& e : chosen) {
        const fs::path exe = bin / e.name;
        if (::access(exe.c_str(), X_OK) != 0)
            throw std::runtime_error("the driver " + exe.string() + " is missing (build it: meson compile -C <build> " +
                                     e.name + ")");
    }
    const fs::path out = o.out;
    const result_set files(out, {{"driver", "reproduce"}});  // summary.json "incomplete" until the end

    std::vector<summary::experiment_table> tables;
    std::string others;
    json runs = json::array();
    std::vector<std::string> failures;
    std::size_t index = 0;
    for (const auto& e : chosen) {
        ++index;
        const fs::path dir = out / e.name;
        const auto args = command(bin / e.name, e, o, dir);
        json run;
        run["experiment"] = e.name;
        run["what"] = e.what;
        run["command"] = args;
        run["out"] = dir.string();
        run["output"] = (dir / "output.txt").string();
        std::fprintf(stderr, "reproduce: [%zu/%zu] %s: %s\n", index, chosen.size(), e.name,
                     quoted_command(args).c_str());
        make_output_directory(dir);
        const child_result r = run_child(args, dir / "output.txt");
        run["seconds"] = r.seconds;
        run["exit_status"] = r.exit_status >= 0 ? json(r.exit_status) : json(nullptr);
        std::string failure = r.failure;
        if (failure.empty()) {
            try {
                const std::string name = e.name;
                if (name == "propositions") {
                    run["propositions"] = propositions_result(dir / "output.txt");
                    others += "propositions: " + run["propositions"]["report"].get<std::string>() + "\n";
                } else if (name == "runtime") {
                    const json s = summary::read_json_file(dir / "summary.json");
                    run["runtime"] = runtime_rows(s);
                    others += runtime_text(s, run["runtime"]);
                    if (s.contains("figures")) run["figures"] = s["figures"];
                } else {
                    tables.push_back(summary::load_experiment(dir / "summary.json"));
                    run["table"] = summary::experiment_json(tables.back());
                    run["figures"] = tables.back().figures;
                }
            } catch (const std::exception& x) {
                failure = std::string("its results could not be read: ") + x.what();
            }
        }
        run["status"] = failure.empty() ? "ok" : "failed";
        if (!failure.empty()) {
            run["failure"] = failure;
            failures.push_back(std::string(e.name) + " failed (" + failure + "; its report: " +
                               (dir / "output.txt").string() + ")");
        }
        std::fprintf(stderr, "reproduce: [%zu/%zu] %s %s in %.1f s\n", index, chosen.size(), e.name,
                     failure.empty() ? "done" : "FAILED", r.seconds);
        runs.push_back(std::move(run));
    }

    // --- the table, printed and written
    std::string text = tables.empty() ? std::string("(no experiment with a loss table ran successfully)\n")
                                      : summary::table_text(tables);
    if (!others.empty()) text += "\n" + others;
    const double total = seconds_since(start);
    json s;
    s["driver"] = "reproduce";
    json config;
    config["out"] = out.string();
    config["seed"] = o.seed.empty() ? json("each driver's default") : json(o.seed);
    config["plot"] = o.plot;
    config["mnist_epochs"] = o.mnist_epochs;
    config["data"] = o.data.empty() ? json("the mnist driver's default") : json(o.data);
    config["resume"] = o.resume;
    if (o.mnist_ranks > 1) config["mnist_ranks"] = o.mnist_ranks;
    json names = json::array();
    for (const auto& e : chosen) names.push_back(e.name);
    config["experiments"] = names;
    config["openblas_num_threads"] = std::getenv("OPENBLAS_NUM_THREADS") ? json(std::getenv("OPENBLAS_NUM_THREADS"))
                                                                         : json(nullptr);
    config["command_line"] = command_line_json(argc, argv);
    s["config"] = config;
    s["versions"] = library_versions();
    s["total_seconds"] = total;
    s["failed"] = failures.size();
    s["experiments"] = runs;
    write_file_atomic(out / "summary.csv", summary::table_csv(tables));
    write_file_atomic(out / "summary.txt", text);
    files.complete(s);

    std::fputs(text.c_str(), stdout);
    std::printf("wrote %s: summary.json summary.csv summary.txt\n", out.string().c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "reproduce: %zu of %zu experiments done in %.1f s\n", chosen.size() - failures.size(),
                 chosen.size(), total);
    for (const auto& f : failures) std::fprintf(stderr, "reproduce: error: %s\n", f.c_str());
    return failures.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string list;
    for (const auto& e : experiments()) list += std::string("\n  ") + e.name + ": " + e.what;
    CLI::App app{"Run every experiment of the paper on its defaults (MNIST shortened), each into <out>/<experiment>/, "
                 "and print one table: per experiment and optimizer the final loss and the steps and seconds to reach "
                 "loss thresholds, without and with teleportation; also written as <out>/summary.json, summary.csv and "
                 "summary.txt. A failed experiment does not stop the others; the exit status is then 1. "
                 "Experiments, in the order they run:" +
                 list};
    options o;
    app.add_option("--out", o.out, "output folder (created if needed); experiment X writes into <out>/X")
        ->capture_default_str();
    app.add_option("--seed", o.seed, "seed passed to every driver (default: each driver's own default)")
        ->check(seed_value());
    app.add_flag("--plot,!--no-plot", o.plot, "render the figures with gnuplot (PNG); on by default");
    app.add_option("--mnist-epochs", o.mnist_epochs, "epochs of the MNIST runs (the paper's 80 take hours)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--data", o.data, "folder with the MNIST-format files (default: the mnist driver's, Fashion-MNIST)");
    app.add_option("--mnist-ranks", o.mnist_ranks,
                   "run MNIST data-parallel on this many ranks under mpirun (an mnist built with MPI; "
                   "docs/distributed.md)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--only", o.only, "run only these experiments (comma-separated names)");
    app.add_flag("--resume", o.resume,
                 "continue an interrupted MNIST run from its checkpoint in <out>/mnist (with the same options; "
                 "without a checkpoint MNIST starts afresh; the other experiments are short and run again)");
    return run_driver("reproduce", app, argc, argv, [&] {
        o.only_given = app.count("--only") > 0;
        return reproduce(o, argc, argv);
    });
}
