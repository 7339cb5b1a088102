// teleport/core/any_loss.hpp — a loss of N parameters with a name a user can write.
//
// A symbolic loss has a type only the compiler can spell, and a user's own loss object has its
// own class; neither can be a member of a class declared before it is built without decltype.
// any_loss<N> holds either (a copy, shared) behind one virtual call per evaluation:
//
//     class controller {
//         teleport::any_loss<15> loss_;
//       public:
//         explicit controller(teleport::any_loss<15> loss) : loss_(std::move(loss)) {}
//     };
//
// It provides evaluate, gradient, evaluate_with_gradient and hessian_vector_product on
// std::array<double, N> — the last only when the held loss has one (calling it otherwise throws
// std::logic_error with one line; has_hessian_vector_product() says which).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "teleport/core/function.hpp"

namespace teleport {

template <std::size_t N>
class any_loss {
  public:
    using point = std::array<double, N>;
    static constexpr std::size_t dimension = N;

    template <class F>
        requires(!std::same_as<std::remove_cvref_t<F>, any_loss> && evaluable_with_gradient<std::remove_cvref_t<F>, point>)
    any_loss(F&& f) : model_(std::make_shared<holder<std::remove_cvref_t<F>>>(std::forward<F>(f))) {}

    double evaluate(const point& x) const { return model_->evaluate(x); }
    void gradient(const point& x, point& g) const { (void)model_->evaluate_with_gradient(x, g); }
    double evaluate_with_gradient(const point& x, point& g) const { return model_->evaluate_with_gradient(x, g); }
    void hessian_vector_product(const point& x, const point& v, point& out) const { model_->hessian_vector_product(x, v, out); }
    bool has_hessian_vector_product() const { return model_->has_hessian_vector_product(); }

  private:
    struct model {
        virtual ~model() = default;
        virtual double evaluate(const point& x) const = 0;
        virtual double evaluate_with_gradient(const point& x, point& g) const = 0;
        virtual void hessian_vector_product(const point& x, const point& v, point& out) const = 0;
        virtual bool has_hessian_vector_product() const = 0;
    };
    template <class F>
    struct holder final : model {
        F f;
        explicit holder(F value) : f(std::move(value)) {}
        double evaluate(const point& x) const override {
            if constexpr (requires { f.evaluate(x); }) {
                return double(f.evaluate(x));
            } else {
                point g{};
                return double(f.evaluate_with_gradient(x, g));
            }
        }
        double evaluate_with_gradient(const point& x, point& g) const override {
            return double(teleport::evaluate_with_gradient(f, x, g));
        }
        static constexpr bool hvp = requires(const F& h, const point& x, const point& v, point& out) {
            h.hessian_vector_product(x, v, out);
        };
        void hessian_vector_product(const point& x, const point& v, point& out) const override {
            if constexpr (hvp) f.hessian_vector_product(x, v, out);
            else throw std::logic_error("any_loss: the loss it holds has no hessian_vector_product(x, v, out)");
        }
        bool has_hessian_vector_product() const override { return hvp; }
    };
    std::shared_ptr<const model> model_;
};

}  // namespace teleport
