// Multi-layer networks: the generated derivatives of mlp against finite differences, the laws of the
// layer actions (invariance, inverses, composition, derivative at the identity; eq. 8 in its
// minimal-change and projection forms), the network teleport objective, teleport_network and
// Algorithm 1 for networks.
//
// Fixed seeds, random points, relative errors ‖a − b‖∞ / ‖b‖∞ against tolerances well above the
// error measured and far below what a wrong formula gives. The reference forward pass below is
// written here with plain loops, independent of the expression engine and of tensor::gemm.
// TELEPORT_TEST_REPORT=1 prints the worst errors measured.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "teleport/network_teleport.hpp"
#include "teleport/train/optimizers.hpp"
#include "teleport/problems/mlp.hpp"

using namespace teleport;

namespace {

using tensor::matrix;
using dvec = xt::xtensor<double, 1>;
using leaky = tensor::leaky_relu<1, 10>;
using btanh = tensor::bijective_tanh<10>;
using bsigmoid = tensor::bijective_sigmoid<10>;
using identity_act = tensor::identity_activation;
using problems::mlp;
using problems::mlp_loss;
constexpr mlp_loss se = mlp_loss::squared_error;
constexpr mlp_loss ce = mlp_loss::cross_entropy;

using nonlinear_leaky = groups::layer_action<groups::nonlinear_layers, leaky>;
using nonlinear_tanh = groups::layer_action<groups::nonlinear_layers, btanh>;
using linear_action = groups::layer_action<groups::linear_layers, identity_act>;
using rescaling_leaky = groups::layer_action<groups::rescaling_layers, leaky>;
using groups::action_form;
constexpr action_form minimal = action_form::minimal_change;
constexpr action_form projection = action_form::projection;

// The largest error seen by a test case, printed on request.
struct worst_error {
    std::string what;
    double value = 0;
    void update(double e) { value = std::max(value, e); }
    ~worst_error() {
        if (std::getenv("TELEPORT_TEST_REPORT")) std::printf("  worst %-58s %.3g\n", what.c_str(), value);
    }
};

// --- random data ---------------------------------------------------------------------------------

matrix<double> normal_matrix(std::size_t rows, std::size_t cols, std::mt19937_64& rng, double sd = 1.0) {
    std::normal_distribution<double> normal(0.0, sd);
    matrix<double> m({rows, cols});
    for (auto& e : m) e = normal(rng);
    return m;
}

matrix<double> uniform_matrix(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    matrix<double> m({rows, cols});
    for (auto& e : m) e = u(rng);
    return m;
}

// Cross-entropy targets: columns of positive probabilities summing to one.
matrix<double> probability_columns(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0.05, 1.0);
    matrix<double> m({rows, cols});
    for (auto& e : m) e = u(rng);
    for (std::size_t j = 0; j < cols; ++j) {
        double s = 0;
        for (std::size_t i = 0; i < rows; ++i) s += m(i, j);
        for (std::size_t i = 0; i < rows; ++i) m(i, j) /= s;
    }
    return m;
}

matrix<double> targets(mlp_loss loss, std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
    return loss == se ? normal_matrix(rows, cols, rng) : probability_columns(rows, cols, rng);
}

dvec normal_vector(std::size_t n, std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    dvec v = xt::zeros<double>({n});
    for (auto& e : v) e = normal(rng);
    return v;
}

// Weights with W_m entries N(0, 1/fan-in): pre-activations of order one.
dvec random_weights(const tensor::network_shape& s, std::mt19937_64& rng) {
    dvec w = xt::zeros<double>({s.parameter_count()});
    for (std::size_t m = 1; m <= s.layers(); ++m) {
        std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(s.cols(m))));
        for (std::size_t i = s.offset(m); i < s.offset(m) + s.rows(m) * s.cols(m); ++i) w(i) = normal(rng);
    }
    return w;
}

// One algebra element per pair, each of Frobenius norm uniform in (max_norm/4, max_norm].
template <class Action>
std::vector<matrix<double>> random_algebra(const Action& action, std::mt19937_64& rng, double max_norm) {
    std::uniform_real_distribution<double> u(0.25, 1.0);
    auto t = action.template zero<double>();
    for (auto& m : t) {
        m = normal_matrix(m.shape(0), m.shape(1), rng);
        const double norm = std::sqrt(double(xt::sum(m * m)()));
        m *= max_norm * u(rng) / norm;
    }
    return t;
}

template <class Net>
Net make_net(const std::vector<std::size_t>& widths, std::size_t samples, std::mt19937_64& rng) {
    using T = typename Net::value_type;
    const matrix<double> x = normal_matrix(widths.front(), samples, rng);
    const matrix<double> y = targets(Net::loss_kind, widths.back(), samples, rng);
    return Net(widths, xt::cast<T>(x), xt::cast<T>(y));
}

// w's image under the identity: projected for eq. 8's projection form, w itself otherwise.
template <class Action, class T>
void to_identity_image(const Action& action, xt::xtensor<T, 1>& w, const matrix<T>& x) {
    if constexpr (!Action::data_free)
        if (action.projects()) action.apply(action.template factored_identity<T>(), w, x);
}

// --- comparisons ---------------------------------------------------------------------------------

template <class V>
double max_abs(const V& v) {
    double m = 0;
    for (std::size_t i = 0; i < v.size(); ++i) m = std::max(m, std::abs(double(v.data()[i])));
    return m;
}

// ‖got − reference‖∞ / ‖reference‖∞.
template <class A, class B>
double relative_error(const A& got, const B& reference) {
    REQUIRE(got.size() == reference.size());
    double diff = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        diff = std::max(diff, std::abs(double(got.data()[i]) - double(reference.data()[i])));
    const double scale = max_abs(reference);
    return scale > 0 ? diff / scale : (diff == 0 ? 0.0 : std::numeric_limits<double>::infinity());
}

double relative_change(double after, double before) { return std::abs(after - before) / std::abs(before); }

// Exact equality of two tensors (REQUIRE(a == b) would hand xtensor's operators to Catch).
template <class A, class B>
bool identical(const A& a, const B& b) {
    return bool(a == b);
}

// The algebra elements of all pairs as one flat vector (for comparisons).
dvec flat_algebra(const std::vector<matrix<double>>& ts) {
    std::vector<double> out;
    for (const auto& t : ts) out.insert(out.end(), t.begin(), t.end());
    dvec v = xt::zeros<double>({out.size()});
    std::copy(out.begin(), out.end(), v.begin());
    return v;
}

double dot(const dvec& a, const dvec& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a(i) * b(i);
    return s;
}

// --- an independent forward pass -----------------------------------------------------------------

// The network's output W_L h̃_{L−1} with plain loops (samples are columns, biases the last column).
// smallest, when given, receives the smallest |pre-activation| of the hidden layers.
template <class Act>
matrix<double> reference_output(const tensor::network_shape& s, const dvec& w, const matrix<double>& x,
                                double* smallest = nullptr) {
    const std::size_t n = x.shape(1);
    if (smallest) *smallest = std::numeric_limits<double>::infinity();
    matrix<double> h = x;
    for (std::size_t m = 1; m <= s.layers(); ++m) {
        const double* wm = w.data() + s.offset(m);
        const std::size_t rows = s.rows(m), cols = s.cols(m), in = s.widths[m - 1];
        matrix<double> z = xt::zeros<double>({rows, n});
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                double acc = s.bias ? wm[i * cols + in] : 0.0;
                for (std::size_t p = 0; p < in; ++p) acc += wm[i * cols + p] * h(p, j);
                if (smallest && m < s.layers()) *smallest = std::min(*smallest, std::abs(acc));
                z(i, j) = m < s.layers() ? Act::value(acc) : acc;
            }
        h = std::move(z);
    }
    return h;
}

template <class Act>
double reference_loss(const tensor::network_shape& s, const dvec& w, const matrix<double>& x, const matrix<double>& y,
                      mlp_loss loss) {
    const matrix<double> out = reference_output<Act>(s, w, x);
    double total = 0;
    if (loss == se) {
        for (std::size_t i = 0; i < out.size(); ++i)
            total += 0.5 * (y.data()[i] - out.data()[i]) * (y.data()[i] - out.data()[i]);
        return total;
    }
    for (std::size_t j = 0; j < out.shape(1); ++j) {
        double top = out(0, j);
        for (std::size_t i = 1; i < out.shape(0); ++i) top = std::max(top, out(i, j));
        double z = 0;
        for (std::size_t i = 0; i < out.shape(0); ++i) z += std::exp(out(i, j) - top);
        const double lse = top + std::log(z);
        for (std::size_t i = 0; i < out.shape(0); ++i) total += y(i, j) * (lse - out(i, j));
    }
    return total / double(out.shape(1));
}

// Random weights whose hidden pre-activations on x all stay 0.01 away from LeakyReLU's kink at 0:
// central differences across a kink measure a jump, not a derivative.
template <class Act>
dvec random_weights_off_kinks(const tensor::network_shape& s, const matrix<double>& x, std::mt19937_64& rng) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
        dvec w = random_weights(s, rng);
        if constexpr (!std::is_same_v<Act, leaky>) return w;
        double smallest = 0;
        reference_output<Act>(s, w, x, &smallest);
        if (smallest >= 1e-2) return w;
    }
    FAIL("no weights found away from the kinks");
    return {};
}

// --- finite differences --------------------------------------------------------------------------

// ∇L by central differences of L, coordinate by coordinate.
template <class Net>
dvec fd_gradient(const Net& net, const dvec& w) {
    dvec fd = xt::zeros<double>({w.size()});
    dvec p = w;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double h = 1e-5 * std::max(1.0, std::abs(w(i)));
        const double up = w(i) + h, down = w(i) - h;
        p(i) = up;
        const double lu = net.evaluate(p);
        p(i) = down;
        const double ld = net.evaluate(p);
        p(i) = w(i);
        fd(i) = (lu - ld) / (up - down);
    }
    return fd;
}

// H·v by central differences of ∇L along v.
template <class Net>
dvec fd_hessian_vector_product(const Net& net, const dvec& w, const dvec& v) {
    const double t = 1e-5 * std::max(1.0, max_abs(w)) / max_abs(v);
    const dvec up = w + t * v, down = w - t * v;
    dvec gu, gd;
    net.gradient(up, gu);
    net.gradient(down, gd);
    return (gu - gd) / (2 * t);
}

// --- 1, 2: generated derivatives of mlp ---------------------------------------------------------

template <class Net>
std::string label() {
    return Net::activation::name() + (Net::loss_kind == se ? ", squared error" : ", cross-entropy") +
           (Net::has_bias ? ", bias" : "") + ", L=" + std::to_string(Net::layers);
}

// The networks whose derivatives are checked: every activation with both losses, biases on and
// off, depths 2, 3 and 5. Few distinct types keep the compile time in budget.
template <class Check>
void for_each_network(Check&& check) {
    check.template operator()<mlp<double, 2, identity_act, se, false>>({4, 6, 3}, 7, 101);
    check.template operator()<mlp<double, 3, identity_act, ce, true>>({4, 5, 6, 3}, 6, 102);
    check.template operator()<mlp<double, 5, identity_act, se, true>>({4, 5, 6, 5, 4, 3}, 5, 103);
    check.template operator()<mlp<double, 3, leaky, se, false>>({5, 6, 7, 8}, 4, 104);
    check.template operator()<mlp<double, 2, leaky, ce, true>>({4, 6, 5}, 7, 105);
    check.template operator()<mlp<double, 5, leaky, se, true>>({4, 6, 5, 7, 6, 3}, 5, 106);
    check.template operator()<mlp<double, 3, btanh, se, true>>({4, 5, 6, 3}, 6, 107);
    check.template operator()<mlp<double, 5, btanh, ce, false>>({4, 6, 5, 6, 5, 4}, 5, 108);
    check.template operator()<mlp<double, 2, bsigmoid, se, false>>({4, 6, 3}, 6, 109);
    check.template operator()<mlp<double, 3, bsigmoid, ce, true>>({4, 5, 6, 4}, 6, 110);
    check.template operator()<mlp<double, 3, tensor::tanh_activation, ce, false>>({4, 5, 6, 4}, 6, 111);
    check.template operator()<mlp<double, 5, tensor::tanh_activation, se, true>>({4, 5, 6, 5, 4, 3}, 5, 112);
}

}  // namespace

