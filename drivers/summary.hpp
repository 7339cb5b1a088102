// drivers/summary.hpp — one table of results from the experiments' output folders: per experiment
// and optimizer, the final loss and, for a few loss thresholds, the steps (or epochs) and the
// seconds each run needed to get below them, without and with teleportation side by side, and the
// teleports accepted/attempted. Every number is read from the drivers' summary.json and CSV files;
// summary_table and reproduce print the table, reproduce also writes it as JSON and CSV.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "output.hpp"

namespace teleport::drivers::summary {

/// The loss thresholds of the table for each experiment, from the loss at the start down to what
/// the better runs reach at the defaults, so that each column separates the methods somewhere:
/// Rosenbrock starts at 404 and Booth at 144 (paper Fig. 2), the random quadratic near 0.4, the
/// MLP regression near 2e3 (mean over the seeds), MNIST at ln 10 ≈ 2.3 (cross-entropy). The
/// drivers' own --threshold defaults (1e-3; 10 for mlp_regression) are among them.
inline std::vector<double> standard_thresholds(std::string_view driver) {
    if (driver == "rosenbrock") return {1.0, 1e-1, 1e-3};
    if (driver == "booth") return {10.0, 1.0, 1e-3};
    if (driver == "quadratic") return {1e-1, 1e-3, 1e-9};
    if (driver == "mlp_regression") return {100.0, 10.0, 3.0};
    if (driver == "mnist") return {1.0, 0.7, 0.4};
    return {};
}

/// A JSON file, or an error naming it; an index a run left incomplete (result_set) is refused.
inline json read_json_file(const fs::path& path) {
    const std::string text = teleport::read_text_file(path);
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw std::runtime_error(path.string() + " is not valid JSON (" + json_error_text(e) + ")");
    }
    if (const std::string status = teleport::result_status(j); !status.empty())
        throw std::runtime_error(path.string() + ": " + status);
    return j;
}

/// A loss curve: the step (or epoch) of each row, the loss there and the wall-clock seconds since
/// the start of the run.
struct curve {
    std::string unit;  // "steps" or "epochs", from the name of the CSV's first column
    std::vector<double> step, loss, seconds;
};

/// The columns `step_or_epoch`, `loss_column` and `time_column` of one of the drivers' CSV files
/// (plain comma-separated numbers with a header; "nan" and "inf" as strtod reads them). The file
/// must be whole: every line ends with a line break (a file cut inside its last cell is refused),
/// the steps are non-negative integers in increasing order, the times non-negative.
inline curve read_curve(const fs::path& path, const std::string& loss_column, const std::string& time_column) {
    const std::string text = teleport::read_text_file(path);
    if (text.empty()) throw std::runtime_error(path.string() + " is empty");
    if (text.back() != '\n')
        throw std::runtime_error(path.string() + " is truncated: its last line does not end with a line break");
    const auto split = [](const std::string& line) {
        std::vector<std::string> cells;
        std::size_t start = 0;
        for (;;) {
            const auto comma = line.find(',', start);
            cells.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
            if (comma == std::string::npos) return cells;
            start = comma + 1;
        }
    };
    std::size_t at = 0;
    const auto next_line = [&](std::string& line) {
        if (at >= text.size()) return false;
        const auto end = text.find('\n', at);
        line = text.substr(at, end - at);
        at = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
    };
    std::string line;
    next_line(line);
    const auto header = split(line);
    const auto column = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        if (it == header.end()) throw std::runtime_error(path.string() + " has no column '" + name + "'");
        return static_cast<std::size_t>(it - header.begin());
    };
    curve c;
    if (header.front() == "step") c.unit = "steps";
    else if (header.front() == "epoch") c.unit = "epochs";
    else throw std::runtime_error(path.string() + ": the first column is neither 'step' nor 'epoch'");
    const std::size_t l = column(loss_column), t = column(time_column);
    std::size_t line_number = 1;
    while (next_line(line)) {
        ++line_number;
        if (line.empty()) continue;
        const auto cells = split(line);
        const auto bad = [&](std::size_t i, const std::string& what) {
            return std::runtime_error(path.string() + ": line " + std::to_string(line_number) + ", column '" +
                                      header[i] + "': '" + cells[i] + "' " + what);
        };
        if (cells.size() != header.size())
            throw std::runtime_error(path.string() + ": line " + std::to_string(line_number) + " has " +
                                     std::to_string(cells.size()) + " cells, the header " +
                                     std::to_string(header.size()));
        const auto number = [&](std::size_t i) {
            char* end = nullptr;
            const double v = std::strtod(cells[i].c_str(), &end);
            if (cells[i].empty() || end != cells[i].c_str() + cells[i].size()) throw bad(i, "is not a number");
            return v;
        };
        const double step = number(0), loss = number(l), seconds = number(t);
        if (!(step >= 0 && step <= 1e15 && step == std::floor(step))) throw bad(0, "is not a step number");
        if (!c.step.empty() && step <= c.step.back()) throw bad(0, "does not follow the step before it");
        if (!(seconds >= 0) || std::isinf(seconds)) throw bad(t, "is not a time in seconds");
        c.step.push_back(step);
        c.loss.push_back(loss);
        c.seconds.push_back(seconds);
    }
    if (c.step.empty()) throw std::runtime_error(path.string() + " has no rows");
    return c;
}

