// teleport/groups/any_action.hpp — a group action with a name a user can write.
//
// any_action<A, N> holds any action of the group of the algebra A on N parameters (a
// coordinate_action, a representation, a user's own class with apply and apply_derivative) behind
// one virtual call, so that it can be a class member or cross an interface:
//
//     teleport::groups::any_action<teleport::groups::gl<3>, 15> symmetry_;
//
// jacobian(g, w) is forwarded when the held action has one (otherwise it throws std::logic_error
// with one line: only state_policy::transport uses it), check(w) when it has one.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "teleport/groups/lie_algebra.hpp"
#include "teleport/groups/small_matrix.hpp"

namespace teleport::groups {

template <lie_algebra A, std::size_t N>
class any_action {
  public:
    using algebra = A;
    static constexpr std::size_t n = N;
    using point = std::array<double, N>;
    using element = small_matrix<A::n>;

    template <class Action>
        requires(!std::same_as<std::remove_cvref_t<Action>, any_action> &&
                 requires(const std::remove_cvref_t<Action>& a, const element& g, const point& w) {
                     { a.apply(g, w) } -> std::same_as<point>;
                     { a.apply_derivative(g, g, w) } -> std::same_as<point>;
                 })
    any_action(Action&& action)
        : model_(std::make_shared<holder<std::remove_cvref_t<Action>>>(std::forward<Action>(action))) {
        static_assert(std::is_same_v<typename std::remove_cvref_t<Action>::algebra, A>,
                      "any_action<A, N> holds an action of the group of A only");
    }

    point apply(const element& g, const point& w) const { return model_->apply(g, w); }
    point apply_derivative(const element& g, const element& dg, const point& w) const {
        return model_->apply_derivative(g, dg, w);
    }
    small_matrix<N> jacobian(const element& g, const point& w) const { return model_->jacobian(g, w); }
    void check(const point& w) const { model_->check(w); }

  private:
    struct model {
        virtual ~model() = default;
        virtual point apply(const element& g, const point& w) const = 0;
        virtual point apply_derivative(const element& g, const element& dg, const point& w) const = 0;
        virtual small_matrix<N> jacobian(const element& g, const point& w) const = 0;
        virtual void check(const point& w) const = 0;
    };
    template <class Action>
    struct holder final : model {
        Action a;
        explicit holder(Action value) : a(std::move(value)) {}
        point apply(const element& g, const point& w) const override { return a.apply(g, w); }
        point apply_derivative(const element& g, const element& dg, const point& w) const override {
            return a.apply_derivative(g, dg, w);
        }
        small_matrix<N> jacobian(const element& g, const point& w) const override {
            if constexpr (requires { a.jacobian(g, w); }) return a.jacobian(g, w);
            else throw std::logic_error("any_action: the action it holds has no jacobian(g, w)");
        }
        void check(const point& w) const override {
            if constexpr (requires { a.check(w); }) a.check(w);
        }
    };
    std::shared_ptr<const model> model_;
};

}  // namespace teleport::groups