TEST_CASE("mlp gradient against central differences", "[networks]") {
    worst_error worst{"mlp gradient vs differences (relative)"};
    for_each_network([&]<class Net>(std::vector<std::size_t> widths, std::size_t samples, std::uint64_t seed) {
        INFO(label<Net>());
        std::mt19937_64 rng(seed);
        const auto net = make_net<Net>(widths, samples, rng);
        for (int point = 0; point < 3; ++point) {
            INFO("point " << point);
            const dvec w = random_weights_off_kinks<typename Net::activation>(net.shape(), net.x(), rng);
            dvec g;
            const double loss = net.evaluate_with_gradient(w, g);
            REQUIRE(loss == net.evaluate(w));
            // the generated forward pass agrees with the plain one
            const double reference =
                reference_loss<typename Net::activation>(net.shape(), w, net.x(), net.y(), Net::loss_kind);
            REQUIRE(relative_change(loss, reference) <= 1e-13);
            const dvec fd = fd_gradient(net, w);
            REQUIRE(max_abs(fd) > 1e-2);  // a gradient worth checking
            const double e = relative_error(g, fd);
            INFO("relative error " << e);
            REQUIRE(e <= 1e-7);
            worst.update(e);
        }
    });
}

TEST_CASE("mlp gradient in float against differences of its double twin", "[networks]") {
    worst_error worst{"float mlp gradient / HVP vs double differences"};
    using net_f = mlp<float, 3, btanh, se, true>;
    using net_d = mlp<double, 3, btanh, se, true>;
    std::mt19937_64 rng(120);
    const std::vector<std::size_t> widths{4, 5, 6, 3};
    // the same data and weights in both precisions (float values, exactly representable in double)
    const matrix<float> xf = xt::cast<float>(normal_matrix(4, 6, rng));
    const matrix<float> yf = xt::cast<float>(normal_matrix(3, 6, rng));
    const net_f nf(widths, xf, yf);
    const net_d nd(widths, xt::cast<double>(xf), xt::cast<double>(yf));
    for (int point = 0; point < 3; ++point) {
        const xt::xtensor<float, 1> wf = xt::cast<float>(random_weights(nf.shape(), rng));
        const dvec wd = xt::cast<double>(wf);
        xt::xtensor<float, 1> gf;
        const float loss = nf.evaluate_with_gradient(wf, gf);
        REQUIRE(relative_change(double(loss), nd.evaluate(wd)) <= 1e-6);
        const double e = relative_error(gf, fd_gradient(nd, wd));
        INFO("point " << point << ": gradient relative error " << e);
        REQUIRE(e <= 1e-5);
        worst.update(e);
        // and the Hessian-vector product
        const xt::xtensor<float, 1> vf = xt::cast<float>(normal_vector(wf.size(), rng));
        xt::xtensor<float, 1> g2, hvf;
        nf.hessian_vector_product(wf, vf, g2, hvf);
        const double eh = relative_error(hvf, fd_hessian_vector_product(nd, wd, xt::cast<double>(vf)));
        INFO("Hessian-vector product relative error " << eh);
        REQUIRE(eh <= 1e-5);
        worst.update(eh);
    }
}

TEST_CASE("mlp Hessian-vector product against central differences of the gradient", "[networks]") {
    worst_error worst{"mlp HVP vs differences of the gradient (relative)"};
    worst_error worst_alias{"mlp HVP with v aliasing g vs H(grad L) (relative)"};
    for_each_network([&]<class Net>(std::vector<std::size_t> widths, std::size_t samples, std::uint64_t seed) {
        INFO(label<Net>());
        std::mt19937_64 rng(seed + 1000);
        const auto net = make_net<Net>(widths, samples, rng);
        for (int point = 0; point < 3; ++point) {
            INFO("point " << point);
            const dvec w = random_weights_off_kinks<typename Net::activation>(net.shape(), net.x(), rng);
            const dvec v = normal_vector(w.size(), rng);
            dvec g0, g, hv;
            const double loss = net.evaluate_with_gradient(w, g0);
            REQUIRE(net.hessian_vector_product(w, v, g, hv) == loss);
            REQUIRE(identical(g, g0));
            const dvec fd = fd_hessian_vector_product(net, w, v);
            REQUIRE(max_abs(fd) > 1e-2);
            const double e = relative_error(hv, fd);
            INFO("relative error " << e);
            REQUIRE(e <= 1e-7);
            worst.update(e);

            // v aliasing the gradient output, as network_teleport_objective calls it: whatever g
            // held, the result is H∇L and g is ∇L
            dvec alias = 100.0 * normal_vector(w.size(), rng), hv_alias;
            net.hessian_vector_product(w, alias, alias, hv_alias);
            REQUIRE(identical(alias, g0));
            dvec g_copy, hg;
            net.hessian_vector_product(w, g0, g_copy, hg);
            REQUIRE(relative_error(hv_alias, hg) <= 1e-15);
            const double ea = relative_error(hv_alias, fd_hessian_vector_product(net, w, g0));
            INFO("aliased: relative error " << ea);
            REQUIRE(ea <= 1e-7);
            worst_alias.update(ea);
        }
    });
}

// --- 3: invariance -------------------------------------------------------------------------------

namespace {

// Widths d_0 … d_L for depth L: hidden widths 5 to 7, output 4; a batch of 3 has full column rank
// at every layer.
std::vector<std::size_t> invariance_widths(std::size_t layers) {
    const std::size_t hidden[] = {6, 5, 7, 6, 5};
    std::vector<std::size_t> widths{5};
    for (std::size_t k = 1; k < layers; ++k) widths.push_back(hidden[k - 1]);
    widths.push_back(4);
    return widths;
}

struct invariance_result {
    double batch = 0;     // worst relative change of the batch loss and outputs
    double held_out = 0;  // largest relative change of the loss on other data
};

// All adjacent pairs at once, depths 2 … 6, biases on and off, 5 random elements each.
template <class Action>
invariance_result check_invariance(std::uint64_t seed, action_form form = minimal) {
    using Act = typename Action::activation;
    std::mt19937_64 rng(seed);
    invariance_result result;
    for (std::size_t layers = 2; layers <= 6; ++layers)
        for (const bool bias : {false, true}) {
            INFO("depth " << layers << ", bias " << bias);
            const tensor::network_shape shape{invariance_widths(layers), bias};
            std::set<std::size_t> pairs;
            for (std::size_t k = 1; k < layers; ++k) pairs.insert(k);
            const Action action(shape, pairs, exp_map::exact, form);
            const matrix<double> x = normal_matrix(5, 3, rng), y = normal_matrix(4, 3, rng);
            const matrix<double> x2 = normal_matrix(5, 8, rng), y2 = normal_matrix(4, 8, rng);
            for (int trial = 0; trial < 5; ++trial) {
                const dvec w = random_weights(shape, rng);
                dvec moved = w;
                action.apply(random_algebra(action, rng, 0.1), moved, x);
                REQUIRE(relative_error(moved, w) > 1e-4);  // the weights did move
                const double loss = reference_loss<Act>(shape, w, x, y, se);
                const double change = relative_change(reference_loss<Act>(shape, moved, x, y, se), loss);
                const double outputs =
                    relative_error(reference_output<Act>(shape, moved, x), reference_output<Act>(shape, w, x));
                INFO("trial " << trial << ": batch loss change " << change << ", outputs " << outputs);
                REQUIRE(change <= 1e-10);
                REQUIRE(outputs <= 1e-10);
                result.batch = std::max({result.batch, change, outputs});
                const double held_out = relative_change(reference_loss<Act>(shape, moved, x2, y2, se),
                                                        reference_loss<Act>(shape, w, x2, y2, se));
                INFO("held-out loss change " << held_out);
                if constexpr (Action::data_free) REQUIRE(held_out <= 1e-10);
                result.held_out = std::max(result.held_out, held_out);
            }
        }
    return result;
}

}  // namespace

TEST_CASE("layer actions leave the batch loss invariant and data-free ones every loss", "[networks][invariance]") {
    worst_error batch{"invariance: batch loss / outputs relative change"};
    worst_error data_free{"invariance: held-out loss change, data-free actions"};
    worst_error nonlinear{"invariance: held-out loss change, eq. 8 (expected large)"};
    const auto leaky_result = check_invariance<nonlinear_leaky>(201);
    const auto tanh_result = check_invariance<nonlinear_tanh>(202);
    const auto leaky_projection = check_invariance<nonlinear_leaky>(205, projection);
    const auto tanh_projection = check_invariance<nonlinear_tanh>(206, projection);
    const auto linear_result = check_invariance<linear_action>(203);
    const auto rescaling_result = check_invariance<rescaling_leaky>(204);
    batch.update(std::max({leaky_result.batch, tanh_result.batch, leaky_projection.batch, tanh_projection.batch,
                           linear_result.batch, rescaling_result.batch}));
    data_free.update(std::max(linear_result.held_out, rescaling_result.held_out));
    nonlinear.update(std::max({leaky_result.held_out, tanh_result.held_out, leaky_projection.held_out,
                               tanh_projection.held_out}));
    // eq. 8 is a symmetry of the batch only (in both forms): on other data the loss moves, and this
    // test sees it
    for (const auto& r : {leaky_result, tanh_result, leaky_projection, tanh_projection}) REQUIRE(r.held_out > 1e-8);
}

// --- 4, 5: inverses and composition --------------------------------------------------------------

namespace {

template <class T>
std::vector<groups::layer_element<T>> inverse_of(const std::vector<groups::layer_element<T>>& e) {
    std::vector<groups::layer_element<T>> out;
    for (const auto& x : e) out.push_back({x.g_inverse, x.g});
    return out;
}

// The pair sets exercised: all adjacent pairs, non-adjacent ones, the top pair alone.
const std::vector<std::set<std::size_t>> pair_sets{{1, 2, 3}, {1, 3}, {3}, {2}};

// eq. 8 in the projection form here: the minimal form composes exactly only when no two pairs are
// adjacent (its own test below).
template <class Action>
void check_inverse_and_compose(std::uint64_t seed, double& worst_inverse, double& worst_compose) {
    std::mt19937_64 rng(seed);
    for (const bool bias : {false, true})
        for (const auto& pairs : pair_sets) {
            INFO("bias " << bias << ", " << pairs.size() << " pairs, first " << *pairs.begin());
            const tensor::network_shape shape{{5, 6, 7, 6, 4}, bias};
            const Action action(shape, pairs, exp_map::exact, projection);
            const matrix<double> x = normal_matrix(5, 4, rng);
            dvec w = random_weights(shape, rng);
            if constexpr (!Action::data_free) {
                // the first application of the identity projects W_k onto the batch's span; a
                // second one changes nothing
                action.apply(action.template identity<double>(), w, x);
                dvec again = w;
                action.apply(action.template identity<double>(), again, x);
                REQUIRE(relative_error(again, w) <= 1e-12);
            }
            for (int trial = 0; trial < 3; ++trial) {
                const auto a = action.elements(random_algebra(action, rng, 0.3));
                const auto b = action.elements(random_algebra(action, rng, 0.3));
                // g and g⁻¹ are exact inverses, as matrices and as actions
                if constexpr (!Action::kind::diagonal)
                    for (const auto& e : a)
                        REQUIRE(max_abs(matrix<double>(tensor::product(e.g, e.g_inverse) -
                                                       tensor::identity<double>(e.g.shape(0)))) <= 1e-14);
                dvec moved = w;
                action.apply(a, moved, x);
                REQUIRE(relative_error(moved, w) > 1e-3);
                dvec back = moved;
                action.apply(inverse_of(a), back, x);
                const double e_inverse = relative_error(back, w);
                INFO("g⁻¹·(g·w) vs w: " << e_inverse);
                REQUIRE(e_inverse <= 1e-10);
                worst_inverse = std::max(worst_inverse, e_inverse);

                // compose(a, b) is "b after a": one application equals a then b
                dvec a_then_b = w;
                action.apply(a, a_then_b, x);
                action.apply(b, a_then_b, x);
                auto composed = a;
                Action::compose(composed, b);
                dvec at_once = w;
                action.apply(composed, at_once, x);
                const double e_compose = relative_error(at_once, a_then_b);
                INFO("compose(a, b) vs a then b: " << e_compose);
                REQUIRE(e_compose <= 1e-10);
                worst_compose = std::max(worst_compose, e_compose);
                if constexpr (!Action::kind::diagonal) {
                    // the order matters for GL: the other order is far off (so the check can fail)
                    auto swapped = b;
                    Action::compose(swapped, a);
                    dvec wrong = w;
                    action.apply(swapped, wrong, x);
                    REQUIRE(relative_error(wrong, a_then_b) > 1e-4);
                }
            }
        }
}

}  // namespace

