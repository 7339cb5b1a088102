// quadratic — Propositions 5.5 and 5.6 on L_A(w) = wᵀAw (paper §5.3): one teleport by the action
// g·w = A^{−1/2} g A^{1/2} w (g ∈ SO(n)) to the point of largest ‖∇L‖² on the level set, then
// gradient descent; compared with plain gradient descent and with Newton's method (one full step
// w ← w − H⁻¹∇L, and the damped step w ← w − lr·H⁻¹∇L with the learning rate of GD).
// n is chosen at run time (2 … 8) and dispatched to the compile-time size of the problem.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "output.hpp"
#include "teleport/groups/action.hpp"
#include "teleport/problems/quadratic.hpp"
#include "teleport/teleport.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/train/newton.hpp"

namespace {

using namespace teleport;
using namespace teleport::drivers;

constexpr std::size_t smallest_n = 2;
constexpr std::size_t largest_n = 8;

struct options {
    std::size_t n = 4;
    bool n_given = false;
    std::string matrix_text;
    double condition = 100.0;
    std::string w0_text;
    double lr = 0.1;
    std::size_t steps = 100;
    std::string schedule_text = "0";
    search_options search;
    std::size_t teleport_steps = 200;
    double teleport_lr = 0.1;
    std::string map_name = "exact";
    std::string theta0_text = "0";
    double threshold = 1e-3;
    std::uint64_t seed = 0;
    std::string out = "results/quadratic";
    bool plot = true;
    std::vector<std::string> command_line;
};

template <std::size_t N>
double norm(const std::array<double, N>& w) {
    return std::sqrt(teleport::squared_norm(w));
}

std::vector<std::string> render_figures(const fs::path& dir, const std::vector<std::string>& names,
                           const std::vector<std::string>& labels, std::size_t n, double lowest_loss,
                           gnuplot_renderer& gnuplot) {
    if (gnuplot.terminal().empty()) return {};
    static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
    const std::string term = gnuplot.terminal();
    std::string s;
    s += "# Figures of the quadratic experiment (Props. 5.5, 5.6), written by the driver.\n";
    s += "# Re-render in this folder with: gnuplot figures.gp\n";
    s += "if (!exists(\"suffix\")) suffix = ''\nset encoding utf8\n";
    s += "set terminal " + term + " size 800,520 enhanced\nset output 'loss.png'.suffix\n";
    s += "set datafile separator ','\nset grid\nset key bottom left\nset logscale y\nset format y '10^{%L}'\n";
    // the full Newton step lands on the minimum up to rounding: the axis stops below the others
    if (lowest_loss > 0 && std::isfinite(lowest_loss)) s += "set yrange [" + format_double(lowest_loss / 10) + ":]\n";
    s += "set title " + gnuplot_quote("L_A(w) = w^T A w, n = " + std::to_string(n) + ": loss") + "\n";
    s += "set xlabel 'step'\nset ylabel 'loss L_A'\nplot ";
    for (std::size_t i = 0; i < names.size(); ++i)
        s += std::string(i ? ", " : "") + gnuplot_quote(names[i] + ".csv") + " every ::1 using 1:2 with linespoints pt 7 ps 0.4 lw 2 lc rgb '" +
             colors[i % 4] + "' title " + gnuplot_quote(labels[i]);
    s += "\n";
    s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output 'grad_ratio.png'.suffix\n";
    s += "set datafile separator ','\nset grid\nset key bottom left\nset yrange [0:1.05]\n";
    s += "set title " + gnuplot_quote("Prop. 5.5: ||∇L||^2 as a fraction of its largest value on the level set") + "\n";
    s += "set xlabel 'step'\nset ylabel '||∇L||^2 / max_{level set} ||∇L||^2'\nplot ";
    // not the full Newton step: it reaches the minimum in one step, after which the ratio is rounding
    bool first = true;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] != "newton")
            s += std::string(std::exchange(first, false) ? "" : ", ") + gnuplot_quote(names[i] + ".csv") + " every ::1 using 1:7 with linespoints pt 7 ps 0.4 lw 2 lc rgb '" +
             colors[i % 4] + "' title " + gnuplot_quote(labels[i]);
    s += "\n";
    return gnuplot.render(dir, "figures.gp", s, {"loss.png", "grad_ratio.png"});
}

