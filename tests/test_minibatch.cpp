// The mini-batch loop (train/minibatch.hpp) and checkpoint/resume (train/checkpoint.hpp) on a tiny
// classification network: the loop against a loop written out here, its hooks, the paper's SGD
// teleports, and the law that a run stopped, saved and continued from its checkpoint is the
// uninterrupted run, bit for bit; a checkpoint of another configuration or with a damaged array
// is refused.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "teleport/engine/network_symmetry.hpp"
#include "teleport/io/npy.hpp"
#include "teleport/problems/mlp.hpp"
#include "teleport/problems/mnist.hpp"
#include "teleport/train/checkpoint.hpp"
#include "teleport/train/evaluation.hpp"
#include "teleport/train/minibatch.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/train/schedule_sweep.hpp"

#include "tiny_network.hpp"

using namespace teleport;

namespace {

using tiny_network::leaky;
using tiny_network::net_type;
using tiny_network::vec;
using tiny_network::nonlinear;
using tiny_network::classes;
using tiny_network::widths;
using json = nlohmann::ordered_json;

constexpr std::size_t batch = 4;


/// A fresh folder under the temporary directory, removed at the end of the test.
struct scratch_dir {
    std::filesystem::path path;
    explicit scratch_dir(const std::string& name)
        : path(std::filesystem::temp_directory_path() / ("teleport_test_" + name + "_" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path);
    }
    ~scratch_dir() { std::filesystem::remove_all(path); }
};

/// The shared tiny problem (30 training and 12 validation samples, batches of 4, evaluation blocks of
/// 8) and what the checkpoint tests add to it.
struct tiny_problem : tiny_network::problem<30, 12, batch, 8> {
    /// A run_sequence's run_one for a single method: 3 epochs with opt, resumed from `from` if given.
    template <class Opt>
    auto runner(const Opt& opt) {
        return [this, &opt](std::size_t, const saved_progress<vec>* from, minibatch_run& record, auto& callback) {
            auto p = progress(opt);
            if (from) restore(*from, p);
            minibatch_optimize_with_teleport(opt, data, batches, symmetry, plan, data, p, 3, record, callback);
        };
    }
    template <class Opt>
    auto vector_counts(const Opt& opt) const {
        return [this, &opt](std::size_t) { return optimizer_vector_count(opt, w0); };
    }
};

bool same_metrics(const split_metrics& a, const split_metrics& b) {
    auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
    return same(a.loss, b.loss) && same(a.accuracy, b.accuracy) && same(a.grad_norm_sq, b.grad_norm_sq);
}

/// Two records agree in everything but the times.
void check_same_record(const minibatch_run& a, const minibatch_run& b) {
    REQUIRE(a.epochs.size() == b.epochs.size());
    for (std::size_t e = 0; e < a.epochs.size(); ++e) {
        CHECK(a.epochs[e].epoch == b.epochs[e].epoch);
        CHECK(same_metrics(a.epochs[e].train, b.epochs[e].train));
        CHECK(same_metrics(a.epochs[e].valid, b.epochs[e].valid));
        CHECK(a.epochs[e].teleported == b.epochs[e].teleported);
    }
    REQUIRE(a.teleports.size() == b.teleports.size());
    for (std::size_t t = 0; t < a.teleports.size(); ++t) {
        const auto &x = a.teleports[t], &y = b.teleports[t];
        CHECK(x.report.step == y.report.step);
        CHECK(x.batch == y.batch);
        CHECK(x.report.theta0 == y.report.theta0);
        CHECK(x.report.theta == y.report.theta);
        CHECK(x.report.loss_after == y.report.loss_after);
        CHECK(x.report.grad_norm_sq_after == y.report.grad_norm_sq_after);
        CHECK(x.report.accepted == y.report.accepted);
        CHECK(same_metrics(x.valid_before, y.valid_before));
        CHECK(same_metrics(x.valid_after, y.valid_after));
    }
    CHECK(a.stop_reason == b.stop_reason);
}

/// Records the order of the loop's hooks; asks to stop after the second epoch.
struct epoch_hooks {
    std::vector<std::string> calls;
    std::vector<std::size_t> steps;
    void begin(const vec&) { calls.push_back("begin"); }
    template <class P, class E, class Ev>
    void begin_epoch(P& progress, const E& epoch, const Ev&) {
        CHECK(epoch.index() == progress.epochs);
        CHECK(epoch.count() == 8);
        calls.push_back("begin_epoch " + std::to_string(epoch.index()));
    }
    template <class T>
    void step(const step_info<T>& info, const vec&) {
        CHECK(std::isfinite(info.loss));
        steps.push_back(info.step);
    }
    template <class P>
    bool end_epoch(const P& progress) {
        calls.push_back("end_epoch " + std::to_string(progress.epochs));
        return progress.epochs == 2;
    }
    template <class R>
    void end(const R& r, const vec&) {
        CHECK(r.reason == stop_reason::callback);
        calls.push_back("end");
    }
};

}  // namespace