TEST_CASE("layer actions: g⁻¹ undoes g exactly and compose(a b) applies a then b", "[networks]") {
    worst_error inverse{"g^-1 (g w) vs w (relative)"};
    worst_error compose{"compose(a, b) w vs b (a w) (relative)"};
    check_inverse_and_compose<nonlinear_leaky>(301, inverse.value, compose.value);
    check_inverse_and_compose<nonlinear_tanh>(302, inverse.value, compose.value);
    check_inverse_and_compose<linear_action>(303, inverse.value, compose.value);
    check_inverse_and_compose<rescaling_leaky>(304, inverse.value, compose.value);
}

// --- 5b: eq. 8's minimal-change form ------------------------------------------------------------

namespace {

struct minimal_form_result {
    double identity = 0;             // w under the identity, dense and rank 0 (0: bitwise)
    double compose = 0;              // compose(a, b)·w vs b·(a·w), no two pairs adjacent
    double inverse = 0;              // a⁻¹·(a·w) vs w, no two pairs adjacent
    double adjacent_batch = 0;       // compose(a, b)·w vs b·(a·w), adjacent pairs: outputs on the batch
    double adjacent_weights = 1e300; // ... and the weights (smallest seen; expected well above rounding)
    double batch = 0;                // batch loss and outputs under random elements, relative change
    double held_out_projection = 1e300;  // held-out outputs after the identity, projection form (smallest)
};

template <class T>
xt::xtensor<double, 1> as_double(const xt::xtensor<T, 1>& v) {
    return xt::cast<double>(v);
}

// The laws of the minimal form in precision T, measured against the plain-loop forward pass in
// double: composition and inverses, exact on all data when no two pairs are adjacent and on the
// batch otherwise; the identity leaves w bitwise alone (so the outputs on other data too), where
// the projection form's identity changes them; batch loss and outputs invariant.
template <class Action, class T>
minimal_form_result check_minimal_form(std::uint64_t seed, double law_tolerance, double batch_tolerance) {
    using Act = typename Action::activation;
    using vec = xt::xtensor<T, 1>;
    std::mt19937_64 rng(seed);
    minimal_form_result r;
    auto elements = [&](const Action& action, double size) {
        std::vector<matrix<T>> t;
        for (const auto& m : random_algebra(action, rng, size)) t.push_back(xt::cast<T>(m));
        return action.elements(t);
    };
    auto outputs = [](const tensor::network_shape& shape, const vec& w, const matrix<double>& x) {
        return reference_output<Act>(shape, as_double(w), x);
    };
    for (const bool bias : {false, true}) {
        const tensor::network_shape shape{{5, 6, 7, 6, 4}, bias};
        const matrix<double> x = xt::cast<double>(matrix<T>(xt::cast<T>(normal_matrix(5, 4, rng))));
        const matrix<T> xt_ = xt::cast<T>(x);
        for (const std::set<std::size_t>& pairs : {std::set<std::size_t>{1}, {2}, {3}, {1, 3}, {1, 2, 3}, {2, 3}}) {
            INFO("bias " << bias << ", " << pairs.size() << " pairs, first " << *pairs.begin());
            bool adjacent = false;
            for (std::size_t k : pairs) adjacent = adjacent || pairs.count(k + 1);
            const Action action(shape, pairs);
            REQUIRE(action.form() == minimal);
            const vec w = xt::cast<T>(random_weights(shape, rng));
            vec same = w, same_factored = w;
            action.apply(action.template identity<T>(), same, xt_);
            action.apply(action.template factored_identity<T>(), same_factored, xt_);
            REQUIRE(identical(same, w));
            REQUIRE(identical(same_factored, w));
            r.identity = std::max({r.identity, relative_error(same, w), relative_error(same_factored, w)});
            for (int trial = 0; trial < 3; ++trial) {
                const auto a = elements(action, 0.3), b = elements(action, 0.3);
                vec sequence = w;
                action.apply(a, sequence, xt_);
                REQUIRE(relative_error(sequence, w) > 1e-3);  // it moved
                action.apply(b, sequence, xt_);
                auto composed = a;
                Action::compose(composed, b);
                vec once = w;
                action.apply(composed, once, xt_);
                const double on_weights = relative_error(once, sequence);
                const double on_batch = relative_error(outputs(shape, once, x), outputs(shape, sequence, x));
                INFO("compose(a, b) vs a then b: weights " << on_weights << ", batch outputs " << on_batch);
                if (!adjacent) {
                    REQUIRE(on_weights <= law_tolerance);
                    r.compose = std::max(r.compose, on_weights);
                    vec back = w;
                    action.apply(a, back, xt_);
                    std::vector<groups::layer_element<T>> inverse;
                    for (const auto& e : a) inverse.push_back({e.g_inverse, e.g});
                    action.apply(inverse, back, xt_);
                    const double e_inverse = relative_error(back, w);
                    INFO("a⁻¹·(a·w) vs w: " << e_inverse);
                    REQUIRE(e_inverse <= law_tolerance);
                    r.inverse = std::max(r.inverse, e_inverse);
                } else {
                    REQUIRE(on_batch <= law_tolerance);
                    r.adjacent_batch = std::max(r.adjacent_batch, on_batch);
                    r.adjacent_weights = std::min(r.adjacent_weights, on_weights);
                }
            }
        }
    }
    // batch invariance over depths 2 … 6 with every pair teleported, and the identity off the batch
    for (std::size_t layers = 2; layers <= 6; ++layers)
        for (const bool bias : {false, true}) {
            INFO("depth " << layers << ", bias " << bias);
            const tensor::network_shape shape{invariance_widths(layers), bias};
            std::set<std::size_t> pairs;
            for (std::size_t k = 1; k < layers; ++k) pairs.insert(k);
            const Action action(shape, pairs);
            const Action projecting(shape, pairs, exp_map::exact, projection);
            const matrix<double> x = xt::cast<double>(matrix<T>(xt::cast<T>(normal_matrix(5, 3, rng))));
            const matrix<double> y = normal_matrix(4, 3, rng), held_out = normal_matrix(5, 8, rng);
            const matrix<T> xt_ = xt::cast<T>(x);
            for (int trial = 0; trial < 5; ++trial) {
                const vec w = xt::cast<T>(random_weights(shape, rng));
                vec moved = w;
                action.apply(elements(action, 0.1), moved, xt_);
                REQUIRE(relative_error(moved, w) > 1e-4);
                const double loss = relative_change(reference_loss<Act>(shape, as_double(moved), x, y, se),
                                                    reference_loss<Act>(shape, as_double(w), x, y, se));
                const double out = relative_error(outputs(shape, moved, x), outputs(shape, w, x));
                INFO("trial " << trial << ": batch loss change " << loss << ", outputs " << out);
                REQUIRE(loss <= batch_tolerance);
                REQUIRE(out <= batch_tolerance);
                r.batch = std::max({r.batch, loss, out});
                // g = I: the minimal form keeps the outputs on other data, the projection does not
                vec same = w, projected = w;
                action.apply(action.template identity<T>(), same, xt_);
                projecting.apply(projecting.template identity<T>(), projected, xt_);
                REQUIRE(identical(outputs(shape, same, held_out), outputs(shape, w, held_out)));
                const double moved_off = relative_error(outputs(shape, projected, held_out), outputs(shape, w, held_out));
                REQUIRE(moved_off > 1e-2);
                r.held_out_projection = std::min(r.held_out_projection, moved_off);
            }
        }
    REQUIRE(r.adjacent_weights > 1e-4);  // adjacent pairs compose on the batch only (layer_action.hpp)
    return r;
}

}  // namespace

TEST_CASE("eq. 8's minimal-change form: the identity, composition, batch invariance, other data",
          "[networks][invariance]") {
    auto report = [](const char* what, const minimal_form_result& r) {
        if (std::getenv("TELEPORT_TEST_REPORT"))
            std::printf("  minimal form %-22s identity %.3g, compose %.3g, inverse %.3g, adjacent: batch %.3g "
                        "weights >= %.3g; batch loss/outputs %.3g; held-out outputs after the projection's "
                        "identity >= %.3g\n",
                        what, r.identity, r.compose, r.inverse, r.adjacent_batch, r.adjacent_weights, r.batch,
                        r.held_out_projection);
    };
    report("leaky_relu, double", check_minimal_form<nonlinear_leaky, double>(311, 1e-12, 1e-12));
    report("bijective tanh, double", check_minimal_form<nonlinear_tanh, double>(312, 1e-12, 1e-12));
    report("leaky_relu, float", check_minimal_form<nonlinear_leaky, float>(313, 1e-4, 1e-5));
    report("bijective tanh, float", check_minimal_form<nonlinear_tanh, float>(314, 1e-4, 1e-5));
}

// --- 6: derivative of the action at the identity -------------------------------------------------

namespace {

// d/dε f(ε) at 0 by the fourth-order central stencil: the eq. 8 action through σ⁻¹ of the
// bijective tanh has third derivatives large enough that the second-order stencil's ε² error
// reaches 1e−6 at ε = 1e−5 (measured); this one's ε⁴ error is far below rounding.
template <class F>
double derivative_at_zero(F f, double h = 1e-5) {
    return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h);
}

// d/dε J(map(εT)·w) at 0 for J a function of the weights, per algebra coordinate.
template <class Action, class J>
std::vector<matrix<double>> fd_algebra_gradient(const Action& action, const dvec& w, const matrix<double>& x, J j) {
    auto t = action.template zero<double>();
    std::vector<matrix<double>> fd = t;
    for (std::size_t p = 0; p < t.size(); ++p)
        for (std::size_t i = 0; i < t[p].size(); ++i) {
            fd[p].data()[i] = derivative_at_zero([&](double eps) {
                t[p].data()[i] = eps;
                dvec moved = w;
                action.apply(t, moved, x);
                t[p].data()[i] = 0;
                return j(moved);
            });
        }
    return fd;
}

// gradient_at_identity(w, u, x) is ∂/∂T ⟨u, map(T)·w⟩ at T = 0, by differences per algebra
// coordinate (w first projected for eq. 8's projection form, as the header requires).
template <class Action>
double check_gradient_at_identity(const Action& action, dvec w, const matrix<double>& x, std::mt19937_64& rng) {
    to_identity_image(action, w, x);
    const dvec u = normal_vector(w.size(), rng);
    const dvec generated = flat_algebra(action.gradient_at_identity(w, u, x));
    const dvec reference =
        flat_algebra(fd_algebra_gradient(action, w, x, [&](const dvec& moved) { return dot(u, moved - w); }));
    REQUIRE(max_abs(reference) > 1e-2);
    const double e = relative_error(generated, reference);
    INFO(Action::name() << " " << Action::activation::name() << ", gradient at the identity: relative error " << e);
    REQUIRE(e <= 1e-8);
    return e;
}

