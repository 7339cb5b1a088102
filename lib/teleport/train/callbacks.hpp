// Ready-made callbacks for optimize() (see optimize.hpp for the protocol).
//
//     teleport::step_history<double> h;
//     auto r = teleport::optimize(opt, f, x, 1000,
//                                 teleport::record_history{h},          // h.loss, h.grad_norm_sq
//                                 teleport::stop_below{1e-12},          // loss < 1e-12
//                                 teleport::print_progress{std::cerr, 100});
//
// Callbacks may be passed as temporaries: each one holds its settings by value
// and its output (a history, a stream) by reference, so the results outlive
// the call and one history can collect several chained optimize() calls.
// Their hooks accept any floating type, so a double history can record a
// float run.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <ios>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "teleport/train/optimize.hpp"

namespace teleport {

/// One entry per step hook call: the loss and ‖∇L‖² at each point an update
/// started from, in order.
template <std::floating_point T>
struct step_history {
    std::vector<T> loss;
    std::vector<T> grad_norm_sq;

    [[nodiscard]] std::size_t size() const noexcept { return loss.size(); }
    void clear() noexcept
    {
        loss.clear();
        grad_norm_sq.clear();
    }
};

/// Appends every step's loss and ‖∇L‖² to an external step_history, which must
/// outlive the optimize() call.
template <std::floating_point T>
class record_history {
public:
    explicit record_history(step_history<T>& h) noexcept : h_{&h} {}

    template <std::floating_point U, class Vec>
    void step(const step_info<U>& info, const Vec&) const
    {
        h_->loss.push_back(static_cast<T>(info.loss));
        h_->grad_norm_sq.push_back(static_cast<T>(info.grad_norm_sq));
    }

private:
    step_history<T>* h_;
};

/// Stops as soon as the loss is strictly below a threshold.
class stop_below {
public:
    explicit stop_below(double loss_threshold) : threshold_{loss_threshold}
    {
        // A NaN threshold would silently never stop.
        if (std::isnan(loss_threshold))
            throw std::invalid_argument("stop_below: loss threshold must not be NaN");
    }

    template <std::floating_point U, class Vec>
    [[nodiscard]] bool step(const step_info<U>& info, const Vec&) const noexcept
    {
        return static_cast<double>(info.loss) < threshold_;
    }

    [[nodiscard]] double threshold() const noexcept { return threshold_; }

private:
    double threshold_;
};

/// Stops as soon as the gradient norm ‖∇L‖ (not its square) is strictly below
/// a threshold, the usual first-order stationarity test.
class stop_when_grad_below {
public:
    explicit stop_when_grad_below(double grad_norm_threshold) : threshold_{grad_norm_threshold}
    {
        if (!(grad_norm_threshold >= 0))
            throw std::invalid_argument(
                "stop_when_grad_below: gradient norm threshold must be non-negative (got " +
                detail::format_number(grad_norm_threshold) + ")");
    }

    template <std::floating_point U, class Vec>
    [[nodiscard]] bool step(const step_info<U>& info, const Vec&) const noexcept
    {
        // Compare squares: no square root per step, and info already has ‖∇L‖².
        return static_cast<double>(info.grad_norm_sq) < threshold_ * threshold_;
    }

    [[nodiscard]] double threshold() const noexcept { return threshold_; }

private:
    double threshold_;
};

/// Writes one line every `every_k` steps (steps 0, k, 2k, ...) and a final
/// line with the result. The stream's formatting state is left untouched.
class print_progress {
public:
    explicit print_progress(std::ostream& os, std::size_t every_k = 1) : os_{&os}, every_{every_k}
    {
        if (every_k == 0)
            throw std::invalid_argument("print_progress: every_k must be positive");
    }

    template <std::floating_point U, class Vec>
    void step(const step_info<U>& info, const Vec&) const
    {
        if (info.step % every_ != 0)
            return;
        std::ostringstream line;
        line << std::scientific;
        line.precision(6);
        line << "step " << info.step << "  loss " << info.loss << "  grad_norm_sq "
             << info.grad_norm_sq << '\n';
        *os_ << line.str();
    }

    template <std::floating_point U, class Vec>
    void end(const optimize_result<U>& r, const Vec&) const
    {
        std::ostringstream line;
        line << std::scientific;
        line.precision(6);
        line << "stopped (" << to_string(r.reason) << ") after " << r.steps
             << " steps  loss " << r.loss << "  grad_norm_sq " << r.grad_norm_sq << '\n';
        *os_ << line.str();
    }

private:
    std::ostream* os_;
    std::size_t every_;
};

} // namespace teleport
