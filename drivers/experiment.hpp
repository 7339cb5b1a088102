// drivers/experiment.hpp — the teleport options every experiment has (strategy, exponential map,
// optimizer-state policy), and recording a run for the output contract (SPEC §4): the
// parameters at every step, one θ₀ per teleport, the steps to a loss threshold, the CSV of a method,
// its entry in summary.json and its row in the printed table.
#pragma once

#include <array>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "driver_common.hpp"
#include "output.hpp"
#include "teleport/teleport.hpp"

namespace teleport::drivers {

// --- teleport options ------------------------------------------------------------------------

inline const std::vector<std::string>& strategy_names() {
    static const std::vector<std::string> names{"gradient-ascent", "normalized-ascent", "random-search"};
    return names;
}
inline const std::vector<std::string>& exp_map_names() {
    static const std::vector<std::string> names{"exact", "cayley", "first-order"};
    return names;
}
inline const std::vector<std::string>& state_policy_names() {
    static const std::vector<std::string> names{"keep", "reset", "transport"};
    return names;
}

/// The check for an option that takes one of a few names.
inline CLI::Validator one_of(const std::vector<std::string>& names) { return CLI::IsMember(names); }

/// The strategy named on the command line. `steps` is the number of ascent steps, or of samples
/// for random search; `learning_rate` is used by gradient ascent only.
inline teleport_strategy make_strategy(std::string_view name, std::size_t steps, double learning_rate) {
    if (name == "gradient-ascent") return gradient_ascent{steps, learning_rate};
    if (name == "normalized-ascent") {
        normalized_ascent s;
        s.steps = steps;
        return s;
    }
    if (name == "random-search") {
        random_search s;
        s.samples = steps;
        return s;
    }
    throw std::invalid_argument("unknown teleport strategy '" + std::string(name) + "'");
}

/// The search and accounting options every driver that teleports shares: one place for their
/// names, defaults and checks. The number of ascent steps and the ascent learning rate stay with
/// each driver (some have one per optimizer).
struct search_options {
    std::string strategy = "normalized-ascent";
    double initial_step = normalized_ascent{}.initial_step;
    double trust_radius = normalized_ascent{}.trust_radius;
    double tolerance = teleport_settings{}.tolerance;
    std::size_t payoff_steps = 10;
    std::string require_payoff = "auto";  // auto: yes, except for the paper's gradient ascent
    std::string objective = "grad-norm";
    std::size_t lookahead_steps = 1;

    bool lookahead() const { return objective == "lookahead"; }

    /// The settings of a search of `steps` ascent steps (samples) and learning rate `lr`.
    teleport_settings settings(std::size_t steps, double lr, exp_map map = exp_map::exact) const {
        teleport_settings s;
        s.strategy = make_strategy(strategy, steps, lr);
        if (auto* n = std::get_if<normalized_ascent>(&s.strategy)) {
            n->initial_step = initial_step;
            n->trust_radius = trust_radius;
        }
        s.map = map;
        s.tolerance = tolerance;
        s.payoff.steps = payoff_steps;
        s.payoff.require = require_payoff == "yes" || (require_payoff == "auto" && strategy != "gradient-ascent");
        if (s.payoff.require && payoff_steps == 0)
            throw std::invalid_argument("--require-payoff needs --payoff-steps k > 0" +
                                        std::string(require_payoff == "auto" ? " (or --require-payoff no)" : ""));
        validate(s);
        return s;
    }
};

inline void add_search_options(CLI::App& app, search_options& o) {
    app.add_option("--strategy", o.strategy,
                   "how the group element is searched: normalized-ascent is the safeguarded search (only steps that "
                   "raise the objective, backtracking, the identity unless it gains); gradient-ascent the paper's "
                   "fixed-rate ascent")
        ->check(one_of(strategy_names()))
        ->capture_default_str();
    app.add_option("--initial-step", o.initial_step, "normalized-ascent: first step length in the algebra")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--trust-radius", o.trust_radius, "normalized-ascent: largest step length in the algebra (inf: none)")
        ->check(positive(/*infinite_allowed=*/true))
        ->capture_default_str();
    app.add_option("--tolerance", o.tolerance, "largest relative loss change of an accepted teleport")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--payoff-steps", o.payoff_steps,
                   "counterfactual accounting: the loss after this many optimizer steps with and without each "
                   "teleport (0: not measured)")
        ->capture_default_str();
    app.add_option("--require-payoff", o.require_payoff,
                   "undo a teleport after which the loss --payoff-steps steps on is not lower than without it: yes, "
                   "no, or auto (yes except with gradient-ascent, the paper's teleport)")
        ->check(one_of({"auto", "yes", "no"}))
        ->capture_default_str();
    app.add_option("--objective", o.objective,
                   "what a teleport maximizes: grad-norm, ||grad L||^2 (the paper's); lookahead, the decrease of the "
                   "loss over the optimizer's next --lookahead-steps steps (sees the step size)")
        ->check(one_of({"grad-norm", "lookahead"}))
        ->capture_default_str();
    app.add_option("--lookahead-steps", o.lookahead_steps, "--objective lookahead: optimizer steps looked ahead")
        ->check(positive_count())
        ->capture_default_str();
}