template <class Action>
void check_gradient_at_identity_cases(std::uint64_t seed, worst_error& worst, action_form form = minimal) {
    std::mt19937_64 rng(seed);
    for (const bool bias : {false, true})
        for (const auto& pairs : pair_sets) {
            INFO(groups::to_string(form) << ", bias " << bias << ", " << pairs.size() << " pairs, first "
                                         << *pairs.begin());
            const tensor::network_shape shape{{5, 6, 7, 6, 4}, bias};
            const Action action(shape, pairs, exp_map::exact, form);
            const matrix<double> x = normal_matrix(5, 4, rng);
            for (int trial = 0; trial < 2; ++trial)
                worst.update(check_gradient_at_identity(
                    action, random_weights_off_kinks<typename Action::activation>(shape, x, rng), x, rng));
        }
}

}  // namespace

TEST_CASE("layer action gradient at the identity against central differences", "[networks]") {
    worst_error worst{"gradient_at_identity vs differences (relative)"};
    check_gradient_at_identity_cases<nonlinear_leaky>(401, worst);
    check_gradient_at_identity_cases<nonlinear_tanh>(402, worst);
    check_gradient_at_identity_cases<nonlinear_leaky>(405, worst, projection);
    check_gradient_at_identity_cases<nonlinear_tanh>(406, worst, projection);
    check_gradient_at_identity_cases<linear_action>(403, worst);
    check_gradient_at_identity_cases<rescaling_leaky>(404, worst);
}

// --- 7: the network teleport objective -----------------------------------------------------------

namespace {

// ∂J/∂T at the identity against differences of J(map(εE)·w) per algebra coordinate, and along
// one random direction.
template <class Net, class Action>
double check_objective(const Net& net, const Action& action, std::mt19937_64& rng) {
    const network_teleport_objective<Net, Action> objective(net, action);
    dvec w = random_weights_off_kinks<typename Net::activation>(net.shape(), net.x(), rng);
    to_identity_image(action, w, net.x());
    std::vector<matrix<double>> grad;
    const double j = objective.value_and_gradient(w, grad);
    REQUIRE(j == objective.value(w));
    dvec g;
    net.gradient(w, g);
    REQUIRE(relative_change(j, double(xt::sum(g * g)())) <= 1e-14);

    const dvec generated = flat_algebra(grad);
    const dvec reference = flat_algebra(
        fd_algebra_gradient(action, w, net.x(), [&](const dvec& moved) { return objective.value(moved); }));
    REQUIRE(max_abs(reference) > 1e-3 * j);
    const double e = relative_error(generated, reference);
    INFO(Action::name() << " " << Action::activation::name() << ", objective gradient: relative error " << e);
    REQUIRE(e <= 1e-7);

    // along a random direction T: d/dε J(exp(εT)·w) = ⟨∂J/∂T, T⟩
    const auto direction = random_algebra(action, rng, 1.0);
    const double fd = derivative_at_zero([&](double eps) {
        auto scaled = direction;
        for (auto& m : scaled) m *= eps;
        dvec moved = w;
        action.apply(scaled, moved, net.x());
        return objective.value(moved);
    });
    const double directional = dot(generated, flat_algebra(direction));
    const double e_dir = std::abs(directional - fd) / std::sqrt(dot(generated, generated));
    INFO("directional derivative " << directional << ", differences " << fd);
    REQUIRE(e_dir <= 1e-7);
    return std::max(e, e_dir);
}

}  // namespace

TEST_CASE("network teleport objective gradient against differences of J(exp(εT)·w)", "[networks][teleport]") {
    worst_error worst{"teleport objective gradient vs differences (relative)"};
    for (const action_form form : {projection, minimal}) {
        INFO(groups::to_string(form) << " form");
        const exp_map exact = exp_map::exact;
        {
            INFO("eq. 8, leaky_relu, L=3, pairs {1, 2}");
            std::mt19937_64 rng(501);
            const auto net = make_net<mlp<double, 3, leaky, se, false>>({5, 6, 7, 8}, 4, rng);
            for (int trial = 0; trial < 3; ++trial)
                worst.update(check_objective(net, nonlinear_leaky(net.shape(), {1, 2}, exact, form), rng));
            worst.update(check_objective(net, nonlinear_leaky(net.shape(), {2}, exact, form), rng));
        }
        {
            INFO("eq. 8, leaky_relu, bias, L=5, pairs {1, 2, 3, 4} and {2, 4}");
            std::mt19937_64 rng(502);
            const auto net = make_net<mlp<double, 5, leaky, se, true>>({5, 6, 5, 7, 6, 3}, 4, rng);
            for (int trial = 0; trial < 2; ++trial)
                worst.update(check_objective(net, nonlinear_leaky(net.shape(), {1, 2, 3, 4}, exact, form), rng));
            worst.update(check_objective(net, nonlinear_leaky(net.shape(), {2, 4}, exact, form), rng));
        }
        {
            INFO("eq. 8, bijective_tanh, bias, L=3, cross-entropy L=5");
            std::mt19937_64 rng(503);
            const auto net = make_net<mlp<double, 3, btanh, se, true>>({4, 5, 6, 3}, 3, rng);
            for (int trial = 0; trial < 2; ++trial)
                worst.update(check_objective(net, nonlinear_tanh(net.shape(), {1, 2}, exact, form), rng));
            const auto deep = make_net<mlp<double, 5, btanh, ce, false>>({4, 6, 5, 6, 5, 4}, 3, rng);
            worst.update(check_objective(deep, nonlinear_tanh(deep.shape(), {1, 3, 4}, exact, form), rng));
        }
    }
    {
        INFO("eq. 6, linear, bias, L=5 and cross-entropy L=3");
        std::mt19937_64 rng(504);
        const auto net = make_net<mlp<double, 5, identity_act, se, true>>({4, 5, 6, 5, 4, 3}, 5, rng);
        for (int trial = 0; trial < 2; ++trial)
            worst.update(check_objective(net, linear_action(net.shape(), {1, 2, 3, 4}), rng));
        const auto ce_net = make_net<mlp<double, 3, identity_act, ce, true>>({4, 5, 6, 3}, 6, rng);
        worst.update(check_objective(ce_net, linear_action(ce_net.shape(), {1, 2}), rng));
    }
    {
        INFO("rescaling, leaky_relu");
        std::mt19937_64 rng(505);
        const auto net = make_net<mlp<double, 3, leaky, se, false>>({5, 6, 7, 8}, 4, rng);
        for (int trial = 0; trial < 2; ++trial)
            worst.update(check_objective(net, rescaling_leaky(net.shape(), {1, 2}), rng));
        const auto ce_net = make_net<mlp<double, 2, leaky, ce, true>>({4, 6, 5}, 7, rng);
        worst.update(check_objective(ce_net, rescaling_leaky(ce_net.shape(), {1}), rng));
        const auto deep = make_net<mlp<double, 5, leaky, se, true>>({4, 6, 5, 7, 6, 3}, 5, rng);
        worst.update(check_objective(deep, rescaling_leaky(deep.shape(), {1, 2, 3, 4}), rng));
    }
}

// --- 8: the first-order map drifts ---------------------------------------------------------------

namespace {

// Relative batch-loss change after one application of an element with ‖T_k‖_F = 0.1 per pair.
template <class Action>
double loss_drift(groups::exp_map map, std::uint64_t seed) {
    using Act = typename Action::activation;
    std::mt19937_64 rng(seed);
    const tensor::network_shape shape{{5, 6, 7, 6, 4}, true};
    const Action action(shape, {1, 2, 3}, map);
    const matrix<double> x = normal_matrix(5, 4, rng), y = normal_matrix(4, 4, rng);
    double worst = 0;
    for (int trial = 0; trial < 5; ++trial) {
        const dvec w = random_weights(shape, rng);
        auto t = random_algebra(action, rng, 0.1);
        for (auto& m : t) m *= 0.1 / std::sqrt(double(xt::sum(m * m)()));
        dvec moved = w;
        action.apply(t, moved, x);
        worst = std::max(worst, relative_change(reference_loss<Act>(shape, moved, x, y, se),
                                                reference_loss<Act>(shape, w, x, y, se)));
    }
    return worst;
}

template <class Action>
void check_drift(std::uint64_t seed, const char* name) {
    const double exact = loss_drift<Action>(exp_map::exact, seed);
    const double first_order = loss_drift<Action>(exp_map::first_order, seed);  // the same w, T, X
    if (std::getenv("TELEPORT_TEST_REPORT"))
        std::printf("  drift %-20s exact %.3g, first-order %.3g\n", name, exact, first_order);
    INFO(name << ": loss change exact " << exact << ", first-order " << first_order);
    REQUIRE(exact <= 1e-12);
    REQUIRE(first_order >= 1e-6);
    REQUIRE(first_order >= 1e3 * exact);
}

}  // namespace

TEST_CASE("the first-order map I + T with I − T drifts where the exact map does not", "[networks][invariance]") {
    check_drift<nonlinear_leaky>(601, "eq. 8, leaky_relu");
    check_drift<nonlinear_tanh>(602, "eq. 8, bijective_tanh");
    check_drift<linear_action>(603, "eq. 6, linear");
    check_drift<rescaling_leaky>(604, "rescaling");
}

// --- 9, 10, 11: teleport_network, errors, Algorithm 1 --------------------------------------------

namespace {

using paper_net = mlp<double, 3, leaky, se, false>;

// The paper's regression network (Fig. 3): X 5×4, widths 5-6-7-8, everything uniform in [0, 1).
struct paper_setup {
    paper_net net;
    dvec w;
    explicit paper_setup(std::uint64_t seed, std::size_t samples = 4) : net(make(seed, samples)), w(weights(seed)) {}

  private:
    static paper_net make(std::uint64_t seed, std::size_t samples) {
        std::mt19937_64 rng(seed);
        const auto x = uniform_matrix(5, samples, rng);
        const auto y = uniform_matrix(8, samples, rng);
        return paper_net({5, 6, 7, 8}, x, y);
    }
    dvec weights(std::uint64_t seed) const {
        std::mt19937_64 rng(seed + 7);
        return net.pack(std::vector{uniform_matrix(6, 5, rng), uniform_matrix(7, 6, rng), uniform_matrix(8, 7, rng)});
    }
};

// A gradient-ascent learning rate whose first step moves the algebra element by `step` (Frobenius):
// on the paper's uniform [0, 1) initialization ‖∂J/∂T‖ is 1e6 to 1e7 (seeds 701, 702, 901), so its
// lr 1e−7 moves T by 0.1 to 1 per step and J grows until the search leaves the group (measured:
// "the algebra element is not finite", or the input of layer 2 loses its rank).
template <class Action>
double ascent_rate(const paper_setup& setup, const Action& action, double step) {
    dvec w = setup.w;
    to_identity_image(action, w, setup.net.x());
    std::vector<matrix<double>> grad;
    network_teleport_objective<paper_net, Action>(setup.net, action).value_and_gradient(w, grad);
    return step / std::sqrt(dot(flat_algebra(grad), flat_algebra(grad)));
}

template <class Action>
void check_accepted_teleport(const paper_setup& setup, const Action& action, const teleport_settings& settings) {
    dvec w = setup.w;
    std::mt19937_64 rng(0);
    teleport_report report;
    const auto element = teleport_network(setup.net, action, w, settings, rng, report);
    INFO(Action::name() << ", " << strategy_name(settings.strategy) << ": " << report.rejection << "; loss "
                        << report.loss_before << " -> " << report.loss_after << ", |grad|^2 "
                        << report.grad_norm_sq_before << " -> " << report.grad_norm_sq_after);
    if (std::getenv("TELEPORT_TEST_REPORT"))
        std::printf("  teleport %-18s %-18s loss change %.3g, |grad|^2 x%.4g\n", Action::name().c_str(),
                    strategy_name(settings.strategy).c_str(), report.relative_loss_change,
                    report.grad_norm_sq_after / report.grad_norm_sq_before);
    REQUIRE(report.accepted);
    REQUIRE(report.rejection.empty());
    REQUIRE(report.relative_loss_change <= settings.tolerance);
    REQUIRE(report.grad_norm_sq_after > report.grad_norm_sq_before);
    REQUIRE(report.objective_evaluations > 0);
    REQUIRE(all_finite(w));
    REQUIRE(relative_error(w, setup.w) > 1e-6);  // the weights did move
    // the report describes w: its loss and gradient are the reported ones
    dvec g;
    REQUIRE(setup.net.evaluate_with_gradient(w, g) == report.loss_after);
    REQUIRE(relative_change(double(xt::sum(g * g)()), report.grad_norm_sq_after) <= 1e-14);
    // and the returned element maps the starting weights to w (eq. 8's projection: projected first);
    // eq. 8's minimal form composes on the batch only when pairs are adjacent (as {1, 2} here): the
    // composed element gives w's outputs on the batch, to the rounding of an element whose search
    // raised ‖∇L‖² up to 1e14-fold (normalized ascent; measured 6.8e-9)
    dvec again = setup.w;
    to_identity_image(action, again, setup.net.x());
    action.apply(element, again, setup.net.x());
    if (Action::data_free || action.projects())
        REQUIRE(relative_error(again, w) <= 1e-10);
    else
        REQUIRE(relative_error(setup.net.predict(again), setup.net.predict(w)) <= 1e-7);
}

}  // namespace

