// teleport/expr/print.hpp — an expression as plain text or LaTeX.
//
// to_string(100_c * pow<2>(x*x - y))  →  "100*(x^2 - y)^2"
// to_latex(…)                         →  "100 \left(x^{2} - y\right)^{2}"
// Unnamed variables print as x0, x1, … (x_{0} in LaTeX), unnamed parameters as p0, p1, ….
#pragma once

#include <string>
#include <tuple>
#include <type_traits>

#include "teleport/expr/simplify.hpp"

namespace teleport::expr {

namespace detail {

enum class precedence : int { sum = 1, product = 2, unary_minus = 2, power = 3, atom = 4 };

struct printed {
    std::string text;
    precedence prec;
};

// Concatenation by appending (GCC 12 warns falsely, -Wrestrict, on "literal" + std::string&&).
template <class... Parts>
std::string cat(const Parts&... parts) {
    std::string out;
    (out.append(parts), ...);
    return out;
}

inline std::string wrap(const printed& p, precedence needed, bool latex) {
    if (static_cast<int>(p.prec) >= static_cast<int>(needed)) return p.text;
    return latex ? cat("\\left(", p.text, "\\right)") : cat("(", p.text, ")");
}

template <class E> struct is_negative_term : std::false_type {};
template <std::intmax_t N, std::intmax_t D> struct is_negative_term<constant<N, D>> : std::bool_constant<(N < 0)> {};
template <std::intmax_t N, std::intmax_t D, class R>
struct is_negative_term<node<op::mul, constant<N, D>, R>> : std::bool_constant<(N < 0)> {};

template <class E> struct node_op { using type = void; };
template <class Op, class... C> struct node_op<node<Op, C...>> { using type = Op; };
template <class E> using node_op_t = typename node_op<E>::type;

template <class Op> constexpr const char* function_name(bool latex) {
    if constexpr (std::is_same_v<Op, op::exp>) return latex ? "\\exp" : "exp";
    else if constexpr (std::is_same_v<Op, op::log>) return latex ? "\\log" : "log";
    else if constexpr (std::is_same_v<Op, op::sqrt>) return "sqrt";
    else if constexpr (std::is_same_v<Op, op::sin>) return latex ? "\\sin" : "sin";
    else if constexpr (std::is_same_v<Op, op::cos>) return latex ? "\\cos" : "cos";
    else return latex ? "\\tanh" : "tanh";
}

template <std::intmax_t N, std::intmax_t D>
printed print_constant(bool latex) {
    const precedence prec = (N < 0) ? precedence::unary_minus : (D == 1 ? precedence::atom : precedence::product);
    if constexpr (D == 1) {
        return {std::to_string(N), prec};
    } else if (latex) {
        return {cat(N < 0 ? "-" : "", "\\frac{", std::to_string(N < 0 ? -N : N), "}{", std::to_string(D), "}"),
                N < 0 ? precedence::unary_minus : precedence::atom};
    } else {
        return {cat(std::to_string(N), "/", std::to_string(D)), prec};
    }
}

template <class E>
printed print(E, bool latex) {
    if constexpr (is_variable<E>::value || is_parameter<E>::value) {
        constexpr auto name = E::name;
        const char* prefix = is_variable<E>::value ? "x" : "p";
        if (!name.empty()) return {name.c_str(), precedence::atom};
        const std::string index = std::to_string(E::index);
        return {latex ? cat(prefix, "_{", index, "}") : cat(prefix, index), precedence::atom};
    } else if constexpr (is_constant_v<E>) {
        return print_constant<E::num, E::den>(latex);
    } else {
        return []<class Op, class... C>(node<Op, C...>, bool l) -> printed {
            const printed parts[] = {print(C{}, l)...};
            if constexpr (std::is_same_v<Op, op::add>) {
                // a + (−c)·b prints as a − c·b
                std::string text = parts[0].text;
                std::size_t k = 1;
                (
                    [&] {
                        if (k++ == 1) return;  // the first term is already in
                        if constexpr (is_negative_term<C>::value) {
                            text += cat(" - ", wrap(print(decltype(make_neg(C{})){}, l), precedence::product, l));
                        } else {
                            text += cat(" + ", print(C{}, l).text);
                        }
                    }(),
                    ...);
                return {text, precedence::sum};
            } else if constexpr (std::is_same_v<Op, op::mul>) {
                using A = std::tuple_element_t<0, std::tuple<C...>>;
                if constexpr (std::is_same_v<A, constant<-1>>) {
                    return {cat("-", wrap(parts[1], precedence::power, l)), precedence::unary_minus};
                }
                const std::string sep = l ? (is_constant_v<A> ? " " : " \\cdot ") : "*";
                // a·(b·c) prints as a*b*c: the product is associative, so the grouping is immaterial
                const bool right_is_product = std::is_same_v<node_op_t<std::tuple_element_t<1, std::tuple<C...>>>, op::mul>;
                return {wrap(parts[0], precedence::product, l) + sep +
                            wrap(parts[1], right_is_product ? precedence::product : precedence::power, l),
                        precedence::product};
            } else if constexpr (std::is_same_v<Op, op::div>) {
                if (l) return {cat("\\frac{", parts[0].text, "}{", parts[1].text, "}"), precedence::atom};
                return {cat(wrap(parts[0], precedence::product, false), "/", wrap(parts[1], precedence::power, false)),
                        precedence::product};
            } else if constexpr (requires { Op::exponent; }) {
                const std::string e = std::to_string(Op::exponent);
                if (l) return {cat(wrap(parts[0], precedence::atom, true), "^{", e, "}"), precedence::power};
                return {cat(wrap(parts[0], precedence::atom, false), "^", Op::exponent < 0 ? cat("(", e, ")") : e),
                        precedence::power};
            } else if constexpr (std::is_same_v<Op, op::sqrt>) {
                if (l) return {cat("\\sqrt{", parts[0].text, "}"), precedence::atom};
                return {cat("sqrt(", parts[0].text, ")"), precedence::atom};
            } else {
                const std::string f = function_name<Op>(l);
                if (l) return {cat(f, "\\left(", parts[0].text, "\\right)"), precedence::atom};
                return {cat(f, "(", parts[0].text, ")"), precedence::atom};
            }
        }(E{}, latex);
    }
}

}  // namespace detail

/// The expression as plain text, e.g. "100*(x^2 - y)^2 + (x - 1)^2".
template <expression E>
std::string to_string(E e) {
    return detail::print(e, false).text;
}

/// The expression as LaTeX (math mode, without delimiters).
template <expression E>
std::string to_latex(E e) {
    return detail::print(e, true).text;
}

}  // namespace teleport::expr