/// Where a curve first gets below a loss: its step (or epoch) and the seconds since the start.
struct reached {
    std::optional<std::size_t> step;  // empty: never
    double seconds = std::numeric_limits<double>::quiet_NaN();
};

inline reached first_below(const curve& c, double threshold) {
    for (std::size_t k = 0; k < c.loss.size(); ++k)
        if (c.loss[k] < threshold) return {static_cast<std::size_t>(c.step[k]), c.seconds[k]};
    return {};
}

/// One method of an experiment as its summary.json and CSV report it.
struct method_result {
    std::string name, label;
    bool teleport = false;
    double final_loss = std::numeric_limits<double>::quiet_NaN();
    double total_seconds = std::numeric_limits<double>::quiet_NaN();
    double teleport_seconds = std::numeric_limits<double>::quiet_NaN();
    std::size_t accepted = 0, attempted = 0;
    std::size_t measured = 0, paid_off = 0;  // counterfactual accounting: measured, paid off
    std::vector<reached> thresholds;  // one per threshold of the experiment
};

/// One line of the table: an optimizer without and with teleportation (either may be missing, as
/// for Newton's method, which has no teleporting twin).
struct table_row {
    std::string method;
    std::optional<method_result> without, with;
};

struct experiment_table {
    std::string driver;   // "rosenbrock", ...; the first column of the table
    std::string title;    // "Rosenbrock", "MLP regression (Fig. 3)", ...
    std::string unit;     // "steps" or "epochs"
    std::string curves;   // which files the thresholds are read from
    std::vector<double> thresholds;  // decreasing
    std::vector<table_row> rows;
    std::vector<std::string> figures;  // as summary.json lists them (file names in its folder)
};

namespace detail {
/// Typed access to summary.json: a value of the wrong type or sign is an error naming the file,
/// the method and the key (a table must never show '-' for a value that is there but wrong).
struct fields {
    const fs::path& path;
    std::string where;  // "" or "method 'gd': "

    [[noreturn]] void bad(const char* key, const json& v, const std::string& what) const {
        std::string shown = v.dump();
        if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
        throw std::runtime_error(path.string() + ": " + where + "'" + key + "' is " + shown + ", " + what);
    }
    /// A string; `fallback` when absent.
    std::string text(const json& j, const char* key, const std::string& fallback) const {
        if (!j.contains(key)) return fallback;
        if (!j[key].is_string()) bad(key, j[key], "not a string");
        return j[key].get<std::string>();
    }
    bool flag(const json& j, const char* key) const {
        if (!j.contains(key)) return false;
        if (!j[key].is_boolean()) bad(key, j[key], "not true or false");
        return j[key].get<bool>();
    }
    /// A number >= 0, or null (a value that was not finite; NaN here); absent: NaN.
    double non_negative(const json& j, const char* key) const {
        if (!j.contains(key) || j[key].is_null()) return std::numeric_limits<double>::quiet_NaN();
        if (!j[key].is_number()) bad(key, j[key], "not a number");
        const double v = j[key].get<double>();
        if (!(v >= 0)) bad(key, j[key], "negative");
        return v;
    }
    /// A non-negative integer; `fallback` when absent.
    std::size_t count(const json& j, const char* key, std::size_t fallback) const {
        if (!j.contains(key)) return fallback;
        if (!j[key].is_number_unsigned()) bad(key, j[key], "not a non-negative integer");
        return j[key].get<std::size_t>();
    }
};
}  // namespace detail