inline exp_map parse_exp_map(std::string_view name) {
    if (name == "exact") return exp_map::exact;
    if (name == "cayley") return exp_map::cayley;
    if (name == "first-order") return exp_map::first_order;
    throw std::invalid_argument("unknown exponential map '" + std::string(name) + "'");
}

inline state_policy parse_state_policy(std::string_view name) {
    if (name == "keep") return state_policy::keep;
    if (name == "reset") return state_policy::reset;
    if (name == "transport") return state_policy::transport;
    throw std::invalid_argument("unknown optimizer-state policy '" + std::string(name) + "'");
}


/// --schedule: teleport before these steps (or epochs: `unit`), 0-based, increasing, each below
/// `limit`; "none" for no teleport. An unordered list is refused rather than sorted: per-teleport
/// values (--theta0) follow the order given.
inline std::set<std::size_t> parse_schedule(const std::string& text, std::size_t limit, std::string_view unit) {
    std::set<std::size_t> s;
    if (text == "none") return s;
    const std::string u(unit);
    for (std::size_t t : parse_count_list(text, "--schedule")) {
        if (t >= limit)
            throw std::invalid_argument("--schedule: " + u + " " + std::to_string(t) + " is not below --" + u + "s " +
                                        std::to_string(limit));
        if (!s.empty() && t < *s.rbegin())
            throw std::invalid_argument("--schedule: " + u + " " + std::to_string(t) + " comes after " +
                                        std::to_string(*s.rbegin()) + ": list the " + u + "s in increasing order");
        if (!s.insert(t).second) throw std::invalid_argument("--schedule: " + u + " " + std::to_string(t) + " is listed twice");
    }
    return s;
}

/// Callback: the parameters at every row of teleport_run_result::steps (the point each update
/// starts from, after any teleport before it, and the final point).
template <std::size_t N>
class record_points {
  public:
    explicit record_points(std::vector<std::array<double, N>>& points) : points_(&points) {}
    void step(const step_info<double>&, const std::array<double, N>& x) const { points_->push_back(x); }
    void end(const optimize_result<double>&, const std::array<double, N>& x) const { points_->push_back(x); }

  private:
    std::vector<std::array<double, N>>* points_;
};

/// Callback: one θ₀ per teleport. teleport_settings holds a single θ₀ (theta_start::given) that
/// every teleport of a run starts from; to replay a different θ₀ for each teleport, this sets the
/// next one after each teleport in the very settings object the run reads. check() confirms from
/// the reports that every teleport started where it was asked to, so a change in how the loop
/// reads its settings cannot go unnoticed.
class theta0_replay {
  public:
    /// starts: one θ₀ per teleport, or a single θ₀ used for all of them; empty: drawn by the run.
    theta0_replay(teleport_settings& settings, const teleport_schedule& schedule, std::vector<std::vector<double>> starts)
        : settings_(&settings), schedule_(&schedule), starts_(std::move(starts)) {
        settings_->start.given = starts_.empty() ? std::vector<double>{} : starts_.front();
    }

    template <class Vec>
    void step(const step_info<double>& info, const Vec&) {
        if (starts_.size() > 1 && schedule_->contains(info.step) && ++done_ < starts_.size())
            settings_->start.given = starts_[done_];
    }

