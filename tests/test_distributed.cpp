// Data-parallel training and runs spread over ranks (train/data_parallel.hpp on MPI,
// train/distributed.hpp) on a tiny classification network, run by tests/distributed_test.py under
// `mpirun -np 2`. Every rank also does the single-process run itself, so each mode compares
// within one job:
//   compare       the data-parallel run (SGD and AdaGrad, teleports on 2 mini-batches at two
//                 epochs, a last mini-batch of 1 sample) against the single-process run: per
//                 epoch the losses, ‖∇L‖² and accuracies, every teleport's result and the final
//                 weights agree to 1e-12 relative (the largest differences are printed); on one
//                 rank the data-parallel path is the single-process one bit for bit
//   spread        three runs spread over the ranks under per-rank checkpoints, stopped after 2
//                 epochs and resumed, give the single-process records exactly
//   bad-data      rank 1 reads a label out of range: every rank exits with one error
//   other-data    rank 1 reads other images: every rank exits with one error
//   replica       rank 1 starts from other weights: the replica check stops every rank
//   alone         rank 1 fails alone inside the run: it aborts the job after the timeout
// Exit status 0 when the mode's expectations hold; the failure modes' messages and statuses are
// checked by the script.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "teleport/engine/network_symmetry.hpp"
#include "teleport/io/npy.hpp"
#include "teleport/problems/mlp.hpp"
#include "teleport/train/checkpoint.hpp"
#include "teleport/train/data_parallel.hpp"
#include "teleport/train/distributed.hpp"
#include "teleport/train/evaluation.hpp"
#include "teleport/train/minibatch.hpp"
#include "teleport/train/optimizers.hpp"

#include "tiny_network.hpp"

using namespace teleport;

namespace {

using tiny_network::leaky;
using tiny_network::net_type;
using tiny_network::vec;
using tiny_network::nonlinear;
using tiny_network::classes;
using tiny_network::widths;

constexpr std::size_t batch = 6, epochs = 4;

/// The shared tiny problem: 31 training samples (5 mini-batches of 6 and one of 1), 13 validation
/// samples, evaluation blocks of 4.
struct tiny_problem : tiny_network::problem<31, 13, batch, 4> {};

struct outcome {
    minibatch_run run;
    teleport_points<vec> moves;
    vec x;
};

/// 4 epochs of opt on the problem, through `f` (the data or a data_parallel of it), with `more` callbacks.
template <class Opt, class F, class... More>
outcome train(const Opt& opt, tiny_problem& pb, F& f, More&&... more) {
    outcome o;
    auto p = pb.progress(opt);
    const shuffled_batches batches(f.samples(), batch);
    minibatch_optimize_with_teleport(opt, f, batches, pb.symmetry, pb.plan, f, p, epochs, o.run,
                                     record_teleports<vec>(o.moves), std::forward<More>(more)...);
    o.x = p.x;
    return o;
}

double relative(double a, double b) { return a == b ? 0.0 : std::abs(a - b) / std::max(std::abs(a), std::abs(b)); }
double relative(const vec& a, const vec& b) {
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(a[i]));
    }
    return diff / scale;
}

void require(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error("check failed: " + what);
}

/// The largest relative differences between two outcomes, by kind.
struct differences {
    double loss = 0, grad = 0, weights = 0, teleported = 0;
    void add(const outcome& a, const outcome& b) {
        require(a.run.epochs.size() == epochs + 1 && b.run.epochs.size() == epochs + 1, "one row per epoch");
        for (std::size_t e = 0; e <= epochs; ++e) {
            const auto &x = a.run.epochs[e], &y = b.run.epochs[e];
            loss = std::max({loss, relative(x.train.loss, y.train.loss), relative(x.valid.loss, y.valid.loss)});
            grad = std::max(grad, relative(x.train.grad_norm_sq, y.train.grad_norm_sq));
            require(x.train.accuracy == y.train.accuracy && x.valid.accuracy == y.valid.accuracy, "equal accuracies");
            require(x.teleported == y.teleported, "teleports at the same epochs");
        }
        require(a.run.teleports.size() == 4 && b.run.teleports.size() == 4, "4 teleports in each run");
        for (std::size_t t = 0; t < 4; ++t) {
            require(a.run.teleports[t].report.accepted == b.run.teleports[t].report.accepted, "the same acceptance");
            loss = std::max(loss, relative(a.run.teleports[t].report.loss_after, b.run.teleports[t].report.loss_after));
            teleported = std::max(teleported, relative(a.moves.after[t], b.moves.after[t]));
        }
        weights = std::max(weights, relative(a.x, b.x));
    }
};

bool same_run(const minibatch_run& a, const minibatch_run& b) {
    auto same = [](const split_metrics& x, const split_metrics& y) {
        auto eq = [](double u, double v) { return u == v || (std::isnan(u) && std::isnan(v)); };
        return eq(x.loss, y.loss) && eq(x.accuracy, y.accuracy) && eq(x.grad_norm_sq, y.grad_norm_sq);
    };
    if (a.epochs.size() != b.epochs.size() || a.teleports.size() != b.teleports.size()) return false;
    for (std::size_t e = 0; e < a.epochs.size(); ++e)
        if (!same(a.epochs[e].train, b.epochs[e].train) || !same(a.epochs[e].valid, b.epochs[e].valid)) return false;
    for (std::size_t t = 0; t < a.teleports.size(); ++t)
        if (a.teleports[t].report.theta != b.teleports[t].report.theta ||
            a.teleports[t].report.loss_after != b.teleports[t].report.loss_after)
            return false;
    return true;
}