/// The table of one experiment from its summary.json (and the CSV files beside it). thresholds:
/// the losses to reach; empty: the experiment's standard_thresholds and the run's own --threshold.
/// A multi-seed run (mean.csv beside summary.json) is read from its mean curve over the seeds.
inline experiment_table load_experiment(const fs::path& summary_path, std::vector<double> thresholds = {}) {
    const json s = read_json_file(summary_path);
    const fs::path dir = summary_path.parent_path();
    if (!s.is_object() || !s.contains("methods") || !s["methods"].is_array() || s["methods"].empty())
        throw std::runtime_error(summary_path.string() + " has no 'methods' list");
    const detail::fields file{summary_path, ""};
    experiment_table e;
    e.driver = file.text(s, "driver", "");
    e.title = file.text(s, "experiment", e.driver);
    if (e.driver.empty()) e.driver = e.title.empty() ? summary_path.string() : e.title;
    const double own_threshold = file.non_negative(s, "threshold");
    if (s.contains("threshold") && !(own_threshold > 0)) file.bad("threshold", s["threshold"], "not a positive loss");
    if (thresholds.empty()) {
        thresholds = standard_thresholds(e.driver);
        if (s.contains("threshold")) thresholds.push_back(own_threshold);
    }
    if (thresholds.empty())
        throw std::runtime_error(summary_path.string() + ": no loss threshold is known for '" + e.driver +
                                 "' and the file names none");
    std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
    thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
    e.thresholds = thresholds;
    if (s.contains("figures")) {
        if (!s["figures"].is_array()) file.bad("figures", s["figures"], "not a list");
        for (const auto& f : s["figures"]) {
            if (!f.is_string()) file.bad("figures", f, "not a file name");
            e.figures.push_back(f.get<std::string>());
        }
    }

    const bool averaged = fs::exists(dir / "mean.csv");
    std::vector<method_result> methods;
    for (const json& m : s["methods"]) {
        if (!m.is_object()) file.bad("methods", m, "not a method");
        method_result r;
        r.name = file.text(m, "name", "");
        if (r.name.empty()) throw std::runtime_error(summary_path.string() + ": a method has no name");
        const detail::fields f{summary_path, "method '" + r.name + "': "};
        r.label = f.text(m, "label", r.name);
        r.teleport = f.flag(m, "teleport");
        r.final_loss = f.non_negative(m, "final_loss");
        r.total_seconds = f.non_negative(m, "total_seconds");
        r.teleport_seconds = f.non_negative(m, "teleport_seconds");
        r.accepted = f.count(m, "teleports_accepted", 0);
        if (m.contains("teleports") && !m["teleports"].is_array()) f.bad("teleports", m["teleports"], "not a list");
        r.attempted = m.contains("teleports") ? m["teleports"].size() : 0;
        if (r.accepted > r.attempted)
            f.bad("teleports_accepted", m["teleports_accepted"],
                  "more than the " + std::to_string(r.attempted) + " teleports listed");
        if (r.attempted > 0)
            for (const json& t : m["teleports"])
                if (t.is_object() && t.contains("paid_off")) {
                    ++r.measured;
                    r.paid_off += f.flag(t, "paid_off") ? 1 : 0;
                }
        const std::string csv = f.text(m, "csv", r.name + ".csv");
        if (csv.empty() || csv.find('/') != std::string::npos || csv == "." || csv == "..")
            f.bad("csv", m["csv"], "not the name of a file beside summary.json");
        const fs::path curve_file = averaged ? dir / "mean.csv" : dir / csv;
        const curve c = averaged ? read_curve(curve_file, r.name + "_loss_mean", r.name + "_time_s_mean")
                                 : read_curve(curve_file, "loss", "time_s");
        // the curve must reach the run's last update: a file cut after a whole line is refused too
        const std::size_t updates = f.count(m, "updates", static_cast<std::size_t>(c.step.back()));
        if (static_cast<double>(updates) != c.step.back())
            throw std::runtime_error(curve_file.string() + " ends at " + c.unit.substr(0, c.unit.size() - 1) + " " +
                                     format_short(c.step.back()) + " but " + summary_path.string() + " says method '" +
                                     r.name + "' made " + std::to_string(updates) + " (truncated?)");
        if (e.unit.empty()) e.unit = c.unit;
        for (double t : thresholds) r.thresholds.push_back(first_below(c, t));
        methods.push_back(std::move(r));
    }
    if (averaged) {
        const json& first = s["methods"].front();
        const std::size_t seeds = first.contains("seeds") && first["seeds"].is_array() ? first["seeds"].size() : 0;
        e.curves = "mean curve over " + (seeds ? std::to_string(seeds) + " seeds" : std::string("the seeds")) +
                   " (mean.csv)";
    } else {
        e.curves = "one CSV per method";
    }

    // Pair each method with its teleporting twin "<name>_teleport", in the order of the file.
    const std::string suffix = "_teleport";
    std::vector<bool> used(methods.size(), false);
    for (std::size_t i = 0; i < methods.size(); ++i) {
        if (used[i]) continue;
        used[i] = true;
        table_row row;
        const auto& m = methods[i];
        const bool twin = m.teleport && m.name.size() > suffix.size() &&
                          m.name.compare(m.name.size() - suffix.size(), suffix.size(), suffix) == 0;
        const std::string base = twin ? m.name.substr(0, m.name.size() - suffix.size()) : m.name;
        std::optional<std::size_t> partner;
        for (std::size_t j = 0; j < methods.size(); ++j)
            if (!used[j] && (twin ? methods[j].name == base && !methods[j].teleport
                                  : methods[j].teleport && methods[j].name == m.name + suffix))
                partner = j;
        if (partner) used[*partner] = true;
        if (m.teleport) {
            row.with = m;
            if (partner) row.without = methods[*partner];
        } else {
            row.without = m;
            if (partner) row.with = methods[*partner];
        }
        row.method = row.without ? row.without->label : base;
        e.rows.push_back(std::move(row));
    }
    return e;
}

