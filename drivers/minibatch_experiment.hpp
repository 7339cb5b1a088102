// drivers/minibatch_experiment.hpp — the output of the mini-batch experiments (the paper's §6 on
// MNIST, Fig. 4, and its schedule study, Fig. 5): the methods of a run (SGD and AdaGrad with and
// without teleports, or plain SGD against the variants of a schedule_sweep), one CSV per method with
// both splits per epoch, their entries in summary.json, the figures and the printed tables.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "output.hpp"
#include "teleport/train/minibatch.hpp"
#include "teleport/train/schedule_sweep.hpp"

namespace teleport::drivers {

/// One method of a run: an optimizer, when and on how many mini-batches it teleports, and what it
/// gave. A run is a list of them (the four of Fig. 4, or plain SGD and the variants of a sweep).
struct minibatch_method {
    std::string name, label;
    std::string optimizer;  // "sgd" (gd on the mini-batch gradient) or "adagrad"
    double learning_rate = 0;
    bool teleport = false;
    std::set<std::size_t> schedule;    // teleport before these 0-based epochs
    std::size_t teleport_batches = 0;  // B: mini-batches teleported at each of them
    minibatch_run run;

    std::string optimizer_name() const { return optimizer == "sgd" ? "gd (mini-batch)" : "adagrad"; }
    std::size_t accepted() const {
        std::size_t k = 0;
        for (const auto& t : run.teleports) k += t.report.accepted ? 1 : 0;
        return k;
    }
};

inline std::string epoch_list(const std::set<std::size_t>& epochs) {
    return "[" + join(std::vector<std::size_t>(epochs.begin(), epochs.end())) + "]";
}

inline minibatch_method make_minibatch_method(std::string name, std::string label, std::string optimizer, double lr,
                                              std::set<std::size_t> epochs, std::size_t batches) {
    minibatch_method m;
    m.name = std::move(name);
    m.label = std::move(label);
    m.optimizer = std::move(optimizer);
    m.learning_rate = lr;
    m.teleport = batches > 0;
    m.schedule = std::move(epochs);
    m.teleport_batches = batches;
    return m;
}

/// Fig. 4: SGD and AdaGrad, each without and with teleports at `schedule` on B mini-batches.
inline std::vector<minibatch_method> figure4_methods(double sgd_lr, double adagrad_lr, const std::set<std::size_t>& schedule,
                                                     std::size_t batches) {
    return {make_minibatch_method("sgd", "sgd", "sgd", sgd_lr, {}, 0),
            make_minibatch_method("sgd_teleport", "sgd + teleport", "sgd", sgd_lr, schedule, batches),
            make_minibatch_method("adagrad", "adagrad", "adagrad", adagrad_lr, {}, 0),
            make_minibatch_method("adagrad_teleport", "adagrad + teleport", "adagrad", adagrad_lr, schedule, batches)};
}

/// Fig. 5: plain SGD, then one SGD variant per value of the sweep, named after the value.
inline std::vector<minibatch_method> sweep_methods(double sgd_lr, const schedule_sweep& sweep) {
    std::vector<minibatch_method> methods{make_minibatch_method("sgd", "sgd", "sgd", sgd_lr, {}, 0)};
    for (const auto& v : sweep.variants()) {
        const std::string value = std::to_string(v.value);
        const std::string name = sweep.kind == sweep_kind::when       ? "sgd_teleport_epoch" + value
                                 : sweep.kind == sweep_kind::interval ? "sgd_teleport_interval" + value
                                                                      : "sgd_teleport_batches" + value;
        const std::string label = sweep.kind == sweep_kind::batches ? "teleport " + epoch_list(v.epochs) + ", B = " + value
                                                                    : "teleport " + epoch_list(v.epochs);
        methods.push_back(make_minibatch_method(name, label, "sgd", sgd_lr, v.epochs, v.batches));
    }
    return methods;
}

/// The panel of the paper's Fig. 5 a sweep reproduces, short (figure titles) and long.
inline std::string sweep_short_figure(const schedule_sweep& s) {
    return s.kind == sweep_kind::when       ? "Fig. 5a, teleport epoch"
           : s.kind == sweep_kind::interval ? "Fig. 5b, teleport interval"
                                            : "Fig. 5c, teleported mini-batches";
}
inline std::string sweep_figure(const schedule_sweep& s) {
    return s.kind == sweep_kind::when       ? "Fig. 5a: one teleport at different epochs"
           : s.kind == sweep_kind::interval ? "Fig. 5b: " + std::to_string(s.teleports) + " teleports at different intervals"
                                            : "Fig. 5c: teleports on different numbers of mini-batches";
}

/// summary.json's config "sweep" section.
inline json sweep_json(const schedule_sweep& sweep) {
    json s;
    s["kind"] = std::string(to_string(sweep.kind));
    s["figure"] = sweep_figure(sweep);
    s["values"] = sweep.values;
    if (sweep.kind == sweep_kind::interval) {
        s["start"] = sweep.start;
        s["teleports"] = sweep.teleports;
    }
    s["methods"] = "plain SGD and one SGD variant per value; each method's schedule and B are in its entry";
    return s;
}

/// <name>.csv: one row per epoch (0 = before training) with the training and validation split's
/// loss and accuracy, ‖∇L‖² of the training split, the time so far and whether it teleported.
inline void write_minibatch_csv(const fs::path& path, const minibatch_method& m) {
    csv_writer csv({"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norm_sq", "time_s", "teleported"});
    for (const auto& r : m.run.epochs)
        csv.row(r.epoch, r.train.loss, r.train.accuracy, r.valid.loss, r.valid.accuracy, r.train.grad_norm_sq, r.time_s,
                r.teleported);
    csv.write(path);
}

/// summary.json's entry for a method: its settings, final values, times, and every teleport with
/// its mini-batch and the validation split before and after it (SPEC §5).
inline json minibatch_method_json(const minibatch_method& m) {
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
    const auto& last = m.run.epochs.back();
    j["final_loss"] = json_number(last.train.loss);
    j["final_accuracy"] = json_number(last.train.accuracy);
    j["final_val_loss"] = json_number(last.valid.loss);
    j["final_val_accuracy"] = json_number(last.valid.accuracy);
    j["final_grad_norm_sq"] = json_number(last.train.grad_norm_sq);
    j["updates"] = last.epoch;  // epochs, as in the CSV
    j["stop_reason"] = m.run.stop_reason;
    j["total_seconds"] = m.run.train_seconds + m.run.teleport_seconds;
    j["teleport_seconds"] = m.run.teleport_seconds;
    j["evaluation_seconds"] = m.run.eval_seconds;
    json teleports = json::array();
    for (const auto& t : m.run.teleports) {
        json r = teleport_report_json(t.report);
        r["batch"] = t.batch;
        r["seconds"] = t.seconds;
        r["val_loss_before"] = json_number(t.valid_before.loss);
        r["val_loss_after"] = json_number(t.valid_after.loss);
        r["val_relative_loss_change"] = json_number((t.valid_after.loss - t.valid_before.loss) / t.valid_before.loss);
        r["val_accuracy_before"] = json_number(t.valid_before.accuracy);
        r["val_accuracy_after"] = json_number(t.valid_after.accuracy);
        teleports.push_back(std::move(r));
    }
    j["teleports_accepted"] = m.accepted();
    j["teleports"] = std::move(teleports);
    return j;
}

/// Figures like the paper's Fig. 4 (or, for a sweep, its Fig. 5): training (solid) and validation
/// (dashed) loss per epoch, ‖∇L‖² of the full training split per epoch, and validation accuracy.
inline std::vector<std::string> render_minibatch_figures(const fs::path& dir, const std::vector<minibatch_method>& methods,
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

// --- printed tables --------------------------------------------------------------------------

/// Printed: one row per method with the final values of both splits, times and teleports.
inline void print_minibatch_methods(const std::vector<minibatch_method>& methods) {
    int width = 18;
    for (const auto& m : methods) width = std::max(width, int(m.label.size()));
    std::printf("%-*s %10s %9s %10s %9s %12s %10s %10s %9s\n", width, "method", "loss", "accuracy", "val_loss",
                "val_acc", "|grad L|^2", "train [s]", "teleport[s]", "teleports");
    for (const auto& m : methods) {
        const auto& r = m.run.epochs.back();
        const std::string tele = m.teleport ? std::to_string(m.accepted()) + "/" + std::to_string(m.run.teleports.size()) : "-";
        std::printf("%-*s %10.5f %9.4f %10.5f %9.4f %12.4e %10.2f %10.2f %9s\n", width, m.label.c_str(), r.train.loss,
                    r.train.accuracy, r.valid.loss, r.valid.accuracy, r.train.grad_norm_sq, m.run.train_seconds,
                    m.run.teleport_seconds, tele.c_str());
    }
}

/// Printed: every teleport of every method, with its mini-batch, its gain and pay-off, and the
/// validation split's change.
inline void print_minibatch_teleports(const std::vector<minibatch_method>& methods, std::size_t payoff_steps) {
    for (const auto& m : methods) {
        if (m.run.teleports.empty()) continue;
        std::vector<teleport_report> reports;
        for (const auto& t : m.run.teleports) reports.push_back(t.report);
        std::printf("teleports of %s (%s):\n%6s %5s %12s %10s %12s %12s %s %11s %13s %8s  %s\n", m.label.c_str(),
                    payoff_summary(reports).c_str(), "epoch", "batch", "batch loss", "rel.change", "|g|^2 before",
                    "|g|^2 after", payoff_header(payoff_steps).c_str(), "val change", "val accuracy", "time[s]",
                    "result");
        // a search that left the group reports non-finite values: shown as '-'
        auto cell = [](double v, const char* format) {
            char text[32] = "-";
            if (std::isfinite(v)) std::snprintf(text, sizeof text, format, v);
            return std::string(text);
        };
        for (const auto& t : m.run.teleports) {
            const auto& r = t.report;
            std::printf("%6zu %5zu %12s %10s %12s %12s %s %11s %6.4f>%6.4f %8.3f  %s\n", r.step, t.batch,
                        cell(r.loss_before, "%.5e").c_str(), cell(r.relative_loss_change, "%.2e").c_str(),
                        cell(r.grad_norm_sq_before, "%.5e").c_str(), cell(r.grad_norm_sq_after, "%.5e").c_str(),
                        payoff_cells(r).c_str(),
                        cell((t.valid_after.loss - t.valid_before.loss) / t.valid_before.loss, "%+.2e").c_str(),
                        t.valid_before.accuracy, t.valid_after.accuracy, t.seconds,
                        r.accepted ? "accepted" : ("rejected: " + r.rejection).c_str());
        }
    }
}

/// Printed: the files written.
inline void print_written(const fs::path& dir, const std::vector<minibatch_method>& methods,
                          const std::vector<std::string>& figures) {
    std::printf("wrote %s:", dir.string().c_str());
    for (const auto& m : methods) std::printf(" %s.csv", m.name.c_str());
    std::printf(" summary.json");
    for (const auto& name : figures) std::printf(" %s", name.c_str());
    std::printf("\n");
}

}  // namespace teleport::drivers
