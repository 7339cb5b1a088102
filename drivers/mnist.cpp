// mnist — the paper's classification experiment (§6, Fig. 4): a 784-512-512-10 LeakyReLU network
// with softmax cross-entropy on MNIST-format data (Fashion-MNIST by default), trained by mini-batch
// SGD and AdaGrad, each with and without teleportation as in the paper's SGD algorithm (SPEC §3.1):
// before each scheduled epoch, one teleport on each of the first B mini-batches of that epoch.
// Writes one CSV per method, summary.json and figures (SPEC §4).
//
// Measured beside the paper's numbers (SPEC §5): eq. 8 is a symmetry only on the teleport's batch,
// so every teleport also records the relative change of the validation loss.
//
// Not yet here (issue 5): checkpoint/resume, the Fig. 5 sweep mode, the reproduce job, benchmarks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "network_experiment.hpp"
#include "output.hpp"
#include "teleport/optimizers.hpp"
#include "teleport/problems/mnist.hpp"

namespace {

using namespace teleport;
using namespace teleport::drivers;
using activation = tensor::leaky_relu<1, 10>;
using clock_type = std::chrono::steady_clock;

struct options {
    std::string out = "results/mnist";
    std::uint64_t seed = 0;
    bool plot = true;
    std::string data = problems::default_mnist_dir;
    std::size_t limit = 0;
    std::string widths = "784,512,512,10";
    std::string precision = "float";
    std::size_t epochs = 80;
    std::size_t batch = 20;
    double sgd_lr = 2e-3;
    double adagrad_lr = 2e-3;
    double adagrad_epsilon = 1e-10;
    std::string schedule = "1";
    std::size_t teleport_batches = 4;
    std::size_t teleport_steps = 10;
    double teleport_lr = 1e-3;
    std::string symmetry = "nonlinear";
    std::string pairs = "all";
    double tolerance = 0;  // 0: the precision's default
    std::size_t eval_block = 2000;
};

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// The data in the layouts the loops want: columns for large evaluation blocks, rows (one sample
/// per row) so that a shuffled mini-batch is gathered from contiguous memory.
template <class T>
struct mnist_data {
    problems::mnist_split<T> split;
    matrix<T> train_rows;  // n_train × pixels
    std::size_t n_train() const { return split.train_y.size(); }
    std::size_t n_valid() const { return split.valid_y.size(); }
};

/// Loss (mean cross-entropy), accuracy and optionally ‖∇L‖² of the full gradient over a split,
/// evaluated in blocks of columns through the network's own loss (the net's data is replaced).
struct split_metrics {
    double loss = 0, accuracy = 0, grad_norm_sq = std::numeric_limits<double>::quiet_NaN();
};

template <class Net>
split_metrics evaluate_split(Net& net, const typename Net::parameters& w, const matrix<typename Net::value_type>& x,
                             const std::vector<std::uint8_t>& labels, std::size_t block, bool gradient,
                             bool accuracy) {
    using T = typename Net::value_type;
    const std::size_t n = labels.size(), pixels = x.shape(0);
    split_metrics m;
    std::vector<double> g_sum(gradient ? w.size() : 0, 0.0);
    typename Net::parameters g;
    std::size_t correct = 0;
    for (std::size_t a = 0; a < n; a += block) {
        const std::size_t nb = std::min(block, n - a);
        auto bx = matrix<T>::from_shape({pixels, nb});
        for (std::size_t p = 0; p < pixels; ++p)
            std::copy_n(x.data() + p * n + a, nb, bx.data() + p * nb);
        auto by = problems::one_hot<T>(std::span<const std::uint8_t>(labels).subspan(a, nb));
        net.set_data(std::move(bx), std::move(by));
        const double weight = double(nb) / double(n);
        if (gradient) {
            m.loss += weight * double(net.evaluate_with_gradient(w, g));
            for (std::size_t i = 0; i < g.size(); ++i) g_sum[i] += weight * double(g[i]);
        } else {
            m.loss += weight * double(net.evaluate(w));
        }
        if (accuracy) {
            const matrix<T> logits = net.predict(w);
            for (std::size_t k = 0; k < nb; ++k) {
                std::size_t best = 0;
                for (std::size_t c = 1; c < logits.shape(0); ++c)
                    if (logits(c, k) > logits(best, k)) best = c;
                correct += best == labels[a + k] ? 1 : 0;
            }
        }
    }
    m.accuracy = accuracy ? double(correct) / double(n) : std::numeric_limits<double>::quiet_NaN();
    if (gradient) {
        m.grad_norm_sq = 0;
        for (double v : g_sum) m.grad_norm_sq += v * v;
    }
    return m;
}

/// The mini-batch of the given training samples: X (pixels × b) and one-hot Y (10 × b).
template <class Net>
void set_batch(Net& net, const mnist_data<typename Net::value_type>& d, std::span<const std::size_t> samples) {
    using T = typename Net::value_type;
    const std::size_t pixels = d.train_rows.shape(1), b = samples.size();
    auto bx = matrix<T>::from_shape({pixels, b});
    matrix<T> by = xt::zeros<T>({std::size_t{10}, b});
    for (std::size_t k = 0; k < b; ++k) {
        const T* row = d.train_rows.data() + samples[k] * pixels;
        for (std::size_t p = 0; p < pixels; ++p) bx.data()[p * b + k] = row[p];
        by(d.split.train_y[samples[k]], k) = T(1);
    }
    net.set_data(std::move(bx), std::move(by));
}

struct epoch_row {
    std::size_t epoch = 0;
    split_metrics train, valid;
    double time_s = 0;  // training and teleport time so far (evaluation excluded)
    bool teleported = false;
};

struct mnist_teleport {
    teleport_report report;
    std::size_t batch = 0;  // which of the epoch's first B mini-batches
    split_metrics valid_before, valid_after;  // loss and accuracy on the validation split
    double seconds = 0;
};

struct mnist_method {
    std::string name, label, optimizer;
    double learning_rate = 0;
    bool teleport = false;
    std::vector<epoch_row> rows;
    std::vector<mnist_teleport> teleports;
    double train_seconds = 0, teleport_seconds = 0, eval_seconds = 0;
    std::string stop_reason = "epochs";
};

template <class T, class Action, class Opt>
void train(mnist_method& m, const Opt& opt, problems::mlp<T, 3, activation, problems::mlp_loss::cross_entropy>& net,
           const Action& action, const typename xt::xtensor<T, 1>& w0, const mnist_data<T>& d, const options& o,
           const std::set<std::size_t>& schedule, const teleport_settings& settings) {
    auto w = w0;
    auto state = opt.make_state(w);
    typename xt::xtensor<T, 1> g;
    std::mt19937_64 shuffle_rng(o.seed ^ 0x5348554646ull), teleport_rng(o.seed ^ 0x54454c45ull);
    double elapsed = 0;
    auto record = [&](std::size_t epoch, bool teleported) {
        const auto start = clock_type::now();
        epoch_row r;
        r.epoch = epoch;
        r.train = evaluate_split(net, w, d.split.train_x, d.split.train_y, o.eval_block, true, true);
        r.valid = evaluate_split(net, w, d.split.valid_x, d.split.valid_y, o.eval_block, false, true);
        r.time_s = elapsed;
        r.teleported = teleported;
        m.rows.push_back(r);
        m.eval_seconds += seconds_since(start);
    };
    const auto method_start = clock_type::now();
    record(0, false);
    const std::size_t n = d.n_train();
    const std::size_t batches = (n + o.batch - 1) / o.batch;
    for (std::size_t epoch = 0; epoch < o.epochs; ++epoch) {
        const auto order = problems::mnist_permutation(n, shuffle_rng());
        const std::span<const std::size_t> all(order);
        auto batch_of = [&](std::size_t b) { return all.subspan(b * o.batch, std::min(o.batch, n - b * o.batch)); };
        const bool teleport_now = m.teleport && schedule.contains(epoch);
        if (teleport_now) {
            // the paper's SGD algorithm: one teleport on each of the epoch's first B mini-batches
            for (std::size_t b = 0; b < std::min(o.teleport_batches, batches); ++b) {
                mnist_teleport t;
                t.batch = b;
                const auto e0 = clock_type::now();
                t.valid_before = evaluate_split(net, w, d.split.valid_x, d.split.valid_y, o.eval_block, false, true);
                m.eval_seconds += seconds_since(e0);
                const auto start = clock_type::now();
                set_batch(net, d, batch_of(b));
                teleport_network(net, action, w, settings, teleport_rng, t.report);
                t.seconds = seconds_since(start);
                t.report.step = epoch;
                elapsed += t.seconds;
                m.teleport_seconds += t.seconds;
                const auto e1 = clock_type::now();
                t.valid_after = evaluate_split(net, w, d.split.valid_x, d.split.valid_y, o.eval_block, false, true);
                m.eval_seconds += seconds_since(e1);
                m.teleports.push_back(std::move(t));
            }
        }
        const auto start = clock_type::now();
        for (std::size_t b = 0; b < batches; ++b) {
            set_batch(net, d, batch_of(b));
            net.evaluate_with_gradient(w, g);
            opt.step(state, w, g);
        }
        const double s = seconds_since(start);
        elapsed += s;
        m.train_seconds += s;
        record(epoch + 1, teleport_now);
        const auto& r = m.rows.back();
        const double wall = seconds_since(method_start);
        const double left = wall / double(epoch + 1) * double(o.epochs - epoch - 1);
        std::fprintf(stderr,
                     "mnist: %-17s epoch %3zu/%zu  loss %.5f  acc %.4f  val_loss %.5f  val_acc %.4f  %.2f s training, "
                     "%.0f s so far, ~%.0f s left%s\n",
                     m.label.c_str(), epoch + 1, o.epochs, r.train.loss, r.train.accuracy, r.valid.loss,
                     r.valid.accuracy, s, wall, left, teleport_now ? "  (teleported)" : "");
        if (!std::isfinite(r.train.loss)) {
            m.stop_reason = "the training loss is not finite";
            break;
        }
    }
}

void write_method_csv(const fs::path& path, const mnist_method& m) {
    csv_writer csv({"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norm_sq", "time_s", "teleported"});
    for (const auto& r : m.rows)
        csv.row(r.epoch, r.train.loss, r.train.accuracy, r.valid.loss, r.valid.accuracy, r.train.grad_norm_sq, r.time_s,
                r.teleported);
    csv.write(path);
}

json method_json(const mnist_method& m) {
    json j;
    j["name"] = m.name;
    j["label"] = m.label;
    j["optimizer"] = m.optimizer;
    j["learning_rate"] = m.learning_rate;
    j["teleport"] = m.teleport;
    j["csv"] = m.name + ".csv";
    const auto& last = m.rows.back();
    j["final_loss"] = json_number(last.train.loss);
    j["final_accuracy"] = json_number(last.train.accuracy);
    j["final_val_loss"] = json_number(last.valid.loss);
    j["final_val_accuracy"] = json_number(last.valid.accuracy);
    j["final_grad_norm_sq"] = json_number(last.train.grad_norm_sq);
    j["updates"] = last.epoch;  // epochs, as in the CSV
    j["stop_reason"] = m.stop_reason;
    j["total_seconds"] = m.train_seconds + m.teleport_seconds;
    j["teleport_seconds"] = m.teleport_seconds;
    j["evaluation_seconds"] = m.eval_seconds;
    std::size_t accepted = 0;
    json teleports = json::array();
    for (const auto& t : m.teleports) {
        json r = teleport_report_json(t.report);
        r["batch"] = t.batch;
        r["seconds"] = t.seconds;
        r["val_loss_before"] = json_number(t.valid_before.loss);
        r["val_loss_after"] = json_number(t.valid_after.loss);
        r["val_relative_loss_change"] = json_number((t.valid_after.loss - t.valid_before.loss) / t.valid_before.loss);
        r["val_accuracy_before"] = json_number(t.valid_before.accuracy);
        r["val_accuracy_after"] = json_number(t.valid_after.accuracy);
        teleports.push_back(std::move(r));
        accepted += t.report.accepted ? 1 : 0;
    }
    j["teleports_accepted"] = accepted;
    j["teleports"] = std::move(teleports);
    return j;
}

/// Figures like the paper's Fig. 4: training (solid) and validation (dashed) loss per epoch, and
/// ‖∇L‖² of the full training split per epoch; validation accuracy as a third figure.
std::vector<std::string> render_figures(const fs::path& dir, const std::vector<mnist_method>& methods,
                                        gnuplot_renderer& gnuplot) {
    if (gnuplot.terminal().empty()) return {};
    const std::string term = gnuplot.terminal();
    const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"};
    std::string s = "# Figures of the MNIST experiment (paper Fig. 4), written by the driver.\n"
                    "# Re-render in this folder with: gnuplot figures.gp\n"
                    "if (!exists(\"suffix\")) suffix = ''\nset encoding utf8\nset datafile separator ','\n";
    auto head = [&](const std::string& file, const std::string& title, const std::string& ylabel, bool logy) {
        s += "reset\nset terminal " + term + " size 800,520 enhanced\nset output '" + file + "'.suffix\n";
        s += "set datafile separator ','\nset grid\nset key top right\n";
        if (logy) s += "set logscale y\n";
        s += "set title " + gnuplot_quote(title) + "\nset xlabel 'epoch'\nset ylabel " + gnuplot_quote(ylabel) + "\n";
    };
    auto curve = [&](std::size_t i, const std::string& column, const std::string& dash, const std::string& suffix) {
        return "'" + methods[i].name + ".csv' every ::1 using 1:" + column + " with lines lw 2 dt " + dash +
               " lc rgb '" + colors[i % 4] + "' title " + gnuplot_quote(methods[i].label + suffix);
    };
    head("loss.png", "MNIST: training (solid) and validation (dashed) loss", "cross-entropy", true);
    std::string plot = "plot ";
    for (std::size_t i = 0; i < methods.size(); ++i)
        plot += curve(i, "2", "1", " train") + ", " + curve(i, "4", "2", " val") + (i + 1 < methods.size() ? ", " : "\n");
    s += plot;
    head("grad.png", "MNIST: squared gradient norm of the training loss", "||∇L||^2", true);
    plot = "plot ";
    for (std::size_t i = 0; i < methods.size(); ++i) plot += curve(i, "6", "1", "") + (i + 1 < methods.size() ? ", " : "\n");
    s += plot;
    head("accuracy.png", "MNIST: validation accuracy", "accuracy", false);
    s += "set key bottom right\n";
    plot = "plot ";
    for (std::size_t i = 0; i < methods.size(); ++i) plot += curve(i, "5", "1", "") + (i + 1 < methods.size() ? ", " : "\n");
    s += plot;
    return gnuplot.render(dir, "figures.gp", s, {"loss.png", "grad.png", "accuracy.png"});
}

/// PyTorch's nn.Linear default: every entry of W_m uniform in [−1/√fan_in, 1/√fan_in), fan_in =
/// d_{m−1}; drawn in double from std::mt19937_64(seed) in the order W1, W2, W3 (each row-major).
template <class Net>
typename Net::parameters linear_init(const Net& net, std::uint64_t seed) {
    using T = typename Net::value_type;
    std::mt19937_64 rng(seed);
    typename Net::parameters w = xt::zeros<T>({net.size()});
    const auto& widths = net.shape().widths;
    for (std::size_t m = 1; m < widths.size(); ++m) {
        const double bound = 1.0 / std::sqrt(double(widths[m - 1]));
        std::uniform_real_distribution<double> u(-bound, bound);
        auto v = net.weight(w, m);
        for (std::size_t i = 0; i < v.size(); ++i) v.data[i] = T(u(rng));
    }
    return w;
}

template <class T, class Action>
int run(const options& o, const std::vector<std::size_t>& widths, int argc, char** argv) {
    using net_type = problems::mlp<T, 3, activation, problems::mlp_loss::cross_entropy>;
    const auto schedule = parse_schedule(o.schedule, o.epochs);
    const auto pairs = parse_pairs(o.pairs, 3);
    if constexpr (!Action::data_free)
        for (std::size_t k : pairs)
            if (!schedule.empty() && o.batch > widths[k - 1])
                throw std::invalid_argument("the nonlinear action (eq. 8) needs full column rank: the input of layer " +
                                            std::to_string(k) + " has " + std::to_string(widths[k - 1]) +
                                            " rows but a batch has " + std::to_string(o.batch) +
                                            " samples (use a smaller --batch or --symmetry rescaling)");
    const Action action(tensor::network_shape{widths, false}, pairs, exp_map::exact);
    teleport_settings settings;
    settings.strategy = gradient_ascent{o.teleport_steps, o.teleport_lr};
    settings.map = exp_map::exact;
    // float32 rounding through the pseudo-inverse moves the batch loss by up to ~1e-6 relative
    settings.tolerance = o.tolerance > 0 ? o.tolerance : (std::is_same_v<T, float> ? 1e-5 : 1e-9);
    validate(settings);
    const gd sgd_opt{o.sgd_lr};
    const adagrad adagrad_opt{adagrad_settings{o.adagrad_lr, o.adagrad_epsilon}};

    const fs::path dir = o.out;
    make_output_directory(dir);  // before the long part, so that a bad --out fails at once

    const auto load_start = clock_type::now();
    mnist_data<T> d;
    d.split = problems::load_mnist<T>(o.data, o.seed, 0.8, o.limit);
    const std::size_t pixels = d.split.rows * d.split.cols;
    if (widths.front() != pixels)
        throw std::invalid_argument("--widths: the input width is " + std::to_string(widths.front()) +
                                    " but the images have " + std::to_string(pixels) + " pixels");
    if (o.batch > d.n_train())
        throw std::invalid_argument("--batch " + std::to_string(o.batch) + " is larger than the " +
                                    std::to_string(d.n_train()) + " training samples");
    d.train_rows = xt::transpose(d.split.train_x);
    const double load_seconds = seconds_since(load_start);
    std::fprintf(stderr, "mnist: %zu training and %zu validation images from %s (%.1f s), %s, widths %s\n",
                 d.n_train(), d.n_valid(), o.data.c_str(), load_seconds, o.precision.c_str(), join(widths).c_str());

    net_type net(widths, xt::zeros<T>({widths.front(), std::size_t{1}}), xt::zeros<T>({widths.back(), std::size_t{1}}));
    const auto w0 = linear_init(net, o.seed);

    std::vector<mnist_method> methods(4);
    methods[0] = {"sgd", "sgd", "gd (mini-batch)", o.sgd_lr, false, {}, {}, 0, 0, 0, "epochs"};
    methods[1] = {"sgd_teleport", "sgd + teleport", "gd (mini-batch)", o.sgd_lr, true, {}, {}, 0, 0, 0, "epochs"};
    methods[2] = {"adagrad", "adagrad", "adagrad", o.adagrad_lr, false, {}, {}, 0, 0, 0, "epochs"};
    methods[3] = {"adagrad_teleport", "adagrad + teleport", "adagrad", o.adagrad_lr, true, {}, {}, 0, 0, 0, "epochs"};
    train(methods[0], sgd_opt, net, action, w0, d, o, schedule, settings);
    train(methods[1], sgd_opt, net, action, w0, d, o, schedule, settings);
    train(methods[2], adagrad_opt, net, action, w0, d, o, schedule, settings);
    train(methods[3], adagrad_opt, net, action, w0, d, o, schedule, settings);

    // --- files
    for (const auto& m : methods) write_method_csv(dir / (m.name + ".csv"), m);
    json summary;
    summary["driver"] = "mnist";
    summary["experiment"] = "MNIST classification (Fig. 4)";
    summary["loss"] = net_type::formula();
    json config;
    config["seed"] = o.seed;
    config["data"] = o.data;
    config["limit"] = o.limit;
    config["train_samples"] = d.n_train();
    config["valid_samples"] = d.n_valid();
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
    config["pairs"] = std::vector<std::size_t>(pairs.begin(), pairs.end());
    json tp = teleport_settings_json(settings, state_policy::keep, std::vector<std::size_t>(schedule.begin(), schedule.end()));
    tp["batches"] = o.teleport_batches;
    tp["schedule_meaning"] = "teleport before these 0-based epochs, on the first B mini-batches of the epoch";
    config["teleport"] = tp;
    config["grad_norm_sq"] = "squared norm of the full gradient of the mean loss over the training split";
    config["time_s"] = "training and teleport wall time; evaluation of the splits excluded";
    config["evaluation_block"] = o.eval_block;
    config["out"] = dir.string();
    config["plot"] = o.plot;
    config["command_line"] = command_line_json(argc, argv);
    summary["config"] = config;
    summary["versions"] = library_versions();
    summary["methods"] = json::array();
    for (const auto& m : methods) summary["methods"].push_back(method_json(m));
    std::vector<std::string> figures;
    if (o.plot) {
        gnuplot_renderer gnuplot("mnist");
        figures = render_figures(dir, methods, gnuplot);
    }
    summary["figures"] = figures;
    write_json(dir / "summary.json", summary);

    // --- printed summary
    std::printf("MNIST (paper Fig. 4): L = %s, %s, widths %s, %zu/%zu train/validation images, batch %zu, %zu epochs\n",
                net_type::formula().c_str(), o.precision.c_str(), join(widths).c_str(), d.n_train(), d.n_valid(),
                o.batch, o.epochs);
    std::printf("%-18s %10s %9s %10s %9s %12s %10s %10s %9s\n", "method", "loss", "accuracy", "val_loss", "val_acc",
                "|grad L|^2", "train [s]", "teleport[s]", "teleports");
    for (const auto& m : methods) {
        const auto& r = m.rows.back();
        std::size_t accepted = 0;
        for (const auto& t : m.teleports) accepted += t.report.accepted ? 1 : 0;
        const std::string tele = m.teleport ? std::to_string(accepted) + "/" + std::to_string(m.teleports.size()) : "-";
        std::printf("%-18s %10.5f %9.4f %10.5f %9.4f %12.4e %10.2f %10.2f %9s\n", m.label.c_str(), r.train.loss,
                    r.train.accuracy, r.valid.loss, r.valid.accuracy, r.train.grad_norm_sq, m.train_seconds,
                    m.teleport_seconds, tele.c_str());
    }
    for (const auto& m : methods) {
        if (m.teleports.empty()) continue;
        std::printf("teleports of %s:\n%6s %5s %12s %10s %12s %12s %9s %11s %13s %8s  %s\n", m.label.c_str(), "epoch",
                    "batch", "batch loss", "rel.change", "|g|^2 before", "|g|^2 after", "gain", "val change",
                    "val accuracy", "time[s]", "result");
        for (const auto& t : m.teleports) {
            const auto& r = t.report;
            std::printf("%6zu %5zu %12.5e %10.2e %12.5e %12.5e %9.3g %+11.2e %6.4f>%6.4f %8.3f  %s\n", r.step, t.batch,
                        r.loss_before, r.relative_loss_change, r.grad_norm_sq_before, r.grad_norm_sq_after,
                        r.grad_norm_sq_after / r.grad_norm_sq_before,
                        (t.valid_after.loss - t.valid_before.loss) / t.valid_before.loss, t.valid_before.accuracy,
                        t.valid_after.accuracy, t.seconds,
                        r.accepted ? "accepted" : ("rejected: " + r.rejection).c_str());
        }
    }
    std::printf("wrote %s: sgd.csv sgd_teleport.csv adagrad.csv adagrad_teleport.csv summary.json", dir.string().c_str());
    for (const auto& name : figures) std::printf(" %s", name.c_str());
    std::printf("\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"MNIST classification (paper §6, Fig. 4): a LeakyReLU MLP with softmax cross-entropy trained by "
                 "mini-batch SGD and AdaGrad, each with and without symmetry teleportation (paper eq. 8 on mini-batches, "
                 "or the data-free rescaling); Fashion-MNIST by default, any MNIST-format folder with --data."};
    options o;
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
    app.add_option("--teleport-steps", o.teleport_steps, "gradient-ascent steps per teleport")
        ->check(positive_count())
        ->capture_default_str();
    app.add_option("--teleport-lr", o.teleport_lr, "gradient-ascent learning rate of a teleport")
        ->check(positive())
        ->capture_default_str();
    app.add_option("--symmetry", o.symmetry,
                   "nonlinear: paper eq. 8 (exact on the teleport's batch only); rescaling: positive per-neuron "
                   "scaling (exact on all data)")
        ->check(one_of({"nonlinear", "rescaling"}))
        ->capture_default_str();
    app.add_option("--pairs", o.pairs, "hidden layers whose (W_{k+1}, W_k) pair is teleported: 'all' or a list of 1,2")
        ->capture_default_str();
    app.add_option("--tolerance", o.tolerance,
                   "largest relative change of the batch loss of an accepted teleport (default 1e-5 in float, 1e-9 "
                   "in double)")
        ->check(positive());
    app.add_option("--eval-block", o.eval_block, "samples per block when evaluating a whole split")
        ->check(positive_count())
        ->capture_default_str();

    return run_driver("mnist", app, argc, argv, [&] {
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
            return o.symmetry == "rescaling" ? run<double, rescaling>(o, widths, argc, argv)
                                             : run<double, nonlinear>(o, widths, argc, argv);
        return o.symmetry == "rescaling" ? run<float, rescaling>(o, widths, argc, argv)
                                         : run<float, nonlinear>(o, widths, argc, argv);
    });
}