// --- the table as text, JSON and CSV -----------------------------------------------------------

namespace detail {
/// The shortest text that reads back to the same double ("0.1", not "0.10000000000000001").
inline std::string shortest(double v) {
    if (!std::isfinite(v)) return format_double(v);
    char buffer[40];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    return ec == std::errc() ? std::string(buffer, end) : format_double(v);
}
inline std::string format(const char* f, double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? "-" : format_short(v);
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, f, v);
    return buffer;
}
inline std::string steps_text(const std::optional<method_result>& m, std::size_t t) {
    if (!m) return "";
    return m->thresholds[t].step ? std::to_string(*m->thresholds[t].step) : "-";
}
inline std::string seconds_text(const std::optional<method_result>& m, std::size_t t) {
    if (!m) return "";
    return m->thresholds[t].step ? format("%.2e", m->thresholds[t].seconds) : "-";
}
inline std::string teleports_text(const table_row& row) {
    if (!row.with) return "-";
    const auto& m = *row.with;
    std::string text = std::to_string(m.accepted) + "/" + std::to_string(m.attempted);
    if (m.measured > 0) text += " (" + std::to_string(m.paid_off) + ")";
    return text;
}
}  // namespace detail

/// The printed table: one block per experiment and optimizer, one line per threshold; the final
/// losses and the teleports on the block's first line. Ends with what the columns mean.
inline std::string table_text(const std::vector<experiment_table>& experiments) {
    std::string text;
    const auto add = [&](std::string line) {
        line.erase(line.find_last_not_of(' ') + 1);
        text += line + "\n";
    };
    const auto centered = [](std::string title, std::size_t width) {
        title = " " + title + " ";
        const std::size_t dashes = width > title.size() ? width - title.size() : 0;
        return std::string(dashes / 2, '-') + title + std::string(dashes - dashes / 2, '-');
    };
    char line[320];
    std::snprintf(line, sizeof line, "%-15s %-15s %23s  %-7s %17s  %21s  %-13s", "experiment", "method",
                  centered("final loss", 23).c_str(), "loss <", centered("steps", 17).c_str(),
                  centered("seconds", 21).c_str(), "teleports");
    add(line);
    const char* layout = "%-15s %-15s %11s %11s  %-7s %8s %8s  %10s %10s  %-13s";
    std::snprintf(line, sizeof line, layout, "", "", "without", "with", "", "without", "with", "without", "with",
                  "(paid off)");
    add(line);
    for (const auto& e : experiments)
        for (const auto& row : e.rows)
            for (std::size_t t = 0; t < e.thresholds.size(); ++t) {
                const bool head = t == 0;
                const std::string without_loss =
                    head && row.without ? detail::format("%.4e", row.without->final_loss) : "";
                const std::string with_loss = head && row.with ? detail::format("%.4e", row.with->final_loss) : "";
                std::snprintf(line, sizeof line, layout, head ? e.driver.c_str() : "", head ? row.method.c_str() : "",
                              without_loss.c_str(), with_loss.c_str(), format_short(e.thresholds[t]).c_str(),
                              detail::steps_text(row.without, t).c_str(), detail::steps_text(row.with, t).c_str(),
                              detail::seconds_text(row.without, t).c_str(), detail::seconds_text(row.with, t).c_str(),
                              head ? detail::teleports_text(row).c_str() : "");
                add(line);
            }
    add("steps: optimizer updates until the loss is first below the threshold ('-': never in the run);");
    add("seconds: wall-clock time from the start of the run to that point, teleports included;");
    add("teleports: accepted/attempted (paid off: the loss some optimizer steps after the teleport was lower");
    add("than the loss after as many steps without it; see each driver's table for k).");
    for (const auto& e : experiments)
        if (e.unit != "steps" || e.curves != "one CSV per method")
            add(e.driver + ": " + (e.unit == "steps" ? std::string() : e.unit + " instead of steps") +
                (e.curves != "one CSV per method" ? "; " + e.curves : std::string()) + ".");
    return text;
}

