// drivers/network_experiment.hpp — what the network drivers share: initial weights and data
// (uniform as in the paper, orthogonal, or read from .npy files), the choice of the number of layers
// at run time among the compiled ones, and runs over several seeds with their CSV, summary.json
// entries and mean ± std curves.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "output.hpp"
#include "teleport/io/npy.hpp"
#include "teleport/network_teleport.hpp"
#include "teleport/problems/mlp.hpp"

namespace teleport::drivers {

using tensor::matrix;

/// Data and initial weights of a network: X is d_0 × n, Y is d_L × n, W_m is d_m × d_{m−1}.
struct network_init {
    matrix<double> x, y;
    std::vector<matrix<double>> weights;  // W1 first

    std::vector<std::size_t> widths() const {
        std::vector<std::size_t> w{x.shape(0)};
        for (const auto& m : weights) w.push_back(m.shape(0));
        return w;
    }
    std::size_t samples() const { return x.shape(1); }
};

/// About the memory a run of a network needs, in bytes (doubles, so that no size overflows): every
/// seed's initialization (X, Y, the weights) is held at once; the running run holds about eight
/// arrays the size of all activations (forward and backward passes, the teleport's pseudo-inverses),
/// eight the size of the weights (gradient, optimizer state, trial weights) and two d × d matrices
/// per hidden layer (a generator and its exponential).
inline double network_memory_bytes(const std::vector<std::size_t>& widths, std::size_t samples, std::size_t seeds) {
    double activations = 0, weights = 0, generators = 0;
    for (std::size_t m = 0; m < widths.size(); ++m) {
        const double d = static_cast<double>(widths[m]);
        activations += d * static_cast<double>(samples);
        if (m > 0) weights += d * static_cast<double>(widths[m - 1]);
        if (m > 0 && m + 1 < widths.size()) generators += 2 * d * d;
    }
    const double io = static_cast<double>(widths.front() + widths.back()) * static_cast<double>(samples);
    return 8.0 * (static_cast<double>(seeds) * (io + weights) + 8 * activations + 8 * weights + generators);
}

/// Every entry uniform in [0, 1) (the paper's initialization), drawn in the order X, Y, W1 … WL.
inline network_init uniform_init(const std::vector<std::size_t>& widths, std::size_t samples, std::uint64_t seed) {
    if (widths.size() < 3) throw std::invalid_argument("a network needs at least 3 widths (2 weight matrices)");
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto draw = [&](std::size_t r, std::size_t c) {
        matrix<double> m({r, c});
        for (auto& e : m) e = u(rng);
        return m;
    };
    network_init init;
    init.x = draw(widths.front(), samples);
    init.y = draw(widths.back(), samples);
    for (std::size_t m = 1; m < widths.size(); ++m) init.weights.push_back(draw(widths[m], widths[m - 1]));
    return init;
}

/// A d × d orthogonal matrix, Haar distributed: Q of the QR factorization of a Gaussian matrix with
/// the signs of R's diagonal moved into Q.
inline matrix<double> random_orthogonal(std::size_t d, std::mt19937_64& rng) {
    std::normal_distribution<double> n(0.0, 1.0);
    matrix<double> a({d, d});
    for (auto& e : a) e = n(rng);
    auto [q, r] = xt::linalg::qr(a);
    matrix<double> out = q;
    for (std::size_t j = 0; j < d; ++j)
        if (r(j, j) < 0)
            for (std::size_t i = 0; i < d; ++i) out(i, j) = -out(i, j);
    return out;
}

/// Square d × d weights and data, all orthogonal (the runtime experiment): every layer's input has
/// full rank and singular values near 1, so the pseudo-inverses of eq. 8 stay well conditioned.
inline network_init orthogonal_init(std::size_t d, std::size_t layers, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    network_init init;
    init.x = random_orthogonal(d, rng);
    init.y = random_orthogonal(d, rng);
    for (std::size_t m = 0; m < layers; ++m) init.weights.push_back(random_orthogonal(d, rng));
    return init;
}

/// Reads X.npy, Y.npy and W1.npy, W2.npy, … (up to the first one missing) from dir, float32 or
/// float64; the shapes must chain.
inline network_init load_init(const fs::path& dir) {
    if (!fs::is_directory(dir)) throw std::invalid_argument("--init-dir: " + dir.string() + " is not a folder");
    network_init init;
    init.x = io::load_npy_matrix<double>(dir / "X.npy");
    init.y = io::load_npy_matrix<double>(dir / "Y.npy");
    for (std::size_t m = 1; fs::exists(dir / ("W" + std::to_string(m) + ".npy")); ++m)
        init.weights.push_back(io::load_npy_matrix<double>(dir / ("W" + std::to_string(m) + ".npy")));
    const std::size_t layers = init.weights.size();
    if (layers < 2) throw std::invalid_argument("--init-dir: " + dir.string() + " needs W1.npy and W2.npy at least");
    auto shape = [](const matrix<double>& m) { return std::to_string(m.shape(0)) + "x" + std::to_string(m.shape(1)); };
    if (init.weights[0].shape(1) != init.x.shape(0))
        throw std::invalid_argument("--init-dir: W1 is " + shape(init.weights[0]) + " but X is " + shape(init.x) +
                                    ": W1 needs as many columns as X has rows");
    for (std::size_t m = 1; m < layers; ++m)
        if (init.weights[m].shape(1) != init.weights[m - 1].shape(0))
            throw std::invalid_argument("--init-dir: W" + std::to_string(m + 1) + " is " + shape(init.weights[m]) +
                                        " but W" + std::to_string(m) + " is " + shape(init.weights[m - 1]) +
                                        ": the widths do not chain");
    if (init.y.shape(0) != init.weights.back().shape(0) || init.y.shape(1) != init.x.shape(1))
        throw std::invalid_argument("--init-dir: Y is " + shape(init.y) + " but must be " +
                                    std::to_string(init.weights.back().shape(0)) + "x" + std::to_string(init.x.shape(1)) +
                                    " (rows of W" + std::to_string(layers) + " by the samples of X)");
    return init;
}

/// The seed<N>/ folders in dir, as save_init writes them for several seeds, by seed: N is any seed
/// (up to 20 digits, below 2^64); the same seed named twice (seed7, seed07) is an error.
inline std::map<std::uint64_t, fs::path> seed_folders(const fs::path& dir) {
    std::map<std::uint64_t, fs::path> found;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return found;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::error_code type_ec;
        if (!it->is_directory(type_ec) || name.size() <= 4 || name.size() > 4 + 20 || name.rfind("seed", 0) != 0 ||
            name.find_first_not_of("0123456789", 4) != std::string::npos)
            continue;
        errno = 0;
        const unsigned long long seed = std::strtoull(name.c_str() + 4, nullptr, 10);
        if (errno == ERANGE) continue;  // not a seed: beyond 2^64-1
        if (!found.emplace(seed, it->path()).second)
            throw std::invalid_argument("--init-dir: " + found[seed].string() + " and " + it->path().string() +
                                        " are both seed " + std::to_string(seed));
    }
    return found;
}