template <std::size_t N>
int run(const options& o, const std::vector<double>& given_matrix) {
    using point = std::array<double, N>;
    using algebra = groups::so<N>;
    constexpr std::size_t d = algebra::dimension;

    // --- the problem: A from --matrix or from the seed, w0 from --w0 or from the seed. The data
    // generator is seeded apart from the run's own (θ₀ draws), so the two never share draws.
    std::seed_seq data_seed{static_cast<std::uint32_t>(o.seed), static_cast<std::uint32_t>(o.seed >> 32), 0x51adu};
    std::mt19937_64 data_rng(data_seed);
    std::array<double, N * N> a{};
    if (given_matrix.empty()) a = problems::random_spd_log_spaced<N>(data_rng, o.condition);
    else std::copy(given_matrix.begin(), given_matrix.end(), a.begin());
    const problems::quadratic<N> f(a);  // throws when A is not symmetric positive definite
    const auto action = groups::quadratic_action<N>(a);
    point w0{};
    if (o.w0_text.empty()) {
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        for (double& v : w0) v = u(data_rng);
    } else {
        const auto values = parse_double_list(o.w0_text, "--w0");
        if (values.size() != N)
            throw std::invalid_argument("--w0: expected " + std::to_string(N) + " values, got " + std::to_string(values.size()));
        std::copy(values.begin(), values.end(), w0.begin());
        if (std::ranges::all_of(w0, [](double v) { return v == 0.0; }))
            throw std::invalid_argument("--w0: 0 is the minimum: there is nothing to descend and no level set to teleport on");
    }
    xt::xtensor<double, 2> a_tensor = xt::empty<double>({N, N});
    std::copy(a.begin(), a.end(), a_tensor.begin());
    const xt::xtensor<double, 1> eigenvalues = xt::linalg::eigvalsh(a_tensor);  // ascending
    const double lambda_max = eigenvalues(N - 1);

    // --- teleport settings
    const std::set<std::size_t> schedule_set = parse_schedule(o.schedule_text, o.steps, "step");
    const std::vector<std::size_t> schedule_steps(schedule_set.begin(), schedule_set.end());
    // θ₀: one value for every coordinate, d values, or d per teleport; "random": drawn by the run.
    std::vector<std::vector<double>> theta0;
    if (o.theta0_text != "random") {
        const auto values = parse_double_list(o.theta0_text, "--theta0");
        if (schedule_steps.empty() && o.theta0_text != "0")
            throw std::invalid_argument("--theta0: given, but no teleport is scheduled");
        const std::size_t k = schedule_steps.size();
        if (values.size() == 1)
            theta0.emplace_back(d, values.front());
        else if (values.size() == d || (k > 0 && values.size() == d * k))
            for (std::size_t i = 0; i < values.size(); i += d)
                theta0.emplace_back(values.begin() + static_cast<std::ptrdiff_t>(i),
                                    values.begin() + static_cast<std::ptrdiff_t>(i + d));
        else
            throw std::invalid_argument("--theta0: so(" + std::to_string(N) + ") has " + std::to_string(d) +
                                        " coordinates: expected 1 value or " + std::to_string(d) +
                                        (k > 1 ? ", or " + std::to_string(d) + " per teleport (" +
                                                     std::to_string(d * k) + ")"
                                               : std::string()) +
                                        ", got " + std::to_string(values.size()));
    }
    teleport_settings settings = o.search.settings(o.teleport_steps, o.teleport_lr, parse_exp_map(o.map_name));
    if (o.theta0_text == "random") settings.start.kind = start_kind::uniform;
    const auto schedule = teleport_schedule::at(schedule_set);

    // --- the four methods
    std::vector<method_record<N>> methods(4);
    auto& plain = methods[0];
    auto& teleported = methods[1];
    auto& newton = methods[2];
    auto& damped = methods[3];
    plain.name = plain.label = "gd";
    teleported.name = "gd_teleport";
    teleported.label = "gd + teleport";
    teleported.teleport = true;
    newton.name = "newton";
    newton.label = "newton";
    damped.name = "newton_damped";
    damped.label = "newton, lr " + format_short(o.lr);
    plain.optimizer = teleported.optimizer = "gd";
    newton.optimizer = damped.optimizer = "newton";
    plain.learning_rate = teleported.learning_rate = damped.learning_rate = o.lr;
    newton.learning_rate = 1.0;

    const gd opt{o.lr};
    point w = w0;
    plain.run = optimize_with_teleport(opt, f, action, w, o.steps, teleport_schedule::never(), settings, o.seed,
                                       state_policy::keep, record_points<N>(plain.points));
    w = w0;
    theta0_replay replay(settings, schedule, theta0);
    auto teleport_run = [&](const auto& by) {  // the action (‖∇L‖²) or the lookahead symmetry
        return optimize_with_teleport(opt, f, by, w, o.steps, schedule, settings, o.seed, state_policy::keep,
                                      record_points<N>(teleported.points), record_teleports<point>(teleported.moves),
                                      replay);
    };
    teleported.run = o.search.lookahead() ? teleport_run(lookahead_symmetry(f, action, o.search.lookahead_steps))
                                          : teleport_run(action);
    replay.check(teleported.run.teleports);
    w = w0;
    newton.run = optimize_with_teleport(teleport::newton(f, 1.0), f, action, w, o.steps, teleport_schedule::never(),
                                        settings, o.seed, state_policy::keep, record_points<N>(newton.points));
    w = w0;
    damped.run = optimize_with_teleport(teleport::newton(f, o.lr), f, action, w, o.steps, teleport_schedule::never(),
                                        settings, o.seed, state_policy::keep, record_points<N>(damped.points));

    // ‖∇L‖² as a fraction of its largest value on the level set (Prop. 5.5), and the distance of the
    // level set's closest point to the minimum (Prop. 5.6).
    const auto ratio = [&](double loss, double g2) { return problems::level_set_grad_ratio(lambda_max, loss, g2); };
    const auto grad_ratio = [&](const step_record& s) { return ratio(s.loss, s.grad_norm_sq); };
    const auto closest = [&](double loss) { return problems::level_set_distance_to_minimum(lambda_max, loss); };

    // --- files
    const fs::path dir = o.out;
    const result_set files(dir, {{"driver", "quadratic"}});  // summary.json "incomplete" until the end
    for (const auto& m : methods)
        write_method_csv(dir / (m.name + ".csv"), m, {"distance", "grad_ratio"}, [&](std::size_t k) {
            return std::vector<double>{norm(m.points[k]), grad_ratio(m.run.steps[k])};
        });
    json config;
    config["seed"] = o.seed;
    config["n"] = N;
    config["matrix"] = given_matrix.empty() ? json("random from the seed") : json("given");
    config["condition"] = given_matrix.empty() ? json(o.condition) : json(nullptr);
    config["A"] = std::vector<double>(a.begin(), a.end());
    config["eigenvalues"] = std::vector<double>(eigenvalues.begin(), eigenvalues.end());
    config["w0"] = point_json(w0);
    config["w0_source"] = o.w0_text.empty() ? "uniform in [-1, 1) from the seed" : "given";
    config["steps"] = o.steps;
    config["gd"] = json{{"learning_rate", o.lr}};
    config["newton"] = json{{"learning_rates", {1.0, o.lr}}};
    config["teleport"] = teleport_settings_json(settings, state_policy::keep, schedule_steps);
    objective_json(config["teleport"], o.search);
    config["teleport"]["group"] = algebra::name();
    config["teleport"]["theta0"] =
        theta0.empty() ? json("uniform in [0, pi) per coordinate from the seed") : json(theta0);
    config["threshold"] = o.threshold;
    config["out"] = dir.string();
    config["plot"] = o.plot;
    config["command_line"] = o.command_line;
    json summary;
    summary["driver"] = "quadratic";
    summary["experiment"] = "Quadratic (Props. 5.5, 5.6)";
    summary["loss"] = "w^T A w";
    summary["config"] = config;
    summary["versions"] = library_versions();
    summary["threshold"] = o.threshold;
    summary["methods"] = json::array();
    for (const auto& m : methods) {
        json j = method_json(m, o.threshold);
        j["final_distance_to_minimum"] = json_number(norm(m.points.back()));
        for (std::size_t i = 0; i < m.run.teleports.size(); ++i) {
            const auto& r = m.run.teleports[i];
            if (!r.accepted) continue;
            auto& t = j["teleports"][i];
            t["distance_before"] = norm(m.moves.before[i]);
            t["distance_after"] = norm(m.moves.after[i]);
            t["closest_distance_on_level_set"] = closest(r.loss_before);
            t["grad_ratio_before"] = json_number(ratio(r.loss_before, r.grad_norm_sq_before));
            t["grad_ratio_after"] = json_number(ratio(r.loss_after, r.grad_norm_sq_after));
        }
        summary["methods"].push_back(std::move(j));
    }
    std::vector<std::string> figures;
    if (o.plot) {
        gnuplot_renderer gnuplot("quadratic");
        std::vector<std::string> names, labels;
        for (const auto& m : methods) {
            names.push_back(m.name);
            labels.push_back(m.label);
        }
        double lowest = std::numeric_limits<double>::infinity();
        for (const auto& m : methods)
            if (m.name != "newton")
                for (const auto& step : m.run.steps)
                    if (step.loss > 0) lowest = std::min(lowest, step.loss);
        figures = render_figures(dir, names, labels, N, lowest, gnuplot);
    }
    summary["figures"] = figures;
    files.complete(summary);

    // --- printed summary
    std::printf("Quadratic L_A(w) = w^T A w, n = %zu: A %s, eigenvalues %s; w0 %s\n", N,
                given_matrix.empty() ? ("random (seed " + std::to_string(o.seed) + ", condition " +
                                        format_short(o.condition) + ")")
                                           .c_str()
                                     : "given",
                [&] {
                    std::string list;
                    for (double v : eigenvalues) list += (list.empty() ? "" : " ") + format_short(v);
                    return list;
                }()
                    .c_str(),
                o.w0_text.empty() ? "random" : "given");
    std::printf("  gd lr %g, %zu steps; teleport before step%s %s: %s (%zu %s), group SO(%zu), map %s\n", o.lr,
                o.steps, schedule_steps.size() == 1 ? "" : "s",
                schedule_steps.empty() ? "(none)" : join(schedule_steps).c_str(), o.search.strategy.c_str(),
                o.teleport_steps, o.search.strategy == "random-search" ? "samples" : "steps", N, o.map_name.c_str());
    print_methods(methods, o.threshold);
    print_teleports(teleported, settings.tolerance, settings.payoff.steps);
    for (std::size_t i = 0; i < teleported.run.teleports.size(); ++i) {
        const auto& r = teleported.run.teleports[i];
        if (!r.accepted) continue;
        std::printf("  Prop. 5.6, teleport at step %zu: |w - w*| %.6e -> %.6e; closest point of the level set: %.6e\n",
                    r.step, norm(teleported.moves.before[i]), norm(teleported.moves.after[i]), closest(r.loss_before));
        std::printf("  Prop. 5.5: |grad L|^2 / max on the level set: %.6f before, %.10f after the teleport",
                    ratio(r.loss_before, r.grad_norm_sq_before), ratio(r.loss_after, r.grad_norm_sq_after));
        // along the following GD steps, up to the next teleport or the end
        double lowest = 1.0;
        std::size_t last = r.step, kept = r.step;
        bool keeping = true;
        for (std::size_t k = r.step; k < teleported.run.steps.size(); ++k) {
            if (k > r.step && teleported.run.steps[k].teleported) break;
            const double ratio = grad_ratio(teleported.run.steps[k]);
            if (!std::isfinite(ratio)) break;
            lowest = std::min(lowest, ratio);
            last = k;
            keeping = keeping && ratio >= 0.999;
            if (keeping) kept = k;
        }
        std::printf("; at least 0.999 through step %zu (loss %.3e), lowest over steps %zu-%zu: %.6f\n", kept,
                    teleported.run.steps[kept].loss, r.step, last, lowest);
    }
    std::printf("  gd without teleport: |grad L|^2 / max on the level set %.6f at step 0, %.6f at the end\n",
                grad_ratio(plain.run.steps.front()), grad_ratio(plain.run.steps.back()));
    std::printf("wrote %s: gd.csv gd_teleport.csv newton.csv newton_damped.csv summary.json", dir.string().c_str());
    for (const auto& name : figures) std::printf(" %s", name.c_str());
    std::printf("\n");
    return 0;
}

