// teleport/expression.hpp — the compile-time symbolic engine: include this one header.
//
// Expressions: variable<I, "name">, parameter<K, "name">, rational constants (c<N, D>, 3_c, 0.5_c),
// + − × ÷, pow<N>, exp, log, sqrt, sin, cos, tanh, sum<N>(f).
// Calculus: derivative<I>(e), derivative(e, x), gradient<N>(e),
// substitute<I>(e, r), compose(e, r0, r1, …).
// Evaluation: evaluate(e, point, parameters), make_function<N>(e) → symbolic_function with
// evaluate / gradient / evaluate_with_gradient / hessian (its non-zero entries generated) /
// hessian_vector_product.
// Indexed sums: indexed_sum(body, m) and indexed_sum(body, terms<M>) — Σ_i body(x_{s·i + a}, …, data_i)
// compiled to a loop, with the body's derivatives generated (teleport/expr/indexed_sum.hpp).
// Recurrences: make_recurrence<S, P>(next_state(F_0, …), ℓ, data) — Σ_k ℓ(s_k, d_k, θ) through
// s_{k+1} = F(s_k, d_k, θ) over K run-time steps, its adjoint and forward-over-reverse passes
// generated from one step (teleport/expr/recurrence.hpp).
// Printing: to_string(e), to_latex(e).
#pragma once

#include "teleport/expr/calculus.hpp"
#include "teleport/expr/core.hpp"
#include "teleport/expr/evaluate.hpp"
#include "teleport/expr/indexed_sum.hpp"
#include "teleport/expr/print.hpp"
#include "teleport/expr/recurrence.hpp"
#include "teleport/expr/simplify.hpp"
#include "teleport/expr/symbolic_function.hpp"
