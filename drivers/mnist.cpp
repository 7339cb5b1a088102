// mnist — the paper's classification experiment (§6, Fig. 4): a 784-512-512-10 LeakyReLU network
// with softmax cross-entropy on MNIST-format data (Fashion-MNIST by default), trained by mini-batch
// SGD and AdaGrad, each with and without teleportation as in the paper's SGD algorithm (SPEC §3.1):
// before each scheduled epoch, one teleport on each of the first B mini-batches of that epoch
// (train/minibatch.hpp, minibatch_optimize_with_teleport). Writes one CSV per method, summary.json
// and figures (SPEC §4).
//
// --sweep when|interval|batches runs the schedule study of Fig. 5 instead: plain SGD and SGD with
// one teleport at different epochs, 5 teleports at different intervals, or teleports on different
// numbers B of mini-batches; the same initialization and batches for every variant.
//
// A long run can be interrupted and continued (train/checkpoint.hpp): after every epoch and every
// method the driver writes DIR/checkpoint/; --resume continues from it and gives the same numbers
// as an uninterrupted run; --stop-after N stops cleanly after N epochs. The checkpoint is deleted
// when the run completes. Started by mpirun (docs/distributed.md), each run is data-parallel over
// the ranks, or with --sweep the runs are spread over the ranks (each under its own checkpoint). Eq. 8 is a symmetry only on the teleport's batch, so every teleport also
// records the relative change of the validation loss (SPEC §5). The main job `reproduce` runs this
// driver shortened; bench/bench_mnist.cpp times an SGD step and a teleport of this network.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "minibatch_experiment.hpp"
#include "mnist_options.hpp"
#include "network_experiment.hpp"
#include "output.hpp"
#include "teleport/engine/network_symmetry.hpp"
#include "teleport/io/npy.hpp"
#include "teleport/problems/mnist.hpp"
#include "teleport/train/checkpoint.hpp"
#include "teleport/train/data_parallel.hpp"
#ifdef TELEPORT_HAVE_MPI
#include "teleport/train/distributed.hpp"
#endif
#include "teleport/train/evaluation.hpp"
#include "teleport/train/minibatch.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/train/schedule_sweep.hpp"

