// teleport/train/data_parallel.hpp — data-parallel training and runs spread over ranks, written
// against an abstract communicator so that nothing here includes <mpi.h>:
// train/distributed.hpp implements it on MPI (built only when MPI is found), single_process is
// the one-rank case every build has.
//
//     classification_data data(net, train_x, train_y, valid_x, valid_y, 2000);   // every rank: all data
//     data_parallel f(comm, data);          // rank r evaluates its share of each mini-batch
//     minibatch_optimize_with_teleport(opt, f, shuffled_batches(f.samples(), 20), symmetry, plan,
//                                      f, p, epochs, run, replica_check(comm));
//
// Steps: every rank holds the whole data set and draws the same permutation (the same seed), so
// every rank knows the global mini-batch B; rank r of R takes the contiguous share
// B[⌊|B|r/R⌋, ⌊|B|(r+1)/R⌋), evaluates its mean loss and gradient there and weights them by its
// share of |B|; one sum over the ranks (communicator::sum, in double) gives every rank L_B and
// ∇L_B, and every rank applies the same update. Teleports: the mini-batch teleport hook selects
// the whole mini-batch in f.teleport_view() (the wrapped function, on this rank) and teleports
// there — the same arithmetic on the same data with the same generator on every rank, i.e. the
// single-process teleport; replica_check then compares the weights of all ranks (a hash) after
// every teleport and every epoch. Evaluation of the splits is spread over the ranks by blocks
// and summed. docs/distributed.md gives the reasons and the measured agreement.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "teleport/core/vector_ops.hpp"
#include "teleport/train/checkpoint.hpp"
#include "teleport/train/evaluation.hpp"
#include "teleport/train/minibatch.hpp"

namespace teleport {

/// The number of processes mpirun started this one among (Open MPI's OMPI_COMM_WORLD_SIZE, or a
/// PMI launcher's PMI_SIZE); 0 when it was not started by mpirun. Needs no MPI: a build without it
/// can tell that it was started by mpirun and refuse.
inline int launched_ranks() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* v = std::getenv(name); v != nullptr && std::atoi(v) > 0) return std::atoi(v);
    return 0;
}

/// True when this process was started by mpirun (Open MPI, or a launcher that sets PMI/PMIx).
inline bool started_by_mpirun() { return launched_ranks() > 0 || std::getenv("PMIX_RANK") != nullptr; }

/// A step that failed on some rank, thrown on every rank: "rank r: what went wrong there".
class rank_failure : public std::runtime_error {
  public:
    rank_failure(int rank, const std::string& what)
        : std::runtime_error("rank " + std::to_string(rank) + ": " + what), rank_(rank) {}
    int rank() const { return rank_; }

  private:
    int rank_;
};

/// The ranks a run is spread over. Every member is collective: each rank calls it at the same
/// point of the run, in the same order.
class communicator {
  public:
    virtual ~communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    bool root() const { return rank() == 0; }

    /// Every rank's values summed elementwise, on every rank (in place).
    virtual void sum(std::span<double> values) const = 0;
    /// Throws rank_failure on every rank when `bytes` is not the same on every rank ("what" names
    /// the bytes: "the weights after epoch 3", say).
    virtual void require_identical(std::span<const std::byte> bytes, const std::string& what) const = 0;
    /// error: what failed on this rank, "" if nothing. Throws rank_failure (the lowest failing
    /// rank's message) on every rank when any rank failed.
    virtual void agree(const std::string& error) const = 0;
    /// On the root: every rank's text, by rank; elsewhere: empty.
    virtual std::vector<std::string> gather(const std::string& text) const = 0;
};

/// One process: sums and agreements are the values themselves.
class single_process final : public communicator {
  public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void sum(std::span<double>) const override {}
    void require_identical(std::span<const std::byte>, const std::string&) const override {}
    void agree(const std::string&) const override {}
    std::vector<std::string> gather(const std::string& text) const override { return {text}; }
};

/// Runs fn on every rank and then agrees: when fn threw on any rank, every rank throws (the
/// lowest failing rank's message as a rank_failure; one process rethrows fn's own exception).
/// fn must not itself call the communicator. Returns what fn returned.
template <class Fn>
auto collective(const communicator& comm, Fn&& fn) -> std::invoke_result_t<Fn&> {
    using R = std::invoke_result_t<Fn&>;
    std::exception_ptr failure;
    std::string error;
    auto note = [&] {
        failure = std::current_exception();
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            error = e.what();
        } catch (...) {
            error = "an unknown error";
        }
        if (error.empty()) error = "an error without a message";
    };
    if constexpr (std::is_void_v<R>) {
        try {
            fn();
        } catch (...) {
            note();
        }
        comm.agree(error);
        if (failure) std::rethrow_exception(failure);
    } else {
        std::optional<R> result;
        try {
            result.emplace(fn());
        } catch (...) {
            note();
        }
        comm.agree(error);
        if (failure) std::rethrow_exception(failure);
        return std::move(*result);
    }
}