    void check(const std::vector<teleport_report>& reports) const {
        if (starts_.empty()) return;
        for (std::size_t i = 0; i < reports.size(); ++i)
            if (reports[i].theta0 != starts_[std::min(i, starts_.size() - 1)])
                throw std::logic_error("teleport " + std::to_string(i + 1) + " did not start from the theta0 given");
    }

  private:
    teleport_settings* settings_;
    const teleport_schedule* schedule_;
    std::vector<std::vector<double>> starts_;
    std::size_t done_ = 0;
};

/// The first step whose loss is below the threshold (the number of updates it took), if any.
inline std::optional<std::size_t> steps_to_threshold(const teleport_run_result& run, double threshold) {
    for (const auto& s : run.steps)
        if (s.loss < threshold) return s.step;
    return std::nullopt;
}

/// One method of an experiment: a run and the parameters along it.
template <std::size_t N>
struct method_record {
    std::string name;       // file stem and key: "gd", "gd_teleport", "newton"
    std::string label;      // for tables and figures: "gd + teleport"
    std::string optimizer;  // the optimizer's name
    double learning_rate = 0;
    bool teleport = false;
    teleport_run_result run;
    std::vector<std::array<double, N>> points;  // one per row of run.steps
    // For each teleport report: the point before it and after it (the same point when rejected),
    // filled by the callback record_teleports<std::array<double, N>>(moves).
    teleport_points<std::array<double, N>> moves;

    const step_record& last() const { return run.steps.back(); }
    std::size_t accepted() const {
        std::size_t k = 0;
        for (const auto& r : run.teleports) k += r.accepted ? 1 : 0;
        return k;
    }
};

/// The CSV of a method: step, loss, grad_norm_sq, time_s, teleported, then any extra columns
/// (extra(row) gives their cells for each row of the run).
template <std::size_t N, class Extra>
void write_method_csv(const fs::path& path, const method_record<N>& record, const std::vector<std::string>& extra_columns,
                      Extra&& extra) {
    std::vector<std::string> columns{"step", "loss", "grad_norm_sq", "time_s", "teleported"};
    columns.insert(columns.end(), extra_columns.begin(), extra_columns.end());
    csv_writer csv(columns);
    for (std::size_t k = 0; k < record.run.steps.size(); ++k) {
        const auto& s = record.run.steps[k];
        std::vector<std::string> cells{csv_writer::cell(s.step), csv_writer::cell(s.loss),
                                       csv_writer::cell(s.grad_norm_sq), csv_writer::cell(s.time_s),
                                       csv_writer::cell(s.teleported)};
        for (double v : extra(k)) cells.push_back(csv_writer::cell(v));
        csv.row_cells(cells);
    }
    csv.write(path);
}

template <std::size_t N>
json point_json(const std::array<double, N>& x) {
    json j = json::array();
    for (double v : x) j.push_back(json_number(v));
    return j;
}

inline json numbers_json(const std::vector<double>& values) {
    json j = json::array();
    for (double v : values) j.push_back(json_number(v));
    return j;
}

/// One teleport in summary.json: when, the loss and ‖∇L‖² before and after, the relative loss
/// change, the objective, and why it was rejected if it was.
inline json teleport_report_json(const teleport_report& r) {
    json t;
    t["step"] = r.step;
    if (!r.theta0.empty()) t["theta0"] = numbers_json(r.theta0);
    if (!r.theta.empty()) t["theta"] = numbers_json(r.theta);
    t["loss_before"] = json_number(r.loss_before);
    t["loss_after"] = json_number(r.loss_after);
    t["relative_loss_change"] = json_number(r.relative_loss_change);
    t["grad_norm_sq_before"] = json_number(r.grad_norm_sq_before);
    t["grad_norm_sq_after"] = json_number(r.grad_norm_sq_after);
    t["grad_norm_sq_gain"] = json_number(r.grad_norm_sq_after / r.grad_norm_sq_before);
    t["objective_before"] = json_number(r.objective_before);
    t["objective_after"] = json_number(r.objective_after);
    t["objective_evaluations"] = r.objective_evaluations;
    if (r.objective_before > 0) t["objective_gain"] = json_number(r.objective_after / r.objective_before);
    t["accepted"] = r.accepted;
    if (!r.accepted) t["rejection"] = r.rejection;
    if (r.payoff_measured()) {
        t["payoff_steps"] = r.payoff_steps;
        t["loss_after_steps_with"] = json_number(r.loss_with);
        t["loss_after_steps_without"] = json_number(r.loss_without);
        t["paid_off"] = r.paid_off();
        t["payoff_seconds"] = r.payoff_seconds;
    }
    return t;
}