/// Writes X.npy, Y.npy, W1.npy … into dir (created if needed), float64.
inline void save_init(const fs::path& dir, const network_init& init) {
    make_output_directory(dir);
    io::save_npy(dir / "X.npy", init.x);
    io::save_npy(dir / "Y.npy", init.y);
    for (std::size_t m = 0; m < init.weights.size(); ++m)
        io::save_npy(dir / ("W" + std::to_string(m + 1) + ".npy"), init.weights[m]);
}

namespace detail {
template <std::size_t First, std::size_t... Rest, class Fn>
decltype(auto) with_layers(std::size_t layers, const std::string& error, Fn&& fn) {
    if (layers == First) return fn(std::integral_constant<std::size_t, First>{});
    if constexpr (sizeof...(Rest) > 0) return with_layers<Rest...>(layers, error, std::forward<Fn>(fn));
    else throw std::invalid_argument(error);
}
}  // namespace detail

/// Calls fn(std::integral_constant<std::size_t, L>{}) for the run-time number of layers L, among
/// the compile-time ones Ls…; anything else is an error naming them.
template <std::size_t... Ls, class Fn>
decltype(auto) with_layers(std::size_t layers, std::string_view what, Fn&& fn) {
    std::string list;
    ((list += (list.empty() ? "" : ", ") + std::to_string(Ls)), ...);
    return detail::with_layers<Ls...>(layers,
                                      std::string(what) + ": " + std::to_string(layers) +
                                          " weight matrices; this driver is built for " + list,
                                      std::forward<Fn>(fn));
}

