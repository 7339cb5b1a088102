// teleport/expr/recurrence.hpp — a loss through K time steps of a state recurrence, compiled to
// loops, with the adjoint (reverse) and forward-over-reverse passes generated from one step.
//
//   L(θ) = w Σ_{k=0}^{K−1} ℓ(s_k, d_k, θ),   s_{k+1} = F(s_k, d_k, θ),   w = 1 or 1/K
//
//   using namespace teleport::expr;
//   constexpr variable<0, "s"> s;      // variables 0 … S−1 are the state s_k
//   constexpr variable<1, "a"> a;      // variables S … S+P−1 are θ
//   constexpr parameter<0, "u"> u;     // parameter<j> is the j-th value of step k's data d_k
//   constexpr parameter<1, "y"> y;
//   auto f = make_recurrence<1, 1>(next_state(a * s + u), pow<2>(s - y), data);  // data: u_0, y_0, u_1, y_1, …
//   double loss = f.evaluate_with_gradient(theta, g);
//
// F (one expression per state component) and ℓ are ordinary compile-time expressions of a small
// state; K is known only at run time (data holds K rows of D values, D the number of parameters
// the step and the loss read). From F and ℓ the engine generates, at compile time:
//   forward        (ℓ, F_0 … F_{S−1}) in one program per step;
//   adjoint        ∂ℓ/∂z_j + Σ_i λ_i ∂F_i/∂z_j for every state and θ variable z_j, in one program
//                  (λ_{k+1} is a set of extra variables): λ_k is the state part, the θ part is
//                  added to the gradient — the adjoint recursion with λ_K = 0;
//   tangent        F and its directional derivative Σ_j ∂F/∂z_j ż_j along (ṡ_k, v);
//   second order   the adjoint's state part and the directional derivatives of every adjoint
//                  expression along (ṡ_k, v, λ̇_{k+1}): forward-over-reverse, H v exactly.
// Each is a straight-line program with common subexpressions shared, inside a loop over k; the
// size of the generated code depends on F and ℓ only, never on K. Directional derivatives are
// formed in forward mode (d/dt E(z + t ż) at t = 0), and the programs' sums are balanced trees: a
// loop over k is bound by the latency of what carries s_k or λ_k to the next step.
//
// With initial_state::parameter, s_0 is differentiated too: the point is (θ, s_0) and the gradient's
// last S entries are ∂L/∂s_0 = w λ_0. Memory: the backward pass needs every s_k. checkpointing::all()
// keeps them (K states); checkpointing::every(C) keeps every C-th and recomputes each segment
// from its checkpoint during the backward pass (K/C + C states, one more forward pass);
// checkpointing::sqrt_k() takes C = ⌈√K⌉. The recomputed states are the stored ones bit for bit,
// so every result equals the store-everything run exactly.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "teleport/expr/calculus.hpp"
#include "teleport/expr/evaluate.hpp"
#include "teleport/expr/symbolic_function.hpp"

namespace teleport::expr {

/// The state update s_{k+1} = (F_0, …, F_{S−1}): one expression per state component.
template <expression... F>
struct state_update {
    static constexpr std::size_t size = sizeof...(F);
};
template <expression... F>
constexpr state_update<F...> next_state(F...) {
    return {};
}

/// Whether s_0 is data (given in the options, zero by default) or differentiated with θ.
enum class initial_state { data, parameter };

/// L = Σ_k ℓ_k, or the mean (1/K) Σ_k ℓ_k.
enum class reduction { sum, mean };

/// Which states the gradient and the Hessian-vector product keep for their backward pass.
struct checkpointing {
    std::size_t interval = 1;  // a state kept every `interval` steps
    bool square_root = false;  // interval ⌈√K⌉, whatever K is
    /// Every state (K of them): no recomputation.
    static constexpr checkpointing all() { return {1, false}; }
    /// Every C-th state; the others recomputed segment by segment (K/C + C states).
    static constexpr checkpointing every(std::size_t steps) { return {steps, false}; }
    /// C = ⌈√K⌉: memory O(√K) for one extra forward pass.
    static constexpr checkpointing sqrt_k() { return {0, true}; }
};

struct recurrence_options {
    std::vector<double> initial_state{};  // s_0 when it is data (zeros when empty)
    reduction loss = reduction::sum;
    checkpointing checkpoints = checkpointing::all();
    std::size_t steps = 0;  // K; needed only when neither F nor ℓ reads data
};

namespace detail {

// Several arrays read as one vector of variables: variable i is in the segment whose range holds
// it. The index is a compile-time constant wherever the evaluator reads a variable, so after
// inlining the choice of segment costs nothing.
template <class T, std::size_t... Sizes>
struct joined {
    static constexpr std::size_t count = sizeof...(Sizes);
    static constexpr std::array<std::size_t, count> sizes{Sizes...};
    std::array<const T*, count> at;

