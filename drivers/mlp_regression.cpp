// mlp_regression — the paper's multi-layer regression experiment (§6, Fig. 3): a LeakyReLU network
// trained by GD and by AdaGrad, each with and without one teleport, over several seeds; the
// defaults are the paper's settings (SPEC §3.4). Writes one CSV per method, mean.csv, summary.json
// and figures (SPEC §4).
#include <cstdint>
#include <cstdio>
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
    std::string out = "results/mlp_regression";
    std::uint64_t seed = 0;
    std::size_t seeds = 5;
    bool plot = true;
    std::size_t epochs = 300;
    std::string widths = "5,6,7,8";
    std::size_t samples = 4;
    double gd_lr = 1e-4;
    double adagrad_lr = 0.1;
    double adagrad_epsilon = 1e-10;
    double gd_teleport_lr = 1e-7;
    std::size_t gd_teleport_steps = 8;
    double adagrad_teleport_lr = 1e-5;
    std::size_t adagrad_teleport_steps = 2;
    std::string schedule = "5";
    search_options search;
    std::string action = "exact";
    std::string symmetry = "nonlinear";
    std::string pairs = "all";
    std::string action_form = "minimal";
    std::string state = "keep";
    double threshold = 10.0;
    std::string init_dir;
    std::string save_init;
};

/// The initializations, one per seed: drawn (uniform in [0, 1)) or read from --init-dir.
std::vector<std::pair<std::uint64_t, network_init>> initializations(const options& o, bool seeds_given) {
    std::vector<std::pair<std::uint64_t, network_init>> inits;
    if (!o.init_dir.empty()) {
        const fs::path dir = o.init_dir;
        if (fs::exists(dir / "X.npy")) {
            if (seeds_given && o.seeds != 1)
                throw std::invalid_argument("--init-dir holds one initialization, so --seeds must be 1");
            inits.emplace_back(o.seed, load_init(dir));
            return inits;
        }
        // seed<k>/ folders, as --save-init writes for several seeds
        const auto found = seed_folders(dir);
        if (found.empty())
            throw std::invalid_argument("--init-dir: " + dir.string() + " has neither X.npy nor seed<N>/ folders");
        for (const auto& [s, folder] : found) inits.emplace_back(s, load_init(folder));
        return inits;
    }
    check_seed_range(o.seed, o.seeds);
    const auto widths = parse_count_list(o.widths, "--widths");
    for (std::size_t w : widths)
        if (w == 0) throw std::invalid_argument("--widths: every width must be positive");
    if (widths.size() < 3) throw std::invalid_argument("--widths: at least 3 widths (input, hidden, output) are needed");
    check_memory(network_memory_bytes(widths, o.samples, o.seeds), "--widths " + o.widths + " with --samples " +
                 std::to_string(o.samples) + " over " + std::to_string(o.seeds) + " seed(s)");
    for (std::size_t i = 0; i < o.seeds; ++i) inits.emplace_back(o.seed + i, uniform_init(widths, o.samples, o.seed + i));
    return inits;
}

