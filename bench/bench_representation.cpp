// The similarity transform (A, B, C) ↦ (T A T⁻¹, T B, C T⁻¹), T ∈ GL(3), on θ = (A row by row,
// B, C) of a 3-state model: declared as a representation (groups/teleport/groups/representation.hpp)
// against the same action written by hand with explicit 3×3 loops (computing T⁻¹ itself), in the
// same binary. Timed:
//   apply                 g·θ
//   apply_derivative_9    Σ_k ⟨dj, d/dt (g + t ∂g/∂θ_k)·θ⟩ over the 9 generators: the action's part
//                         of one gradient of the teleport objective (the ∂g/∂θ_k precomputed). g is
//                         hidden from the optimizer before each call, as in the objective, where
//                         ∂g/∂θ_k is computed (out of line) between the calls
//   apply_derivative_9_same_g  the same loop with g visible: the compiler may compute what depends
//                         on g alone (g⁻¹) once for the 9 calls, which it does for the hand-written one
//   apply_derivative_9_element  the same 9 calls as the teleport objective makes them
//                         (teleport::detail::act_derivative): an action that takes the group element
//                         with its inverse (the representation) gets it and inverts nothing; one that
//                         takes g alone (the hand-written one) gets g
//   jacobian              ∂(g·θ)/∂θ (15×15; state_policy::transport uses it)
//   teleport_paper        teleport_once on the state-space loss of docs/examples/state_space_fit.hpp
//                         (K = 200) at the docs example's teleport (after 500 AdaGrad steps): ‖∇L‖²
//                         by 10 steps of gradient ascent at a fixed rate (a fixed amount of work)
//   teleport_lookahead    the docs example's teleport: the loss's decrease over AdaGrad's next 10
//                         steps, by the default safeguarded search
// Names are "similarity/<quantity>/<representation|hand_written>" (bench/ratios.py: the ratios,
// target representation / hand-written ≤ 1.5). Before timing, the program checks that both
// actions agree to 1e-12 (relative) and stops otherwise.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "../docs/examples/state_space_fit.hpp"
#include "teleport/teleport.hpp"

namespace {

namespace tg = teleport::groups;
using point = std::array<double, 15>;
using matrix = tg::small_matrix<3>;

// --- the hand-written action -------------------------------------------------------------------
struct similarity_by_hand {
    using algebra = tg::gl<3>;
    static constexpr std::size_t n = 15;

    // T⁻¹ = adj(T) / det T
    static matrix inverse(const matrix& t) {
        matrix r;
        r(0, 0) = t(1, 1) * t(2, 2) - t(1, 2) * t(2, 1);
        r(0, 1) = t(0, 2) * t(2, 1) - t(0, 1) * t(2, 2);
        r(0, 2) = t(0, 1) * t(1, 2) - t(0, 2) * t(1, 1);
        r(1, 0) = t(1, 2) * t(2, 0) - t(1, 0) * t(2, 2);
        r(1, 1) = t(0, 0) * t(2, 2) - t(0, 2) * t(2, 0);
        r(1, 2) = t(0, 2) * t(1, 0) - t(0, 0) * t(1, 2);
        r(2, 0) = t(1, 0) * t(2, 1) - t(1, 1) * t(2, 0);
        r(2, 1) = t(0, 1) * t(2, 0) - t(0, 0) * t(2, 1);
        r(2, 2) = t(0, 0) * t(1, 1) - t(0, 1) * t(1, 0);
        const double det = t(0, 0) * r(0, 0) + t(0, 1) * r(1, 0) + t(0, 2) * r(2, 0);
        for (double& e : r.a) e /= det;
        return r;
    }

