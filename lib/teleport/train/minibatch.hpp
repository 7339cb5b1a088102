// teleport/train/minibatch.hpp — the mini-batch mode of the optimize loop, and the paper's SGD form
// of Algorithm 1 as one call.
//
//     minibatch_progress<Vec, decltype(state)> p{0, w0, opt.make_state(w0), std::mt19937_64(1), std::mt19937_64(2)};
//     minibatch_optimize(opt, f, shuffled_batches(f.samples(), 20), p, epochs, callbacks...);
//
//     minibatch_run run;   // one row per epoch, one record per teleport
//     minibatch_optimize_with_teleport(opt, f, shuffled_batches(f.samples(), 20), symmetry,
//                                      {teleport_schedule::once(1), 4, settings}, f, p, epochs, run);
//
// f is a separable function: L(w) is a mean over samples, and f.select_batch(samples) makes
// f.evaluate_with_gradient(w, g) the loss and gradient of those samples. Each epoch, the sampler
// cuts a fresh permutation of the samples (seeded by one draw of p.shuffle_rng) into mini-batches;
// for each mini-batch b, in order: select it, let the before_step hooks act, evaluate L_B and ∇L_B,
// call the step hooks, and apply opt.step. The whole state of a run between two epochs is the
// minibatch_progress p (epochs done, parameters, optimizer state, the two generators and the time
// spent), so a run continued from a saved p (train/checkpoint.hpp) is the uninterrupted run.
//
// Callbacks are those of optimize() (train/optimize.hpp: begin, before_step, teleport, step, end;
// k counts the steps of the whole run, epoch·batches + b), plus two optional epoch hooks:
//     c.begin_epoch(p, epoch, events)  before the epoch's first step; may change p.x, p.state and
//                                      p.teleport_rng (minibatch_teleport_hook teleports here);
//                                      epoch.select(b) selects the epoch's mini-batch b in f
//     c.end_epoch(p)                   after the epoch (p.epochs counts it); returns void, or bool
//                                      where true means stop (every end_epoch hook still runs)
// A mini-batch loss is noisy, so the loop does not stop on a non-finite one; record_epochs stops
// the run when the loss of the whole training split is not finite.
#pragma once

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "teleport/core/function.hpp"
#include "teleport/core/vector_ops.hpp"
#include "teleport/engine/engine.hpp"
#include "teleport/engine/settings.hpp"
#include "teleport/engine/symmetry.hpp"
#include "teleport/train/algorithm1.hpp"
#include "teleport/train/evaluation.hpp"
#include "teleport/train/optimize.hpp"
#include "teleport/train/sampling.hpp"

namespace teleport {

/// separable_function<F, Vec>: a mean over samples whose loss and gradient can be evaluated on a
/// mini-batch: f.samples(), f.select_batch(indices), then evaluate(w) and gradient(w, g) or the
/// fused evaluate_with_gradient(w, g) on that batch.
template <class F, class Vec>
concept separable_function = evaluable_with_gradient<F, Vec> && requires(F& f, const F& cf, std::span<const std::size_t> b) {
    { cf.samples() } -> std::convertible_to<std::size_t>;
    f.select_batch(b);
};

// --- the loop ------------------------------------------------------------------------------------

/// Where a mini-batch run stands between two epochs: all that is needed to continue it exactly.
template <class Vec, class State>
struct minibatch_progress {
    std::size_t epochs = 0;        ///< epochs done
    Vec x;                         ///< the parameters
    State state;                   ///< the optimizer's state
    std::mt19937_64 shuffle_rng;   ///< the sampler's generator
    std::mt19937_64 teleport_rng;  ///< the teleports' generator (θ₀, samples)
    double elapsed = 0;            ///< seconds of training steps and teleports so far (no evaluation)
};

/// An epoch as its begin_epoch hooks see it: its index and its mini-batches, which select(b) makes
/// the function's current data.
template <class F, class Batches>
class minibatch_epoch {
  public:
    minibatch_epoch(F& f, const Batches& batches, std::size_t index) : f_(&f), batches_(&batches), index_(index) {}
    std::size_t index() const { return index_; }
    std::size_t count() const { return batches_->count(); }
    std::span<const std::size_t> samples(std::size_t b) const { return (*batches_)[b]; }
    void select(std::size_t b) const { f_->select_batch(samples(b)); }