/// The schedule: epochs (0-based, before the update of that epoch), each below `epochs`, no repeats.
inline std::set<std::size_t> parse_schedule(const std::string& text, std::size_t epochs) {
    return parse_schedule(text, epochs, "epoch");
}

/// The hidden layers whose pairs are teleported: "all" or a list of 1 … L−1.
inline std::set<std::size_t> parse_pairs(const std::string& text, std::size_t layers) {
    std::set<std::size_t> s;
    if (text == "all") {
        for (std::size_t k = 1; k < layers; ++k) s.insert(k);
        return s;
    }
    for (std::size_t k : parse_count_list(text, "--pairs")) {
        if (k < 1 || k >= layers)
            throw std::invalid_argument("--pairs: pair " + std::to_string(k) + " does not exist (1 to " +
                                        std::to_string(layers - 1) + " for " + std::to_string(layers) + " layers)");
        if (!s.insert(k).second) throw std::invalid_argument("--pairs: pair " + std::to_string(k) + " is listed twice");
    }
    return s;
}

/// One method of a multi-seed experiment: one run per seed.
struct network_method {
    std::string name;   // file stem and key: "gd", "gd_teleport"
    std::string label;  // "gd + teleport"
    std::string optimizer;
    double learning_rate = 0;
    bool teleport = false;
    std::vector<std::uint64_t> seeds;
    std::vector<teleport_run_result> runs;

    std::size_t accepted() const {
        std::size_t k = 0;
        for (const auto& r : runs)
            for (const auto& t : r.teleports) k += t.accepted ? 1 : 0;
        return k;
    }
    std::size_t attempted() const {
        std::size_t k = 0;
        for (const auto& r : runs) k += r.teleports.size();
        return k;
    }
};

/// Mean and sample standard deviation of some values (std 0 for one value).
struct mean_std {
    double mean = 0, std = 0;
    std::size_t count = 0;
};
inline mean_std statistics(const std::vector<double>& v) {
    mean_std s;
    s.count = v.size();
    if (v.empty()) return s;
    for (double x : v) s.mean += x;
    s.mean /= double(v.size());
    if (v.size() > 1) {
        double q = 0;
        for (double x : v) q += (x - s.mean) * (x - s.mean);
        s.std = std::sqrt(q / double(v.size() - 1));
    }
    return s;
}

/// Per epoch over the seeds: loss, ‖∇L‖² and time, each as mean ± std (over the seeds whose run
/// reached that epoch).
struct mean_curve {
    std::vector<mean_std> loss, grad_norm_sq, time_s;
};
inline mean_curve average(const network_method& m) {
    mean_curve c;
    std::size_t length = 0;
    for (const auto& r : m.runs) length = std::max(length, r.steps.size());
    for (std::size_t k = 0; k < length; ++k) {
        std::vector<double> l, g, t;
        for (const auto& r : m.runs)
            if (k < r.steps.size()) {
                l.push_back(r.steps[k].loss);
                g.push_back(r.steps[k].grad_norm_sq);
                t.push_back(r.steps[k].time_s);
            }
        c.loss.push_back(statistics(l));
        c.grad_norm_sq.push_back(statistics(g));
        c.time_s.push_back(statistics(t));
    }
    return c;
}

/// The first epoch whose mean loss is below the threshold, and the mean time at that epoch.
inline std::optional<std::pair<std::size_t, double>> mean_to_threshold(const mean_curve& c, double threshold) {
    for (std::size_t k = 0; k < c.loss.size(); ++k)
        if (c.loss[k].mean < threshold) return std::pair{k, c.time_s[k].mean};
    return std::nullopt;
}

