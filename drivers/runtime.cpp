// runtime — the paper's runtime experiment (§6, Fig. 6): the time of GD epochs with a teleport every
// few epochs, split into descent and teleport time, (a) against the width d of a 3-layer network
// with d × d weights and data, (b) against the number of layers at d = 128.
//
// Initialization: X, Y and every W_m are random orthogonal d × d matrices (Haar, from the seed).
// With the paper's uniform [0, 1) entries, square networks of width ≥ 4 have ill-conditioned layer
// inputs and the teleport gradient, which goes through their pseudo-inverses, turns non-finite
// (SPEC §5); orthogonal weights and data keep every layer input well conditioned, so every teleport
// here is a real, accepted one and the timing measures the method rather than a rejection path.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "network_experiment.hpp"
#include "output.hpp"
#include "teleport/train/optimizers.hpp"

namespace {

using namespace teleport;
using namespace teleport::drivers;
using activation = tensor::leaky_relu<1, 10>;

struct options {
    std::string out = "results/runtime";
    std::uint64_t seed = 0;
    bool plot = true;
    std::size_t epochs = 300;
    std::size_t every = 10;
    double lr = 1e-3;
    std::size_t teleport_steps = 10;
    double teleport_lr = 1e-8;
    search_options search;
    std::string widths = "4,8,16,32,64,128";
    std::string depths = "2,3,4,5,6";
    std::size_t depth_width = 128;
    std::size_t width_layers = 3;
};

struct row {
    std::string part;  // "width" or "depth"
    std::size_t d = 0, layers = 0;
    std::size_t epochs = 0;  // epochs run (fewer than asked when the loss became non-finite)
    std::string stop;
    std::size_t teleports = 0, accepted = 0, paid_off = 0;  // paid off: of the measured (payoff_check)
    std::string first_rejection;  // why the first rejected teleport was rejected
    double total_s = 0, teleport_s = 0;
    double initial_loss = 0, final_loss = 0;
    double max_relative_loss_change = 0;  // over the accepted teleports
    std::vector<teleport_report> reports;  // every teleport: its gain and pay-off, for summary.json
    double gd_s() const { return total_s - teleport_s; }
    double gd_epoch_s() const { return epochs ? gd_s() / double(epochs) : 0.0; }
    double teleport_each_s() const { return teleports ? teleport_s / double(teleports) : 0.0; }
};

template <std::size_t L>
row time_one(const options& o, std::size_t d, const teleport_settings& settings) {
    using net_type = problems::mlp<double, L, activation>;
    using action_type = groups::layer_action<groups::nonlinear_layers, activation>;
    const std::vector<std::size_t> widths(L + 1, d);
    const auto init = orthogonal_init(d, L, o.seed);
    const net_type net(widths, init.x, init.y);
    std::set<std::size_t> pairs;
    for (std::size_t k = 1; k < L; ++k) pairs.insert(k);
    const action_type action(tensor::network_shape{widths, false}, pairs, settings.map);
    auto w = net.pack(init.weights);
    const auto schedule = teleport_schedule::every(o.every, 0);
    const auto run = o.search.lookahead()
                         ? optimize_with_teleport(gd{o.lr}, net, lookahead_symmetry(net, action, o.search.lookahead_steps),
                                                  w, o.epochs, schedule, settings, o.seed)
                         : optimize_with_teleport(gd{o.lr}, net, action, w, o.epochs, schedule, settings, o.seed);
    row r;
    r.d = d;
    r.layers = L;
    r.teleports = run.teleports.size();
    for (const auto& t : run.teleports)
        if (t.accepted) {
            ++r.accepted;
            r.paid_off += t.paid_off();
            r.max_relative_loss_change = std::max(r.max_relative_loss_change, t.relative_loss_change);
        } else if (r.first_rejection.empty()) {
            r.first_rejection = "epoch " + std::to_string(t.step) + ": " + t.rejection;
        }
    r.reports = run.teleports;
    r.epochs = run.steps.back().step;
    r.stop = to_string(run.reason);
    r.total_s = run.total_seconds;
    r.teleport_s = run.teleport_seconds;
    r.initial_loss = run.steps.front().loss;
    r.final_loss = run.steps.back().loss;
    return r;
}

row time_config(const options& o, std::size_t d, std::size_t layers, const teleport_settings& settings) {
    return with_layers<2, 3, 4, 5, 6>(layers, "--depths", [&](auto l) { return time_one<decltype(l)::value>(o, d, settings); });
}

std::vector<std::string> render_figures(const fs::path& dir, const options& o, gnuplot_renderer& gnuplot) {
    if (gnuplot.terminal().empty()) return {};
    const std::string term = gnuplot.terminal();
    std::string s = "# Figures of the runtime experiment (paper Fig. 6), written by the driver.\n"
                    "# Re-render in this folder with: gnuplot figures.gp\n"
                    "if (!exists(\"suffix\")) suffix = ''\nset encoding utf8\n";
    const std::string title = std::to_string(o.epochs) + " GD epochs, a " + std::to_string(o.teleport_steps) +
                              "-step teleport every " + std::to_string(o.every);
    auto figure = [&](const std::string& file, const std::string& csv, const std::string& heading, const std::string& x,
                      bool logx) {
        s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output '" + file + "'.suffix\n";
        s += "set datafile separator ','\nset grid\nset key top left\nset logscale y\nset format y '10^{%L}'\n";
        if (logx) s += "set logscale x 2\n";
        s += "set title " + gnuplot_quote(heading + ": " + title) + "\nset xlabel " + gnuplot_quote(x) +
             "\nset ylabel 'time [s]'\n";
        const std::string xcol = logx ? "2" : "3";
        s += "plot '" + csv + "' every ::1 using " + xcol + ":6 with linespoints pt 7 lw 2 lc rgb '#000000' title 'total', '" +
             csv + "' every ::1 using " + xcol + ":7 with linespoints pt 5 lw 2 lc rgb '#1f77b4' title 'gradient descent', '" +
             csv + "' every ::1 using " + xcol + ":8 with linespoints pt 9 lw 2 lc rgb '#d62728' title 'teleportation'\n";
    };
    std::vector<std::string> outputs;
    if (fs::exists(dir / "width.csv")) {
        figure("runtime_width.png", "width.csv", "(a) " + std::to_string(o.width_layers) + " layers, d x d", "width d",
               true);
        outputs.push_back("runtime_width.png");
    }
    if (fs::exists(dir / "depth.csv")) {
        figure("runtime_depth.png", "depth.csv", "(b) d = " + std::to_string(o.depth_width), "weight matrices", false);
        outputs.push_back("runtime_depth.png");
    }
    return gnuplot.render(dir, "figures.gp", s, outputs);
}

void write_rows(const fs::path& path, const std::vector<row>& rows) {
    csv_writer csv({"part", "d", "layers", "teleports", "accepted", "total_s", "gd_s", "teleport_s", "epochs",
                    "gd_epoch_s", "teleport_each_s", "initial_loss", "final_loss", "max_relative_loss_change",
                    "stop_reason"});
    for (const auto& r : rows)
        csv.row(r.part, r.d, r.layers, r.teleports, r.accepted, r.total_s, r.gd_s(), r.teleport_s, r.epochs,
                r.gd_epoch_s(), r.teleport_each_s(), r.initial_loss, r.final_loss, r.max_relative_loss_change, r.stop);
    csv.write(path);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Runtime (paper §6, Fig. 6): the time of GD on a LeakyReLU network with a teleport (paper eq. 8, all "
                 "layer pairs) every few epochs, split into descent and teleport time, (a) against the width of a "
                 "network of d x d weights and data, (b) against the number of layers. Weights and data are random "
                 "orthogonal matrices. For small matrices set OPENBLAS_NUM_THREADS=1."};
    options o;
    o.search.objective = "lookahead";  // as mlp_regression: ‖∇L‖² teleports make GD at lr 1e-3 diverge here
    app.add_option("--out", o.out, "output folder (created if needed)")->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the orthogonal initialization")->check(seed_value())->capture_default_str();
    app.add_flag("--plot,!--no-plot", o.plot, "render the figures with gnuplot (PNG); on by default");
    app.add_option("--epochs", o.epochs, "GD epochs per configuration")->check(positive_count())->capture_default_str();
    app.add_option("--every", o.every, "teleport before epoch 0 and every this many epochs")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--lr", o.lr, "learning rate of GD")->check(positive())->capture_default_str();
    app.add_option("--teleport-steps", o.teleport_steps, "ascent steps per teleport")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--teleport-lr", o.teleport_lr, "teleport learning rate")->check(positive())->capture_default_str();
    add_search_options(app, o.search);
    app.add_option("--widths", o.widths, "(a): the widths d ('none' to skip)")->capture_default_str();
    app.add_option("--width-layers", o.width_layers, "(a): weight matrices (2 to 6)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--depths", o.depths, "(b): the numbers of weight matrices, 2 to 6 ('none' to skip)")
        ->capture_default_str();
    app.add_option("--depth-width", o.depth_width, "(b): the width d")->check(positive_count())->capture_default_str();

    return run_driver("runtime", app, argc, argv, [&] {
        const teleport_settings settings = o.search.settings(o.teleport_steps, o.teleport_lr);
        auto list = [](const std::string& text, const char* option) {
            if (text == "none") return std::vector<std::size_t>{};
            auto v = parse_count_list(text, option);
            for (std::size_t x : v)
                if (x == 0) throw std::invalid_argument(std::string(option) + ": entries must be positive");
            return v;
        };
        const auto widths = list(o.widths, "--widths");
        const auto depths = list(o.depths, "--depths");
        for (std::size_t l : depths)
            if (l < 2 || l > 6) throw std::invalid_argument("--depths: " + std::to_string(l) + " is not from 2 to 6");
        if (o.width_layers < 2 || o.width_layers > 6)
            throw std::invalid_argument("--width-layers: " + std::to_string(o.width_layers) + " is not from 2 to 6");
        for (std::size_t d : widths)
            if (d > 4096) throw std::invalid_argument("--widths: " + std::to_string(d) + " is larger than 4096");
        if (o.depth_width > 4096) throw std::invalid_argument("--depth-width: larger than 4096");
        if (widths.empty() && depths.empty()) throw std::invalid_argument("nothing to time: --widths and --depths are both 'none'");

        const fs::path dir = o.out;
        const result_set files(dir, {{"driver", "runtime"}});  // summary.json "incomplete" until the end
        const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
        std::printf("runtime (paper Fig. 6): %zu GD epochs (lr %g), a %zu-step teleport (%s, lr %g) before epoch 0 and "
                    "every %zu; OPENBLAS_NUM_THREADS=%s\n",
                    o.epochs, o.lr, o.teleport_steps, o.search.strategy.c_str(), o.teleport_lr, o.every,
                    threads ? threads : "(unset)");
        std::printf("%-6s %5s %7s %7s %10s %8s %11s %11s %11s %13s %13s\n", "part", "d", "layers", "epochs", "teleports",
                    "paid off", "total [s]", "GD [s]", "tele. [s]", "GD epoch [us]", "teleport [ms]");
        std::vector<row> width_rows, depth_rows;
        std::size_t stopped = 0;
        auto run_one = [&](const char* part, std::size_t d, std::size_t layers, std::vector<row>& rows) {
            row r = time_config(o, d, layers, settings);
            r.part = part;
            stopped += r.epochs < o.epochs ? 1 : 0;
            std::printf("%-6s %5zu %7zu %7zu %10s %8zu %11.4e %11.4e %11.4e %13.3f %13.4f%s\n", part, d, layers, r.epochs,
                        (std::to_string(r.accepted) + "/" + std::to_string(r.teleports)).c_str(), r.paid_off, r.total_s, r.gd_s(),
                        r.teleport_s, 1e6 * r.gd_epoch_s(), 1e3 * r.teleport_each_s(),
                        r.epochs < o.epochs ? ("  stopped: " + r.stop).c_str() : "");
            if (!r.first_rejection.empty()) std::printf("       first rejected teleport, %s\n", r.first_rejection.c_str());
            std::fflush(stdout);
            rows.push_back(r);
        };
        for (std::size_t d : widths) run_one("width", d, o.width_layers, width_rows);
        for (std::size_t l : depths) run_one("depth", o.depth_width, l, depth_rows);
        if (!width_rows.empty()) write_rows(dir / "width.csv", width_rows);
        if (!depth_rows.empty()) write_rows(dir / "depth.csv", depth_rows);

        json summary;
        summary["driver"] = "runtime";
        summary["experiment"] = "Runtime (Fig. 6)";
        json config;
        config["seed"] = o.seed;
        config["initialization"] = "random orthogonal X, Y and W_m (d x d)";
        config["activation"] = activation::name();
        config["epochs"] = o.epochs;
        config["every"] = o.every;
        config["gd"] = {{"learning_rate", o.lr}};
        config["teleport"] = teleport_settings_json(settings, state_policy::keep, {});
        objective_json(config["teleport"], o.search);
        config["widths"] = widths;
        config["width_layers"] = o.width_layers;
        config["depths"] = depths;
        config["depth_width"] = o.depth_width;
        config["openblas_num_threads"] = threads ? json(threads) : json(nullptr);
        config["command_line"] = command_line_json(argc, argv);
        summary["config"] = config;
        summary["versions"] = library_versions();
        auto rows_json = [](const std::vector<row>& rows) {
            json a = json::array();
            for (const auto& r : rows)
                a.push_back({{"d", r.d}, {"layers", r.layers}, {"epochs", r.epochs}, {"stop_reason", r.stop},
                             {"teleports", r.teleports}, {"accepted", r.accepted}, {"paid_off", r.paid_off},
                             {"first_rejection", r.first_rejection.empty() ? json(nullptr) : json(r.first_rejection)},
                             {"total_seconds", r.total_s}, {"gd_seconds", r.gd_s()}, {"teleport_seconds", r.teleport_s},
                             {"initial_loss", json_number(r.initial_loss)}, {"final_loss", json_number(r.final_loss)},
                             {"max_relative_loss_change", json_number(r.max_relative_loss_change)},
                             {"teleport_reports", [&] {
                                  json t = json::array();
                                  for (const auto& report : r.reports) t.push_back(teleport_report_json(report));
                                  return t;
                              }()}});
            return a;
        };
        summary["width"] = rows_json(width_rows);
        summary["depth"] = rows_json(depth_rows);
        std::vector<std::string> figures;
        if (o.plot) {
            gnuplot_renderer gnuplot("runtime");
            figures = render_figures(dir, o, gnuplot);
        }
        summary["figures"] = figures;
        files.complete(summary);
        if (stopped)
            std::printf("warning: %zu configuration(s) stopped early (a non-finite loss): their times cover fewer "
                        "epochs; lower --lr or --teleport-lr\n",
                        stopped);
        std::printf("wrote %s:%s%s summary.json", dir.string().c_str(), width_rows.empty() ? "" : " width.csv",
                    depth_rows.empty() ? "" : " depth.csv");
        for (const auto& f : figures) std::printf(" %s", f.c_str());
        std::printf("\n");
        return 0;
    });
}
