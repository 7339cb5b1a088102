// drivers/mnist_options.hpp — the options of the mnist driver (drivers/mnist.cpp) and the
// schedule study (--sweep) they describe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>

#include "driver_common.hpp"
#include "experiment.hpp"
#include "minibatch_experiment.hpp"
#include "network_experiment.hpp"
#include "teleport/problems/mnist.hpp"
#include "teleport/train/schedule_sweep.hpp"

namespace teleport::drivers {

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
    search_options search;
    std::string symmetry = "nonlinear";
    std::string pairs = "all";
    std::string action_form = "minimal";
    std::size_t eval_block = 2000;
    std::string sweep;          // "", "when", "interval" or "batches"
    std::string sweep_values;   // "": the kind's default
    std::size_t sweep_teleports = 5;
    bool tolerance_given = false, schedule_given = false, teleport_batches_given = false, sweep_teleports_given = false;
    bool resume = false;
    std::size_t stop_after = 0;  // 0: never
};

/// --sweep: the schedule study of Fig. 5 from the options; the options that do not apply to its
/// kind are refused, and its values are checked against --epochs.
schedule_sweep make_sweep(const options& o, const std::set<std::size_t>& schedule) {
    schedule_sweep s;
    s.kind = parse_sweep_kind(o.sweep);
    // a given but empty list is refused in main(); the defaults are not empty
    s.values = o.sweep_values.empty() ? default_sweep_values(s.kind) : parse_count_list(o.sweep_values, "--sweep-values");
    if (s.kind == sweep_kind::when && o.schedule_given)
        throw std::invalid_argument("--schedule does not apply to --sweep when: its epochs are the --sweep-values");
    if (s.kind == sweep_kind::batches && o.teleport_batches_given)
        throw std::invalid_argument("--teleport-batches does not apply to --sweep batches: B are the --sweep-values");
    if (s.kind != sweep_kind::interval && o.sweep_teleports_given)
        throw std::invalid_argument("--sweep-teleports applies to --sweep interval only");
    if (s.kind == sweep_kind::interval) {
        if (schedule.size() != 1)
            throw std::invalid_argument("--sweep interval: --schedule must give the one epoch of the first teleport, got '" +
                                        o.schedule + "'");
        s.start = *schedule.begin();
        s.teleports = o.sweep_teleports;
    }
    if (s.kind == sweep_kind::batches && schedule.empty())
        throw std::invalid_argument("--sweep batches: --schedule none leaves no epoch to teleport at");
    s.schedule = schedule;
    s.batches = o.teleport_batches;
    try {
        s.check(o.epochs);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("--sweep-values: ") + e.what());
    }
    return s;
}

}  // namespace teleport::drivers
