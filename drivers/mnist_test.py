#!/usr/bin/env python3
"""Tests of the mnist driver (drivers/meson.build); skipped (77) without the default data.

  mnist_test.py DRIVER OUTDIR [ARG...]
      A short run: the four CSVs and summary.json are written with the contract's columns, the
      training loss of every method decreases, and every teleport records its batch loss change,
      its validation loss change and, when accepted, a batch loss change within the tolerance.
  mnist_test.py --resume DRIVER OUTDIR [ARG...]
      A run stopped by --stop-after at several points and continued with --resume gives the same
      loss and accuracy columns and the same summary.json values (but times) as an uninterrupted
      run; the checkpoint is there after the stop and gone after the run.
  mnist_test.py --refuse DRIVER OUTDIR [ARG...]
      --resume refuses, with exit status 2 and one line on stderr, a checkpoint written with
      another configuration and a corrupt or truncated one.
  mnist_test.py --sweep KIND VALUES DRIVER OUTDIR [ARG...]
      --sweep KIND --sweep-values VALUES writes plain SGD and one CSV per variant, named after it,
      summary.json with one method per variant and their schedules, and loss.png with gnuplot.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

mode = "run"
if sys.argv[1].startswith("--"):
    mode = sys.argv[1][2:]
    del sys.argv[1]
sweep = None
if mode == "sweep":
    sweep = (sys.argv[1], sys.argv[2])
    del sys.argv[1:3]
driver, out, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
if "--data" not in extra and not os.path.isdir("/usr/share/datasets/fashion-mnist"):
    print("SKIP: Fashion-MNIST is not installed (apt install dataset-fashion-mnist)")
    sys.exit(77)

COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norm_sq", "time_s", "teleported"]
METHODS = ["sgd", "sgd_teleport", "adagrad", "adagrad_teleport"]
failures = []


def run(folder, *more, check=True, env=None, plot=False):
    """The driver on the test's arguments; its stdout and stderr are returned."""
    args = [driver] + ([] if plot else ["--no-plot"]) + ["--out", folder] + extra + list(more)
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        print(result.stderr, end="")
        sys.exit(f"FAIL: exit status {result.returncode} from {' '.join(args)}")
    return result


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def without_times(j):
    """summary.json without what differs between two runs of the same configuration."""
    skip = {"seconds", "total_seconds", "teleport_seconds", "payoff_seconds", "evaluation_seconds", "command_line", "out"}
    if isinstance(j, dict):
        return {k: without_times(v) for k, v in j.items() if k not in skip}
    if isinstance(j, list):
        return [without_times(v) for v in j]
    return j


def short_run():
    run(out, "--limit", "2000", "--epochs", "2")
    for name in METHODS:
        rows = read_csv(os.path.join(out, name + ".csv"))
        if list(rows[0].keys()) != COLUMNS:
            failures.append(f"{name}.csv: columns {list(rows[0].keys())}, expected {COLUMNS}")
            continue
        if len(rows) != 3:
            failures.append(f"{name}.csv: {len(rows)} rows, expected 3 (epochs 0, 1, 2)")
        first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
        if not last < first:
            failures.append(f"{name}.csv: the training loss did not decrease ({first} -> {last})")
        for r in rows:
            if not 0.0 <= float(r["accuracy"]) <= 1.0 or not 0.0 <= float(r["val_accuracy"]) <= 1.0:
                failures.append(f"{name}.csv: accuracy out of [0, 1] at epoch {r['epoch']}")

    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    tolerance = summary["config"]["teleport"]["tolerance"]
    for m in summary["methods"]:
        expected = summary["config"]["teleport"]["batches"] if m["teleport"] else 0
        if len(m["teleports"]) != expected:
            failures.append(f"{m['name']}: {len(m['teleports'])} teleports, expected {expected}")
        for t in m["teleports"]:
            for key in ["relative_loss_change", "grad_norm_sq_before", "grad_norm_sq_after", "val_loss_before",
                        "val_loss_after", "val_relative_loss_change", "accepted", "seconds"]:
                if key not in t:
                    failures.append(f"{m['name']}: a teleport lacks '{key}'")
            if t.get("accepted") and not t["relative_loss_change"] <= tolerance:
                failures.append(f"{m['name']}: an accepted teleport changed the batch loss by {t['relative_loss_change']}")
            if not t.get("accepted") and not t.get("rejection"):
                failures.append(f"{m['name']}: a rejected teleport gives no reason")