TEST_CASE("teleport_network: accepted teleports keep the loss and raise the gradient norm", "[networks][teleport]") {
    const paper_setup setup(701);
    const nonlinear_leaky nonlinear(setup.net.shape(), {1, 2});
    const nonlinear_leaky projecting(setup.net.shape(), {1, 2}, exp_map::exact, projection);
    const rescaling_leaky rescaling(setup.net.shape(), {1, 2});
    teleport_settings settings;
    settings.strategy = gradient_ascent{8, ascent_rate(setup, nonlinear, 0.01)};
    check_accepted_teleport(setup, nonlinear, settings);
    settings.strategy = gradient_ascent{8, ascent_rate(setup, projecting, 0.01)};
    check_accepted_teleport(setup, projecting, settings);
    settings.strategy = gradient_ascent{8, ascent_rate(setup, rescaling, 0.01)};
    check_accepted_teleport(setup, rescaling, settings);
    settings.strategy = normalized_ascent{10};
    check_accepted_teleport(setup, nonlinear, settings);
    check_accepted_teleport(setup, projecting, settings);
    check_accepted_teleport(setup, rescaling, settings);
}

TEST_CASE("the eq. 8 projection keeps the batch loss but changes the gradient", "[networks][teleport]") {
    // W_k ↦ W_k h̃ h̃⁺ (the identity of eq. 8) is part of every eq. 8 teleport: ‖∇L‖² moves with it,
    // so a teleport whose ascent barely moves can end with a smaller gradient norm than it started
    const paper_setup setup(702);
    const nonlinear_leaky action(setup.net.shape(), {1, 2}, exp_map::exact, projection);
    dvec projected = setup.w;
    action.apply(action.identity<double>(), projected, setup.net.x());
    dvec g, g_projected;
    const double loss = setup.net.evaluate_with_gradient(setup.w, g);
    REQUIRE(relative_change(setup.net.evaluate_with_gradient(projected, g_projected), loss) <= 1e-12);
    const double change = relative_change(double(xt::sum(g_projected * g_projected)()), double(xt::sum(g * g)()));
    if (std::getenv("TELEPORT_TEST_REPORT"))
        std::printf("  eq. 8 projection: |grad L|^2 relative change %.3g\n", change);
    REQUIRE(change > 1e-6);
    // the minimal form's identity is the identity: the gradient stays
    const nonlinear_leaky minimal_action(setup.net.shape(), {1, 2});
    dvec same = setup.w;
    minimal_action.apply(minimal_action.identity<double>(), same, setup.net.x());
    REQUIRE(identical(same, setup.w));
}

TEST_CASE("teleport_network: a rejected teleport leaves the weights alone and says why", "[networks][teleport]") {
    const paper_setup setup(702);
    const nonlinear_leaky action(setup.net.shape(), {1, 2});
    auto rejected = [&](const nonlinear_leaky& a, const teleport_settings& settings) {
        dvec w = setup.w;
        std::mt19937_64 rng(0);
        teleport_report report;
        const auto element = teleport_network(setup.net, a, w, settings, rng, report);
        INFO(report.rejection);
        REQUIRE_FALSE(report.accepted);
        REQUIRE_FALSE(report.rejection.empty());
        REQUIRE(identical(w, setup.w));
        for (const auto& e : element) REQUIRE(identical(e.g, tensor::identity<double>(e.g.shape(0))));
        return report;
    };
    const double rate = ascent_rate(setup, action, 0.01);
    teleport_settings settings;
    settings.strategy = gradient_ascent{8, rate};
    // the paper's first-order map changes the loss by about ‖T‖², far more than the tolerance
    const nonlinear_leaky first_order_action(setup.net.shape(), {1, 2}, exp_map::first_order);
    {
        // the settings and the action must name the same map
        dvec w = setup.w;
        std::mt19937_64 rng(0);
        teleport_report report;
        REQUIRE_THROWS_AS(teleport_network(setup.net, first_order_action, w, settings, rng, report),
                          std::invalid_argument);
    }
    settings.map = exp_map::first_order;
    const auto first_order = rejected(first_order_action, settings);
    settings.map = exp_map::exact;
    REQUIRE(first_order.relative_loss_change > 1e3 * settings.tolerance);
    REQUIRE(first_order.rejection.find("exceeds the tolerance") != std::string::npos);
    // the exact map with a tolerance below rounding
    settings.tolerance = 1e-300;
    const auto tight = rejected(action, settings);
    REQUIRE(tight.relative_loss_change > 1e-300);
    REQUIRE(tight.rejection.find("exceeds the tolerance") != std::string::npos);
    // a learning rate so large that the search leaves the group
    settings.tolerance = 1e-9;
    settings.strategy = gradient_ascent{8, 1e6 * rate};
    const auto huge = rejected(action, settings);
    REQUIRE(huge.rejection.find("the search failed") != std::string::npos);
    // and the same settings at the right scale are accepted
    settings.strategy = gradient_ascent{8, rate};
    dvec w = setup.w;
    std::mt19937_64 rng(0);
    teleport_report report;
    teleport_network(setup.net, action, w, settings, rng, report);
    INFO(report.rejection);
    REQUIRE(report.accepted);
}

TEST_CASE("network errors: bad shapes and pairs and batch ranks and mismatched actions", "[networks][errors]") {
    std::mt19937_64 rng(801);
    const auto x = uniform_matrix(5, 4, rng);
    const auto y = uniform_matrix(8, 4, rng);
    // widths that do not chain to the data
    REQUIRE_THROWS_AS(paper_net({4, 6, 7, 8}, x, y), std::invalid_argument);
    REQUIRE_THROWS_WITH(paper_net({4, 6, 7, 8}, x, y), Catch::Contains("X has 5 rows but the input width is 4"));
    REQUIRE_THROWS_WITH(paper_net({5, 6, 7, 9}, x, y), Catch::Contains("Y has 8 rows but the output width is 9"));
    REQUIRE_THROWS_AS(paper_net({5, 6, 7, 8}, x, uniform_matrix(8, 3, rng)), std::invalid_argument);
    REQUIRE_THROWS_AS(paper_net({5, 6, 8}, x, y), std::invalid_argument);
    REQUIRE_THROWS_AS(paper_net({5, 0, 7, 8}, x, y), std::invalid_argument);
    const paper_net net({5, 6, 7, 8}, x, y);
    REQUIRE_THROWS_AS(
        net.pack(std::vector{uniform_matrix(6, 5, rng), uniform_matrix(6, 7, rng), uniform_matrix(8, 7, rng)}),
        std::invalid_argument);
    const dvec short_w = xt::zeros<double>({net.size() - 1});
    dvec g;
    REQUIRE_THROWS_AS(net.evaluate_with_gradient(short_w, g), std::invalid_argument);

    // pairs are 1 … L−1
    REQUIRE_THROWS_AS(nonlinear_leaky(net.shape(), {0}), std::invalid_argument);
    REQUIRE_THROWS_AS(nonlinear_leaky(net.shape(), {3}), std::invalid_argument);
    REQUIRE_THROWS_WITH(rescaling_leaky(net.shape(), {1, 3}), Catch::Contains("pair 3 does not exist"));
    REQUIRE_THROWS_AS(linear_action(tensor::network_shape{{3, 4, 2}, false}, {2}), std::invalid_argument);
    REQUIRE_THROWS_AS(nonlinear_leaky(net.shape(), {}), std::invalid_argument);

    // an action made for other widths (or without the bias) is refused
    const nonlinear_leaky other(tensor::network_shape{{5, 6, 6, 8}, false}, {1, 2});
    REQUIRE_THROWS_AS((network_teleport_objective<paper_net, nonlinear_leaky>(net, other)), std::invalid_argument);
    const nonlinear_leaky biased(tensor::network_shape{{5, 6, 7, 8}, true}, {1, 2});
    REQUIRE_THROWS_AS((network_teleport_objective<paper_net, nonlinear_leaky>(net, biased)), std::invalid_argument);
    dvec w = random_weights(net.shape(), rng);
    std::mt19937_64 teleport_rng(0);
    teleport_report report;
    REQUIRE_THROWS_AS(teleport_network(net, other, w, teleport_settings{}, teleport_rng, report),
                      std::invalid_argument);

    // wrong numbers of elements, algebra shapes, weights
    const nonlinear_leaky action(net.shape(), {1, 2});
    REQUIRE_THROWS_AS(action.apply(nonlinear_leaky(net.shape(), {1}).identity<double>(), w, x), std::invalid_argument);
    auto t = action.zero<double>();
    t[0] = xt::zeros<double>({std::size_t(6), std::size_t(5)});
    REQUIRE_THROWS_AS(action.elements(t), std::invalid_argument);
    dvec long_w = xt::zeros<double>({net.size() + 1});
    REQUIRE_THROWS_AS(action.apply(action.identity<double>(), long_w, x), std::invalid_argument);
    t = action.zero<double>();
    t[1](0, 0) = std::nan("");
    REQUIRE_THROWS_AS(action.elements(t), std::domain_error);
    REQUIRE(groups::parse_action_form("minimal") == minimal);
    REQUIRE(groups::parse_action_form(groups::to_string(projection)) == projection);
    REQUIRE_THROWS_AS(groups::parse_action_form("projected"), std::invalid_argument);

    // eq. 8 needs the input of every transformed layer to have full column rank: a batch of 6
    // samples does not fit the 5 input rows of layer 1 (the minimal form's identity reads no input)
    std::mt19937_64 rng6(802);
    const paper_net wide({5, 6, 7, 8}, uniform_matrix(5, 6, rng6), uniform_matrix(8, 6, rng6));
    dvec wide_w = random_weights(wide.shape(), rng6);
    const nonlinear_leaky projecting(net.shape(), {1, 2}, exp_map::exact, projection);
    REQUIRE(projecting.form() == projection);
    REQUIRE(action.form() == minimal);  // the default
    REQUIRE_THROWS_AS(projecting.apply(projecting.identity<double>(), wide_w, wide.x()), std::domain_error);
    REQUIRE_THROWS_WITH(projecting.apply(projecting.identity<double>(), wide_w, wide.x()),
                        Catch::Contains("full column rank"));
    const auto moving = action.elements(random_algebra(action, rng6, 0.1));
    REQUIRE_THROWS_WITH(action.apply(moving, wide_w, wide.x()), Catch::Contains("full column rank"));
    {
        dvec unchanged = wide_w;
        action.apply(action.identity<double>(), unchanged, wide.x());
        REQUIRE(identical(unchanged, wide_w));
    }
    const dvec before = wide_w;
    teleport_network(wide, action, wide_w, teleport_settings{}, teleport_rng, report);
    INFO(report.rejection);
    REQUIRE_FALSE(report.accepted);
    REQUIRE(report.rejection.find("full column rank") != std::string::npos);
    REQUIRE(identical(wide_w, before));
    // pair 2 alone reads the 6 rows of h_1: 6 samples fit there, 7 do not
    const nonlinear_leaky upper(wide.shape(), {2});
    teleport_report upper_report;
    teleport_network(wide, upper, wide_w, teleport_settings{}, teleport_rng, upper_report);
    INFO(upper_report.rejection);
    REQUIRE(upper_report.rejection.find("full column rank") == std::string::npos);
    const paper_net wider({5, 6, 7, 8}, uniform_matrix(5, 7, rng6), uniform_matrix(8, 7, rng6));
    dvec wider_w = random_weights(wider.shape(), rng6);
    const nonlinear_leaky upper_projecting(wide.shape(), {2}, exp_map::exact, projection);
    REQUIRE_THROWS_WITH(upper_projecting.apply(upper_projecting.identity<double>(), wider_w, wider.x()),
                        Catch::Contains("the input of layer 2") && Catch::Contains("full column rank"));
    REQUIRE_THROWS_WITH(upper.apply(upper.elements(random_algebra(upper, rng6, 0.1)), wider_w, wider.x()),
                        Catch::Contains("the input of layer 2") && Catch::Contains("full column rank"));
    const dvec wider_before = wider_w;
    teleport_report wider_report;
    teleport_network(wider, upper, wider_w, teleport_settings{}, teleport_rng, wider_report);
    INFO(wider_report.rejection);
    REQUIRE_FALSE(wider_report.accepted);
    REQUIRE(wider_report.rejection.find("the input of layer 2") != std::string::npos);
    REQUIRE(wider_report.rejection.find("full column rank") != std::string::npos);
    REQUIRE(identical(wider_w, wider_before));
    // the data-free actions have no such limit
    const rescaling_leaky rescaling(wide.shape(), {1, 2});
    {
        teleport_settings s;
        s.strategy = normalized_ascent{5};
        dvec v = random_weights(wide.shape(), rng6);
        teleport_report rescaling_report;
        teleport_network(wide, rescaling, v, s, teleport_rng, rescaling_report);
        INFO(rescaling_report.rejection);
        REQUIRE(rescaling_report.accepted);
    }
}

