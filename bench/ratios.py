#!/usr/bin/env python3
"""Ratios from the benchmark programs' JSON output: generated / hand-written time for each
(problem, quantity), and gradient / loss time for the generated code, checked against the targets
(generated gradient at most 1.2x the hand-written gradient and at most 3x the generated loss).
For the networks (bench_networks): generated / hand-written GD epoch (at most 1.2x) and one
teleport ascent step / one generated GD epoch (at most 4x). For MNIST (bench_mnist): generated /
hand-written SGD step (at most 1.15x) and one safeguarded 10-step teleport as the mnist driver takes it
(in activation space) / one generated SGD step (at most 15); the weight-space teleport and the paper's
teleport (gradient ascent, projection form) for comparison. For the state-space similarity action
(bench_representation): representation / hand-written action (at most 1.5x) for apply, the derivatives
over the 9 generators, the Jacobian and two whole teleports on the docs example's loss.

    ./build-bench/bench/bench_expressions --benchmark_repetitions=5 \\
        --benchmark_report_aggregates_only=true --benchmark_format=json > expressions.json
    python3 bench/ratios.py expressions.json [more.json ...]      # '-' reads standard input

Benchmark names are "<problem>/<quantity>/<implementation>" (bench/bench_common.hpp). With
repetitions the chosen aggregate (median by default) is used; without, the mean of the runs.
Python 3 standard library only.
"""

import argparse
import json
import sys
from collections import defaultdict

QUANTITIES = ["loss", "gradient", "loss_and_gradient", "hessian_vector_product",
              # bench_networks: a GD epoch, a teleport ascent step and its parts, whole teleports
              "gd_epoch", "ascent_step", "objective_gradient", "action_gradient_at_identity", "group_elements",
              "apply_action", "teleport_8_steps", "teleport_10_steps", "paper_teleport_10_steps",
              # bench_mnist: an SGD step, the parts of a factored ascent step
              "sgd_step", "gradient_factors",
              # bench_representation: a group action declared block by block, and teleports with it
              "apply", "apply_derivative_9", "apply_derivative_9_same_g", "apply_derivative_9_element", "jacobian", "teleport_paper",
              "teleport_lookahead"]
IMPLEMENTATIONS = ["generated", "hand_written", "activation_space", "weight_space", "representation"]
TO_NANOSECONDS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

GRADIENT_VS_HAND_WRITTEN_TARGET = 1.2
GRADIENT_VS_LOSS_TARGET = 3.0
GD_EPOCH_VS_HAND_WRITTEN_TARGET = 1.2
ASCENT_STEP_VS_GD_EPOCH_TARGET = 4.0
SGD_STEP_VS_HAND_WRITTEN_TARGET = 1.15
TELEPORT_VS_SGD_STEP_TARGET = 15.0
REPRESENTATION_VS_HAND_WRITTEN_TARGET = 1.5


# The ratios reported per problem where both times exist: (label, numerator, denominator, target).
RATIOS = [
    ("gradient: generated / hand-written", ("gradient", "generated"), ("gradient", "hand_written"),
     GRADIENT_VS_HAND_WRITTEN_TARGET),
    ("generated: gradient / loss", ("gradient", "generated"), ("loss", "generated"), GRADIENT_VS_LOSS_TARGET),
    ("generated: loss and gradient / loss", ("loss_and_gradient", "generated"), ("loss", "generated"), None),
    ("GD epoch: generated / hand-written", ("gd_epoch", "generated"), ("gd_epoch", "hand_written"),
     GD_EPOCH_VS_HAND_WRITTEN_TARGET),
    ("generated: ascent step / GD epoch", ("ascent_step", "generated"), ("gd_epoch", "generated"),
     ASCENT_STEP_VS_GD_EPOCH_TARGET),
    ("SGD step: generated / hand-written", ("sgd_step", "generated"), ("sgd_step", "hand_written"),
     SGD_STEP_VS_HAND_WRITTEN_TARGET),
    ("10-step teleport (activation space) / SGD step", ("teleport_10_steps", "activation_space"),
     ("sgd_step", "generated"), TELEPORT_VS_SGD_STEP_TARGET),
    ("paper's 10-step teleport (activation space) / SGD step", ("paper_teleport_10_steps", "activation_space"),
     ("sgd_step", "generated"), None),
    ("10-step teleport (weight space) / SGD step", ("teleport_10_steps", "weight_space"), ("sgd_step", "generated"),
     None),
    ("ascent step (activation space) / SGD step", ("ascent_step", "activation_space"), ("sgd_step", "generated"),
     None),
    ("ascent step (weight space) / SGD step", ("ascent_step", "weight_space"), ("sgd_step", "generated"), None),
] + [(f"{quantity}: representation / hand-written", (quantity, "representation"), (quantity, "hand_written"),
      REPRESENTATION_VS_HAND_WRITTEN_TARGET)
     for quantity in ["apply", "apply_derivative_9", "apply_derivative_9_same_g", "apply_derivative_9_element", "jacobian", "teleport_paper",
                      "teleport_lookahead"]]