/// Throws rank_failure on every rank unless the values of v are the same on every rank.
template <class Vec>
void require_identical(const communicator& comm, const Vec& v, const std::string& what) {
    const auto* data = reinterpret_cast<const std::byte*>(v.data());
    comm.require_identical(std::span<const std::byte>(data, v.size() * sizeof(*v.data())), what);
}

/// data_parallel_function<F>: a separable function over samples that every rank holds in full
/// (classification_data is one), whose splits can also be evaluated block by block.
template <class F>
concept data_parallel_function = requires(F& f, const F& cf, std::span<const std::size_t> b, const typename F::parameters& w,
                                          typename F::parameters& g, split_sums& sums) {
    { cf.samples() } -> std::convertible_to<std::size_t>;
    f.select_batch(b);
    cf.evaluate_with_gradient(w, g);
    { cf.train(w) } -> std::convertible_to<split_metrics>;
    { cf.validation(w) } -> std::convertible_to<split_metrics>;
    cf.accumulate_train(w, std::size_t{}, std::size_t{}, sums);
    cf.accumulate_validation(w, std::size_t{}, std::size_t{}, sums);
    { cf.train_samples() } -> std::convertible_to<std::size_t>;
    { cf.validation_samples() } -> std::convertible_to<std::size_t>;
};

/// A separable function whose mini-batch loss and gradient are summed over the ranks of comm,
/// each rank evaluating its share of the batch (see the top of this file); also the epoch
/// evaluator of the mini-batch loop, its splits spread over the ranks by evaluation blocks. On
/// one rank every call is the wrapped function's own. f and comm must outlive it.
template <class F>
class data_parallel {
  public:
    using parameters = typename F::parameters;
    using T = typename F::T;

    data_parallel(const communicator& comm, F& f) : comm_(&comm), f_(&f) {
        static_assert(data_parallel_function<F>,
                      "data_parallel requires 'f' to provide samples(), select_batch(indices), "
                      "evaluate_with_gradient(w, g), train(w), validation(w), accumulate_train/validation(w, first, "
                      "stride, sums) and train/validation_samples()");
    }

    std::size_t samples() const { return f_->samples(); }

    /// The global mini-batch: this rank's share becomes the wrapped function's data.
    void select_batch(std::span<const std::size_t> batch) {
        const auto R = std::size_t(comm_->size()), r = std::size_t(comm_->rank());
        if (R == 1) {
            f_->select_batch(batch);
            return;
        }
        const std::size_t first = batch.size() * r / R, last = batch.size() * (r + 1) / R;
        batch_ = batch.size();
        share_ = last - first;
        if (share_ > 0) f_->select_batch(batch.subspan(first, share_));
    }

    /// L_B(w) and ∇L_B(w) of the global mini-batch, on every rank.
    T evaluate_with_gradient(const parameters& w, parameters& g) const {
        if (comm_->size() == 1) return f_->evaluate_with_gradient(w, g);
        if (g.size() != w.size()) g = zeros_like(w);
        buffer_.resize(w.size() + 1);
        if (share_ > 0) {
            const double weight = double(share_) / double(batch_);
            buffer_.back() = weight * double(f_->evaluate_with_gradient(w, g));
            for (std::size_t i = 0; i < g.size(); ++i) buffer_[i] = weight * double(g[i]);
        } else {
            std::fill(buffer_.begin(), buffer_.end(), 0.0);
        }
        comm_->sum(buffer_);
        for (std::size_t i = 0; i < g.size(); ++i) g[i] = T(buffer_[i]);
        return T(buffer_.back());
    }

    /// What a teleport evaluates: the wrapped function, on the whole mini-batch on this rank.
    F& teleport_view() const { return *f_; }

    /// Loss, accuracy and ‖∇L‖² over the training split, its blocks spread over the ranks.
    split_metrics train(const parameters& w) const {
        if (comm_->size() == 1) return f_->train(w);
        split_sums sums;
        sums.gradient.assign(w.size(), 0.0);
        f_->accumulate_train(w, std::size_t(comm_->rank()), std::size_t(comm_->size()), sums);
        return summed(sums, f_->train_samples());
    }
    /// Loss and accuracy over the validation split, its blocks spread over the ranks.
    split_metrics validation(const parameters& w) const {
        if (comm_->size() == 1) return f_->validation(w);
        split_sums sums;
        f_->accumulate_validation(w, std::size_t(comm_->rank()), std::size_t(comm_->size()), sums);
        return summed(sums, f_->validation_samples());
    }

    const communicator& comm() const { return *comm_; }

  private:
    split_metrics summed(split_sums& sums, std::size_t n) const {
        buffer_.assign(sums.gradient.size() + 2, 0.0);
        buffer_[0] = sums.loss;
        buffer_[1] = sums.correct;
        std::copy(sums.gradient.begin(), sums.gradient.end(), buffer_.begin() + 2);
        comm_->sum(buffer_);
        sums.loss = buffer_[0];
        sums.correct = buffer_[1];
        std::copy(buffer_.begin() + 2, buffer_.end(), sums.gradient.begin());
        return split_metrics_of(sums, n, true);
    }