    // out(A) = L A R, out(B) = L B, out(C) = C R: g·θ with (L, R) = (T, T⁻¹); the derivative's
    // terms with (dT, T⁻¹) and (T, d(T⁻¹)).
    static void transform(const matrix& l, const matrix& r, const point& w, point& out, bool with_b, bool with_c) {
        double la[3][3];
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j) la[i][j] = l(i, 0) * w[j] + l(i, 1) * w[3 + j] + l(i, 2) * w[6 + j];
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j) out[3 * i + j] += la[i][0] * r(0, j) + la[i][1] * r(1, j) + la[i][2] * r(2, j);
        for (std::size_t i = 0; i < 3; ++i) {
            if (with_b) out[9 + i] += l(i, 0) * w[9] + l(i, 1) * w[10] + l(i, 2) * w[11];
            if (with_c) out[12 + i] += w[12] * r(0, i) + w[13] * r(1, i) + w[14] * r(2, i);
        }
    }

    point apply(const matrix& t, const point& w) const {
        point out{};
        transform(t, inverse(t), w, out, true, true);
        return out;
    }

    // d(T⁻¹) = −T⁻¹ dT T⁻¹
    point apply_derivative(const matrix& t, const matrix& dt, const point& w) const {
        const matrix ti = inverse(t);
        double m[3][3];
        matrix dti;
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j) m[i][j] = dt(i, 0) * ti(0, j) + dt(i, 1) * ti(1, j) + dt(i, 2) * ti(2, j);
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j) dti(i, j) = -(ti(i, 0) * m[0][j] + ti(i, 1) * m[1][j] + ti(i, 2) * m[2][j]);
        point out{};
        transform(dt, ti, w, out, true, false);  // dT A T⁻¹, dT B
        transform(t, dti, w, out, false, true);  // T A d(T⁻¹), C d(T⁻¹)
        return out;
    }

    tg::small_matrix<15> jacobian(const matrix& t, const point&) const {
        const matrix ti = inverse(t);
        tg::small_matrix<15> j;
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t c = 0; c < 3; ++c) {
                for (std::size_t k = 0; k < 3; ++k)
                    for (std::size_t l = 0; l < 3; ++l) j(3 * i + c, 3 * k + l) = t(i, k) * ti(l, c);
                j(9 + i, 9 + c) = t(i, c);
                j(12 + i, 12 + c) = ti(c, i);
            }
        return j;
    }
};

const auto similarity = tg::make_representation<tg::gl<3>>(tg::conjugation<3>{}, tg::left<3, 1>{},
                                                           tg::right_inverse<1, 3>{});
const similarity_by_hand by_hand;

// --- the docs example's problem ----------------------------------------------------------------
constexpr point truth{0.8, 0.2, 0.0, -0.2, 0.7, 0.1, 0.0, 0.1, 0.5, 1.0, 0.5, -0.3, 1.0, 0.0, 0.5};

const teleport::adagrad optimizer{0.05};  // the docs example's optimizer

struct problem {
    simulation::state_space_fit fit;
    point start{};                                  // the truth perturbed
    point at_teleport{};                            // after 500 AdaGrad steps from the start
    decltype(optimizer.make_state(point{})) state;  // AdaGrad's state there
    std::array<double, 9> theta{};                  // a group element g = e^X (entries of X about 0.1)
};

problem make_problem() {
    std::mt19937_64 rng(1);
    problem p;
    p.fit = simulation::measure(truth, 200, rng);
    std::normal_distribution<double> normal(0.0, 0.1);
    for (std::size_t i = 0; i < 15; ++i) p.start[i] = truth[i] + normal(rng);
    for (double& t : p.theta) t = normal(rng);
    p.at_teleport = p.start;
    p.state = optimizer.make_state(p.start);
    point g{};
    for (int k = 0; k < 500; ++k) {
        (void)p.fit.evaluate_with_gradient(p.at_teleport, g);
        optimizer.step(p.state, p.at_teleport, g);
    }
    return p;
}
const problem state_space = make_problem();

double relative_difference(const double* a, const double* b, std::size_t n) {
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < n; ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max({scale, std::abs(a[i]), std::abs(b[i])});
    }
    return scale == 0 ? diff : diff / scale;
}

// A benchmark of a wrong baseline is worthless: both actions must agree first.
bool actions_agree() {
    const auto e = tg::exponential<tg::gl<3>>(state_space.theta);
    const point& w = state_space.start;
    double largest = relative_difference(similarity.apply(e.g, w).data(), by_hand.apply(e.g, w).data(), 15);
    for (std::size_t k = 0; k < 9; ++k) {
        const auto dg = tg::exponential_derivative<tg::gl<3>>(state_space.theta, k, e);
        largest = std::max(largest, relative_difference(similarity.apply_derivative(e.g, dg, w).data(),
                                                        by_hand.apply_derivative(e.g, dg, w).data(), 15));
    }
    largest = std::max(largest, relative_difference(similarity.jacobian(e.g, w).a.data(), by_hand.jacobian(e.g, w).a.data(), 225));
    char text[32];
    std::snprintf(text, sizeof text, "%.1e", largest);
    benchmark::AddCustomContext("similarity.largest_relative_difference", text);
    if (!(largest <= 1e-12))
        std::fprintf(stderr, "the representation and the hand-written action differ by %.3e (relative) > 1e-12; not benchmarking\n", largest);
    return largest <= 1e-12;
}