    template <std::size_t Segment>
    [[gnu::always_inline]] T get(std::size_t i) const {
        if constexpr (Segment + 1 == count) {
            return at[Segment][i];
        } else {
            if (i < sizes[Segment]) return at[Segment][i];
            return get<Segment + 1>(i - sizes[Segment]);
        }
    }
    [[gnu::always_inline]] T operator[](std::size_t i) const { return get<0>(i); }
};

// The K-th type of a type_list.
template <std::size_t K, class List> struct type_at_of;
template <std::size_t K, class... Ts> struct type_at_of<K, type_list<Ts...>> {
    using type = pack_element<K, Ts...>;
};
template <std::size_t K, class List>
using type_at = typename type_at_of<K, List>::type;

// Step k's data d_k as the evaluator's parameters.
struct step_data {
    const double* at;
    [[gnu::always_inline]] double operator[](std::size_t j) const { return at[j]; }
};

// ∂ℓ/∂z_J + Σ_i λ_i ∂F_i/∂z_J, with λ_i = variable<Lambda + i>.
template <std::size_t J, std::size_t Lambda, class L, class... F>
constexpr auto adjoint_entry() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return fold_add(diff<J>(L{}), make_mul(variable<Lambda + I>{}, diff<J>(F{}))...);
    }(std::index_sequence_for<F...>{});
}

// The directional derivative Σ_j ∂E/∂z_j ż_j, with ż_j = variable<Shift + j> (every variable of E
// is below Shift), as forward mode computes it: d/dt E(z + t ż) at t = 0, t a variable of its own.
// Differentiating along t applies the chain rule once through E's structure, so a subexpression's
// derivative (ṙ for a residual r) is one node shared by every expression that contains r; summing
// the partial derivatives ∂E/∂z_j instead multiplies r's derivative out into every term.
template <std::size_t Shift, class E>
constexpr auto directional() {
    constexpr std::size_t t = 2 * Shift;
    using moved = decltype([]<std::size_t... J>(std::index_sequence<J...>) {
        return substitute_all(E{}, std::tuple{make_add(variable<J>{}, make_mul(variable<t>{}, variable<Shift + J>{}))...});
    }(std::make_index_sequence<Shift>{}));
    return substitute_one<t>(diff<t>(moved{}), zero{});
}

// E with every n-ary sum rebuilt as a balanced tree of two-term sums. A loop over k is bound by the
// latency of what carries s_k (or λ_k) to the next step, and an n-term sum evaluated left to right
// is a chain of n − 1 additions; as a tree it is ⌈log₂ n⌉ deep. Equal subexpressions stay equal
// types, so they are still shared.
template <class E> constexpr auto balanced(E);
template <class... T>
constexpr auto add_tree(T...) {
    if constexpr (sizeof...(T) <= 2) {
        return node<op::add, T...>{};
    } else {
        constexpr std::size_t half = sizeof...(T) / 2;
        return []<std::size_t... I, std::size_t... J>(std::index_sequence<I...>, std::index_sequence<J...>) {
            return node<op::add, decltype(add_tree(pack_element<I, T...>{}...)),
                        decltype(add_tree(pack_element<half + J, T...>{}...))>{};
        }(std::make_index_sequence<half>{}, std::make_index_sequence<sizeof...(T) - half>{});
    }
}
template <class E>
constexpr auto balanced(E e) {
    if constexpr (is_node<E>::value) {
        return []<class Op, class... C>(node<Op, C...>) {
            if constexpr (std::is_same_v<Op, op::add>) return add_tree(balanced(C{})...);
            else return node<Op, decltype(balanced(C{}))...>{};
        }(e);
    } else {
        return e;
    }
}
template <class... E>
using balanced_program = program<decltype(balanced(E{}))...>;
template <class List> struct balanced_program_of;
template <class... E> struct balanced_program_of<type_list<E...>> {
    using type = balanced_program<E...>;
};