/// <name>.csv: epoch, loss, grad_norm_sq, time_s, teleported, seed; the seeds one after another.
inline void write_network_csv(const fs::path& path, const network_method& m) {
    csv_writer csv({"epoch", "loss", "grad_norm_sq", "time_s", "teleported", "seed"});
    for (std::size_t i = 0; i < m.runs.size(); ++i)
        for (const auto& s : m.runs[i].steps)
            csv.row(s.step, s.loss, s.grad_norm_sq, s.time_s, s.teleported, m.seeds[i]);
    csv.write(path);
}

/// mean.csv: per epoch, for each method, loss mean and std, ‖∇L‖² mean and std, mean time.
inline void write_mean_csv(const fs::path& path, const std::vector<network_method>& methods) {
    std::vector<std::string> columns{"epoch"};
    std::vector<mean_curve> curves;
    std::size_t length = 0;
    for (const auto& m : methods) {
        for (const char* c : {"_loss_mean", "_loss_std", "_grad_norm_sq_mean", "_grad_norm_sq_std", "_time_s_mean"})
            columns.push_back(m.name + c);
        curves.push_back(average(m));
        length = std::max(length, curves.back().loss.size());
    }
    csv_writer csv(columns);
    for (std::size_t k = 0; k < length; ++k) {
        std::vector<std::string> cells{csv_writer::cell(k)};
        for (const auto& c : curves) {
            if (k < c.loss.size()) {
                for (double v : {c.loss[k].mean, c.loss[k].std, c.grad_norm_sq[k].mean, c.grad_norm_sq[k].std,
                                 c.time_s[k].mean})
                    cells.push_back(csv_writer::cell(v));
            } else {
                for (int i = 0; i < 5; ++i) cells.push_back(csv_writer::cell(std::nan("")));
            }
        }
        csv.row_cells(cells);
    }
    csv.write(path);
}

/// summary.json's entry for a multi-seed method: mean ± std of the final values, steps and
/// seconds to the threshold (of the mean curve, and per seed), and every teleport with its seed.
inline json network_method_json(const network_method& m, double threshold) {
    const mean_curve c = average(m);
    json j;
    j["name"] = m.name;
    j["label"] = m.label;
    j["optimizer"] = m.optimizer;
    j["learning_rate"] = m.learning_rate;
    j["teleport"] = m.teleport;
    j["csv"] = m.name + ".csv";
    j["seeds"] = m.seeds;
    std::vector<double> final_loss, final_grad, total, teleport_time;
    json per_seed = json::array();
    for (std::size_t i = 0; i < m.runs.size(); ++i) {
        const auto& r = m.runs[i];
        final_loss.push_back(r.steps.back().loss);
        final_grad.push_back(r.steps.back().grad_norm_sq);
        total.push_back(r.total_seconds);
        teleport_time.push_back(r.teleport_seconds);
        json s;
        s["seed"] = m.seeds[i];
        s["final_loss"] = json_number(r.steps.back().loss);
        s["final_grad_norm_sq"] = json_number(r.steps.back().grad_norm_sq);
        const auto reached = steps_to_threshold(r, threshold);
        s["steps_to_threshold"] = reached ? json(*reached) : json(nullptr);
        s["seconds_to_threshold"] = reached ? json(r.steps[*reached].time_s) : json(nullptr);
        s["total_seconds"] = r.total_seconds;
        s["teleport_seconds"] = r.teleport_seconds;
        s["stop_reason"] = std::string(to_string(r.reason));
        per_seed.push_back(std::move(s));
    }
    const auto fl = statistics(final_loss), fg = statistics(final_grad), tt = statistics(total),
               tp = statistics(teleport_time);
    j["final_loss"] = json_number(fl.mean);
    j["final_loss_std"] = json_number(fl.std);
    j["final_grad_norm_sq"] = json_number(fg.mean);
    j["final_grad_norm_sq_std"] = json_number(fg.std);
    j["updates"] = c.loss.empty() ? 0 : c.loss.size() - 1;
    const auto reached = mean_to_threshold(c, threshold);
    j["steps_to_threshold"] = reached ? json(reached->first) : json(nullptr);
    j["seconds_to_threshold"] = reached ? json(reached->second) : json(nullptr);
    j["total_seconds"] = tt.mean;
    j["teleport_seconds"] = tp.mean;
    j["teleports_accepted"] = m.accepted();
    json teleports = json::array();
    for (std::size_t i = 0; i < m.runs.size(); ++i)
        for (const auto& r : m.runs[i].teleports) {
            json t = teleport_report_json(r);
            t["seed"] = m.seeds[i];
            teleports.push_back(std::move(t));
        }
    j["teleports"] = std::move(teleports);
    j["per_seed"] = std::move(per_seed);
    return j;
}