template <std::size_t... I>
int dispatch(std::size_t n, const options& o, const std::vector<double>& matrix, std::index_sequence<I...>) {
    int status = -1;
    (void)((n == smallest_n + I ? (status = run<smallest_n + I>(o, matrix), true) : false) || ...);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Props. 5.5 and 5.6 on the quadratic L_A(w) = w^T A w: one teleport to the largest gradient on the "
                 "level set, then gradient descent, against plain gradient descent and Newton's method."};
    options o;
    app.add_option("--n", o.n, "dimension, 2 to 8 (with --matrix: its size)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--matrix", o.matrix_text,
                   "symmetric positive definite A, n*n comma-separated values, row-major (default: random from the "
                   "seed)")
        ->check(non_empty());
    app.add_option("--condition", o.condition, "condition number of the random A (eigenvalues 1 down to 1/condition)")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--w0", o.w0_text, "starting point, n values (default: uniform in [-1, 1) from the seed)")
        ->check(non_empty());
    app.add_option("--lr", o.lr, "learning rate of GD and of the damped Newton method")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--steps", o.steps, "optimizer steps")->check(positive_count())->capture_default_str();
    app.add_option("--schedule", o.schedule_text, "teleport before these steps (0-based, comma-separated; 'none')")
        ->capture_default_str();
    add_search_options(app, o.search);
    app.add_option("--teleport-steps", o.teleport_steps, "ascent steps on theta (samples for random-search)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--teleport-lr", o.teleport_lr, "learning rate of the gradient ascent on theta (gradient-ascent)")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--action-map", o.map_name, "map from the Lie algebra so(n) to SO(n)")
        ->check(one_of(exp_map_names()))
        ->capture_default_str();
    app.add_option("--theta0", o.theta0_text,
                   "start of each teleport's search in so(n): one value for all n(n-1)/2 coordinates, n(n-1)/2 values, "
                   "that many per teleport, or 'random' (uniform in [0, pi) per coordinate from the seed)")
        ->check(non_empty())
        ->capture_default_str();
    app.add_option("--threshold", o.threshold, "loss threshold for 'steps to reach'")->check(positive())->capture_default_str();
    app.add_option("--seed", o.seed, "seed of every random draw (A, w0, theta0)")
        ->check(seed_value())
        ->capture_default_str();
    app.add_option("--out", o.out, "output folder (created if needed)")->capture_default_str();
    app.add_flag("--plot,!--no-plot", o.plot, "render the figures with gnuplot (PNG); on by default");

    return run_driver("quadratic", app, argc, argv, [&] {
        for (int i = 0; i < argc; ++i) o.command_line.emplace_back(argv[i]);
        o.n_given = app.count("--n") > 0;
        if (o.condition < 1.0)
            throw std::invalid_argument("--condition: must be at least 1 (got " + format_double(o.condition) + ")");
        if (o.condition > 1e14)  // λ_min = 1/condition must stay well above the ~1e-16 rounding of A's entries
            throw std::invalid_argument("--condition: at most 1e14 (got " + format_short(o.condition) +
                                        "): a smaller eigenvalue is lost in the rounding of A's entries");
        std::vector<double> matrix;
        if (!o.matrix_text.empty()) {
            matrix = parse_double_list(o.matrix_text, "--matrix");
            const std::size_t side = square_side(matrix.size(), "--matrix");
            if (o.n_given && side != o.n)
                throw std::invalid_argument("--matrix: has " + std::to_string(side) + "x" + std::to_string(side) +
                                            " entries but --n is " + std::to_string(o.n));
            o.n = side;
        }
        if (o.n < smallest_n || o.n > largest_n)
            throw std::invalid_argument("--n: must be between " + std::to_string(smallest_n) + " and " +
                                        std::to_string(largest_n) + " (got " + std::to_string(o.n) + ")");
        return dispatch(o.n, o, matrix, std::make_index_sequence<largest_n - smallest_n + 1>{});
    });
}