TEST_CASE("Algorithm 1 for a network: GD with one teleport", "[networks][teleport][algorithm]") {
    const paper_setup setup(901);
    const nonlinear_leaky action(setup.net.shape(), {1, 2});
    teleport_settings settings;
    settings.payoff = {0, false};  // the loop's mechanics and the state policies, not the pay-off
    settings.strategy = gradient_ascent{8, ascent_rate(setup, action, 0.01)};
    dvec w = setup.w;
    const std::size_t steps = 60;
    const auto run =
        optimize_with_teleport(gd{1e-4}, setup.net, action, w, steps, teleport_schedule::once(5), settings, 0);
    REQUIRE(run.steps.size() == steps + 1);
    REQUIRE(run.teleports.size() == 1);
    const auto& t = run.teleports.front();
    INFO(t.rejection);
    REQUIRE(t.step == 5);
    REQUIRE(t.accepted);
    REQUIRE(t.relative_loss_change <= settings.tolerance);
    for (const auto& r : run.steps) REQUIRE(r.teleported == (r.step == 5));
    REQUIRE(run.steps[5].loss == t.loss_after);
    REQUIRE(run.steps.back().loss == setup.net.evaluate(w));
    // GD at this rate lowers the loss at every step, across the teleport too
    for (std::size_t k = 1; k < run.steps.size(); ++k) REQUIRE(run.steps[k].loss < run.steps[k - 1].loss);
    REQUIRE(run.steps.back().loss < 0.1 * run.steps.front().loss);

    // transporting optimizer state needs a data-free action
    dvec w2 = setup.w;
    REQUIRE_THROWS_AS(optimize_with_teleport(momentum{1e-4}, setup.net, action, w2, steps, teleport_schedule::once(5),
                                             settings, 0, state_policy::transport),
                      std::invalid_argument);
    REQUIRE(identical(w2, setup.w));
    // with the rescaling action it runs
    const rescaling_leaky rescaling(setup.net.shape(), {1, 2});
    settings.strategy = gradient_ascent{8, ascent_rate(setup, rescaling, 0.01)};
    const auto transported = optimize_with_teleport(momentum{1e-4}, setup.net, rescaling, w2, steps,
                                                    teleport_schedule::once(5), settings, 0, state_policy::transport);
    INFO(transported.teleports.front().rejection);
    REQUIRE(transported.teleports.front().accepted);
    REQUIRE(transported.steps.back().loss < 0.1 * transported.steps.front().loss);
}

TEST_CASE("transport moves a gradient with the weights: ∇L(g·w) = J⁻ᵀ ∇L(w)", "[networks]") {
    std::mt19937_64 rng(1001);
    auto check = [&]<class Net, class Action>(const Net& net, const Action& action) {
        for (int trial = 0; trial < 3; ++trial) {
            const dvec w = random_weights(net.shape(), rng);
            const auto e = action.elements(random_algebra(action, rng, 0.5));
            dvec moved = w;
            action.apply(e, moved, net.x());
            dvec g, g_moved;
            net.gradient(w, g);
            net.gradient(moved, g_moved);
            REQUIRE(relative_error(g, g_moved) > 1e-3);
            action.transport(e, g);
            INFO(Action::name() << ": relative error " << relative_error(g, g_moved));
            REQUIRE(relative_error(g, g_moved) <= 1e-12);
        }
    };
    const auto linear = make_net<mlp<double, 5, identity_act, se, true>>({4, 5, 6, 5, 4, 3}, 5, rng);
    check(linear, linear_action(linear.shape(), {1, 2, 3, 4}));
    check(linear, linear_action(linear.shape(), {2, 4}));
    const auto relu_net = make_net<mlp<double, 5, leaky, se, true>>({4, 6, 5, 7, 6, 3}, 5, rng);
    check(relu_net, rescaling_leaky(relu_net.shape(), {1, 2, 3, 4}));
    check(relu_net, rescaling_leaky(relu_net.shape(), {3}));
}

// --- 12: factored (low-rank) algebra elements ------------------------------------------------------

namespace {

groups::low_rank<double> random_factors(std::size_t d, std::size_t r, std::mt19937_64& rng, double norm) {
    groups::low_rank<double> f{normal_matrix(d, r, rng), normal_matrix(d, r, rng)};
    const double scale = std::sqrt(norm / std::sqrt(groups::squared_norm(f)));
    f.left *= scale;
    f.right *= scale;
    return f;
}

}  // namespace

TEST_CASE("factored elements I + U C Vᵀ equal the dense map of U Vᵀ", "[networks]") {
    std::mt19937_64 rng(1101);
    worst_error worst{"factored vs dense element (relative)"};
    for (const auto map : {groups::exp_map::exact, groups::exp_map::cayley, groups::exp_map::first_order})
        for (const bool bias : {false, true}) {
            INFO(groups::to_string(map) << ", bias " << bias);
            const tensor::network_shape shape{{5, 12, 10, 4}, bias};
            const nonlinear_leaky action(shape, {1, 2}, map);
            const matrix<double> x = normal_matrix(5, 3, rng);
            for (const double norm : {1e-3, 0.3, 2.0})
                for (const std::size_t rank : {std::size_t(1), std::size_t(3)}) {
                    const std::vector<groups::low_rank<double>> t{random_factors(12, rank, rng, norm),
                                                                  random_factors(10, rank, rng, norm)};
                    REQUIRE(std::abs(groups::squared_norm(t[0]) -
                                     double(xt::sum(groups::dense(t[0]) * groups::dense(t[0]))())) <= 1e-12);
                    const double scale = 0.7;
                    const auto factored = action.elements(t, scale);
                    std::vector<matrix<double>> full;
                    for (const auto& f : t) full.push_back(scale * groups::dense(f));
                    const auto dense = action.elements(full);
                    const dvec w = random_weights_off_kinks<leaky>(shape, x, rng);
                    dvec a = w, b = w;
                    action.apply(factored, a, x);
                    action.apply(dense, b, x);
                    const double e = relative_error(a, b);
                    INFO("norm " << norm << ", rank " << rank << ": relative error " << e);
                    REQUIRE(e <= 1e-12);
                    worst.update(e);
                    // composing with a factored step is composing with its dense twin
                    auto ca = action.identity<double>(), cb = action.identity<double>();
                    const auto start = action.elements(random_algebra(action, rng, 0.5));
                    nonlinear_leaky::compose(ca, start);
                    nonlinear_leaky::compose(cb, start);
                    nonlinear_leaky::compose(ca, factored);
                    nonlinear_leaky::compose(cb, dense);
                    for (std::size_t p = 0; p < ca.size(); ++p) {
                        REQUIRE(relative_error(ca[p].g, cb[p].g) <= 1e-12);
                        REQUIRE(relative_error(ca[p].g_inverse, cb[p].g_inverse) <= 1e-12);
                    }
                }
        }
    // the rank-0 identity projects like the dense identity (projection form) or, like it, leaves w
    // bitwise alone (minimal form)
    const tensor::network_shape shape{{5, 12, 10, 4}, false};
    const nonlinear_leaky action(shape, {1, 2});
    const nonlinear_leaky projecting(shape, {1, 2}, exp_map::exact, projection);
    const matrix<double> x = normal_matrix(5, 3, rng);
    const dvec w = random_weights(shape, rng);
    dvec a = w, b = w;
    projecting.apply(projecting.factored_identity<double>(), a, x);
    projecting.apply(projecting.identity<double>(), b, x);
    REQUIRE(relative_error(a, b) <= 1e-13);
    REQUIRE(relative_error(a, w) > 1e-3);
    a = w;
    b = w;
    action.apply(action.factored_identity<double>(), a, x);
    action.apply(action.identity<double>(), b, x);
    REQUIRE(identical(a, w));
    REQUIRE(identical(b, w));
    // bad factors are refused
    std::vector<groups::low_rank<double>> bad{random_factors(12, 2, rng, 1.0), random_factors(9, 2, rng, 1.0)};
    REQUIRE_THROWS_AS(action.elements(bad, 1.0), std::invalid_argument);
    bad[1] = random_factors(10, 2, rng, 1.0);
    bad[1].right = normal_matrix(10, 3, rng);
    REQUIRE_THROWS_AS(action.elements(bad, 1.0), std::invalid_argument);
    bad[1] = random_factors(10, 2, rng, 1.0);
    bad[1].left(0, 0) = std::numeric_limits<double>::infinity();
    REQUIRE_THROWS_AS(action.elements(bad, 1.0), std::domain_error);
}