/// Figures like the paper's Fig. 3 from mean.csv: loss against epoch and against time, ‖∇L‖²
/// against epoch and against loss; mean over the seeds with a ± std band.
std::vector<std::string> render_figures(const fs::path& dir, const std::vector<network_method>& methods,
                                        std::size_t seeds, gnuplot_renderer& gnuplot) {
    if (gnuplot.terminal().empty()) return {};
    const std::string term = gnuplot.terminal();
    const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"};
    // column of method i's first value in mean.csv (epoch is column 1)
    auto column = [](std::size_t i, std::size_t k) { return std::to_string(2 + 5 * i + k); };
    std::string s = "# Figures of the MLP regression experiment (paper Fig. 3), written by the driver.\n"
                    "# Re-render in this folder with: gnuplot figures.gp\n"
                    "if (!exists(\"suffix\")) suffix = ''\nset encoding utf8\nset datafile separator ','\n";
    const std::string band_note = seeds > 1 ? " (mean ± std over " + std::to_string(seeds) + " seeds)" : "";
    auto figure = [&](const std::string& file, const std::string& title, const std::string& xlabel,
                      const std::string& ylabel, bool logx, auto&& x_of, std::size_t value) {
        // a band needs x increasing along the curve: over epoch and time, not over the loss
        const bool band = seeds > 1 && !logx;
        s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output '" + file + "'.suffix\n";
        s += "set datafile separator ','\nset grid\nset key top right\nset logscale y\nset format y '10^{%L}'\n";
        if (logx) s += "set logscale x\nset format x '10^{%L}'\nset key bottom right\n";
        s += "set style fill transparent solid 0.18 noborder\n";
        s += "set title " + gnuplot_quote(title + (band ? band_note : seeds > 1 ? " (mean over " + std::to_string(seeds) + " seeds)" : std::string())) + "\nset xlabel " + gnuplot_quote(xlabel) +
             "\nset ylabel " + gnuplot_quote(ylabel) + "\n";
        std::string plot = "plot ";
        for (std::size_t i = 0; i < methods.size(); ++i) {
            const std::string mean = "$" + column(i, value), sd = "$" + column(i, value + 1);
            const std::string x = x_of(i);
            const std::string color = colors[i % 4];
            if (band)
                plot += "'mean.csv' every ::1 using " + x + ":((" + mean + "-" + sd + ") > 0 ? " + mean + "-" + sd +
                        " : " + mean + "*1e-3):(" + mean + "+" + sd + ") with filledcurves lc rgb '" + color +
                        "' notitle, ";
            plot += "'mean.csv' every ::1 using " + x + ":(" + mean + ") with lines lw 2 lc rgb '" + color + "' title " +
                    gnuplot_quote(methods[i].label) + (i + 1 < methods.size() ? ", " : "\n");
        }
        s += plot;
    };
    auto epoch = [](std::size_t) { return std::string("1"); };
    auto time = [&](std::size_t i) { return "($" + column(i, 4) + ")"; };
    auto loss = [&](std::size_t i) { return "($" + column(i, 0) + ")"; };
    figure("loss.png", "MLP regression: loss", "epoch", "loss L", false, epoch, 0);
    figure("loss_time.png", "MLP regression: loss against time", "wall-clock time [s]", "loss L", false, time, 0);
    figure("grad.png", "MLP regression: squared gradient norm", "epoch", "||∇L||^2", false, epoch, 2);
    figure("grad_loss.png", "MLP regression: squared gradient norm against loss", "loss L", "||∇L||^2", true, loss, 2);
    return gnuplot.render(dir, "figures.gp", s, {"loss.png", "loss_time.png", "grad.png", "grad_loss.png"});
}