TEST_CASE("random_permutation is a seeded Fisher-Yates permutation; shuffled_batches partition the samples",
          "[minibatch]") {
    for (std::uint64_t seed : {0u, 1u, 99u}) {
        auto p = random_permutation(50, seed);
        CHECK(p == random_permutation(50, seed));
        auto sorted = p;
        std::sort(sorted.begin(), sorted.end());
        std::vector<std::size_t> identity(50);
        std::iota(identity.begin(), identity.end(), std::size_t{0});
        CHECK(sorted == identity);
        CHECK(p != identity);
    }
    // the loader's split and the loop's shuffles are the same permutation
    CHECK(problems::mnist_permutation(1000, 7) == random_permutation(1000, 7));

    const shuffled_batches sampler(23, 5);
    CHECK(sampler.count() == 5);
    std::mt19937_64 rng(3), copy(3);
    const auto epoch = sampler.epoch(rng);
    REQUIRE(epoch.count() == 5);
    CHECK(epoch[4].size() == 3);
    std::vector<std::size_t> all;
    for (std::size_t b = 0; b < epoch.count(); ++b) all.insert(all.end(), epoch[b].begin(), epoch[b].end());
    CHECK(all == random_permutation(23, copy()));  // one draw per epoch seeds the permutation
    CHECK(rng == copy);
    CHECK_THROWS_AS(shuffled_batches(4, 5), std::invalid_argument);
}

TEST_CASE("minibatch_optimize takes one step per mini-batch, in the sampler's order", "[minibatch]") {
    tiny_problem pb;
    const adagrad opt{adagrad_settings{0.05, 1e-10}};
    auto p = pb.progress(opt);
    const auto r = minibatch_optimize(opt, pb.data, pb.batches, p, 3);
    CHECK(r.epochs == 3);
    CHECK(r.steps == 3 * pb.batches.count());
    CHECK(r.reason == stop_reason::max_steps);
    CHECK(p.epochs == 3);
    CHECK(p.state.steps == 3 * pb.batches.count());

    // the same run written out: a permutation per epoch from one draw, select, gradient, step
    vec w = pb.w0, g;
    auto state = opt.make_state(w);
    std::mt19937_64 shuffle(1);
    for (std::size_t e = 0; e < 3; ++e) {
        const auto order = random_permutation(30, shuffle());
        for (std::size_t a = 0; a < order.size(); a += batch) {
            pb.data.select_batch(std::span<const std::size_t>(order).subspan(a, std::min(batch, order.size() - a)));
            pb.net.evaluate_with_gradient(w, g);
            opt.step(state, w, g);
        }
    }
    CHECK((p.x == w));
    CHECK(p.shuffle_rng == shuffle);
    CHECK(p.teleport_rng == std::mt19937_64(2));  // no teleport, no draw
}