template <std::size_t S, std::size_t P, class L, class... F>
struct recurrence_programs {
    static constexpr std::size_t M = S + P;  // state and θ variables
    // variables [s, θ]
    using forward = balanced_program<L, F...>;
    using step = balanced_program<F...>;
    // variables [s, θ, λ]: the S entries of λ_k, then the P gradient terms
    template <std::size_t... J>
    static auto adjoint_list(std::index_sequence<J...>) -> type_list<decltype(adjoint_entry<J, M, L, F...>())...>;
    using adjoint_roots = decltype(adjoint_list(std::make_index_sequence<M>{}));
    using adjoint = typename balanced_program_of<adjoint_roots>::type;
    // variables [s, θ, ṡ, v]: F, then its derivative along (ṡ, v)
    using tangent = balanced_program<F..., decltype(directional<M, F>())...>;
    // variables [s, θ, λ, ṡ, v, λ̇]: λ_k (S), then the derivatives of all M adjoint entries
    template <std::size_t... I, std::size_t... J>
    static auto second_roots_of(std::index_sequence<I...>, std::index_sequence<J...>)
        -> type_list<type_at<I, adjoint_roots>...,
                     decltype(directional<M + S, type_at<J, adjoint_roots>>())...>;
    using second_roots = decltype(second_roots_of(std::make_index_sequence<S>{}, std::make_index_sequence<M>{}));
    using second = typename balanced_program_of<second_roots>::type;
};

}  // namespace detail

/// A loss through a state recurrence as a differentiable function of θ (and s_0): evaluate, gradient,
/// evaluate_with_gradient, hessian_vector_product, like symbolic_function. Made by make_recurrence.
template <std::size_t S, std::size_t P, initial_state Init, class Update, class L>
class recurrence_function;

template <std::size_t S, std::size_t P, initial_state Init, class... F, class L>
class recurrence_function<S, P, Init, state_update<F...>, L> {
    static_assert(sizeof...(F) == S, "the state update of a recurrence needs one expression per state component");
    static_assert(std::max({variable_count_v<L>, variable_count_v<F>...}) <= S + P,
                  "the step and the loss of a recurrence may use only variables 0 … S+P−1 (the state, then θ)");

    using programs = detail::recurrence_programs<S, P, L, F...>;
    static constexpr std::size_t M = S + P;

  public:
    using state = std::array<double, S>;
    static constexpr std::size_t state_size = S;
    static constexpr std::size_t parameter_size = P;
    /// The number of differentiated parameters: θ, then s_0 with initial_state::parameter.
    static constexpr std::size_t dimension = P + (Init == initial_state::parameter ? S : 0);
    /// D: the values of one step's data (the largest parameter<j> the step or the loss reads, plus one).
    static constexpr std::size_t data_per_step = std::max({parameter_count_v<L>, parameter_count_v<F>...});

    /// Distinct nodes of the generated per-step programs (the size of the loops' bodies).
    static constexpr std::size_t loss_nodes = programs::forward::node_count;
    static constexpr std::size_t adjoint_nodes = programs::adjoint::node_count;
    static constexpr std::size_t tangent_nodes = programs::tangent::node_count;
    static constexpr std::size_t second_order_nodes = programs::second::node_count;