  private:
    F* f_;
    const Batches* batches_;
    std::size_t index_;
};

/// The outcome of minibatch_optimize: how far the run got (progress.epochs) and why it stopped.
struct minibatch_result {
    std::size_t epochs = 0;  ///< epochs done, the progress's count
    std::size_t steps = 0;   ///< updates applied in this call
    stop_reason reason = stop_reason::max_steps;  ///< max_steps: all epochs; callback: a hook asked
};

template <class C, class Progress, class Epoch, class Events>
concept has_begin_epoch_hook = requires(C& c, Progress& p, const Epoch& e, const Events& ev) { c.begin_epoch(p, e, ev); };

template <class C, class Progress>
concept has_end_epoch_hook = requires(C& c, const Progress& p) { c.end_epoch(p); };

/// Calls every begin_epoch hook, in order; each sees what the previous ones did.
template <class Progress, class Epoch, class Events, class... Callbacks>
void notify_begin_epoch(Progress& p, const Epoch& epoch, const Events& events, Callbacks&... cbs) {
    [[maybe_unused]] auto one = [&](auto& cb) {
        if constexpr (has_begin_epoch_hook<std::remove_reference_t<decltype(cb)>, Progress, Epoch, Events>)
            cb.begin_epoch(p, epoch, events);
    };
    (one(cbs), ...);
}

/// Calls every end_epoch hook; true if any asked to stop.
template <class Progress, class... Callbacks>
[[nodiscard]] bool notify_end_epoch(const Progress& p, Callbacks&... cbs) {
    bool stop = false;
    [[maybe_unused]] auto one = [&](auto& cb) {
        using C = std::remove_reference_t<decltype(cb)>;
        if constexpr (has_end_epoch_hook<C, Progress>) {
            using R = decltype(cb.end_epoch(p));
            if constexpr (std::is_void_v<R>) {
                cb.end_epoch(p);
            } else {
                static_assert(std::convertible_to<R, bool>, "a callback's end_epoch(progress) must return void or bool");
                if (static_cast<bool>(cb.end_epoch(p))) stop = true;
            }
        }
    };
    (one(cbs), ...);
    return stop;
}

/// Runs epochs p.epochs, …, epochs − 1 of mini-batch optimization (p updated in place).
template <class Optimizer, class F, class Sampler, class Vec, class State, class... Callbacks>
minibatch_result minibatch_optimize(const Optimizer& opt, F& f, const Sampler& sampler, minibatch_progress<Vec, State>& p,
                                    std::size_t epochs, Callbacks&&... cbs) {
    static_assert(vector_like<Vec>,
                  "minibatch_optimize requires the parameters to be a copyable 1-D container of float or double");
    static_assert(separable_function<F, Vec>,
                  "minibatch_optimize requires 'f' to be a separable function: samples(), select_batch(indices), "
                  "and evaluate(x) with gradient(x, g) or evaluate_with_gradient(x, g) on the selected batch");
    static_assert(batch_sampler<Sampler>,
                  "minibatch_optimize requires 'sampler' to give an epoch's mini-batches: samples(), count() and "
                  "epoch(rng)[b]");
    static_assert(optimizer_for<Optimizer, Vec>,
                  "minibatch_optimize requires 'opt' to provide name(), make_state(x) and step(state, x, g)");
    static_assert(std::same_as<State, optimizer_state_t<Optimizer, Vec>>,
                  "minibatch_optimize requires the progress's state to be the type opt.make_state(x) returns");
    using T = value_type_t<Vec>;
    using clock = std::chrono::steady_clock;
    if (sampler.samples() != f.samples())
        throw std::invalid_argument("minibatch_optimize: the sampler draws from " + std::to_string(sampler.samples()) +
                                    " samples but the function has " + std::to_string(f.samples()));

    Vec g = zeros_like(p.x);
    const loop_events<Vec, std::remove_reference_t<Callbacks>...> events(cbs...);
    notify_begin(std::as_const(p.x), cbs...);
    constexpr bool step_hooks = (has_step_hook<std::remove_reference_t<Callbacks>, Vec> || ...);

    minibatch_result result;
    optimize_result<T> last{std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::quiet_NaN(), 0,
                            stop_reason::max_steps};
    bool stop = false;
    while (!stop && p.epochs < epochs) {
        const auto batches = sampler.epoch(p.shuffle_rng);
        const minibatch_epoch<F, std::remove_const_t<decltype(batches)>> epoch(f, batches, p.epochs);
        notify_begin_epoch(p, epoch, events, cbs...);
        const auto start = clock::now();
        for (std::size_t b = 0; b < batches.count(); ++b) {
            const std::size_t k = p.epochs * batches.count() + b;
            f.select_batch(batches[b]);
            notify_before_step(k, p.x, p.state, events, cbs...);
            last.loss = static_cast<T>(evaluate_with_gradient(f, std::as_const(p.x), g));
            if constexpr (step_hooks) {
                last.grad_norm_sq = squared_norm(g);
                if (notify_step(step_info<T>{k, last.loss, last.grad_norm_sq}, std::as_const(p.x), cbs...)) {
                    stop = true;  // inside the epoch: p.epochs does not count it
                    result.reason = stop_reason::callback;
                    break;
                }
            }
            opt.step(p.state, p.x, std::as_const(g));
            ++result.steps;
        }
        p.elapsed += seconds_since(start);
        if (stop) break;
        ++p.epochs;
        if (notify_end_epoch(std::as_const(p), cbs...)) {
            stop = true;
            result.reason = stop_reason::callback;
        }
    }
    result.epochs = p.epochs;
    if (!std::isnan(last.loss)) last.grad_norm_sq = squared_norm(g);  // of the last mini-batch evaluated
    last.steps = result.steps;
    last.reason = result.reason;
    notify_end(last, std::as_const(p.x), cbs...);
    return result;
}

// --- Algorithm 1 in mini-batch mode --------------------------------------------------------------

/// One row per evaluated epoch: the point after `epoch` epochs.
struct epoch_record {
    std::size_t epoch = 0;
    split_metrics train, valid;
    double time_s = 0;        ///< training and teleport seconds so far (evaluation excluded)
    bool teleported = false;  ///< teleports were tried before this epoch's steps
};

/// One teleport of a mini-batch run, on mini-batch `batch` of the epoch report.step.
struct batch_teleport_record {
    teleport_report report;
    std::size_t batch = 0;                    ///< which of the epoch's first B mini-batches
    split_metrics valid_before, valid_after;  ///< loss and accuracy on the validation split
    double seconds = 0;
};

/// What a mini-batch run gave: its rows, its teleports and where the time went.
struct minibatch_run {
    static constexpr const char* completed = "epochs";

