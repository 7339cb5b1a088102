// drivers/test_function_driver.hpp — the Rosenbrock and Booth experiments (paper §6, Fig. 2) share
// one driver: an optimizer (GD by default) from the paper's starting point, once without and once
// with teleportation by the function's SO(2) coordinate action, written as SPEC §4 asks.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "output.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/teleport.hpp"

namespace teleport::drivers {

/// An experiment on a function of two variables: its defaults (from the paper) and its target.
struct test_function_experiment {
    std::string name;                   // driver name, default output folder results/<name>/
    std::string title;                  // for --help and figures
    std::array<double, 2> x0;           // starting point
    std::array<double, 2> minimum;      // the known minimum, drawn as the target in the figure
    double learning_rate;               // of the optimizer
    std::size_t steps;                  // optimizer steps
    std::vector<std::size_t> schedule;  // teleport before these steps (0-based)
    double teleport_learning_rate;      // of the ascent on θ
    std::size_t teleport_steps;         // ascent steps on θ
};

using any_optimizer = std::variant<gd, adagrad, momentum, rmsprop, adam>;

inline const std::vector<std::string>& optimizer_names() {
    static const std::vector<std::string> names{"gd", "adagrad", "momentum", "rmsprop", "adam"};
    return names;
}

/// The optimizer named on the command line with the given learning rate and the library's defaults
/// for its other hyperparameters.
inline any_optimizer make_optimizer(const std::string& name, double lr) {
    if (name == "gd") return gd{lr};
    if (name == "adagrad") return adagrad{lr};
    if (name == "momentum") return momentum{lr};
    if (name == "rmsprop") return rmsprop{lr};
    if (name == "adam") return adam{lr};
    throw std::invalid_argument("unknown optimizer '" + name + "'");
}

inline json optimizer_json(const any_optimizer& opt) {
    return std::visit(
        [](const auto& o) {
            json j;
            j["name"] = std::string(o.name());
            const auto& s = o.settings();
            j["learning_rate"] = s.learning_rate;
            using S = std::decay_t<decltype(s)>;
            if constexpr (std::is_same_v<S, adagrad_settings>) j["epsilon"] = s.epsilon;
            if constexpr (std::is_same_v<S, momentum_settings>) j["momentum"] = s.momentum;
            if constexpr (std::is_same_v<S, rmsprop_settings>) {
                j["rho"] = s.rho;
                j["epsilon"] = s.epsilon;
            }
            if constexpr (std::is_same_v<S, adam_settings>) {
                j["beta1"] = s.beta1;
                j["beta2"] = s.beta2;
                j["epsilon"] = s.epsilon;
            }
            return j;
        },
        opt);
}

namespace detail {

/// The bounding box of the finite points, widened by a margin.
struct box {
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
    void add(const std::array<double, 2>& p) {
        if (!std::isfinite(p[0]) || !std::isfinite(p[1])) return;
        x_lo = std::min(x_lo, p[0]);
        x_hi = std::max(x_hi, p[0]);
        y_lo = std::min(y_lo, p[1]);
        y_hi = std::max(y_hi, p[1]);
    }
    void widen(double fraction) {
        const double dx = std::max(x_hi - x_lo, 1e-3), dy = std::max(y_hi - y_lo, 1e-3);
        x_lo -= fraction * dx;
        x_hi += fraction * dx;
        y_lo -= fraction * dy;
        y_hi += fraction * dy;
    }
};

inline std::string xy(const std::array<double, 2>& p) { return format_double(p[0]) + " " + format_double(p[1]) + "\n"; }

/// "gd" → "GD"; figures name the methods as the tables do.
inline std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

/// The data and the gnuplot script of the figures (paper Fig. 2): level sets with both
/// trajectories and the teleport jumps, loss against step, dL/dt against step and against loss.
template <class F>
std::vector<std::string> render_figures(const fs::path& dir, const test_function_experiment& e, const F& f,
                                        const method_record<2>& plain, const method_record<2>& teleported,
                                        const std::string& optimizer, double lr, gnuplot_renderer& gnuplot) {
    if (gnuplot.terminal().empty()) return {};
    // trajectories.dat: index 0 the plain path; 1 the teleport run's path, one block per stretch
    // between teleports; 2 the jumps (x, y, dx, dy); 3 start; 4 minimum; 5, 6 the final points.
    box b;
    std::string traj = "# " + plain.label + " path: x_1 x_2\n";
    for (const auto& p : plain.points) {
        traj += xy(p);
        b.add(p);
    }
    traj += "\n\n# " + teleported.label + " path: x_1 x_2 (blocks end at teleports)\n";
    std::string jumps;
    for (std::size_t k = 0; k < teleported.points.size(); ++k) {
        for (std::size_t i = 0; i < teleported.run.teleports.size(); ++i) {
            const auto& r = teleported.run.teleports[i];
            if (r.step == k && r.accepted) {
                const auto& from = teleported.moves.before[i];
                const auto& to = teleported.moves.after[i];
                if (k > 0) traj += xy(from) + "\n";  // the stretch ends where the teleport starts
                jumps += format_double(from[0]) + " " + format_double(from[1]) + " " + format_double(to[0] - from[0]) +
                         " " + format_double(to[1] - from[1]) + "\n";
                b.add(from);
            }
        }
        traj += xy(teleported.points[k]);
        b.add(teleported.points[k]);
    }
    traj += "\n\n# teleport jumps: x_1 x_2 dx_1 dx_2\n" + (jumps.empty() ? std::string("nan nan nan nan\n") : jumps);
    traj += "\n\n# start\n" + xy(e.x0) + "\n\n# minimum\n" + xy(e.minimum);
    traj += "\n\n# final point, " + plain.label + "\n" + xy(plain.points.back());
    traj += "\n\n# final point, " + teleported.label + "\n" + xy(teleported.points.back());
    b.add(e.x0);
    b.add(e.minimum);
    b.widen(0.08);
    write_file_atomic(dir / "trajectories.dat", traj);

    // levels.dat: L on a grid over the box, for the contours.
    constexpr std::size_t grid = 121;
    std::string levels = "# x_1 x_2 L on a " + std::to_string(grid) + "x" + std::to_string(grid) + " grid\n";
    double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
    for (std::size_t i = 0; i < grid; ++i) {
        const double x = b.x_lo + (b.x_hi - b.x_lo) * static_cast<double>(i) / (grid - 1);
        for (std::size_t j = 0; j < grid; ++j) {
            const double y = b.y_lo + (b.y_hi - b.y_lo) * static_cast<double>(j) / (grid - 1);
            const double v = f.evaluate(std::array<double, 2>{x, y});
            if (std::isfinite(v) && v > 0) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
            levels += format_double(x) + " " + format_double(y) + " " + format_double(v) + "\n";
        }
        levels += "\n";
    }
    write_file_atomic(dir / "levels.dat", levels);
    // Log-spaced contour levels between the grid's largest loss and 1e-6 of it (or its smallest).
    constexpr int count = 20;
    std::string contour_levels;
    if (hi > 0 && std::isfinite(hi)) {
        const double bottom = std::max(lo, hi * 1e-6);
        for (int k = 0; k < count; ++k)
            contour_levels += (k ? "," : "") + format_double(bottom * std::pow(hi / bottom, (k + 0.5) / count));
    } else {
        contour_levels = "1";
    }

    const std::string term = gnuplot.terminal();
    const std::string g = gnuplot_quote(upper(optimizer));
    const std::string gt = gnuplot_quote(upper(optimizer) + " + teleport");
    const std::string plain_csv = gnuplot_quote(plain.name + ".csv");
    const std::string tele_csv = gnuplot_quote(teleported.name + ".csv");
    // dL/dt along gradient descent is −lr‖∇L‖²; for other optimizers the figure shows ‖∇L‖².
    const bool is_gd = optimizer == "gd";
    const std::string rate = is_gd ? "(" + format_double(lr) + "*$3)" : "($3)";
    const std::string rate_label = is_gd ? "-dL/dt = lr ||∇L||^2  (GD)" : "||∇L||^2  (dL/dt is not -lr||∇L||^2 for " +
                                                                              optimizer + ")";
    std::string s;
    s += "# Figures of the " + e.name + " experiment (paper Fig. 2), written by the driver.\n";
    s += "# Re-render in this folder with: gnuplot figures.gp\n";
    s += "if (!exists(\"suffix\")) suffix = ''\n";
    s += "set encoding utf8\n";
    s += "set terminal " + term + " size 1200,560 enhanced\n";
    s += "set output 'trajectories.png'.suffix\n";
    s += "set contour base\nunset surface\nset view map\n";
    s += "set cntrparam levels discrete " + contour_levels + "\n";
    s += "set table $contours\nsplot 'levels.dat' using 1:2:3 with lines notitle\nunset table\n";
    s += "reset\n";
    s += "set xrange [" + format_double(b.x_lo) + ":" + format_double(b.x_hi) + "]\n";
    s += "set yrange [" + format_double(b.y_lo) + ":" + format_double(b.y_hi) + "]\n";
    s += "set xlabel 'x_1'\nset ylabel 'x_2'\nset key below horizontal\n";
    s += "set multiplot layout 1,2 title " + gnuplot_quote(e.title + ": level sets of L (log-spaced) and trajectories") +
         "\n";
    const std::string contours = "$contours using 1:2 with lines lc rgb '#c8c8c8' notitle";
    const std::string markers =
        "'trajectories.dat' index 3 using 1:2 with points pt 9 ps 1.6 lc rgb '#000000' title 'start', "
        "'trajectories.dat' index 4 using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb '#2ca02c' title 'minimum'";
    s += "set title " + g + "\n";
    s += "plot " + contours + ", 'trajectories.dat' index 0 using 1:2 with linespoints pt 7 ps 0.35 lc rgb '#1f77b4' title " +
         gnuplot_quote(upper(optimizer) + " steps") + ", " + markers +
         ", 'trajectories.dat' index 5 using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb '#1f77b4' title 'final'\n";
    s += "set title " + gt + "\n";
    s += "plot " + contours + ", 'trajectories.dat' index 1 using 1:2 with linespoints pt 7 ps 0.35 lc rgb '#1f77b4' title " +
         gnuplot_quote(upper(optimizer) + " steps") +
         ", 'trajectories.dat' index 2 using 1:2:3:4 with vectors head filled lw 1.5 lc rgb '#ff7f0e' title 'teleport', "
         "'trajectories.dat' index 2 using 1:2 with points pt 7 ps 0.9 lc rgb '#ff7f0e' notitle, " +
         markers + ", 'trajectories.dat' index 6 using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb '#1f77b4' title 'final'\n";
    s += "unset multiplot\n";

    const std::string series = "set datafile separator ','\nset key top right\nset grid\n";
    const std::string teleport_marks = tele_csv + " every ::1 using 1:($5 == 1 ? ";
    s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output 'loss.png'.suffix\n" + series;
    s += "set title " + gnuplot_quote(e.title + ": loss") + "\nset logscale y\nset format y '10^{%L}'\n";
    s += "set xlabel 'step'\nset ylabel 'loss L'\n";
    s += "plot " + plain_csv + " every ::1 using 1:2 with lines lw 2 lc rgb '#1f77b4' title " + g + ", " + tele_csv +
         " every ::1 using 1:2 with lines lw 2 lc rgb '#d62728' title " + gt + ", " + teleport_marks +
         "$2 : 1/0) with points pt 7 ps 1 lc rgb '#ff7f0e' title 'after a teleport'\n";

    s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output 'dldt.png'.suffix\n" + series;
    s += "set title " + gnuplot_quote(e.title + ": rate of descent") + "\nset logscale y\nset format y '10^{%L}'\n";
    s += "set xlabel 'step'\nset ylabel " + gnuplot_quote(rate_label) + "\n";
    s += "plot " + plain_csv + " every ::1 using 1:" + rate + " with lines lw 2 lc rgb '#1f77b4' title " + g + ", " +
         tele_csv + " every ::1 using 1:" + rate + " with lines lw 2 lc rgb '#d62728' title " + gt + ", " +
         teleport_marks + rate + " : 1/0) with points pt 7 ps 1 lc rgb '#ff7f0e' title 'after a teleport'\n";

    s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output 'dldt_vs_loss.png'.suffix\n" + series;
    s += "set title " + gnuplot_quote(e.title + ": rate of descent against loss") +
         "\nset logscale xy\nset format x '10^{%L}'\nset format y '10^{%L}'\n";
    s += "set xlabel 'loss L'\nset ylabel " + gnuplot_quote(rate_label) + "\nset key top left\n";
    s += "plot " + plain_csv + " every ::1 using 2:" + rate + " with linespoints pt 7 ps 0.3 lw 1.5 lc rgb '#1f77b4' title " +
         g + ", " + tele_csv + " every ::1 using 2:" + rate +
         " with linespoints pt 7 ps 0.3 lw 1.5 lc rgb '#d62728' title " + gt + ", " + tele_csv +
         " every ::1 using ($5 == 1 ? $2 : 1/0):" + rate +
         " with points pt 7 ps 1 lc rgb '#ff7f0e' title 'after a teleport'\n";

    return gnuplot.render(dir, "figures.gp", s, {"trajectories.png", "loss.png", "dldt.png", "dldt_vs_loss.png"});
}

}  // namespace detail

/// The whole driver: options, both runs, files, figures, printed tables.
template <class F, class Action>
int run_test_function_driver(const test_function_experiment& e, const F& f, const Action& action, int argc,
                             char** argv) {
    CLI::App app{e.title + " function (paper §6, Fig. 2): an optimizer with and without symmetry teleportation by "
                 "the function's SO(2) coordinate action (paper §4.1); the defaults are the paper's settings."};
    std::string out = "results/" + e.name;
    std::uint64_t seed = 0;
    bool plot = true;
    std::string optimizer = "gd";
    double lr = e.learning_rate;
    std::size_t steps = e.steps;
    std::string schedule_text = join(e.schedule);
    std::string theta0_text;
    search_options search;
    double teleport_lr = e.teleport_learning_rate;
    std::size_t teleport_steps = e.teleport_steps;
    std::string map_name = "exact";
    std::string state_name = "keep";
    double threshold = 1e-3;
    std::string x0_text = join(std::vector<double>{e.x0[0], e.x0[1]});

    app.add_option("--out", out, "output folder (created if needed)")->capture_default_str();
    app.add_option("--seed", seed, "seed of the generator of every random draw (theta0)")
        ->check(seed_value())
        ->capture_default_str();
    app.add_flag("--plot,!--no-plot", plot, "render the figures with gnuplot (PNG); on by default");
    app.add_option("--optimizer", optimizer, "optimizer, with the library's defaults for its other hyperparameters")
        ->check(one_of(optimizer_names()))
        ->capture_default_str();
    app.add_option("--lr", lr, "learning rate of the optimizer")->check(positive())->capture_default_str();
    app.add_option("--steps", steps, "optimizer steps")->check(positive_count())->capture_default_str();
    app.add_option("--x0", x0_text, "starting point x_1,x_2")->capture_default_str();
    app.add_option("--schedule", schedule_text, "teleport before these steps (0-based, comma-separated; 'none')")
        ->capture_default_str();
    app.add_option("--theta0", theta0_text,
                   "initial angle of each teleport's search: one per teleport, one for all, or 'random' "
                   "(default: 0, the identity; with --strategy gradient-ascent uniform in [0, pi) from the seed, "
                   "as the paper)")
        ->check(non_empty());
    add_search_options(app, search);
    app.add_option("--teleport-lr", teleport_lr, "learning rate of the gradient ascent on theta (gradient-ascent)")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--teleport-steps", teleport_steps, "ascent steps on theta (samples for random-search)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--action-map", map_name, "map from the Lie algebra to the group")
        ->check(one_of(exp_map_names()))
        ->capture_default_str();
    app.add_option("--state", state_name, "optimizer state at a teleport")
        ->check(one_of(state_policy_names()))
        ->capture_default_str();
    app.add_option("--threshold", threshold, "loss threshold for 'steps to reach'")
        ->check(positive())
        ->capture_default_str();

    return run_driver(e.name, app, argc, argv, [&] {
        // --- options → settings
        const auto x0_values = parse_double_list(x0_text, "--x0");
        if (x0_values.size() != 2)
            throw std::invalid_argument("--x0: expected 2 values, got " + std::to_string(x0_values.size()));
        const std::array<double, 2> x0{x0_values[0], x0_values[1]};
        // the records of both runs and their CSV text, with room for the vectors' growth
        check_memory(4.0 * (static_cast<double>(steps) + 1) * (sizeof(step_record) + sizeof(std::array<double, 2>) + 200),
                     "--steps " + std::to_string(steps) + " (the per-step records and CSV rows of two runs)");
        const std::set<std::size_t> schedule_set = parse_schedule(schedule_text, steps, "step");
        const std::vector<std::size_t> schedule_steps(schedule_set.begin(), schedule_set.end());
        std::vector<std::vector<double>> theta0;
        if (!theta0_text.empty() && theta0_text != "random") {
            const auto values = parse_double_list(theta0_text, "--theta0");
            if (schedule_steps.empty()) throw std::invalid_argument("--theta0: given, but no teleport is scheduled");
            if (values.size() != 1 && values.size() != schedule_steps.size())
                throw std::invalid_argument("--theta0: expected 1 value or one per teleport (" +
                                            std::to_string(schedule_steps.size()) + "), got " +
                                            std::to_string(values.size()));
            for (double v : values) theta0.push_back({v});
        }
        const any_optimizer opt = make_optimizer(optimizer, lr);
        teleport_settings settings = search.settings(teleport_steps, teleport_lr, parse_exp_map(map_name));
        if (theta0_text == "random") settings.start.kind = start_kind::uniform;
        const state_policy policy = parse_state_policy(state_name);
        const auto schedule = teleport_schedule::at(schedule_set);

        // --- runs
        method_record<2> plain, teleported;
        std::visit(
            [&](const auto& o) {
                const std::string name(o.name());
                plain.name = name;
                plain.label = name;
                teleported.name = name + "_teleport";
                teleported.label = name + " + teleport";
                plain.optimizer = teleported.optimizer = name;
                plain.learning_rate = teleported.learning_rate = lr;
                teleported.teleport = true;
                auto x = x0;
                plain.run = optimize_with_teleport(o, f, action, x, steps, teleport_schedule::never(), settings, seed,
                                                   policy, record_points<2>(plain.points));
                x = x0;
                theta0_replay replay(settings, schedule, theta0);
                auto record = record_points<2>(teleported.points);
                auto moves = record_teleports<std::array<double, 2>>(teleported.moves);
                teleported.run = search.lookahead()
                                     ? optimize_with_teleport(o, f, lookahead_symmetry(f, action, search.lookahead_steps),
                                                              x, steps, schedule, settings, seed, policy, record, moves,
                                                              replay)
                                     : optimize_with_teleport(o, f, action, x, steps, schedule, settings, seed, policy,
                                                              record, moves, replay);
                replay.check(teleported.run.teleports);
            },
            opt);

        // --- files
        const fs::path dir = out;
        const result_set files(dir, {{"driver", e.name}});  // summary.json "incomplete" until the end
        const double threshold_value = threshold;
        for (const auto* m : {&plain, &teleported})
            write_method_csv(dir / (m->name + ".csv"), *m, {"x1", "x2"}, [&](std::size_t k) {
                return std::vector<double>{m->points[k][0], m->points[k][1]};
            });
        json summary;
        summary["driver"] = e.name;
        summary["experiment"] = e.title;
        summary["loss"] = f.to_string();
        json config;
        config["seed"] = seed;
        config["x0"] = point_json(x0);
        config["minimum"] = point_json(e.minimum);
        config["steps"] = steps;
        config["optimizer"] = optimizer_json(opt);
        config["teleport"] = teleport_settings_json(settings, policy, schedule_steps);
        objective_json(config["teleport"], search);
        config["teleport"]["theta0"] = !theta0.empty() ? json(theta0)
                                       : draws_theta0(settings, true) ? json("uniform in [0, pi) from the seed")
                                                                      : json("0 (the identity)");
        config["threshold"] = threshold_value;
        config["out"] = dir.string();
        config["plot"] = plot;
        config["command_line"] = command_line_json(argc, argv);
        summary["config"] = config;
        summary["versions"] = library_versions();
        summary["threshold"] = threshold_value;
        summary["methods"] = json::array({method_json(plain, threshold_value), method_json(teleported, threshold_value)});
        for (auto& m : summary["methods"]) {
            const auto& record = m["name"] == plain.name ? plain : teleported;
            if (!record.points.empty())
                m["final_distance_to_minimum"] = json_number(
                    std::hypot(record.points.back()[0] - e.minimum[0], record.points.back()[1] - e.minimum[1]));
        }
        std::vector<std::string> figures;
        if (plot) {
            gnuplot_renderer gnuplot(e.name);
            figures = detail::render_figures(dir, e, f, plain, teleported, optimizer, lr, gnuplot);
        }
        summary["figures"] = figures;
        files.complete(summary);

        // --- printed summary
        std::printf("%s: L = %s\n", e.title.c_str(), f.to_string().c_str());
        std::printf("  from x0 = (%g, %g), %s lr %g, %zu steps; teleport before step%s %s: %s", x0[0], x0[1],
                    optimizer.c_str(), lr, steps, schedule_steps.size() == 1 ? "" : "s",
                    schedule_steps.empty() ? "(none)" : join(schedule_steps).c_str(), search.strategy.c_str());
        const std::string& strategy = search.strategy;
        if (strategy == "random-search") std::printf(" (%zu samples)", teleport_steps);
        else if (strategy == "gradient-ascent") std::printf(" (%zu steps, lr %g)", teleport_steps, teleport_lr);
        else std::printf(" (%zu steps)", teleport_steps);
        std::printf(", map %s, state %s, seed %llu\n", map_name.c_str(), state_name.c_str(),
                    static_cast<unsigned long long>(seed));
        const std::vector<method_record<2>> methods{plain, teleported};
        print_methods(methods, threshold_value);
        print_teleports(teleported, settings.tolerance, settings.payoff.steps);
        std::printf("wrote %s: %s.csv %s.csv summary.json", dir.string().c_str(), plain.name.c_str(),
                    teleported.name.c_str());
        for (const auto& name : figures) std::printf(" %s", name.c_str());
        std::printf("\n");
        return 0;
    });
}

}  // namespace teleport::drivers