    recurrence_function(std::span<const double> data, recurrence_options options) : options_(std::move(options)) {
        if (options_.checkpoints.interval == 0 && !options_.checkpoints.square_root)
            throw std::invalid_argument("recurrence: the checkpoint interval must be at least 1 step");
        if constexpr (Init == initial_state::parameter) {
            if (!options_.initial_state.empty())
                throw std::invalid_argument("recurrence: the initial state is a parameter (the point's last " +
                                            std::to_string(S) + " entries), so it cannot be given as data");
        } else {
            if (options_.initial_state.empty()) options_.initial_state.assign(S, 0.0);
            if (options_.initial_state.size() != S)
                throw std::invalid_argument("recurrence: the initial state has " + std::to_string(options_.initial_state.size()) +
                                            " entries but the state has " + std::to_string(S));
        }
        set_data(data);
    }

    /// Replace the data (K·D values, step by step); K follows from its length.
    void set_data(std::span<const double> data) {
        if constexpr (data_per_step == 0) {
            if (!data.empty())
                throw std::invalid_argument("recurrence: " + std::to_string(data.size()) +
                                            " data values given, but neither the step nor the loss reads data");
            steps_ = options_.steps;
        } else {
            if (data.size() % data_per_step != 0)
                throw std::invalid_argument("recurrence: " + std::to_string(data.size()) + " data values are not a multiple of the " +
                                            std::to_string(data_per_step) + " values each step reads");
            steps_ = data.size() / data_per_step;
            if (options_.steps != 0 && options_.steps != steps_)
                throw std::invalid_argument("recurrence: the data hold " + std::to_string(steps_) + " steps but " +
                                            std::to_string(options_.steps) + " were asked for");
        }
        if (steps_ == 0) throw std::invalid_argument("recurrence: the number of steps K must be at least 1");
        data_.assign(data.begin(), data.end());
    }

    std::size_t steps() const { return steps_; }
    /// C: a state is kept every C steps for the backward pass (1: all of them).
    std::size_t checkpoint_interval() const {
        if (!options_.checkpoints.square_root) return std::min(options_.checkpoints.interval, steps_);
        auto c = static_cast<std::size_t>(std::sqrt(static_cast<double>(steps_)));
        while (c * c < steps_) ++c;
        return std::max<std::size_t>(c, 1);
    }
    /// The number of states the backward pass holds at once (checkpoints and one segment).
    std::size_t stored_states() const {
        const std::size_t c = checkpoint_interval();
        return (steps_ + c - 1) / c + (c == 1 ? 0 : c);
    }