/// Printed: one row per method with mean ± std over the seeds.
inline void print_network_methods(const std::vector<network_method>& methods, double threshold) {
    std::printf("%-18s %24s %12s %10s %10s %11s %11s\n", "method", "final loss (mean ± std)", "|grad L|^2",
                "epochs<thr", "teleports", "time [s]", "teleport [s]");
    for (const auto& m : methods) {
        const mean_curve c = average(m);
        const auto reached = mean_to_threshold(c, threshold);
        std::vector<double> total, tele;
        for (const auto& r : m.runs) {
            total.push_back(r.total_seconds);
            tele.push_back(r.teleport_seconds);
        }
        char loss[64];
        std::snprintf(loss, sizeof loss, "%.4e ± %.2e", c.loss.back().mean, c.loss.back().std);
        const std::string teleports =
            m.teleport ? std::to_string(m.accepted()) + "/" + std::to_string(m.attempted()) : "-";
        std::printf("%-18s %24s %12.4e %10s %10s %11.3e %11.3e\n", m.label.c_str(), loss, c.grad_norm_sq.back().mean,
                    reached ? std::to_string(reached->first).c_str() : "-", teleports.c_str(),
                    statistics(total).mean, statistics(tele).mean);
    }
    std::printf("over %zu seed(s); epochs<thr: first epoch whose mean loss is below %g ('-': never); times are means\n",
                methods.empty() ? std::size_t{0} : methods.front().runs.size(), threshold);
}

/// Printed: every teleport of a method with its loss change and ‖∇L‖² gain.
/// --action-form: eq. 8's form (groups::action_form).
inline void add_action_form_option(CLI::App& app, std::string& form) {
    app.add_option("--action-form", form,
                   "eq. 8: minimal (W_k + (Z' - W_k h) h+, the closest weights with the batch outputs; the identity at "
                   "g = I) or projection (the paper's Z' h+, which projects W_k onto the batch's span)")
        ->check(CLI::IsMember({"minimal", "projection"}))
        ->capture_default_str();
}

inline void print_network_teleports(const network_method& m, std::size_t payoff_steps) {
    if (m.attempted() == 0) return;
    std::vector<teleport_report> all;
    for (const auto& run : m.runs) all.insert(all.end(), run.teleports.begin(), run.teleports.end());
    std::printf("teleports of %s (%s):\n%6s %6s %12s %10s %12s %12s %s  %s\n", m.label.c_str(),
                payoff_summary(all).c_str(), "seed", "epoch", "loss before", "rel.change", "|g|^2 before",
                "|g|^2 after", payoff_header(payoff_steps).c_str(), "result");
    for (std::size_t i = 0; i < m.runs.size(); ++i)
        for (const auto& r : m.runs[i].teleports)
            std::printf("%6llu %6zu %12.5e %10.2e %12.5e %12.5e %s  %s\n", static_cast<unsigned long long>(m.seeds[i]),
                        r.step, r.loss_before, r.relative_loss_change, r.grad_norm_sq_before, r.grad_norm_sq_after,
                        payoff_cells(r).c_str(), r.accepted ? "accepted" : ("rejected: " + r.rejection).c_str());
}

}  // namespace teleport::drivers