TEST_CASE("minibatch_optimize calls the epoch and step hooks and stops when end_epoch asks", "[minibatch]") {
    tiny_problem pb;
    const gd opt{0.1};
    auto p = pb.progress(opt);
    epoch_hooks h;
    const auto r = minibatch_optimize(opt, pb.data, pb.batches, p, 5, h);
    CHECK(r.reason == stop_reason::callback);
    CHECK(r.epochs == 2);
    CHECK(p.epochs == 2);
    CHECK(h.calls == std::vector<std::string>{"begin", "begin_epoch 0", "end_epoch 1", "begin_epoch 1", "end_epoch 2", "end"});
    std::vector<std::size_t> expected(16);
    std::iota(expected.begin(), expected.end(), std::size_t{0});
    CHECK(h.steps == expected);  // k counts the steps of the run: epoch · batches + b
}

TEST_CASE("minibatch_optimize_with_teleport teleports on the first B mini-batches of the scheduled epochs",
          "[minibatch]") {
    tiny_problem pb;
    const gd opt{0.1};
    auto p = pb.progress(opt);
    minibatch_run run;
    teleport_points<vec> moves;
    const auto r = minibatch_optimize_with_teleport(opt, pb.data, pb.batches, pb.symmetry, pb.plan, pb.data, p, 4, run,
                                                    record_teleports<vec>(moves));
    CHECK(r.epochs == 4);
    REQUIRE(run.epochs.size() == 5);  // the start and one row per epoch
    for (std::size_t e = 0; e < 5; ++e) {
        CHECK(run.epochs[e].epoch == e);
        CHECK(run.epochs[e].teleported == (e == 2 || e == 3));  // the rows after the epochs that teleported
        CHECK(run.epochs[e].train.loss > 0);
        CHECK(run.epochs[e].valid.accuracy >= 0);
    }
    CHECK(run.epochs.back().train.loss < run.epochs.front().train.loss);
    REQUIRE(run.teleports.size() == 4);
    REQUIRE(moves.before.size() == 4);
    std::size_t accepted = 0;
    for (std::size_t t = 0; t < 4; ++t) {
        const auto& rec = run.teleports[t];
        CHECK(rec.report.step == 1 + t / 2);
        CHECK(rec.batch == t % 2);
        CHECK(std::isfinite(rec.valid_after.loss));
        // the validation "before" is the evaluation just made: the epoch's row or the previous teleport's
        const auto& before = rec.batch == 0 ? run.epochs[rec.report.step].valid : run.teleports[t - 1].valid_after;
        CHECK(same_metrics(rec.valid_before, before));
        CHECK(same_metrics(rec.valid_before, pb.data.validation(moves.before[t])));
        CHECK(same_metrics(rec.valid_after, pb.data.validation(moves.after[t])));
        if (rec.report.accepted) {
            ++accepted;
            CHECK(rec.report.relative_loss_change <= pb.plan.settings.tolerance);
            CHECK((moves.after[t] != moves.before[t]));
        } else {
            CHECK((moves.after[t] == moves.before[t]));
        }
    }
    CHECK(accepted > 0);
}