    /// L(θ[, s_0]).
    template <class X>
    detail::value_type_of<X> evaluate(const X& x) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<dimension>(x, "the point");
        const auto z = unpack<T>(x);
        std::array<T, S> s = initial<T>(z);
        T sum{};
        for (std::size_t k = 0; k < steps_; ++k) {
            std::array<T, S> next;
            programs::forward::template run_into<T>(at_state(s, z), step(k), [&](auto i, T value) {
                if constexpr (i == 0) sum += value;
                else next[i - 1] = value;
            });
            s = next;
        }
        return finish(sum);
    }

    /// g = ∇L by the adjoint recursion.
    template <class X, class G>
    void gradient(const X& x, G& g) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<dimension>(x, "the point");
        detail::check_vector<dimension>(g, "the gradient");
        (void)forward_and_back<T, false>(x, g);
    }

    /// L, with g = ∇L from the same forward pass.
    template <class X, class G>
    detail::value_type_of<X> evaluate_with_gradient(const X& x, G& g) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<dimension>(x, "the point");
        detail::check_vector<dimension>(g, "the gradient");
        return forward_and_back<T, true>(x, g);
    }

    /// out = ∇²L v, forward over reverse: tangent states ṡ_k = ∂s_k/∂θ·v forward, then the
    /// derivative of the adjoint recursion along v backward.
    template <class X, class V, class O>
    void hessian_vector_product(const X& x, const V& v, O& out) const {
        using T = detail::value_type_of<X>;
        detail::check_vector<dimension>(x, "the point");
        detail::check_vector<dimension>(v, "the direction");
        detail::check_vector<dimension>(out, "the product");
        const auto z = unpack<T>(x);
        const auto dz = unpack<T>(v);
        using pair = std::array<T, 2 * S>;  // (s_k, ṡ_k)
        const std::size_t c = checkpoint_interval();
        std::vector<pair> kept((steps_ + c - 1) / c);
        pair sd{};
        {
            const auto s0 = initial<T>(z);
            std::copy(s0.begin(), s0.end(), sd.begin());
            if constexpr (Init == initial_state::parameter)
                for (std::size_t i = 0; i < S; ++i) sd[S + i] = dz[P + i];
        }
        auto advance = [&](const pair& from, pair& to, std::size_t k) {
            programs::tangent::template run_into<T>(detail::joined<T, S, P, S, P>{{from.data(), z.data(), from.data() + S, dz.data()}},
                                                    step(k), [&](auto i, T value) { to[i] = value; });
        };
        for (std::size_t k = 0; k < steps_; ++k) {
            if (k % c == 0) kept[k / c] = sd;
            if (k + 1 < steps_) {
                pair next;
                advance(sd, next, k);
                sd = next;
            }
        }
        std::array<T, S> l{}, dl{};
        std::array<T, P> h{};
        auto back = [&](const pair* states, std::size_t first, std::size_t count) {
            for (std::size_t j = count; j-- > 0;) {
                const pair& at = states[j];
                std::array<T, S> nl, ndl;
                programs::second::template run_into<T>(
                    detail::joined<T, S, P, S, S, P, S>{{at.data(), z.data(), l.data(), at.data() + S, dz.data(), dl.data()}},
                    step(first + j), [&](auto i, T value) {
                        if constexpr (i < S) nl[i] = value;
                        else if constexpr (i < 2 * S) ndl[i - S] = value;
                        else h[i - 2 * S] += value;
                    });
                l = nl;
                dl = ndl;
            }
        };
        backward(kept, c, back, advance);
        write_result(h, dl, out);
    }

  private:
    recurrence_options options_;
    std::vector<double> data_;
    std::size_t steps_ = 0;

    detail::step_data step(std::size_t k) const { return {data_.data() + k * data_per_step}; }

    template <class T, class X>
    std::array<T, dimension> unpack(const X& x) const {
        std::array<T, dimension> z{};
        // x has `dimension` entries (checked); the bound says so to the compiler too
        const std::size_t n = std::min<std::size_t>(dimension, std::size(x));
        for (std::size_t i = 0; i < n; ++i) z[i] = static_cast<T>(x[i]);
        return z;
    }
    template <class T>
    std::array<T, S> initial(const std::array<T, dimension>& z) const {
        std::array<T, S> s;
        for (std::size_t i = 0; i < S; ++i) {
            if constexpr (Init == initial_state::parameter) s[i] = z[P + i];
            else s[i] = static_cast<T>(options_.initial_state[i]);
        }
        return s;
    }
    template <class T>
    static detail::joined<T, S, P> at_state(const std::array<T, S>& s, const std::array<T, dimension>& z) {
        return {{s.data(), z.data()}};
    }
    template <class T>
    T weight() const {
        return options_.loss == reduction::mean ? T(1) / static_cast<T>(steps_) : T(1);
    }
    // The backward pass's sums as the result: the θ part h, then (s_0 a parameter) the adjoint λ_0
    // (or its derivative), both weighted by the reduction.
    template <class T, class Out>
    void write_result(const std::array<T, P>& h, const std::array<T, S>& l, Out& out) const {
        const T w = weight<T>();
        for (std::size_t j = 0; j < P; ++j) out[j] = h[j] * w;
        if constexpr (Init == initial_state::parameter)
            for (std::size_t i = 0; i < S; ++i) out[P + i] = l[i] * w;
    }
    template <class T>
    T finish(T sum) const {
        return options_.loss == reduction::mean ? sum / static_cast<T>(steps_) : sum;
    }

    // The backward pass over the kept states: one segment of all K states when every state is
    // kept, else segments of C steps, last first, each recomputed from its checkpoint by
    // `advance` (the forward pass's own program, so the states are the same bits).
    template <class Kept, class Back, class Advance>
    void backward(const Kept& kept, std::size_t c, Back& back, Advance& advance) const {
        if (c == 1) {
            back(kept.data(), 0, steps_);
            return;
        }
        std::vector<typename Kept::value_type> segment(c);
        for (std::size_t m = kept.size(); m-- > 0;) {
            const std::size_t first = m * c, count = std::min(c, steps_ - first);
            segment[0] = kept[m];
            for (std::size_t j = 1; j < count; ++j) advance(segment[j - 1], segment[j], first + j - 1);
            back(segment.data(), first, count);
        }
    }

    template <class T, bool WithValue, class X, class G>
    T forward_and_back(const X& x, G& g) const {
        const auto z = unpack<T>(x);
        const std::size_t c = checkpoint_interval();
        std::vector<std::array<T, S>> kept((steps_ + c - 1) / c);
        std::array<T, S> s = initial<T>(z);
        T sum{};
        auto advance = [&](const std::array<T, S>& from, std::array<T, S>& to, std::size_t k) {
            programs::step::template run_into<T>(at_state(from, z), step(k), [&](auto i, T value) { to[i] = value; });
        };
        for (std::size_t k = 0; k < steps_; ++k) {
            if (k % c == 0) kept[k / c] = s;
            std::array<T, S> next;
            if constexpr (WithValue) {
                programs::forward::template run_into<T>(at_state(s, z), step(k), [&](auto i, T value) {
                    if constexpr (i == 0) sum += value;
                    else next[i - 1] = value;
                });
            } else {
                if (k + 1 == steps_) break;
                advance(s, next, k);
            }
            s = next;
        }
        std::array<T, S> l{};
        std::array<T, P> h{};
        auto back = [&](const std::array<T, S>* states, std::size_t first, std::size_t count) {
            for (std::size_t j = count; j-- > 0;) {
                std::array<T, S> nl;
                programs::adjoint::template run_into<T>(detail::joined<T, S, P, S>{{states[j].data(), z.data(), l.data()}},
                                                        step(first + j), [&](auto i, T value) {
                                                            if constexpr (i < S) nl[i] = value;
                                                            else h[i - S] += value;
                                                        });
                l = nl;
            }
        };
        backward(kept, c, back, advance);
        write_result(h, l, g);
        return finish(sum);
    }
};