/// The printed cells of a teleport's gain and pay-off: J after / J before, the loss after k steps
/// with and without it, and the verdict ('-' where not measured).
inline std::string payoff_cells(const teleport_report& r) {
    char text[96];
    auto cell = [](double v, const char* format) {
        char t[32] = "-";
        if (std::isfinite(v)) std::snprintf(t, sizeof t, format, v);
        return std::string(t);
    };
    const std::string verdict = !r.payoff_measured() ? "-" : r.paid_off() ? "yes" : "no";
    // the gain J after / J before, or the change of J when J before is not positive (a lookahead
    // objective can be negative: the next step would raise the loss)
    const std::string gain = r.objective_before > 0 ? cell(r.objective_after / r.objective_before, "%.3g")
                                                    : cell(r.objective_after - r.objective_before, "%+.2e");
    std::snprintf(text, sizeof text, "%9s %12s %12s %4s", gain.c_str(),
                  cell(r.loss_with, "%.5e").c_str(), cell(r.loss_without, "%.5e").c_str(), verdict.c_str());
    return text;
}
inline std::string payoff_header(std::size_t k) {
    char text[96];
    const std::string with = "L+" + std::to_string(k) + " with", without = "L+" + std::to_string(k) + " w/o";
    std::snprintf(text, sizeof text, "%9s %12s %12s %4s", "J gain", with.c_str(), without.c_str(), "paid");
    return text;
}

/// The pay-off of a run's teleports in one line: accepted, measured, paid off.
inline std::string payoff_summary(const std::vector<teleport_report>& reports) {
    std::size_t accepted = 0, measured = 0, paid = 0;
    for (const auto& r : reports) {
        accepted += r.accepted;
        measured += r.payoff_measured();
        paid += r.paid_off();
    }
    return std::to_string(accepted) + "/" + std::to_string(reports.size()) + " accepted, " + std::to_string(paid) +
           "/" + std::to_string(measured) + " paid off";
}

/// summary.json's entry for a method.
template <std::size_t N>
json method_json(const method_record<N>& record, double threshold) {
    json m;
    m["name"] = record.name;
    m["label"] = record.label;
    m["optimizer"] = record.optimizer;
    m["learning_rate"] = record.learning_rate;
    m["teleport"] = record.teleport;
    m["csv"] = record.name + ".csv";
    m["final_loss"] = json_number(record.last().loss);
    m["final_grad_norm_sq"] = json_number(record.last().grad_norm_sq);
    if (!record.points.empty()) m["final_point"] = point_json(record.points.back());
    m["updates"] = record.last().step;
    m["stop_reason"] = std::string(to_string(record.run.reason));
    const auto reached = steps_to_threshold(record.run, threshold);
    m["steps_to_threshold"] = reached ? json(*reached) : json(nullptr);
    m["total_seconds"] = record.run.total_seconds;
    m["teleport_seconds"] = record.run.teleport_seconds;
    m["teleports_accepted"] = record.accepted();
    json teleports = json::array();
    for (std::size_t i = 0; i < record.run.teleports.size(); ++i) {
        json t = teleport_report_json(record.run.teleports[i]);
        if (record.run.teleports[i].accepted && i < record.moves.before.size()) {
            t["point_before"] = point_json(record.moves.before[i]);
            t["point_after"] = point_json(record.moves.after[i]);
        }
        teleports.push_back(std::move(t));
    }
    m["teleports"] = std::move(teleports);
    return m;
}