template <std::size_t L, class Action>
int run(const options& o, const std::vector<std::pair<std::uint64_t, network_init>>& inits, int argc, char** argv) {
    using net_type = problems::mlp<double, L, activation>;
    const auto widths = inits.front().second.widths();
    for (const auto& [seed, init] : inits)
        if (init.widths() != widths || init.samples() != inits.front().second.samples())
            throw std::invalid_argument("--init-dir: the seed folders hold networks of different shapes");
    const auto schedule_set = parse_schedule(o.schedule, o.epochs);
    const std::vector<std::size_t> schedule_steps(schedule_set.begin(), schedule_set.end());
    const auto schedule = teleport_schedule::at(schedule_set);
    const state_policy policy = parse_state_policy(o.state);
    const Action action(tensor::network_shape{widths, false}, parse_pairs(o.pairs, L), parse_exp_map(o.action),
                        groups::parse_action_form(o.action_form));
    if constexpr (!Action::data_free) {
        // eq. 8 is a symmetry only when the input of each transformed layer has full column rank
        const std::size_t samples = inits.front().second.samples();
        for (std::size_t k : action.pairs())
            if (!schedule_set.empty() && samples > widths[k - 1])
                throw std::invalid_argument("the nonlinear action (eq. 8) needs full column rank: the input of layer " +
                                            std::to_string(k) + " has " + std::to_string(widths[k - 1]) +
                                            " rows but the batch has " + std::to_string(samples) +
                                            " samples (use fewer samples or --symmetry rescaling)");
    }
    if (policy == state_policy::transport && !Action::data_free)
        throw std::invalid_argument("--state transport needs a data-free action (--symmetry rescaling)");

    const teleport_settings gd_teleport = o.search.settings(o.gd_teleport_steps, o.gd_teleport_lr, parse_exp_map(o.action));
    const teleport_settings adagrad_teleport =
        o.search.settings(o.adagrad_teleport_steps, o.adagrad_teleport_lr, parse_exp_map(o.action));
    const gd gd_opt{o.gd_lr};
    const adagrad adagrad_opt{adagrad_settings{o.adagrad_lr, o.adagrad_epsilon}};

    std::vector<network_method> methods(4);
    methods[0] = {"gd", "gd", "gd", o.gd_lr, false, {}, {}};
    methods[1] = {"gd_teleport", "gd + teleport", "gd", o.gd_lr, true, {}, {}};
    methods[2] = {"adagrad", "adagrad", "adagrad", o.adagrad_lr, false, {}, {}};
    methods[3] = {"adagrad_teleport", "adagrad + teleport", "adagrad", o.adagrad_lr, true, {}, {}};
    for (const auto& [seed, init] : inits) {
        const net_type net(widths, init.x, init.y);
        const auto w0 = net.pack(init.weights);
        auto one = [&](network_method& m, const auto& opt, const teleport_settings& settings) {
            auto w = w0;
            m.seeds.push_back(seed);
            const auto& when = m.teleport ? schedule : teleport_schedule::never();
            m.runs.push_back(
                o.search.lookahead()
                    ? optimize_with_teleport(opt, net,
                                             lookahead_symmetry(net, action, o.search.lookahead_steps,
                                                                policy == state_policy::transport),
                                             w, o.epochs, when, settings, seed, policy)
                    : optimize_with_teleport(opt, net, action, w, o.epochs, when, settings, seed, policy));
        };
        one(methods[0], gd_opt, gd_teleport);
        one(methods[1], gd_opt, gd_teleport);
        one(methods[2], adagrad_opt, adagrad_teleport);
        one(methods[3], adagrad_opt, adagrad_teleport);
        if (!o.save_init.empty())
            save_init(inits.size() == 1 ? fs::path(o.save_init) : fs::path(o.save_init) / ("seed" + std::to_string(seed)),
                      init);
    }

    // --- files
    const fs::path dir = o.out;
    const result_set files(dir, {{"driver", "mlp_regression"}});  // summary.json "incomplete" until the end
    for (const auto& m : methods) write_network_csv(dir / (m.name + ".csv"), m);
    write_mean_csv(dir / "mean.csv", methods);
    json summary;
    summary["driver"] = "mlp_regression";
    summary["experiment"] = "MLP regression (Fig. 3)";
    summary["loss"] = net_type::formula();
    json config;
    config["seed"] = o.seed;
    config["seeds"] = methods[0].seeds;
    config["initialization"] = o.init_dir.empty() ? json("uniform in [0, 1) from each seed") : json(o.init_dir);
    config["widths"] = widths;
    config["samples"] = inits.front().second.samples();
    config["activation"] = activation::name();
    config["epochs"] = o.epochs;
    config["gd"] = {{"learning_rate", o.gd_lr}};
    config["adagrad"] = {{"learning_rate", o.adagrad_lr}, {"epsilon", o.adagrad_epsilon}};
    config["symmetry"] = Action::name();
    if (!Action::data_free) config["action_form"] = o.action_form;
    config["pairs"] = std::vector<std::size_t>(action.pairs().begin(), action.pairs().end());
    config["gd_teleport"] = teleport_settings_json(gd_teleport, policy, schedule_steps);
    config["adagrad_teleport"] = teleport_settings_json(adagrad_teleport, policy, schedule_steps);
    objective_json(config["gd_teleport"], o.search);
    objective_json(config["adagrad_teleport"], o.search);
    config["threshold"] = o.threshold;
    config["out"] = dir.string();
    config["plot"] = o.plot;
    config["command_line"] = command_line_json(argc, argv);
    summary["config"] = config;
    summary["versions"] = library_versions();
    summary["threshold"] = o.threshold;
    summary["methods"] = json::array();
    for (const auto& m : methods) summary["methods"].push_back(network_method_json(m, o.threshold));
    std::vector<std::string> figures;
    if (o.plot) {
        gnuplot_renderer gnuplot("mlp_regression");
        figures = render_figures(dir, methods, inits.size(), gnuplot);
    }
    summary["figures"] = figures;
    files.complete(summary);

    // --- printed summary
    std::printf("MLP regression (paper Fig. 3): L = %s\n", net_type::formula().c_str());
    std::printf("  widths %s, %zu samples, %s, %zu epochs, %zu seed(s) from %llu; teleport (%s, pairs %s, map %s) "
                "before epoch%s %s\n",
                join(widths).c_str(), inits.front().second.samples(), activation::name().c_str(), o.epochs,
                inits.size(), static_cast<unsigned long long>(inits.front().first), Action::name().c_str(),
                join(std::vector<std::size_t>(action.pairs().begin(), action.pairs().end())).c_str(), o.action.c_str(),
                schedule_steps.size() == 1 ? "" : "s", schedule_steps.empty() ? "(none)" : join(schedule_steps).c_str());
    print_network_methods(methods, o.threshold);
    print_network_teleports(methods[1], o.search.payoff_steps);
    print_network_teleports(methods[3], o.search.payoff_steps);
    std::printf("wrote %s: gd.csv gd_teleport.csv adagrad.csv adagrad_teleport.csv mean.csv summary.json",
                dir.string().c_str());
    for (const auto& name : figures) std::printf(" %s", name.c_str());
    std::printf("\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"MLP regression (paper §6, Fig. 3): GD and AdaGrad, each with and without symmetry teleportation of "
                 "the layer pairs (paper eq. 8, exact group action), over several seeds; the defaults are the paper's "
                 "settings. The activation is LeakyReLU with slope 0.1."};
    options o;
    o.search.objective = "lookahead";  // ‖∇L‖² teleports make GD at the paper's rate overshoot (docs/experiments.md)
    app.add_option("--out", o.out, "output folder (created if needed)")->capture_default_str();
    app.add_option("--seed", o.seed, "first seed; seed k initializes the network and draws the teleport's randomness")
        ->check(seed_value())
        ->capture_default_str();
    app.add_option("--seeds", o.seeds, "number of seeds (seed, seed+1, ...)")->check(positive_count())->capture_default_str();
    app.add_flag("--plot,!--no-plot", o.plot, "render the figures with gnuplot (PNG); on by default");
    app.add_option("--epochs", o.epochs, "full-batch epochs")->check(positive_count())->capture_default_str();
    app.add_option("--widths", o.widths, "layer widths d_0,...,d_L (input, hidden, output): 2 to 4 weight matrices")
        ->capture_default_str();
    app.add_option("--samples", o.samples, "number of samples (columns of X and Y)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--gd-lr", o.gd_lr, "learning rate of GD")->check(positive())->capture_default_str();
    app.add_option("--adagrad-lr", o.adagrad_lr, "learning rate of AdaGrad")->check(positive())->capture_default_str();
    app.add_option("--adagrad-epsilon", o.adagrad_epsilon, "epsilon of AdaGrad")->check(positive())->capture_default_str();
    app.add_option("--gd-teleport-lr", o.gd_teleport_lr, "teleport learning rate in the GD run")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--gd-teleport-steps", o.gd_teleport_steps,
                   "teleport ascent steps in the GD run (default: the paper's 8 with gradient-ascent, 10 otherwise)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--adagrad-teleport-lr", o.adagrad_teleport_lr, "teleport learning rate in the AdaGrad run")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--adagrad-teleport-steps", o.adagrad_teleport_steps,
                   "teleport ascent steps in the AdaGrad run (default: the paper's 2 with gradient-ascent, 10 otherwise)")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--schedule", o.schedule, "teleport before these epochs (0-based, comma-separated; 'none')")
        ->capture_default_str();
    add_search_options(app, o.search);
    app.add_option("--action", o.action,
                   "map from gl(d) to the group: exact (matrix exponential), cayley, or first-order (the paper's "
                   "I+T with I-T as inverse, which drifts)")
        ->check(one_of(exp_map_names()))
        ->capture_default_str();
    app.add_option("--symmetry", o.symmetry,
                   "nonlinear: paper eq. 8 (exact on the training batch); rescaling: positive per-neuron scaling "
                   "(exact on all data)")
        ->check(one_of({"nonlinear", "rescaling"}))
        ->capture_default_str();
    add_action_form_option(app, o.action_form);
    app.add_option("--pairs", o.pairs, "hidden layers whose (W_{k+1}, W_k) pair is teleported: 'all' or a list")
        ->capture_default_str();
    app.add_option("--state", o.state, "optimizer state at a teleport (transport needs --symmetry rescaling)")
        ->check(one_of(state_policy_names()))
        ->capture_default_str();
    app.add_option("--threshold", o.threshold, "loss threshold for 'epochs to reach'")->check(positive())->capture_default_str();
    app.add_option("--init-dir", o.init_dir,
                   "read X.npy, Y.npy, W1.npy, ... (float32 or float64) from this folder, or from its seed<N>/ folders")
        ->check(non_empty());
    app.add_option("--save-init", o.save_init,
                   "write the initial X, Y, W1, ... as .npy here (in seed<N>/ folders when there are several seeds)")
        ->check(non_empty());

    return run_driver("mlp_regression", app, argc, argv, [&] {
        if (o.search.strategy != "gradient-ascent") {
            if (app.count("--gd-teleport-steps") == 0) o.gd_teleport_steps = 10;
            if (app.count("--adagrad-teleport-steps") == 0) o.adagrad_teleport_steps = 10;
        }
        const auto inits = initializations(o, app.count("--seeds") > 0);
        const std::size_t layers = inits.front().second.weights.size();
        return with_layers<2, 3, 4>(layers, "the network", [&](auto l) {
            constexpr std::size_t L = decltype(l)::value;
            if (o.symmetry == "rescaling")
                return run<L, groups::layer_action<groups::rescaling_layers, activation>>(o, inits, argc, argv);
            return run<L, groups::layer_action<groups::nonlinear_layers, activation>>(o, inits, argc, argv);
        });
    });
}