    std::vector<epoch_record> epochs;
    std::vector<batch_teleport_record> teleports;
    double train_seconds = 0, teleport_seconds = 0, eval_seconds = 0;
    std::string stop_reason = completed;  ///< why the run ended early, or `completed`

    bool stopped() const { return stop_reason != completed; }
};

/// The paper's SGD form of Algorithm 1: at each scheduled epoch, one teleport on each of the
/// epoch's first `batches` mini-batches (B), before the epoch's first step.
struct minibatch_teleports {
    teleport_schedule schedule = teleport_schedule::never();  ///< 0-based epochs
    std::size_t batches = 0;                                  ///< B; 0: no teleport
    teleport_settings settings{};
    state_policy policy = state_policy::keep;

    bool at(std::size_t epoch) const { return batches > 0 && schedule.contains(epoch); }
};

/// has_teleport_view<F>: f.teleport_view() names the function a teleport sees instead of f: a
/// data-parallel function (train/data_parallel.hpp) evaluates each rank's share of a mini-batch,
/// its view the whole mini-batch on this rank.
template <class F>
concept has_teleport_view = requires(const F& f) { f.teleport_view(); };

/// The function a teleport of f's selected batch evaluates: f, or f.teleport_view().
template <class F>
decltype(auto) teleport_function(const F& f) {
    if constexpr (has_teleport_view<F>) return f.teleport_view();
    else return f;
}

/// Teleports as minibatch_teleports asks: a begin_epoch hook. Each teleport goes through the engine
/// on the selected mini-batch with the progress's teleport_rng, its record (report, batch, time)
/// is appended to run.teleports, and then every callback's teleport(report, before, after) hook
/// sees it (report is that record's). The symmetry must be of the loss on f's selected batch (a
/// network_symmetry of the net the function feeds, say); it and the plan must outlive the hook.
/// When f has a teleport_view(), the teleport selects the mini-batch in that function and runs on
/// it (a data-parallel run teleports on the whole mini-batch on every rank).
template <symmetry S, class Optimizer, class F>
class minibatch_teleport_hook {
  public:
    /// f: the separable loss whose selected batch the symmetry sees (counterfactual accounting
    /// takes its look-ahead steps on that batch).
    minibatch_teleport_hook(const Optimizer& opt, const F& f, const S& symmetry, const minibatch_teleports& plan,
                            minibatch_run& run)
        : opt_(&opt), f_(&f), symmetry_(&symmetry), plan_(&plan), run_(&run) {
        if (plan.batches > 0) validate(plan.settings);
    }