/// summary.json's "teleport" section: the strategy and its parameters, the map, the state policy.
inline json teleport_settings_json(const teleport_settings& s, state_policy policy, const std::vector<std::size_t>& schedule) {
    json t;
    t["schedule"] = schedule;
    t["strategy"] = strategy_name(s.strategy);
    std::visit(
        [&](const auto& v) {
            using S = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<S, gradient_ascent>) {
                t["ascent_steps"] = v.steps;
                t["learning_rate"] = v.learning_rate;
            } else if constexpr (std::is_same_v<S, normalized_ascent>) {
                t["ascent_steps"] = v.steps;
                t["initial_step"] = v.initial_step;
                t["max_halvings"] = v.max_halvings;
                t["trust_radius"] = json_number(v.trust_radius);
            } else {
                t["samples"] = v.samples;
                t["sample_lo"] = v.lo;
                t["sample_hi"] = v.hi;
            }
        },
        s.strategy);
    t["map"] = groups::to_string(s.map);
    t["tolerance"] = s.tolerance;
    t["payoff_steps"] = s.payoff.steps;
    t["require_payoff"] = s.payoff.require;
    t["optimizer_state"] = to_string(policy);
    return t;
}

/// The objective of the search options, into a "teleport" section of summary.json.
inline void objective_json(json& t, const search_options& o) {
    t["objective"] = o.objective;
    if (o.lookahead()) t["lookahead_steps"] = o.lookahead_steps;
}

// --- printed tables --------------------------------------------------------------------------

/// One row per method: final loss, ‖∇L‖², steps to the threshold, teleports, times.
template <std::size_t N>
void print_methods(const std::vector<method_record<N>>& methods, double threshold) {
    std::printf("%-18s %12s %12s %10s %10s %11s %11s\n", "method", "final loss", "|grad L|^2", "steps<thr", "teleports",
                "time [s]", "teleport [s]");
    for (const auto& m : methods) {
        const auto reached = steps_to_threshold(m.run, threshold);
        const std::string steps = reached ? std::to_string(*reached) : "-";
        const std::string teleports =
            m.teleport ? std::to_string(m.accepted()) + "/" + std::to_string(m.run.teleports.size()) : "-";
        std::printf("%-18s %12.4e %12.4e %10s %10s %11.3e %11.3e\n", m.label.c_str(), m.last().loss,
                    m.last().grad_norm_sq, steps.c_str(), teleports.c_str(), m.run.total_seconds,
                    m.run.teleport_seconds);
    }
    std::printf("steps<thr: updates until the loss is below %g ('-': never); teleports: accepted/attempted\n",
                threshold);
}

/// One row per teleport of a method: the loss and ‖∇L‖² before and after, the objective's gain,
/// the loss after k optimizer steps with and without the teleport, and why a rejected one was
/// rejected; θ is printed when the group has one coordinate.
template <std::size_t N>
void print_teleports(const method_record<N>& m, double tolerance, std::size_t payoff_steps) {
    if (m.run.teleports.empty()) return;
    const bool one_angle = !m.run.teleports.front().theta.empty() && m.run.teleports.front().theta.size() == 1;
    std::printf("teleports of %s (%s):\n", m.label.c_str(), payoff_summary(m.run.teleports).c_str());
    if (one_angle) std::printf("%6s %9s %9s", "step", "theta0", "theta");
    else std::printf("%6s", "step");
    std::printf(" %12s %10s %12s %12s %s  %s\n", "loss before", "rel.change", "|g|^2 before", "|g|^2 after",
                payoff_header(payoff_steps).c_str(), "result");
    for (const auto& r : m.run.teleports) {
        const std::string result =
            r.accepted ? "accepted"
            : std::isfinite(r.relative_loss_change) && r.relative_loss_change > tolerance
                ? "rejected: the loss changed by more than the tolerance " + format_short(tolerance)
                : "rejected: " + r.rejection;
        if (one_angle && r.theta0.size() == 1 && r.theta.size() == 1)
            std::printf("%6zu %9.4f %9.4f", r.step, r.theta0[0], r.theta[0]);
        else if (one_angle)
            std::printf("%6zu %9s %9s", r.step, "-", "-");
        else
            std::printf("%6zu", r.step);
        std::printf(" %12.5e %10.2e %12.5e %12.5e %s  %s\n", r.loss_before, r.relative_loss_change,
                    r.grad_norm_sq_before, r.grad_norm_sq_after, payoff_cells(r).c_str(), result.c_str());
    }
}

}  // namespace teleport::drivers