int compare(const communicator& comm) {
    differences diff;
    auto both = [&](const auto& opt) {
        tiny_problem single, parallel, one;
        const outcome a = train(opt, single, single.data);
        data_parallel f(comm, parallel.data);
        const outcome b = train(opt, parallel, f, replica_check(comm));
        diff.add(a, b);
        // one rank: the data-parallel path is the wrapped function's, bit for bit
        const single_process alone;
        data_parallel g(alone, one.data);
        const outcome c = train(opt, one, g);
        require(same_run(a.run, c.run) && (a.x == c.x), "one rank gives the single-process run bit for bit");
    };
    both(gd{0.1});
    both(adagrad{adagrad_settings{0.05, 1e-10}});
    std::printf("ranks %d: largest relative differences to the single-process run: losses %.3g, |grad|^2 %.3g, "
                "teleported weights %.3g, final weights %.3g\n",
                comm.size(), diff.loss, diff.grad, diff.teleported, diff.weights);
    require(comm.size() == 1 || diff.loss > 0 || diff.weights > 0 || diff.grad > 0,
            "the ranks' sums round differently from one process (else the split was not exercised)");
    require(diff.loss <= 1e-12 && diff.grad <= 1e-12 && diff.teleported <= 1e-12 && diff.weights <= 1e-12,
            "the data-parallel run agrees with the single-process run to 1e-12");
    return 0;
}

int spread(const communicator& comm) {
    const std::vector<std::string> names{"sgd", "sgd_slow", "adagrad"};
    const gd fast{0.1}, slow{0.05};
    const adagrad ada{adagrad_settings{0.05, 1e-10}};
    tiny_problem pb;
    auto run_one = [&](std::size_t i, const saved_progress<vec>* from, minibatch_run& record, auto& callback) {
        auto go = [&](const auto& opt) {
            auto p = pb.progress(opt);
            if (from) restore(*from, p);
            minibatch_optimize_with_teleport(opt, pb.data, pb.batches, pb.symmetry, pb.plan, pb.data, p, epochs, record,
                                             callback);
        };
        if (i == 0) go(fast);
        else if (i == 1) go(slow);
        else go(ada);
    };
    auto vectors = [&](std::size_t i) { return i == 2 ? optimizer_vector_count(ada, pb.w0) : std::size_t{0}; };
    const auto scratch = std::filesystem::temp_directory_path() / ("teleport_test_spread_" + std::to_string(::getpid()));
    // the single-process sequence (every rank), then the spread one stopped after 2 epochs per rank and resumed
    const single_process alone;
    checkpoint whole_ck(scratch / "whole", "test checkpoint 1", {{"ranks", 1}}, checkpoint_build({}), io::npy_files{});
    rank_sequence<io::npy_files, vec> whole(alone, true, whole_ck, names, epochs);
    require(whole.run(run_one, 1000), "the single-process sequence finishes");
    const nlohmann::ordered_json config{{"ranks", comm.size()}, {"rank", comm.rank()}};
    const auto dir = scratch / ("rank-" + std::to_string(comm.rank()));
    {
        checkpoint ck(dir, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
        rank_sequence<io::npy_files, vec> first(comm, true, ck, names, epochs);
        require(!first.run(run_one, 2), "the spread sequence stops on its budget");
    }
    checkpoint ck(dir, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
    rank_sequence<io::npy_files, vec> resumed(comm, true, ck, names, epochs);
    resumed.resume(pb.w0.size(), vectors);
    require(resumed.run(run_one, 1000), "the resumed sequence finishes");
    const auto records = resumed.records();
    ck.remove();
    std::filesystem::remove_all(scratch / ("rank-" + std::to_string(comm.rank())));
    if (comm.root()) {
        for (std::size_t i = 0; i < names.size(); ++i)
            require(same_run(records[i], whole.records()[i]), names[i] + " spread and resumed equals the single-process run");
        std::printf("ranks %d: %zu runs spread, stopped, resumed and gathered: equal to the single-process records\n",
                    comm.size(), names.size());
        std::filesystem::remove_all(scratch);
    }
    return 0;
}

/// The failure modes: rank 1 meets bad input (the ranks agree and exit with rank 1's error) or
/// fails alone inside the run.
int failing(const communicator& comm, const std::string& mode) {
    tiny_problem pb;
    collective(comm, [&] {
        if (mode == "bad-data" && comm.rank() == 1) pb.d.train_y[3] = 7;
        (void)one_hot<double>(pb.d.train_y, classes);  // a loader's check of the labels
    });
    if (mode == "other-data" && comm.rank() == 1) pb.d.train_x(2, 5) += 1e-9;
    require_identical(comm, pb.d.train_x, "the training images");
    if (mode == "replica" && comm.rank() == 1) pb.w0[0] += 1e-12;
    struct fail_alone {
        const communicator* comm;
        bool active;
        void end_epoch(const minibatch_progress<vec, optimizer_state_t<gd, vec>>& p) const {
            if (active && comm->rank() == 1 && p.epochs == 2) throw std::runtime_error("ran out of something");
        }
    };
    data_parallel f(comm, pb.data);
    (void)train(gd{0.1}, pb, f, replica_check(comm), fail_alone{&comm, mode == "alone"});
    std::printf("the run completed\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    auto body = [&](const communicator& comm) {
        if (mode == "compare") return compare(comm);
        if (mode == "spread") return spread(comm);
        if (mode == "bad-data" || mode == "other-data" || mode == "replica" || mode == "alone")
            return failing(comm, mode);
        throw std::invalid_argument("unknown mode '" + mode +
                                    "' (compare, spread, bad-data, other-data, replica, alone)");
    };
    if (!started_by_mpirun()) {
        try {
            return body(single_process{});
        } catch (const std::exception& e) {
            std::fprintf(stderr, "test_distributed: error: %s\n", e.what());
            return 2;
        }
    }
    return run_on_ranks(argc, argv, "test_distributed", body, 3.0);
}