def resumed_runs():
    shutil.rmtree(out, ignore_errors=True)
    whole = os.path.join(out, "whole")
    run(whole)
    with open(os.path.join(whole, "summary.json")) as f:
        summary = json.load(f)
    epochs = summary["config"]["epochs"]
    total = epochs * len(summary["methods"])
    # inside the first method, at a method's end, inside a later method (AdaGrad's accumulator)
    for stop in sorted({1, epochs, total - 1}):
        folder = os.path.join(out, f"stop{stop}")
        result = run(folder, "--stop-after", str(stop))
        if "--resume" not in result.stdout:
            failures.append(f"--stop-after {stop}: no word of --resume in the output: {result.stdout!r}")
        if not os.path.isfile(os.path.join(folder, "checkpoint", "checkpoint.json")):
            failures.append(f"--stop-after {stop}: no checkpoint/checkpoint.json")
        if os.path.exists(os.path.join(folder, "summary.json")):
            failures.append(f"--stop-after {stop}: summary.json was written by the stopped run")
        resumed_run = run(folder, "--resume")
        if "warning" in resumed_run.stderr:
            failures.append(f"--stop-after {stop} and --resume in the same build: a warning: {resumed_run.stderr!r}")
        if os.path.exists(os.path.join(folder, "checkpoint")):
            failures.append(f"--stop-after {stop}: the checkpoint is still there after the run")
        for m in summary["methods"]:
            a = read_csv(os.path.join(whole, m["csv"]))
            b = read_csv(os.path.join(folder, m["csv"]))
            columns = [c for c in COLUMNS if c != "time_s"]
            if [[r[c] for c in columns] for r in a] != [[r[c] for c in columns] for r in b]:
                failures.append(f"--stop-after {stop} and --resume: {m['csv']} differs from the uninterrupted run's")
        with open(os.path.join(folder, "summary.json")) as f:
            resumed = json.load(f)
        if without_times(resumed) != without_times(summary):
            failures.append(f"--stop-after {stop} and --resume: summary.json differs from the uninterrupted run's")


def another_build():
    """A resume under another BLAS thread count goes on, with a warning that it may round differently."""
    shutil.rmtree(out, ignore_errors=True)
    folder = os.path.join(out, "threads")
    run(folder, "--stop-after", "1")
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "2" if env.get("OPENBLAS_NUM_THREADS") != "2" else "1"
    result = run(folder, "--resume", env=env)
    if "warning: the checkpoint was written by another build or BLAS setting" not in result.stderr:
        failures.append(f"--resume under another OPENBLAS_NUM_THREADS: no warning in {result.stderr!r}")
    if not os.path.isfile(os.path.join(folder, "summary.json")):
        failures.append("--resume under another OPENBLAS_NUM_THREADS: the run did not finish")