    template <class State, class Epoch, class Events>
    void begin_epoch(minibatch_progress<typename S::point, State>& p, const Epoch& epoch, const Events& events) {
        if (!plan_->at(epoch.index())) return;
        if (plan_->batches > epoch.count())
            throw std::invalid_argument("mini-batch teleports: B = " + std::to_string(plan_->batches) +
                                        " but an epoch has only " + std::to_string(epoch.count()) + " mini-batches");
        for (std::size_t b = 0; b < plan_->batches; ++b) {
            const typename S::point before = p.x;
            const auto start = std::chrono::steady_clock::now();
            if constexpr (has_teleport_view<F>) f_->teleport_view().select_batch(epoch.samples(b));
            else epoch.select(b);
            batch_teleport_record t;
            t.batch = b;
            t.report.step = epoch.index();
            t.seconds = seconds_since(start);  // the batch's selection, then the teleport
            t.seconds += teleport_with_policy(*opt_, teleport_function(*f_), *symmetry_, p.x, p.state, plan_->settings, p.teleport_rng,
                                              plan_->policy, t.report);
            p.elapsed += t.seconds;
            run_->teleport_seconds += t.seconds;
            run_->teleports.push_back(std::move(t));
            events.teleport(run_->teleports.back().report, before, std::as_const(p.x));
        }
    }

  private:
    const Optimizer* opt_;
    const F* f_;
    const S* symmetry_;
    const minibatch_teleports* plan_;
    minibatch_run* run_;
};

/// epoch_evaluator<E, Vec>: the metrics of a point on the whole training split (with ‖∇L‖²) and
/// on the validation split (classification_data is one).
template <class E, class Vec>
concept epoch_evaluator = requires(const E& e, const Vec& x) {
    { e.train(x) } -> std::convertible_to<split_metrics>;
    { e.validation(x) } -> std::convertible_to<split_metrics>;
};

/// The rows and teleport evaluations of a minibatch_run: a callback of minibatch_optimize.
///   begin:     the starting point's row, when the run has none yet (a continued run has its rows);
///   teleport:  the validation metrics before (the evaluation just made: the epoch's row or the
///              previous teleport's) and after a teleport recorded by minibatch_teleport_hook;
///   end_epoch: the epoch's row; stops the run when the training loss is not finite.
/// Evaluation time goes to run.eval_seconds, the epoch's training time to run.train_seconds.
template <class Evaluator, class Vec, class State>
class record_epochs {
  public:
    record_epochs(const Evaluator& evaluate, const minibatch_progress<Vec, State>& progress, minibatch_run& run)
        : evaluate_(&evaluate), progress_(&progress), run_(&run), elapsed_(progress.elapsed) {}

    void begin(const Vec& x) {
        elapsed_ = progress_->elapsed;
        if (run_->epochs.empty()) record(x, false);
    }

    void teleport(const teleport_report& report, const Vec&, const Vec& after) {
        if (run_->teleports.empty() || &report != &run_->teleports.back().report)
            throw std::logic_error("record_epochs: a teleport was reported that no minibatch_teleport_hook recorded");
        auto& t = run_->teleports.back();
        t.valid_before = t.batch == 0 || run_->teleports.size() < 2 ? run_->epochs.back().valid
                                                                    : run_->teleports[run_->teleports.size() - 2].valid_after;
        const auto start = clock::now();
        t.valid_after = evaluate_->validation(after);
        run_->eval_seconds += seconds_since(start);
        elapsed_ += t.seconds;
    }

    bool end_epoch(const minibatch_progress<Vec, State>& p) {
        run_->train_seconds += p.elapsed - elapsed_;
        elapsed_ = p.elapsed;
        const std::size_t epoch = p.epochs - 1;
        record(p.x, !run_->teleports.empty() && run_->teleports.back().report.step == epoch);
        if (std::isfinite(run_->epochs.back().train.loss)) return false;
        run_->stop_reason = "the training loss is not finite";
        return true;
    }