namespace detail {
// What make_recurrence returns when a static_assert has already said what is wrong: a stand-in
// with the members a caller uses, so that the sentence is the only error.
struct invalid_recurrence {
    static constexpr std::size_t dimension = 0;
    template <class... A> double evaluate(const A&...) const { return 0; }
    template <class... A> void gradient(const A&...) const {}
    template <class... A> double evaluate_with_gradient(const A&...) const { return 0; }
    template <class... A> void hessian_vector_product(const A&...) const {}
};
}  // namespace detail

/// The loss Σ_k ℓ(s_k, d_k, θ) (or its mean) through s_{k+1} = F(s_k, d_k, θ), k = 0 … K−1, with S
/// state variables (0 … S−1) and P parameters θ (S … S+P−1) in F and ℓ, and data d_k = parameter<0 … D−1>
/// read from `data` (K rows of D values). Init: whether s_0 is data or differentiated too.
template <std::size_t S, std::size_t P, initial_state Init = initial_state::data, expression... F, expression L>
auto make_recurrence(state_update<F...>, L, std::span<const double> data, recurrence_options options = {}) {
    constexpr bool components = sizeof...(F) == S;
    static_assert(components, "the state update of a recurrence needs one expression per state component");
    constexpr bool variables = std::max({variable_count_v<L>, variable_count_v<F>...}) <= S + P;
    static_assert(variables, "the step and the loss of a recurrence may use only variables 0 … S+P−1 (the state, then θ)");
    if constexpr (components && variables) {
        return recurrence_function<S, P, Init, state_update<F...>, L>(data, std::move(options));
    } else {
        return detail::invalid_recurrence{};
    }
}

}  // namespace teleport::expr

namespace teleport {
using expr::make_recurrence;
using expr::next_state;
}  // namespace teleport