inline json reached_json(const std::optional<method_result>& m, std::size_t t) {
    if (!m) return nullptr;
    const auto& r = m->thresholds[t];
    return {{"method", m->name}, {"step", r.step ? json(*r.step) : json(nullptr)},
            {"seconds", r.step ? json_number(r.seconds) : json(nullptr)}};
}

inline json method_result_json(const std::optional<method_result>& m) {
    if (!m) return nullptr;
    json j;
    j["name"] = m->name;
    j["label"] = m->label;
    j["final_loss"] = json_number(m->final_loss);
    j["total_seconds"] = json_number(m->total_seconds);
    j["teleport_seconds"] = json_number(m->teleport_seconds);
    if (m->teleport) {
        j["teleports_accepted"] = m->accepted;
        j["teleports_attempted"] = m->attempted;
        j["teleports_measured"] = m->measured;
        j["teleports_paid_off"] = m->paid_off;
    }
    return j;
}

/// One experiment's table as JSON: per row the methods without and with teleportation and, per
/// threshold, the step and the seconds at which each first got below it (null: never).
inline json experiment_json(const experiment_table& e) {
    json j;
    j["driver"] = e.driver;
    j["title"] = e.title;
    j["unit"] = e.unit;
    j["curves"] = e.curves;
    j["thresholds"] = e.thresholds;
    j["rows"] = json::array();
    for (const auto& row : e.rows) {
        json r;
        r["method"] = row.method;
        r["without_teleport"] = method_result_json(row.without);
        r["with_teleport"] = method_result_json(row.with);
        r["thresholds"] = json::array();
        for (std::size_t t = 0; t < e.thresholds.size(); ++t)
            r["thresholds"].push_back({{"loss_below", e.thresholds[t]},
                                       {"without_teleport", reached_json(row.without, t)},
                                       {"with_teleport", reached_json(row.with, t)}});
        j["rows"].push_back(std::move(r));
    }
    j["figures"] = e.figures;
    return j;
}

/// The table as CSV, one line per experiment, optimizer and threshold; empty cells where a method
/// is missing or never got below the threshold.
inline std::string table_csv(const std::vector<experiment_table>& experiments) {
    csv_writer csv({"experiment", "method", "unit", "threshold", "final_loss_without", "final_loss_with",
                    "steps_without", "steps_with", "seconds_without", "seconds_with", "teleports_accepted",
                    "teleports_attempted", "teleports_paid_off"});
    const auto loss = [](const std::optional<method_result>& m) {
        return m && std::isfinite(m->final_loss) ? detail::shortest(m->final_loss) : std::string();
    };
    const auto steps = [](const std::optional<method_result>& m, std::size_t t) {
        return m && m->thresholds[t].step ? std::to_string(*m->thresholds[t].step) : std::string();
    };
    const auto seconds = [](const std::optional<method_result>& m, std::size_t t) {
        return m && m->thresholds[t].step ? detail::shortest(m->thresholds[t].seconds) : std::string();
    };
    for (const auto& e : experiments)
        for (const auto& row : e.rows)
            for (std::size_t t = 0; t < e.thresholds.size(); ++t)
                csv.row_cells({e.driver, row.method, e.unit, detail::shortest(e.thresholds[t]),
                               loss(row.without), loss(row.with), steps(row.without, t), steps(row.with, t),
                               seconds(row.without, t), seconds(row.with, t),
                               row.with ? std::to_string(row.with->accepted) : std::string(),
                               row.with ? std::to_string(row.with->attempted) : std::string(),
                               row.with && row.with->measured ? std::to_string(row.with->paid_off) : std::string()});
    return csv.str();
}

}  // namespace teleport::drivers::summary