TEST_CASE("a run stopped and continued from its checkpoint is the uninterrupted run", "[minibatch][checkpoint]") {
    tiny_problem pb;
    const gd sgd{0.1};
    const adagrad ada{adagrad_settings{0.05, 1e-10}};
    const std::vector<std::string> names{"sgd_teleport", "adagrad_teleport"};
    constexpr std::size_t epochs = 4;
    const json config = {{"epochs", epochs}, {"batch", batch}};
    scratch_dir dir("minibatch_checkpoint");

    // the runs, each through the one call; final weights kept for the comparison
    std::vector<vec> final_w(2);
    auto run_one = [&](std::size_t i, const saved_progress<vec>* from, minibatch_run& record, auto& callback) {
        auto go = [&](const auto& opt) {
            auto p = pb.progress(opt);
            if (from) restore(*from, p);
            minibatch_optimize_with_teleport(opt, pb.data, pb.batches, pb.symmetry, pb.plan, pb.data, p, epochs, record,
                                             callback);
            final_w[i] = p.x;
        };
        if (i == 0) go(sgd);
        else go(ada);
    };
    auto vectors = [&](std::size_t i) { return i == 0 ? optimizer_vector_count(sgd, pb.w0) : optimizer_vector_count(ada, pb.w0); };

    checkpoint whole_ck(dir.path / "whole", "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
    run_sequence<io::npy_files, vec> whole(whole_ck, names, epochs);
    REQUIRE(whole.run(run_one, std::numeric_limits<std::size_t>::max()));
    const auto whole_w = final_w;
    REQUIRE(whole.records()[1].teleports.size() == 4);

    // stopped inside the first run, at a run's end, inside the second (AdaGrad's accumulator saved)
    for (std::size_t stop : {1, 4, 6}) {
        const auto folder = dir.path / ("stop" + std::to_string(stop));
        {
            checkpoint ck(folder, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
            run_sequence<io::npy_files, vec> first(ck, names, epochs);
            CHECK_FALSE(first.run(run_one, stop));
            CHECK(std::filesystem::exists(ck.file()));
        }
        final_w.assign(2, vec{});
        checkpoint ck(folder, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
        run_sequence<io::npy_files, vec> resumed(ck, names, epochs);
        resumed.resume(pb.w0.size(), vectors);
        CHECK(resumed.first() == stop / epochs);
        CHECK(resumed.saved().has_value() == (stop % epochs != 0));
        CHECK(ck.build_difference().empty());
        REQUIRE(resumed.run(run_one, std::numeric_limits<std::size_t>::max()));
        for (std::size_t i = 0; i < 2; ++i) check_same_record(resumed.records()[i], whole.records()[i]);
        CHECK((final_w[1] == whole_w[1]));
        if (stop < epochs) CHECK((final_w[0] == whole_w[0]));
        ck.remove();
        CHECK_FALSE(std::filesystem::exists(folder));
    }
}

TEST_CASE("a checkpoint of another configuration, or with a damaged array, is refused", "[minibatch][checkpoint]") {
    tiny_problem pb;
    const adagrad ada{adagrad_settings{0.05, 1e-10}};
    const json config = {{"epochs", 3}};
    scratch_dir dir("minibatch_refuse");
    auto run_one = pb.runner(ada);
    auto vectors = pb.vector_counts(ada);
    checkpoint ck(dir.path, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
    run_sequence<io::npy_files, vec> first(ck, {"adagrad"}, 3);
    REQUIRE_FALSE(first.run(run_one, 1));

    auto problem = [&](const json& cfg, const std::string& format) {
        checkpoint other(dir.path, format, cfg, checkpoint_build({}), io::npy_files{});
        run_sequence<io::npy_files, vec> seq(other, {"adagrad"}, 3);
        try {
            seq.resume(pb.w0.size(), vectors);
        } catch (const checkpoint_error& e) {
            return e.problem;
        }
        FAIL("the checkpoint was accepted");
        return checkpoint_problem::missing;
    };
    CHECK(problem({{"epochs", 4}}, "test checkpoint 1") == checkpoint_problem::other_configuration);
    CHECK(problem(config, "another checkpoint 1") == checkpoint_problem::corrupt);
    {
        checkpoint other(dir.path, "test checkpoint 1", config, checkpoint_build({{"compiler", "another"}}), io::npy_files{});
        other.load();
        CHECK(other.build_difference().find("/versions") == 0);  // allowed, but said
    }
    // an array altered after it was written: its checksum no longer matches
    std::filesystem::path weights;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path))
        if (entry.path().filename().string().starts_with("weights-")) weights = entry.path();
    REQUIRE_FALSE(weights.empty());
    {
        std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-3, std::ios::end);
        f.put('\x55');
    }
    CHECK(problem(config, "test checkpoint 1") == checkpoint_problem::corrupt);
    std::filesystem::remove(weights);
    CHECK(problem(config, "test checkpoint 1") == checkpoint_problem::corrupt);
    std::filesystem::remove(ck.file());
    CHECK(problem(config, "test checkpoint 1") == checkpoint_problem::missing);
}

TEST_CASE("a finished run with a row missing, or a folder for checkpoint.json, is refused naming the file",
          "[minibatch][checkpoint]") {
    tiny_problem pb;
    const adagrad ada{adagrad_settings{0.05, 1e-10}};
    const json config = {{"epochs", 3}};
    scratch_dir dir("minibatch_finished");
    auto run_one = pb.runner(ada);
    auto vectors = pb.vector_counts(ada);
    checkpoint ck(dir.path, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
    run_sequence<io::npy_files, vec> first(ck, {"a", "b"}, 3);
    REQUIRE_FALSE(first.run(run_one, 3));  // "a" finished after its 3 epochs, "b" not begun

    auto refusal = [&] {
        checkpoint other(dir.path, "test checkpoint 1", config, checkpoint_build({}), io::npy_files{});
        run_sequence<io::npy_files, vec> seq(other, {"a", "b"}, 3);
        try {
            seq.resume(pb.w0.size(), vectors);
        } catch (const checkpoint_error& e) {
            CHECK(std::string(e.what()).find(ck.file().string()) != std::string::npos);
            return std::string(e.what());
        }
        FAIL("the checkpoint was accepted");
        return std::string();
    };
    json doc = json::parse(read_text_file(ck.file()));
    REQUIRE(doc.at("finished").size() == 1);
    REQUIRE(doc["finished"][0]["rows"].size() == 4);
    doc["finished"][0]["rows"].erase(3);
    write_file_atomic(ck.file(), doc.dump(2));
    CHECK(refusal().find("3 rows for 3 epochs") != std::string::npos);

    std::filesystem::remove(ck.file());
    std::filesystem::create_directory(ck.file());
    CHECK(refusal().find("is a folder") != std::string::npos);
}

TEST_CASE("a schedule sweep: one variant per value, each a schedule that fits the run", "[minibatch]") {
    const schedule_sweep when{sweep_kind::when, {0, 2, 4}, {}, 0, 0, 3};
    const schedule_sweep interval{sweep_kind::interval, {1, 3}, {}, 1, 3, 2};
    const schedule_sweep batches{sweep_kind::batches, {1, 4}, {0, 2}, 0, 0, 0};
    for (const auto* s : {&when, &interval, &batches}) {
        REQUIRE_NOTHROW(s->check(8));
        const auto variants = s->variants();
        REQUIRE(variants.size() == s->values.size());
        for (std::size_t i = 0; i < variants.size(); ++i) {
            CHECK(variants[i].value == s->values[i]);
            CHECK(!variants[i].epochs.empty());
            CHECK(*variants[i].epochs.rbegin() < 8);  // every teleport before the last epoch
            CHECK(variants[i].batches == (s->kind == sweep_kind::batches ? s->values[i] : s->batches));
        }
    }
    CHECK(when.variants()[1].epochs == std::set<std::size_t>{2});
    CHECK(interval.variants()[1].epochs == std::set<std::size_t>{1, 4, 7});
    CHECK(batches.variants()[0].epochs == batches.schedule);
    CHECK_THROWS_AS(when.check(4), std::invalid_argument);      // epoch 4 of 4
    CHECK_THROWS_AS(interval.check(7), std::invalid_argument);  // 1 + 2·3 = 7
    CHECK_THROWS_AS((schedule_sweep{sweep_kind::batches, {0}, {1}, 0, 0, 0}.check(8)), std::invalid_argument);
    CHECK_THROWS_AS((schedule_sweep{sweep_kind::when, {1, 1}, {}, 0, 0, 1}.check(8)), std::invalid_argument);
    for (auto k : {sweep_kind::when, sweep_kind::interval, sweep_kind::batches}) CHECK(parse_sweep_kind(to_string(k)) == k);
}