  private:
    using clock = std::chrono::steady_clock;
    void record(const Vec& x, bool teleported) {
        const auto start = clock::now();
        epoch_record r;
        r.epoch = progress_->epochs;
        r.train = evaluate_->train(x);
        r.valid = evaluate_->validation(x);
        r.time_s = progress_->elapsed;
        r.teleported = teleported;
        run_->epochs.push_back(r);
        run_->eval_seconds += seconds_since(start);
    }

    const Evaluator* evaluate_;
    const minibatch_progress<Vec, State>* progress_;
    minibatch_run* run_;
    double elapsed_;  // progress.elapsed when the training time was last attributed
};

/// One line per epoch on a stream ("NAME: LABEL epoch e/E  loss …  acc …  val_loss …  val_acc …,
/// the epoch's training seconds, the wall time so far and an estimate of the rest"): a callback of
/// the mini-batch loop, after record_epochs.
class print_epochs {
  public:
    print_epochs(std::FILE* out, std::string name, std::string label, const minibatch_run& run, std::size_t epochs)
        : out_(out), name_(std::move(name)), label_(std::move(label)), run_(&run), epochs_(epochs) {}

    template <class Vec>
    void begin(const Vec&) {
        start_ = clock::now();
        train_seconds_ = run_->train_seconds;
    }

    template <class Progress>
    void end_epoch(const Progress& p) {
        const auto& r = run_->epochs.back();
        const std::size_t epoch = p.epochs - 1;
        if (!first_) first_ = epoch;
        const double s = run_->train_seconds - train_seconds_;
        const double wall = seconds_since(start_);
        const double left = wall / double(epoch + 1 - *first_) * double(epochs_ - epoch - 1);
        train_seconds_ = run_->train_seconds;
        std::fprintf(out_,
                     "%s: %-17s epoch %3zu/%zu  loss %.5f  acc %.4f  val_loss %.5f  val_acc %.4f  %.2f s training, "
                     "%.0f s so far, ~%.0f s left%s\n",
                     name_.c_str(), label_.c_str(), epoch + 1, epochs_, r.train.loss, r.train.accuracy, r.valid.loss,
                     r.valid.accuracy, s, wall, left, r.teleported ? "  (teleported)" : "");
    }

  private:
    using clock = std::chrono::steady_clock;
    std::FILE* out_;
    std::string name_, label_;
    const minibatch_run* run_;
    std::size_t epochs_;
    clock::time_point start_ = clock::now();
    double train_seconds_ = 0;
    std::optional<std::size_t> first_;  // the first epoch of this call
};

/// The paper's SGD with teleports (Algorithm 1, mini-batch form) as one call: minibatch_optimize
/// with a minibatch_teleport_hook and record_epochs, from p to `epochs` epochs; the rows and
/// teleports go to run (continued when p and run come from a checkpoint). Further callbacks run
/// after these two, so an end_epoch hook sees the epoch's row in run.epochs.back().
template <class Optimizer, class F, class Sampler, symmetry S, class Evaluator, class State, class... Callbacks>
minibatch_result minibatch_optimize_with_teleport(const Optimizer& opt, F& f, const Sampler& sampler, const S& symmetry,
                                                  const minibatch_teleports& plan, const Evaluator& evaluate,
                                                  minibatch_progress<typename S::point, State>& p, std::size_t epochs,
                                                  minibatch_run& run, Callbacks&&... callbacks) {
    static_assert(epoch_evaluator<Evaluator, typename S::point>,
                  "minibatch_optimize_with_teleport requires 'evaluate' to provide train(x) and validation(x) "
                  "returning split_metrics");
    if (plan.batches > sampler.count())
        throw std::invalid_argument("mini-batch teleports: B = " + std::to_string(plan.batches) +
                                    " but an epoch has only " + std::to_string(sampler.count()) + " mini-batches");
    minibatch_teleport_hook<S, Optimizer, F> hook(opt, f, symmetry, plan, run);
    record_epochs<Evaluator, typename S::point, State> record(evaluate, p, run);
    return minibatch_optimize(opt, f, sampler, p, epochs, hook, record, std::forward<Callbacks>(callbacks)...);
}

}  // namespace teleport