TEST_CASE("eq. 8's teleport gradient has the rank of the batch, and factored teleports match dense steps",
          "[networks][teleport]") {
    std::mt19937_64 rng(1201);
    worst_error worst{"factored teleport vs dense steps (relative)"};
    // widths 24 and 20 against a batch of 3 and 4 outputs: ranks 3 and 3 + 4 in the projection form
    // (factored steps), 3 + 20 and 3 + 4 from the weights in the minimal form (dense steps; the
    // teleport runs in activation space, ranks 2·3 and 3 + 3)
    auto check = [&]<class Net>(const Net& net, action_form form) {
        INFO("bias " << net.shape().bias << ", " << groups::to_string(form));
        const nonlinear_leaky action(net.shape(), {1, 2}, exp_map::exact, form);
        const network_teleport_objective<Net, nonlinear_leaky> objective(net, action);
        dvec w = random_weights_off_kinks<leaky>(net.shape(), net.x(), rng);
        to_identity_image(action, w, net.x());
        std::vector<groups::low_rank<double>> factors;
        std::vector<matrix<double>> full;
        const double j = objective.value_and_gradient(w, factors);
        REQUIRE(j == objective.value_and_gradient(w, full));
        REQUIRE(factors[0].rank() == (form == projection ? 3 : 3 + 20));
        REQUIRE(factors[1].rank() == 3 + 4);
        for (std::size_t p = 0; p < 2; ++p) REQUIRE(factors[p].rank() == action.gradient_rank(p + 1, 3));
        REQUIRE(detail::factored_steps(action, 3) == (form == projection));
        REQUIRE(detail::factored_steps_in_activation_space(action, 3));
        for (std::size_t p = 0; p < 2; ++p) REQUIRE(relative_error(groups::dense(factors[p]), full[p]) <= 1e-13);

        // a 3-step ascent through teleport_network against the same steps taken with dense elements
        const double lr = 0.05 / std::sqrt(detail::squared_norm(full));
        teleport_settings settings;
        settings.strategy = gradient_ascent{3, lr};
        dvec expected = w;
        for (int k = 0; k < 3; ++k) {
            objective.value_and_gradient(expected, full);
            for (auto& m : full) m *= lr;
            action.apply(action.elements(full), expected, net.x());
        }
        dvec tracked = w, untracked = w;
        std::mt19937_64 r1(0), r2(0);
        teleport_report report, untracked_report;
        const auto element = teleport_network(net, action, tracked, settings, r1, report);
        teleport_network_untracked(net, action, untracked, settings, r2, untracked_report);
        INFO(report.rejection);
        REQUIRE(report.accepted);
        REQUIRE(report.grad_norm_sq_after > report.grad_norm_sq_before);
        REQUIRE(report.relative_loss_change <= 1e-12);
        REQUIRE(identical(tracked, untracked));
        const double e = relative_error(tracked, expected);
        INFO("factored vs dense steps: relative error " << e);
        REQUIRE(e <= 1e-11);
        worst.update(e);
        // the tracked element maps the (projected) start to the result; in the minimal form, whose
        // adjacent pairs compose on the batch only, to its outputs there
        dvec again = w;
        action.apply(element, again, net.x());
        if (form == projection)
            REQUIRE(relative_error(again, tracked) <= 1e-10);
        else
            REQUIRE(relative_error(net.predict(again), net.predict(tracked)) <= 1e-10);
    };
    for (const action_form form : {projection, minimal}) {
        check(make_net<mlp<double, 3, leaky, ce, false>>({6, 24, 20, 4}, 3, rng), form);
        check(make_net<mlp<double, 3, leaky, ce, true>>({6, 24, 20, 4}, 3, rng), form);
    }
}

TEST_CASE("an MNIST-sized teleport (784-512-512-10, batch 20) keeps its batch loss", "[networks][teleport][invariance]") {
    // the mnist driver's setting: eq. 8 on both pairs, 10 ascent steps at lr 1e-3, factored steps;
    // pixels uniform in [0, 1), one-hot labels, PyTorch's nn.Linear initialization
    auto check = [&]<class T>(T, action_form form, double tolerance, double output_tolerance, double path_tolerance) {
        using net_type = mlp<T, 3, leaky, ce, false>;
        const std::vector<std::size_t> widths{784, 512, 512, 10};
        std::mt19937_64 rng(1301);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        matrix<T> x({784, 20});
        for (auto& e : x) e = T(u(rng));
        matrix<T> y = xt::zeros<T>({std::size_t(10), std::size_t(20)});
        for (std::size_t k = 0; k < 20; ++k) y(k % 10, k) = T(1);
        const net_type net(widths, x, y);
        xt::xtensor<T, 1> w = problems::linear_init(net, 1302);
        const nonlinear_leaky action(net.shape(), {1, 2}, exp_map::exact, form);
        teleport_settings settings;
        settings.strategy = gradient_ascent{10, 1e-3};
        settings.tolerance = tolerance;
        std::mt19937_64 teleport_rng(0);
        teleport_report report;
        const auto before = w;
        const matrix<T> logits = net.predict(w);
        teleport_network_untracked(net, action, w, settings, teleport_rng, report);
        INFO(report.rejection << "; relative loss change " << report.relative_loss_change);
        REQUIRE(report.accepted);
        REQUIRE(report.relative_loss_change <= tolerance);
        REQUIRE(report.objective_after > report.objective_before);  // the ascent went up
        REQUIRE(relative_error(w, before) > 1e-3);
        // the outputs on the batch, not only the loss, are those of the starting weights
        const double outputs = relative_error(net.predict(w), logits);
        REQUIRE(outputs <= output_tolerance);
        // the driver's teleport runs in activation space; the same search from the weights ends at
        // the same point up to rounding
        auto from_weights = before;
        std::mt19937_64 weights_rng(0);
        teleport_report weights_report;
        detail::teleport_network(net, action, from_weights, settings, weights_rng, weights_report, nullptr,
                                 detail::evaluation::weights);
        REQUIRE(weights_report.accepted);
        const double paths = relative_error(w, from_weights);
        REQUIRE(paths <= path_tolerance);
        if (std::getenv("TELEPORT_TEST_REPORT"))
            std::printf("  MNIST-sized teleport, %s, %s: batch loss change %.3g, outputs %.3g, J %.6g -> %.6g, "
                        "activation vs weight space %.3g\n",
                        sizeof(T) == 4 ? "float" : "double", groups::to_string(form), report.relative_loss_change, outputs,
                        report.objective_before, report.objective_after, paths);
    };
    // the loss: 1e-6 in double, the driver's tolerance 1e-5 in float; the outputs: measured 2.2e-15
    // and 9.3e-7 (minimal form), 1.2e-15 and 5.8e-7 (projection); activation against weight space:
    // measured 1.1e-14 and 1.3e-5 (minimal: the weight space takes dense 512 × 512 steps there),
    // 4.7e-15 and 2.6e-6 (projection)
    for (const action_form form : {projection, minimal}) {
        check(double{}, form, 1e-6, 1e-12, 1e-12);
        check(float{}, form, 1e-5, 1e-4, 1e-4);
    }
}

// --- 11: the objective in activation space -------------------------------------------------------

namespace {

// A random factored element per pair: scale · L Rᵀ with L, R of rank r and Frobenius norm ≈ size.
template <class Action>
std::vector<groups::factored_element<double>> random_factored(const Action& action, std::size_t r, double size,
                                                             std::mt19937_64& rng) {
    std::vector<groups::low_rank<double>> t;
    for (std::size_t k : action.pairs()) {
        const std::size_t d = action.shape().widths[k];
        t.push_back({normal_matrix(d, r, rng), normal_matrix(d, r, rng)});
    }
    double norm = 0;
    for (const auto& f : t) norm += groups::squared_norm(f);
    return action.elements(t, size / std::sqrt(norm));
}

std::vector<matrix<double>> dense_factors(const std::vector<groups::low_rank<double>>& f) {
    std::vector<matrix<double>> out;
    for (const auto& x : f) out.push_back(groups::dense(x));
    return out;
}

// The activation-space state against the weights: the projection, J and its gradient against
// network_teleport_objective, two moves by random factored elements against action.apply, and the
// gradient against differences of J(exp(εT)·w) (with_differences). Updates the worst relative errors.
template <class Net, class Action>
void check_activation_space(const Net& net, const Action& action, std::mt19937_64& rng, bool with_differences,
                            worst_error& worst, worst_error& worst_fd) {
    INFO(groups::to_string(action.form()) << " form");
    const network_teleport_objective<Net, Action> reference(net, action);
    activation_space_objective<Net, Action> state(net, action);
    const dvec start = random_weights_off_kinks<typename Net::activation>(net.shape(), net.x(), rng);
    dvec w = start;
    to_identity_image(action, w, net.x());
    state.reset(start);  // projects by itself in the projection form
    for (int move = 0; move < 3; ++move) {
        INFO("after " << move << " moves");
        dvec written = start;
        state.write(written);
        const double e_w = relative_error(written, w);
        REQUIRE(e_w <= 1e-12);
        std::vector<groups::low_rank<double>> fast;
        std::vector<matrix<double>> slow;
        const double j = state.value_and_gradient(fast);
        const double j_ref = reference.value_and_gradient(w, slow);
        REQUIRE(relative_change(j, j_ref) <= 1e-11);
        REQUIRE(relative_change(state.loss(), net.evaluate(w)) <= 1e-12);
        REQUIRE(relative_change(state.written_loss(), net.evaluate(written)) <= 1e-12);
        REQUIRE(fast.size() == action.pairs().size());
        std::size_t i = 0;
        for (std::size_t k : action.pairs()) {
            REQUIRE(fast[i].rank() == state.gradient_rank(k));
            REQUIRE(fast[i++].rank() == (action.projects() ? action.gradient_rank(k, net.x().shape(1))
                                                            : net.x().shape(1) + std::min(net.x().shape(1),
                                                                                          net.shape().widths[k + 1])));
        }
        const double e_g = relative_error(flat_algebra(dense_factors(fast)), flat_algebra(slow));
        INFO("J " << j << ", gradient: relative error " << e_g);
        REQUIRE(e_g <= 1e-11);
        worst.update(std::max(e_w, e_g));
        if (with_differences && move == 1) {
            const dvec fd = flat_algebra(fd_algebra_gradient(action, w, net.x(), [&](const dvec& moved) {
                return reference.value(moved);
            }));
            const double e_fd = relative_error(flat_algebra(dense_factors(fast)), fd);
            INFO("against differences: relative error " << e_fd);
            REQUIRE(e_fd <= 1e-7);
            worst_fd.update(e_fd);
        }
        const auto e = random_factored(action, 2, 0.3, rng);
        state.apply(e);
        action.apply(e, w, net.x());
    }
}

}  // namespace

TEST_CASE("the objective in activation space equals the generated one and finite differences",
          "[networks][teleport]") {
    worst_error worst{"activation-space objective vs weight space (relative)"};
    worst_error worst_fd{"activation-space gradient vs differences (relative)"};
    std::mt19937_64 rng(1401);
    // the minimal form's two factorizations of pair k: [A, −W_{k+1}ᵀ][h_k, U_{k+1}ᵀ] when d_{k+1} ≤ b
    // (the top pairs below 3 or 4 outputs), the rank-2b one otherwise
    const exp_map exact = exp_map::exact;
    for (const action_form form : {projection, minimal}) {
        {
            INFO("leaky_relu, cross-entropy, L=3, pairs {1, 2}, {1}, {2}, with and without bias");
            const auto net = make_net<mlp<double, 3, leaky, ce, false>>({6, 9, 8, 4}, 3, rng);
            for (const std::set<std::size_t>& pairs : {std::set<std::size_t>{1, 2}, {1}, {2}})
                check_activation_space(net, nonlinear_leaky(net.shape(), pairs, exact, form), rng, true, worst, worst_fd);
            const auto biased = make_net<mlp<double, 3, leaky, ce, true>>({6, 9, 8, 4}, 3, rng);
            for (const std::set<std::size_t>& pairs : {std::set<std::size_t>{1, 2}, {1}, {2}})
                check_activation_space(biased, nonlinear_leaky(biased.shape(), pairs, exact, form), rng, true, worst,
                                       worst_fd);
        }
        {
            INFO("leaky_relu, squared error, bias, L=5, pairs {1, 2, 3, 4}, {2, 4}, {1, 3}");
            const auto net = make_net<mlp<double, 5, leaky, se, true>>({5, 7, 6, 8, 7, 3}, 4, rng);
            for (const std::set<std::size_t>& pairs : {std::set<std::size_t>{1, 2, 3, 4}, {2, 4}, {1, 3}})
                check_activation_space(net, nonlinear_leaky(net.shape(), pairs, exact, form), rng, pairs.size() == 2,
                                       worst, worst_fd);
        }
        {
            INFO("bijective tanh (σ″ ≠ 0): squared error with bias L=3, cross-entropy L=5 pairs {1, 3, 4}");
            const auto net = make_net<mlp<double, 3, btanh, se, true>>({4, 6, 7, 3}, 3, rng);
            check_activation_space(net, nonlinear_tanh(net.shape(), {1, 2}, exact, form), rng, true, worst, worst_fd);
            const auto deep = make_net<mlp<double, 5, btanh, ce, false>>({4, 6, 5, 6, 5, 4}, 3, rng);
            check_activation_space(deep, nonlinear_tanh(deep.shape(), {1, 3, 4}, exact, form), rng, true, worst,
                                   worst_fd);
        }
    }
}