    const communicator* comm_;
    F* f_;
    std::size_t batch_ = 0, share_ = 0;
    mutable std::vector<double> buffer_;
};

/// A callback of the mini-batch loop that checks that every rank holds the same weights after
/// each teleport and each epoch (rank_failure on every rank when not).
class replica_check {
  public:
    explicit replica_check(const communicator& comm) : comm_(&comm) {}

    template <class Vec>
    void teleport(const teleport_report& report, const Vec&, const Vec& after) {
        require_identical(*comm_, after, "the weights after the teleport before epoch " + std::to_string(report.step));
    }
    template <class Progress>
    void end_epoch(const Progress& p) {
        require_identical(*comm_, p.x, "the weights after epoch " + std::to_string(p.epochs));
    }

  private:
    const communicator* comm_;
};

/// Named mini-batch runs on the ranks of comm: `spread`, run i on rank i mod R, each rank's runs
/// one after another under its own checkpoint (run_sequence), and the records gathered on the
/// root; otherwise every run on every rank (data-parallel runs; only the root writes the shared
/// checkpoint, the others read it). One rank: run_sequence itself.
template <class Files, class Vec>
class rank_sequence {
  public:
    /// ck: this rank's checkpoint (spread) or the shared one.
    rank_sequence(const communicator& comm, bool spread, checkpoint<Files>& ck, std::vector<std::string> names,
                  std::size_t epochs)
        : comm_(&comm), spread_(spread && comm.size() > 1), names_(std::move(names)), epochs_(epochs),
          mine_(indices()), sequence_(ck, local_names(), epochs) {
        if (!spread_ && !comm.root()) ck.set_read_only();
    }

    /// Reads the checkpoint (run_sequence::resume; vectors(i) for the global run i).
    template <class VectorCount>
    void resume(std::size_t size, VectorCount&& vectors) {
        sequence_.resume(size, [&](std::size_t k) { return vectors(mine_[k]); });
    }

    /// The global index of this rank's first run still to do (names().size() when none is left).
    std::size_t first() const { return sequence_.first() < mine_.size() ? mine_[sequence_.first()] : names_.size(); }
    /// Finished runs: this rank's, counted over all of them on every rank.
    std::size_t finished() const { return sequence_.first(); }
    const auto& saved() const { return sequence_.saved(); }
    /// This rank's runs (global indices).
    const std::vector<std::size_t>& mine() const { return mine_; }

    /// Does this rank's runs (run_one(i, from, record, callback) with the global index i, as
    /// run_sequence::run); true on every rank when every rank finished all its runs, false when
    /// any stopped on its budget of epochs.
    template <class RunOne>
    bool run(RunOne&& run_one, std::size_t budget) {
        const bool done = sequence_.run(
                [&](std::size_t k, auto* from, minibatch_run& record, auto& callback) {
                    run_one(mine_[k], from, record, callback);
                },
                budget);
        if (!spread_) return done;
        double stopped[1] = {done ? 0.0 : 1.0};
        comm_->sum(stopped);
        return stopped[0] == 0;
    }

    /// Every run's record on the root (gathered from the ranks when spread), in the order of the
    /// names; on the other ranks of a spread sequence only their own are filled in.
    std::vector<minibatch_run> records() const {
        std::vector<minibatch_run> all(names_.size());
        const auto& local = sequence_.records();
        for (std::size_t k = 0; k < mine_.size(); ++k) all[mine_[k]] = local[k];
        if (!spread_) return all;
        nlohmann::ordered_json mine = nlohmann::ordered_json::array();
        for (std::size_t k = 0; k < mine_.size(); ++k) mine.push_back(minibatch_run_json(names_[mine_[k]], local[k]));
        const auto texts = comm_->gather(mine.dump());
        for (std::size_t r = 1; r < texts.size(); ++r) {
            const auto runs = nlohmann::ordered_json::parse(texts[r]);
            for (std::size_t k = 0; k < runs.size(); ++k) {
                const std::size_t i = r + k * std::size_t(comm_->size());
                all[i] = read_minibatch_run(runs[k], names_[i], epochs_);
            }
        }
        return all;
    }

  private:
    std::vector<std::size_t> indices() const {
        std::vector<std::size_t> mine;
        for (std::size_t i = 0; i < names_.size(); ++i)
            if (!spread_ || i % std::size_t(comm_->size()) == std::size_t(comm_->rank())) mine.push_back(i);
        return mine;
    }
    std::vector<std::string> local_names() const {
        std::vector<std::string> names;
        for (std::size_t i : mine_) names.push_back(names_[i]);
        return names;
    }

    const communicator* comm_;
    bool spread_;
    std::vector<std::string> names_;
    std::size_t epochs_;
    std::vector<std::size_t> mine_;
    run_sequence<Files, Vec> sequence_;
};

}  // namespace teleport