// --- benchmarks ----------------------------------------------------------------------------------
// One call of the action at a fixed g and θ (apply or jacobian).
template <class Call>
void at_fixed_point(benchmark::State& state, Call call) {
    const matrix g = tg::exponential<tg::gl<3>>(state_space.theta).g;
    point w = state_space.start;
    for (auto _ : state) {
        benchmark::DoNotOptimize(w);
        auto out = call(g, w);
        benchmark::DoNotOptimize(out);
    }
}

// How the 9 calls get the group element (see the header comment).
enum class passing { g_hidden, g_visible, element };

template <passing how, class Action>
void apply_derivative_9(benchmark::State& state, const Action& action) {
    const auto e = tg::exponential<tg::gl<3>>(state_space.theta);
    std::array<matrix, 9> dg;
    for (std::size_t k = 0; k < 9; ++k) dg[k] = tg::exponential_derivative<tg::gl<3>>(state_space.theta, k, e);
    point w = state_space.start, dj = truth;
    std::array<double, 9> grad{};
    for (auto _ : state) {
        benchmark::DoNotOptimize(w);
        for (std::size_t k = 0; k < 9; ++k) {
            auto element = e;
            if constexpr (how != passing::g_visible) benchmark::DoNotOptimize(element);
            if constexpr (how == passing::element)
                grad[k] = teleport::dot(dj, teleport::detail::act_derivative(action, element, tg::exp_map::exact, dg[k], w));
            else
                grad[k] = teleport::dot(dj, action.apply_derivative(element.g, dg[k], w));
        }
        benchmark::DoNotOptimize(grad);
    }
}

template <class Symmetry>
void whole_teleport(benchmark::State& state, const Symmetry& symmetry, const point& start,
                    const teleport::teleport_settings& settings) {
    std::mt19937_64 rng(0);
    teleport::teleport_report report;
    std::size_t accepted = 0, evaluations = 0;
    for (auto _ : state) {
        point w = start;
        benchmark::DoNotOptimize(w);
        (void)teleport::teleport_once(symmetry, w, settings, rng, report);
        accepted += report.accepted ? 1 : 0;
        evaluations += report.objective_evaluations;
        benchmark::DoNotOptimize(w);
    }
    state.counters["accepted_fraction"] = double(accepted) / double(state.iterations());
    state.counters["objective_evaluations"] = double(evaluations) / double(state.iterations());
}

template <class Action>
void teleport_paper(benchmark::State& state, const Action& action) {
    teleport::teleport_settings settings;
    settings.strategy = teleport::gradient_ascent{10, 1e-3};
    whole_teleport(state, teleport::action_symmetry(state_space.fit, action), state_space.at_teleport, settings);
}

// The example's teleport: the lookahead objective with AdaGrad's step at that point.
template <class Action>
void teleport_lookahead(benchmark::State& state, const Action& action) {
    const auto symmetry = teleport::lookahead_symmetry(state_space.fit, action, 10);
    symmetry.prepare(optimizer, state_space.state, state_space.at_teleport);
    whole_teleport(state, symmetry, state_space.at_teleport, teleport::teleport_settings{});
}

template <class Action>
void register_all(const std::string& implementation, const Action& action) {
    const std::string p = "similarity/";
    const std::string s = "/" + implementation;
    benchmark::RegisterBenchmark((p + "apply" + s).c_str(), [&action](benchmark::State& st) {
        at_fixed_point(st, [&action](const matrix& g, const point& w) { return action.apply(g, w); });
    });
    benchmark::RegisterBenchmark((p + "apply_derivative_9" + s).c_str(),
                                 [&action](benchmark::State& st) { apply_derivative_9<passing::g_hidden>(st, action); });
    benchmark::RegisterBenchmark((p + "apply_derivative_9_same_g" + s).c_str(),
                                 [&action](benchmark::State& st) { apply_derivative_9<passing::g_visible>(st, action); });
    benchmark::RegisterBenchmark((p + "apply_derivative_9_element" + s).c_str(),
                                 [&action](benchmark::State& st) { apply_derivative_9<passing::element>(st, action); });
    benchmark::RegisterBenchmark((p + "jacobian" + s).c_str(), [&action](benchmark::State& st) {
        at_fixed_point(st, [&action](const matrix& g, const point& w) { return action.jacobian(g, w); });
    });
    benchmark::RegisterBenchmark((p + "teleport_paper" + s).c_str(),
                                 [&action](benchmark::State& st) { teleport_paper(st, action); });
    benchmark::RegisterBenchmark((p + "teleport_lookahead" + s).c_str(),
                                 [&action](benchmark::State& st) { teleport_lookahead(st, action); });
}

}  // namespace

int main(int argc, char** argv) {
    if (!actions_agree()) return 1;
    register_all("representation", similarity);
    register_all("hand_written", by_hand);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