TEST_CASE("teleport_network in activation space takes the steps of the weight-space search", "[networks][teleport]") {
    std::mt19937_64 rng(1402);
    worst_error worst{"teleport in activation space vs weight space (relative)"};
    auto check = [&]<class Net>(const Net& net, std::set<std::size_t> pairs, action_form form) {
        INFO("bias " << net.shape().bias << ", " << pairs.size() << " pairs, " << groups::to_string(form));
        const nonlinear_leaky action(net.shape(), pairs, exp_map::exact, form);
        REQUIRE(detail::factored_steps_in_activation_space(action, net.x().shape(1)));
        dvec w = random_weights_off_kinks<leaky>(net.shape(), net.x(), rng);
        // steps of a fixed length in the algebra: 0.05 / ‖∂J/∂T‖ at the (projected) start
        dvec projected = w;
        to_identity_image(action, projected, net.x());
        std::vector<matrix<double>> grad;
        network_teleport_objective<Net, nonlinear_leaky>(net, action).value_and_gradient(projected, grad);
        teleport_settings settings;
        settings.strategy = gradient_ascent{5, 0.05 / std::sqrt(detail::squared_norm(grad))};
        dvec fast = w, slow = w;
        std::mt19937_64 r1(0), r2(0);
        teleport_report fast_report, slow_report;
        std::vector<groups::layer_element<double>> fast_element, slow_element;
        detail::teleport_network(net, action, fast, settings, r1, fast_report, &fast_element);
        detail::teleport_network(net, action, slow, settings, r2, slow_report, &slow_element,
                                 detail::evaluation::weights);
        INFO(fast_report.rejection << " / " << slow_report.rejection);
        REQUIRE(fast_report.accepted);
        REQUIRE(slow_report.accepted);
        REQUIRE(fast_report.objective_evaluations == slow_report.objective_evaluations);
        REQUIRE(relative_change(fast_report.objective_before, slow_report.objective_before) <= 1e-11);
        REQUIRE(fast_report.objective_after > fast_report.objective_before);
        REQUIRE(fast_report.relative_loss_change <= 1e-12);
        const double e = relative_error(fast, slow);
        INFO("weights: relative error " << e);
        REQUIRE(e <= 1e-10);
        REQUIRE(relative_error(fast, w) > 1e-3);  // it moved
        for (std::size_t p = 0; p < pairs.size(); ++p)
            REQUIRE(relative_error(fast_element[p].g, slow_element[p].g) <= 1e-10);
        worst.update(e);
    };
    for (const action_form form : {projection, minimal}) {
        check(make_net<mlp<double, 3, leaky, ce, false>>({6, 24, 20, 4}, 3, rng), {1, 2}, form);
        check(make_net<mlp<double, 3, leaky, ce, true>>({6, 24, 20, 4}, 3, rng), {1, 2}, form);
        check(make_net<mlp<double, 3, leaky, se, true>>({6, 24, 20, 4}, 3, rng), {2}, form);
        check(make_net<mlp<double, 4, leaky, se, false>>({6, 40, 8, 22, 4}, 3, rng), {1, 3}, form);
    }
}

TEST_CASE("network orbit positions model the engine's concepts and agree on J", "[networks][teleport][engine]") {
    using Net = mlp<double, 3, leaky, ce, false>;
    using orbit = network_symmetry<Net, nonlinear_leaky>::orbit;
    static_assert(symmetry<network_symmetry<Net, nonlinear_leaky>>);
    static_assert(jumping_orbit_position<weight_space_orbit<Net, nonlinear_leaky>>);
    static_assert(orbit_position<activation_space_orbit<Net, nonlinear_leaky>>);
    static_assert(jumping_orbit_position<orbit>);
    static_assert(symmetry<network_symmetry<Net, rescaling_leaky>>);
    // the fused trial (J, its gradient and L from one pass) where activation space may be chosen
    using direction = std::vector<groups::low_rank<double>>;
    static_assert(requires(orbit& o, direction& d, double& loss) { o.value_and_gradient(d, loss); });
    static_assert(requires(activation_space_orbit<Net, nonlinear_leaky>& o, direction& d, double& loss) {
        o.value_and_gradient(d, loss);
    });
    std::mt19937_64 rng(1403);
    const auto net = make_net<Net>({6, 24, 20, 4}, 3, rng);
    for (const action_form form : {projection, minimal}) {
        INFO(groups::to_string(form) << " form");
        const nonlinear_leaky action(net.shape(), {1, 2}, exp_map::exact, form);
        REQUIRE(detail::factored_steps_in_activation_space(action, net.x().shape(1)));
        const dvec w = random_weights_off_kinks<leaky>(net.shape(), net.x(), rng);
        dvec start = w;
        to_identity_image(action, start, net.x());
        const network_teleport_objective<Net, nonlinear_leaky> objective(net, action);
        weight_space_orbit<Net, nonlinear_leaky> in_weights(objective, start, false);
        activation_space_orbit<Net, nonlinear_leaky> in_activations(net, action, w, false);
        // J and the loss at the start, and after the same step taken by both
        for (int k = 0; k < 3; ++k) {
            double loss_w = 0, loss_a = 0, loss_fused = 0;
            const double jw = double(in_weights.value(loss_w));
            const double ja = double(in_activations.value(loss_a));
            REQUIRE(relative_change(ja, jw) <= 1e-11);
            REQUIRE(relative_change(loss_a, loss_w) <= 1e-12);
            REQUIRE(relative_change(in_weights.loss(), loss_w) <= 1e-14);
            direction dw, da, fused;
            in_weights.value_and_gradient(dw);
            in_activations.value_and_gradient(da);
            REQUIRE(double(in_activations.value_and_gradient(fused, loss_fused)) == ja);
            REQUIRE(loss_fused == loss_a);
            REQUIRE(relative_error(flat_algebra(dense_factors(fused)), flat_algebra(dense_factors(dw))) <= 1e-11);
            const double scale = 0.05 / std::sqrt(detail::squared_norm(dw));
            in_weights.step(dw, scale);
            in_activations.step(da, scale);
        }
        dvec a, b;
        in_weights.write(a, w);
        in_activations.write(b, w);
        REQUIRE(relative_error(a, b) <= 1e-10);
        // the symmetry starts in activation space for gradient and normalized ascent, in weight space
        // when told to or for random search; either way the fused member gives J, its gradient and L
        const network_symmetry<Net, nonlinear_leaky> symmetry(net, action);
        const network_symmetry<Net, nonlinear_leaky> from_weights(net, action, false, detail::evaluation::weights);
        teleport_settings settings;
        std::mt19937_64 r(0);
        for (const teleport_strategy& strategy : {teleport_strategy(gradient_ascent{}), teleport_strategy(normalized_ascent{})}) {
            settings.strategy = strategy;
            REQUIRE(symmetry.start(w, settings, r).alternative() == 1);
            REQUIRE(from_weights.start(w, settings, r).alternative() == 0);
        }
        settings.strategy = random_search{};
        REQUIRE(symmetry.start(w, settings, r).alternative() == 0);
        settings.strategy = normalized_ascent{3};
        for (const auto* s : {&symmetry, &from_weights}) {
            auto position = s->start(w, settings, r);
            direction d_plain, d_fused;
            double loss = 0, loss_fused = 0;
            const double j = position.value(loss);
            REQUIRE(relative_change(position.value_and_gradient(d_fused, loss_fused), j) <= 1e-12);
            REQUIRE(relative_change(loss_fused, loss) <= 1e-14);
            REQUIRE(position.value_and_gradient(d_plain) == position.value_and_gradient(d_fused, loss_fused));
        }
        // and a normalized ascent in activation space ends where the one from the weights does
        dvec moved = w, moved_w = w;
        teleport_report report, report_w;
        std::mt19937_64 r1(0), r2(0);
        teleport_once(symmetry, moved, settings, r1, report);
        teleport_once(from_weights, moved_w, settings, r2, report_w);
        INFO(report.rejection << " / " << report_w.rejection);
        REQUIRE(report.accepted);
        REQUIRE(report_w.accepted);
        REQUIRE(report.objective_after > report.objective_before);
        REQUIRE(report.objective_evaluations == report_w.objective_evaluations);
        REQUIRE(relative_error(moved, moved_w) <= 1e-10);
    }
}

namespace {
// An objective of one's own: 3‖∇L‖², whose gradient in the algebra is 3 times the paper's.
struct tripled_gradient_norm {
    template <class F, class Vec>
    double value(const F& f, const Vec& w, Vec& g, double& loss) const {
        return 3 * squared_gradient_norm{}.value(f, w, g, loss);
    }
    template <class F, class Vec>
    double value_and_gradient(const F& f, const Vec& w, Vec& g, Vec& dj) const {
        const double j = squared_gradient_norm{}.value_and_gradient(f, w, g, dj);
        dj *= 3;
        return 3 * j;
    }
};
}  // namespace

TEST_CASE("a network symmetry takes any objective of the weights", "[networks][teleport][engine]") {
    using Net = mlp<double, 3, leaky, ce, false>;
    using tripled = network_symmetry<Net, nonlinear_leaky, tripled_gradient_norm>;
    // an objective other than ‖∇L‖² is evaluated from the weights (the activation-space state is
    // an evaluation of ‖∇L‖² only)
    static_assert(std::is_same_v<tripled::orbit, weight_space_orbit<Net, nonlinear_leaky, tripled_gradient_norm>>);
    std::mt19937_64 rng(1404);
    const auto net = make_net<Net>({6, 24, 20, 4}, 3, rng);
    const nonlinear_leaky action(net.shape(), {1, 2});
    const dvec w = random_weights_off_kinks<leaky>(net.shape(), net.x(), rng);
    const network_teleport_objective<Net, nonlinear_leaky> plain(net, action);
    const network_teleport_objective<Net, nonlinear_leaky, tripled_gradient_norm> three(net, action);
    std::vector<groups::low_rank<double>> dp, dt;
    const double jp = plain.value_and_gradient(w, dp);
    const double jt = three.value_and_gradient(w, dt);
    REQUIRE(jt == 3 * jp);
    REQUIRE(detail::squared_norm(dt) == Approx(9 * detail::squared_norm(dp)).epsilon(1e-12));
    // the same search, with the learning rate divided by 3, takes the same steps
    teleport_settings settings;
    settings.strategy = gradient_ascent{4, 0.05 / std::sqrt(detail::squared_norm(dp))};
    dvec a = w, b = w;
    teleport_report ra, rb;
    std::mt19937_64 r1(0), r2(0);
    teleport_once(network_symmetry<Net, nonlinear_leaky>(net, action, false, detail::evaluation::weights), a, settings,
                  r1, ra);
    settings.strategy = gradient_ascent{4, 0.05 / std::sqrt(detail::squared_norm(dp)) / 3};
    teleport_once(tripled(net, action), b, settings, r2, rb);
    REQUIRE(ra.accepted);
    REQUIRE(rb.accepted);
    REQUIRE(rb.objective_after == Approx(3 * ra.objective_after).epsilon(1e-10));
    REQUIRE(rb.grad_norm_sq_after == Approx(ra.grad_norm_sq_after).epsilon(1e-10));
    REQUIRE(relative_error(a, b) <= 1e-10);
}