def refusals():
    shutil.rmtree(out, ignore_errors=True)
    folder = os.path.join(out, "stopped")
    run(folder, "--stop-after", "2")
    checkpoint = os.path.join(folder, "checkpoint")
    saved = os.path.join(out, "saved")
    shutil.copytree(checkpoint, saved)

    def refused(what, *more, expect="", where=folder):
        result = run(where, "--resume", *more, check=False)
        lines = result.stderr.splitlines()
        if result.returncode != 2 or len(lines) != 1 or "mnist: error: --resume" not in result.stderr or \
                expect not in result.stderr:
            failures.append(f"{what}: exit status {result.returncode} and stderr {result.stderr!r} "
                            f"(expected 2 and one line 'mnist: error: --resume ...{expect}...')")
        else:
            print(f"{what}: {lines[0]}")
        if where == folder:
            shutil.rmtree(checkpoint)
            shutil.copytree(saved, checkpoint)

    refused("another learning rate", "--sgd-lr", "0.01")
    refused("another seed", "--seed", "1")
    refused("another schedule", "--teleport-batches", "3")
    refused("a sweep", "--sweep", "batches", "--sweep-values", "1")
    state = os.path.join(checkpoint, "checkpoint.json")
    with open(state, "rb") as f:
        text = f.read()
    with open(state, "wb") as f:
        f.write(text[: len(text) // 2])
    refused("a truncated checkpoint.json")
    with open(state, "wb") as f:
        f.write(text.replace(b'"shuffle_rng": "', b'"shuffle_rng": "x', 1))
    refused("a malformed generator state")
    os.remove(state)
    os.mkdir(state)  # a folder where the file goes: one line that names the file
    refused("a folder in place of checkpoint.json", expect="checkpoint.json")
    arrays = [n for n in os.listdir(checkpoint) if n.endswith(".npy")]
    if not arrays:
        failures.append("the checkpoint of a running method holds no .npy file")
        return
    weights = os.path.join(checkpoint, arrays[0])
    with open(weights, "rb") as f:
        data = f.read()
    with open(weights, "wb") as f:
        f.write(data[: len(data) - 100])
    refused("a truncated array")
    with open(weights, "wb") as f:
        f.write(data[:-4] + bytes(b ^ 0x55 for b in data[-4:]))
    refused("an altered array")
    os.remove(weights)
    refused("a missing array")
    os.remove(state)
    refused("no checkpoint")
    # the untouched checkpoint still continues
    run(folder, "--resume")
    # a finished method with a row missing (sgd is finished after 3 epochs of 3)
    finished = os.path.join(out, "finished")
    run(finished, "--stop-after", "3")
    state = os.path.join(finished, "checkpoint", "checkpoint.json")
    with open(state) as f:
        doc = json.load(f)
    if not doc["finished"]:
        failures.append("--stop-after 3 of 3 epochs left no finished method in the checkpoint")
        return
    doc["finished"][0]["rows"].pop()
    with open(state, "w") as f:
        json.dump(doc, f, indent=2)
    refused("a finished method with a row missing", expect="checkpoint.json", where=finished)


def sweep_run():
    kind, values = sweep
    shutil.rmtree(out, ignore_errors=True)
    run(out, "--sweep", kind, "--sweep-values", values, plot=True)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    names = [m["name"] for m in summary["methods"]]
    suffix = {"when": "epoch", "interval": "interval", "batches": "batches"}[kind]
    expected = ["sgd"] + [f"sgd_teleport_{suffix}{v}" for v in values.split(",")]
    if names != expected:
        failures.append(f"methods {names}, expected {expected}")
    if summary["config"]["sweep"]["kind"] != kind:
        failures.append(f"config.sweep.kind is {summary['config']['sweep']['kind']}")
    epochs = summary["config"]["epochs"]
    baseline = None
    for m in summary["methods"]:
        rows = read_csv(os.path.join(out, m["name"] + ".csv"))
        if list(rows[0].keys()) != COLUMNS or len(rows) != epochs + 1:
            failures.append(f"{m['name']}.csv: columns {list(rows[0].keys())} and {len(rows)} rows")
            continue
        if baseline is None:
            baseline = rows[0]
        elif rows[0] != dict(baseline, time_s=rows[0]["time_s"]):
            failures.append(f"{m['name']}.csv: epoch 0 differs from sgd's (not the same initialization)")
        if m["teleport"]:
            schedule, b = m["schedule"], m["teleport_batches"]
            if len(m["teleports"]) != len(schedule) * b:
                failures.append(f"{m['name']}: {len(m['teleports'])} teleports for schedule {schedule} and B = {b}")
            teleported = [int(r["epoch"]) - 1 for r in rows if r["teleported"] == "1"]
            if teleported != schedule:
                failures.append(f"{m['name']}.csv: teleported before epochs {teleported}, schedule {schedule}")
    if shutil.which("gnuplot") and "loss.png" not in summary["figures"]:
        failures.append(f"no loss.png among the figures {summary['figures']}")
    leftovers = [n for n in os.listdir(out) if ".tmp" in n or n == "checkpoint"]
    if leftovers:
        failures.append(f"left behind: {leftovers}")


def resume_checks():
    resumed_runs()
    another_build()


{"run": short_run, "resume": resume_checks, "refuse": refusals, "sweep": sweep_run}[mode]()
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