def load(paths, statistic, clock):
    """{(problem, quantity, implementation): time in ns}, problems in order of appearance, context."""
    aggregates = {}
    runs = defaultdict(list)
    problems = []
    contexts = []
    for path in paths:
        if path == "-":
            document = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as stream:
                document = json.load(stream)
        contexts.append(document.get("context", {}))
        for entry in document.get("benchmarks", []):
            name = entry.get("run_name", entry["name"])
            parts = name.split("/")
            if len(parts) != 3 or parts[1] not in QUANTITIES or parts[2] not in IMPLEMENTATIONS:
                continue
            key = tuple(parts)
            if parts[0] not in problems:
                problems.append(parts[0])
            time = entry[clock + "_time"] * TO_NANOSECONDS[entry.get("time_unit", "ns")]
            if entry.get("run_type") == "aggregate":
                if entry.get("aggregate_name") == statistic:
                    aggregates[key] = time
            else:
                runs[key].append(time)
    times = {key: sum(values) / len(values) for key, values in runs.items()}
    times.update(aggregates)  # an aggregate, when present, wins over the individual runs
    return times, problems, contexts


def status(ratio, target):
    if ratio <= target:
        return f"meets <= {target:g}"
    return f"MISSES <= {target:g} by {100.0 * (ratio / target - 1.0):.0f}%"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="JSON written with --benchmark_format=json ('-': stdin)")
    parser.add_argument("--statistic", default="median", choices=["median", "mean"],
                        help="aggregate to use when the runs were repeated (default: median)")
    parser.add_argument("--clock", default="cpu", choices=["cpu", "real"], help="cpu_time or real_time (default: cpu)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/performance.md)")
    args = parser.parse_args()

    times, problems, contexts = load(args.files, args.statistic, args.clock)
    if not problems:
        sys.exit("no benchmarks named <problem>/<quantity>/<implementation> in the input")

    present = [i for i in IMPLEMENTATIONS if any(key[2] == i for key in times)]
    header = (["problem", "quantity"] + [i.replace("_", "-") + " (ns)" for i in present] +
              ["generated / hand-written"])
    rows = []
    summary = []
    for problem in problems:
        for quantity in QUANTITIES:
            cells = [times.get((problem, quantity, i)) for i in present]
            if all(c is None for c in cells):
                continue
            generated = times.get((problem, quantity, "generated"))
            hand = times.get((problem, quantity, "hand_written"))
            ratio = f"{generated / hand:.2f}" if generated is not None and hand else "-"
            rows.append([problem, quantity] + [f"{c:.3g}" if c is not None else "-" for c in cells] + [ratio])
        for label, numerator, denominator, target in RATIOS:
            top = times.get((problem,) + numerator)
            bottom = times.get((problem,) + denominator)
            if top is not None and bottom:
                ratio = top / bottom
                summary.append([problem, label, f"{ratio:.2f}", status(ratio, target) if target else ""])

    summary_header = ["problem", "ratio", "value", "target"]
    if args.markdown:
        print_markdown(header, rows)
        print()
        print_markdown(summary_header, summary)
    else:
        print_plain(header, rows)
        print()
        print_plain(summary_header, summary)
    print()
    print(f"({args.statistic} of {args.clock} time)")
    for context in contexts:
        for key, value in context.items():
            problem, _, item = key.partition(".")
            if problem not in problems:
                continue
            if item == "nodes":
                print(f"{problem}: generated program nodes: {value}")
            elif item == "largest_relative_difference":
                print(f"{problem}: largest relative difference to the hand-written code: {value}")


def print_plain(header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for line in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())


def print_markdown(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


if __name__ == "__main__":
    main()
