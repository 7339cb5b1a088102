// teleport/train/schedule_sweep.hpp — the schedule study of the paper's Fig. 5: one hyperparameter
// of the mini-batch teleport schedule varies, everything else stays, and each value gives one run.
//
//     schedule_sweep s{sweep_kind::interval, {1, 2, 5}, {}, 0, 5, 4};  // 5 teleports from epoch 0, B = 4
//     s.check(80);                    // throws std::invalid_argument when a value does not fit 80 epochs
//     for (const auto& v : s.variants()) ...  // v.epochs = {0, k, 2k, 3k, 4k}, v.batches = 4, for k = 1, 2, 5
//
// when:     one teleport before epoch k, for each value k;
// interval: `teleports` teleports every k epochs from epoch `start`, for each value k;
// batches:  teleports at the epochs of `schedule` on the first B mini-batches, for each value B.
// Each variant is a schedule and B for the mini-batch loop (train/minibatch.hpp,
// minibatch_teleports); runs compared this way share their initialization and batches.
#pragma once

#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace teleport {

/// Which hyperparameter of the teleport schedule a sweep varies.
enum class sweep_kind { when, interval, batches };

inline std::string_view to_string(sweep_kind k) {
    return k == sweep_kind::when ? "when" : k == sweep_kind::interval ? "interval" : "batches";
}

inline sweep_kind parse_sweep_kind(std::string_view name) {
    if (name == "when") return sweep_kind::when;
    if (name == "interval") return sweep_kind::interval;
    if (name == "batches") return sweep_kind::batches;
    throw std::invalid_argument("unknown schedule sweep '" + std::string(name) + "' (when, interval or batches)");
}

/// The values a sweep takes when none are given. The paper's text does not list the values of its
/// Fig. 5; these cover the range it describes (before training, right after the first epoch,
/// later; intervals from every epoch to every 10th; B = 1 to 8).
inline std::vector<std::size_t> default_sweep_values(sweep_kind k) {
    if (k == sweep_kind::when) return {0, 1, 2, 5, 10};
    if (k == sweep_kind::interval) return {1, 2, 5, 10};
    return {1, 2, 4, 8};
}

/// One run of a sweep: teleport before these 0-based epochs, on the first `batches` mini-batches.
struct schedule_variant {
    std::size_t value = 0;         ///< the swept value it stands for
    std::set<std::size_t> epochs;  ///< the teleport schedule
    std::size_t batches = 0;       ///< B
};

struct schedule_sweep {
    sweep_kind kind = sweep_kind::when;
    std::vector<std::size_t> values;
    std::set<std::size_t> schedule;  ///< batches: the epochs teleported at
    std::size_t start = 0;           ///< interval: the epoch of the first teleport
    std::size_t teleports = 0;       ///< interval: teleports per variant
    std::size_t batches = 0;         ///< when, interval: B

    /// Throws std::invalid_argument, one line, when a value is repeated or does not fit in a run of
    /// `epochs` epochs: an epoch at or after the last, an interval or B of 0, or an interval whose
    /// last teleport, start + (teleports − 1)·k, is not before the last epoch.
    void check(std::size_t epochs) const {
        if (kind == sweep_kind::batches && schedule.empty())
            throw std::invalid_argument("a sweep of B needs at least one epoch to teleport at");
        std::set<std::size_t> seen;
        for (std::size_t v : values) {
            if (!seen.insert(v).second) throw std::invalid_argument(std::to_string(v) + " is listed twice");
            if (kind == sweep_kind::when && v >= epochs)
                throw std::invalid_argument("epoch " + std::to_string(v) + " is not below the " + std::to_string(epochs) +
                                            " epochs");
            if (kind != sweep_kind::when && v == 0)
                throw std::invalid_argument(std::string(kind == sweep_kind::interval ? "an interval" : "a number of mini-batches") +
                                            " must be positive");
            if (kind == sweep_kind::interval && (start >= epochs || (teleports > 1 && v > (epochs - 1 - start) / (teleports - 1))))
                throw std::invalid_argument(std::to_string(teleports) + " teleports every " + std::to_string(v) +
                                            " epochs from epoch " + std::to_string(start) + " do not fit in " +
                                            std::to_string(epochs) + " epochs");
        }
    }

    /// One variant per value, in the order of the values.
    std::vector<schedule_variant> variants() const {
        std::vector<schedule_variant> out;
        for (std::size_t v : values) {
            schedule_variant r{v, {}, batches};
            if (kind == sweep_kind::when) r.epochs = {v};
            else if (kind == sweep_kind::interval)
                for (std::size_t k = 0; k < teleports; ++k) r.epochs.insert(start + k * v);
            else r.epochs = schedule, r.batches = v;
            out.push_back(std::move(r));
        }
        return out;
    }
};

}  // namespace teleport