namespace {

using namespace teleport;
using namespace teleport::drivers;
using activation = tensor::leaky_relu<1, 10>;

template <class T>
using mnist_net = problems::mlp<T, 3, activation, problems::mlp_loss::cross_entropy>;

template <class T, class Action>
int run(const options& o, const std::vector<std::size_t>& widths, int argc, char** argv, const communicator& comm) {
    using net_type = mnist_net<T>;
    using vector = xt::xtensor<T, 1>;
    const auto schedule = parse_schedule(o.schedule, o.epochs);
    const auto pairs = parse_pairs(o.pairs, 3);
    std::optional<schedule_sweep> sweep;
    if (!o.sweep.empty()) sweep = make_sweep(o, schedule);
    auto methods = sweep ? sweep_methods(o.sgd_lr, *sweep)
                         : figure4_methods(o.sgd_lr, o.adagrad_lr, schedule, o.teleport_batches);
    const bool teleports = std::ranges::any_of(methods, [](const auto& m) { return m.teleport && !m.schedule.empty(); });
    if constexpr (!Action::data_free)
        for (std::size_t k : pairs)
            if (teleports && o.batch > widths[k - 1])
                throw std::invalid_argument(
                        "the nonlinear action (eq. 8) needs full column rank: the input of layer " + std::to_string(k) +
                        " has " + std::to_string(widths[k - 1]) + " rows but a batch has " + std::to_string(o.batch) +
                        " samples (use a smaller --batch or --symmetry rescaling)");
    const Action action(tensor::network_shape{widths, false}, pairs, exp_map::exact,
                        groups::parse_action_form(o.action_form));
    auto search = o.search;
    // float32 rounding through the pseudo-inverse moves the batch loss by up to ~1e-6 relative
    if (!o.tolerance_given) search.tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-9;
    const teleport_settings settings = search.settings(o.teleport_steps, o.teleport_lr);
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
    if (!Action::data_free) config["action_form"] = o.action_form;
    config["pairs"] = std::vector<std::size_t>(pairs.begin(), pairs.end());
    json tp = teleport_settings_json(settings, state_policy::keep, std::vector<std::size_t>(schedule.begin(), schedule.end()));
    objective_json(tp, o.search);
    tp["batches"] = o.teleport_batches;
    tp["schedule_meaning"] = "teleport before these 0-based epochs, on the first B mini-batches of the epoch";
    config["teleport"] = tp;
    if (sweep) config["sweep"] = sweep_json(*sweep);
    config["grad_norm_sq"] = "squared norm of the full gradient of the mean loss over the training split";
    config["time_s"] = "training and teleport wall time; evaluation of the splits excluded";
    config["evaluation_block"] = o.eval_block;
    // under mpirun (docs/distributed.md): a sweep's runs spread over the ranks, else each run data-parallel
    const bool spread = sweep && comm.size() > 1;
    const single_process alone;
    const communicator& data_comm = spread ? alone : comm;
    if (comm.size() > 1) config["ranks"] = {{"count", comm.size()}, {"parallel", spread ? "runs" : "data"}};
    json ck_config = config;  // a spread sweep's ranks each keep a checkpoint of their own runs
    if (spread) ck_config["ranks"]["rank"] = comm.rank();

    const fs::path dir = o.out;
    collective(comm, [&] { make_output_directory(dir); });  // before the long part, so that a bad --out fails at once

    net_type net(widths, xt::zeros<T>({widths.front(), std::size_t{1}}), xt::zeros<T>({widths.back(), std::size_t{1}}));
    const auto w0 = problems::linear_init(net, o.seed);

    // --resume: the whole checkpoint is read and checked before the data, so that a bad one fails at once
    std::vector<std::string> names;
    for (const auto& m : methods) names.push_back(m.name);
    checkpoint ck(dir / (spread ? "checkpoint-rank" + std::to_string(comm.rank()) : "checkpoint"),
                  "teleport mnist checkpoint 1", ck_config, checkpoint_build(library_versions()), io::npy_files{});
    rank_sequence<io::npy_files, vector> sequence(comm, spread, ck, names, o.epochs);
    if (o.resume) {
        try {
            sequence.resume(w0.size(), [&](std::size_t i) {
                return methods[i].optimizer == "adagrad" ? optimizer_vector_count(adagrad_opt, w0)
                                                         : optimizer_vector_count(sgd_opt, w0);
            });
        } catch (const checkpoint_error& e) {
            throw std::runtime_error(std::string("--resume: ") + e.what() +
                                     (e.problem == checkpoint_problem::other_configuration
                                          ? " (only --out, --plot, --resume and --stop-after may change)"
                                          : ""));
        }
        if (!ck.build_difference().empty())
            std::fprintf(stderr,
                         "mnist: warning: the checkpoint was written by another build or BLAS setting: build%s; "
                         "the resumed run need not match an uninterrupted one bit for bit\n",
                         ck.build_difference().c_str());
    }
    const std::size_t first = sequence.first();
    const auto& resume = sequence.saved();

    const auto load_start = clock_type::now();
    const auto split = collective(comm, [&] { return problems::load_mnist<T>(o.data, o.seed, 0.8, o.limit); });
    for (const auto* x : {&split.train_x, &split.valid_x})
        require_identical(comm, *x, "the images read from --data");
    for (const auto* y : {&split.train_y, &split.valid_y})
        require_identical(comm, *y, "the labels read from --data");
    const std::size_t pixels = split.rows * split.cols, n_train = split.train_y.size(), n_valid = split.valid_y.size();
    if (widths.front() != pixels)
        throw std::invalid_argument("--widths: the input width is " + std::to_string(widths.front()) +
                                    " but the images have " + std::to_string(pixels) + " pixels");
    if (o.batch > n_train)
        throw std::invalid_argument("--batch " + std::to_string(o.batch) + " is larger than the " +
                                    std::to_string(n_train) + " training samples");
    const shuffled_batches batches(n_train, o.batch);
    for (const auto& m : methods)  // B of every method (0 without teleports), in the order of the sweep values
        if (m.teleport_batches > batches.count())
            throw std::invalid_argument((sweep && sweep->kind == sweep_kind::batches ? "--sweep-values: B = " : "--teleport-batches ") +
                                        std::to_string(m.teleport_batches) + " but an epoch has only " +
                                        std::to_string(batches.count()) + " mini-batches");
    classification_data whole(net, split.train_x, split.train_y, split.valid_x, split.valid_y, o.eval_block);
    data_parallel data(data_comm, whole);  // one rank: `whole` itself
    const double load_seconds = seconds_since(load_start);
    std::fprintf(stderr, "mnist: %zu training and %zu validation images from %s (%.1f s), %s, widths %s\n", n_train,
                 n_valid, o.data.c_str(), load_seconds, o.precision.c_str(), join(widths).c_str());
    if (o.resume)
        std::fprintf(stderr, "mnist: resuming from %s: %zu of %zu methods finished%s\n", ck.file().c_str(),
                     sequence.finished(), sequence.mine().size(),
                     resume ? (", " + methods[first].name + " after epoch " + std::to_string(resume->epochs)).c_str()
                            : "");
    else if (ck.clear())
        std::fprintf(stderr, "mnist: a fresh run replaces the checkpoint of an earlier run in %s (see --resume)\n",
                     dir.c_str());

    // --- the methods, one after another (Algorithm 1 in mini-batch form; plain ones teleport never),
    // the checkpoint after every epoch and every method
    // ‖∇L‖² (activation space under eq. 8) or the lookahead objective (from the weights)
    auto run_all = [&](const auto& symmetry) {
        auto run_method = [&](std::size_t i, const saved_progress<vector>* from, minibatch_run& record, auto& saving) {
            const auto& m = methods[i];
            const minibatch_teleports plan{teleport_schedule::at(m.schedule), m.teleport_batches, settings};
            auto train = [&](const auto& opt) {
                minibatch_progress<vector, optimizer_state_t<std::decay_t<decltype(opt)>, vector>> p{
                        0, w0, opt.make_state(w0), std::mt19937_64(o.seed ^ 0x5348554646ull),
                        std::mt19937_64(o.seed ^ 0x54454c45ull), 0.0};
                if (from) restore(*from, p);
                minibatch_optimize_with_teleport(opt, data, batches, symmetry, plan, data, p, o.epochs, record, saving,
                                                 print_epochs(stderr, "mnist", m.label, record, o.epochs),
                                                 replica_check(data_comm));
            };
            if (m.optimizer == "adagrad") train(adagrad_opt);
            else train(sgd_opt);
        };
        return sequence.run(run_method, o.stop_after > 0 ? o.stop_after : std::numeric_limits<std::size_t>::max());
    };
    if (!(o.search.lookahead() ? run_all(lookahead_symmetry(net, action, o.search.lookahead_steps))
                               : run_all(network_symmetry<net_type, Action>(net, action)))) {
        std::printf("stopped after %zu epoch%s (--stop-after); %s holds the run: continue it with --resume and "
                    "the same options\n",
                    o.stop_after, o.stop_after == 1 ? "" : "s",
                    spread ? (dir / "checkpoint-rank*").c_str() : ck.file().c_str());
        return 0;
    }
    const auto records = sequence.records();  // gathered on the root from the ranks of a spread sweep
    for (std::size_t i = 0; i < methods.size(); ++i) methods[i].run = records[i];

    // --- files, by the root; then every rank's checkpoint goes
    std::vector<std::string> figures;
    collective(comm, [&] {
        if (!comm.root()) return;
        const result_set files(dir, {{"driver", "mnist"}});  // summary.json "incomplete" until the end
        for (const auto& m : methods) write_minibatch_csv(dir / (m.name + ".csv"), m);
        json summary;
        summary["driver"] = "mnist";
        summary["experiment"] = sweep ? "MNIST teleport schedules (" + sweep_figure(*sweep) + ")" : "MNIST classification (Fig. 4)";
        summary["loss"] = net_type::formula();
        json full;  // the configuration with the sizes of the split (known once the data is read) and the output options
        for (const auto& [key, value] : config.items()) {
            full[key] = value;
            if (key == "limit") {
                full["train_samples"] = n_train;
                full["valid_samples"] = n_valid;
            }
        }
        full["out"] = dir.string();
        full["plot"] = o.plot;
        full["command_line"] = command_line_json(argc, argv);
        summary["config"] = full;
        summary["versions"] = library_versions();
        summary["methods"] = json::array();
        for (const auto& m : methods) summary["methods"].push_back(minibatch_method_json(m));
        if (o.plot) {
            gnuplot_renderer gnuplot("mnist");
            figures = render_minibatch_figures(dir, methods, sweep ? sweep_short_figure(*sweep) : "Fig. 4", gnuplot);
        }
        summary["figures"] = figures;
        files.complete(summary);
    });
    ck.remove();
    if (!comm.root()) return 0;

    // --- printed summary
    std::printf("MNIST (paper %s): L = %s, %s, widths %s, %zu/%zu train/validation images, batch %zu, %zu epochs\n",
                sweep ? sweep_figure(*sweep).c_str() : "Fig. 4", net_type::formula().c_str(), o.precision.c_str(),
                join(widths).c_str(), n_train, n_valid, o.batch, o.epochs);
    print_minibatch_methods(methods);
    print_minibatch_teleports(methods, settings.payoff.steps);
    print_written(dir, methods, figures);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"MNIST classification (paper §6, Fig. 4): a LeakyReLU MLP with softmax cross-entropy trained by "
                 "mini-batch SGD and AdaGrad, each with and without symmetry teleportation (paper eq. 8 on mini-batches, "
                 "or the data-free rescaling); Fashion-MNIST by default, any MNIST-format folder with --data."};
    options o;
    o.search.initial_step = o.search.trust_radius = 0.1;  // steps of 0.1 in the algebra (docs/networks.md)
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
    app.add_option("--teleport-steps", o.teleport_steps, "ascent steps per teleport")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--teleport-lr", o.teleport_lr, "learning rate of a teleport's gradient ascent (gradient-ascent)")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--symmetry", o.symmetry,
                   "nonlinear: paper eq. 8 (exact on the teleport's batch only); rescaling: positive per-neuron "
                   "scaling (exact on all data)")
        ->check(one_of({"nonlinear", "rescaling"}))
        ->capture_default_str();
    add_action_form_option(app, o.action_form);
    app.add_option("--pairs", o.pairs, "hidden layers whose (W_{k+1}, W_k) pair is teleported: 'all' or a list of 1,2")
        ->capture_default_str();
    add_search_options(app, o.search);  // --tolerance: 1e-5 in float and 1e-9 in double unless given
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

    auto body = [&](const communicator& comm) {
        if (comm.size() == 1 && launched_ranks() > 1)  // each would write the same files
            throw std::invalid_argument("started by mpirun on " + std::to_string(launched_ranks()) +
                                        " ranks, but this mnist was built without MPI (docs/distributed.md)");
        o.schedule_given = app.count("--schedule") > 0;
        o.tolerance_given = app.count("--tolerance") > 0;
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
            return o.symmetry == "rescaling" ? run<double, rescaling>(o, widths, argc, argv, comm)
                                             : run<double, nonlinear>(o, widths, argc, argv, comm);
        return o.symmetry == "rescaling" ? run<float, rescaling>(o, widths, argc, argv, comm)
                                         : run<float, nonlinear>(o, widths, argc, argv, comm);
    };
#ifdef TELEPORT_HAVE_MPI
    if (started_by_mpirun())  // every rank runs main; docs/distributed.md
        return run_on_ranks(argc, argv, "mnist", [&](const communicator& comm) {
            return run_driver("mnist", app, argc, argv, [&] { return body(comm); });
        });
#endif
    return run_driver("mnist", app, argc, argv, [&] { return body(single_process{}); });
}
