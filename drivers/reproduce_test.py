#!/usr/bin/env python3
"""Tests of the summary table and the reproduce job (drivers/meson.build runs them).

  reproduce_test.py run REPRODUCE SUMMARY_TABLE OUTDIR
      reproduce on a quick subset writes every driver's files, summary.json, summary.csv and
      summary.txt; the table's steps and seconds are those recomputed here from the CSV files, and
      summary_table prints the same table from the same summary.json files.
  reproduce_test.py failure REPRODUCE OUTDIR
      a driver that fails (mnist on a missing data folder) does not stop the others; reproduce then
      exits 1 and ends stderr with one error line naming it.
  reproduce_test.py resume REPRODUCE OUTDIR
      on a tiny MNIST-format data set the test writes: an MNIST run stopped after a few epochs
      (the mnist driver beside reproduce, --stop-after) and continued by reproduce --resume writes
      the CSV numbers of an uninterrupted reproduce run; without a checkpoint --resume starts afresh.
  reproduce_test.py table SUMMARY_TABLE OUTDIR DRIVER...
      summary_table prints one block per optimizer of each driver's run with its final losses, one
      line per threshold.
"""
import csv
import gzip
import json
import random
import struct
import math
import os
import shutil
import subprocess
import sys


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def run(args, expect):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != expect:
        fail(f"exit status {p.returncode} (expected {expect}) from {' '.join(args)}\nstdout:\n{p.stdout}\n"
             f"stderr:\n{p.stderr}")
    return p


def first_below(path, threshold):
    """The first row of a driver's CSV whose loss is below the threshold: (step, time_s), or None."""
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if float(row["loss"]) < threshold:
                return int(row.get("step", row.get("epoch"))), float(row["time_s"])
    return None


def check_run(reproduce, table, out):
    shutil.rmtree(out, ignore_errors=True)
    experiments = ["rosenbrock", "booth", "quadratic"]
    p = run([reproduce, "--only", ",".join(experiments), "--no-plot", "--out", out], 0)
    for line in p.stderr.splitlines():
        if not line.startswith("reproduce: ") or "error" in line:
            fail("unexpected stderr line: " + line)
    for name in ["summary.json", "summary.csv", "summary.txt"]:
        if not os.path.getsize(os.path.join(out, name)):
            fail(f"{out}/{name} was not written")
    expected_files = {"rosenbrock": ["gd.csv", "gd_teleport.csv"], "booth": ["gd.csv", "gd_teleport.csv"],
                      "quadratic": ["gd.csv", "gd_teleport.csv", "newton.csv", "newton_damped.csv"]}
    for name, files in expected_files.items():
        for f in files + ["summary.json", "output.txt"]:
            if not os.path.getsize(os.path.join(out, name, f)):
                fail(f"{out}/{name}/{f} was not written")
    folders = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
    if folders != sorted(experiments):
        fail(f"folders {folders}, expected {sorted(experiments)}")
    for root, _, files in os.walk(out):
        for f in files:
            if f.startswith(".") and "tmp" in f:
                fail(f"temporary file left behind: {root}/{f}")

    with open(os.path.join(out, "summary.txt")) as f:
        text = f.read()
    if p.stdout != text + f"wrote {out}: summary.json summary.csv summary.txt\n":
        fail("the printed table differs from summary.txt:\n" + p.stdout)

    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    if [e["experiment"] for e in summary["experiments"]] != experiments:
        fail("summary.json lists other experiments")
    if summary["failed"] != 0 or any(e["status"] != "ok" for e in summary["experiments"]):
        fail("summary.json reports a failure")
    if summary["config"]["plot"] is not False:
        fail("--no-plot is not recorded")
    thresholds = {e["experiment"]: e["table"]["thresholds"] for e in summary["experiments"]}
    for name, values in thresholds.items():
        if len(values) < 2 or values != sorted(values, reverse=True) or 1e-3 not in values:
            fail(f"{name}: thresholds {values} (expected decreasing, with the driver's own 1e-3)")

    with open(os.path.join(out, "summary.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    pairs = {"rosenbrock": [("gd", "gd_teleport")], "booth": [("gd", "gd_teleport")],
             "quadratic": [("gd", "gd_teleport"), ("newton", None), ("newton_damped", None)]}
    if len(rows) != sum(len(pairs[n]) * len(thresholds[n]) for n in experiments):
        fail(f"summary.csv has {len(rows)} rows")
    k = 0
    for name in experiments:
        with open(os.path.join(out, name, "summary.json")) as f:
            methods = {m["name"]: m for m in json.load(f)["methods"]}
        for without, with_ in pairs[name]:
            for threshold in thresholds[name]:
                row = rows[k]
                k += 1
                if row["experiment"] != name or row["method"] != methods[without]["label"]:
                    fail(f"summary.csv row {k}: {row['experiment']}, {row['method']}")
                if float(row["threshold"]) != threshold:
                    fail(f"summary.csv row {k}: threshold {row['threshold']}, expected {threshold}")
                for side, method in (("without", without), ("with", with_)):
                    if method is None:
                        if row[f"final_loss_{side}"] or row[f"steps_{side}"]:
                            fail(f"summary.csv row {k}: {side} teleport should be empty")
                        continue
                    if float(row[f"final_loss_{side}"]) != methods[method]["final_loss"]:
                        fail(f"summary.csv row {k}: final loss {side} teleport differs from {name}/summary.json")
                    reached = first_below(os.path.join(out, name, method + ".csv"), threshold)
                    got = (int(row[f"steps_{side}"]), float(row[f"seconds_{side}"])) if row[f"steps_{side}"] else None
                    if got != reached:
                        fail(f"summary.csv row {k}: {method} below {threshold} at {got}, the CSV says {reached}")
                if with_ is not None:
                    accepted = methods[with_]["teleports_accepted"]
                    attempted = len(methods[with_]["teleports"])
                    if (int(row["teleports_accepted"]), int(row["teleports_attempted"])) != (accepted, attempted):
                        fail(f"summary.csv row {k}: teleports {row['teleports_accepted']}/{row['teleports_attempted']}")

    t = run([table] + [os.path.join(out, n, "summary.json") for n in experiments], 0)
    if t.stdout != text:
        fail("summary_table prints another table than reproduce:\n" + t.stdout)
    print(text)


def check_failure(reproduce, out):
    shutil.rmtree(out, ignore_errors=True)
    p = run([reproduce, "--only", "booth,mnist", "--data", "/nonexistent/mnist", "--no-plot", "--out", out], 1)
    errors = [line for line in p.stderr.splitlines() if line.startswith("reproduce: error: ")]
    if len(errors) != 1 or not errors[0].startswith("reproduce: error: mnist failed (exit status 2"):
        fail("expected one line 'reproduce: error: mnist failed (exit status 2 ...', stderr:\n" + p.stderr)
    if p.stderr.splitlines()[-1] != errors[0]:
        fail("the error line is not the last line of stderr")
    with open(os.path.join(out, "summary.json")) as f:
        status = {e["experiment"]: e["status"] for e in json.load(f)["experiments"]}
    if status != {"booth": "ok", "mnist": "failed"}:
        fail(f"statuses {status}")
    if "\nbooth " not in p.stdout:
        fail("the table lacks booth:\n" + p.stdout)
    print(p.stderr)


def write_tiny_mnist(folder, count=120, seed=5):
    """MNIST-format training files with `count` random 28x28 images (images gzip-compressed)."""
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    pixels = bytes(rng.randrange(256) for _ in range(count * 28 * 28))
    labels = bytes(i % 10 for i in range(count))
    with gzip.open(os.path.join(folder, "train-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, count, 28, 28) + pixels)
    with open(os.path.join(folder, "train-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, count) + labels)


def mnist_rows(folder):
    """Every method's CSV rows without the wall times."""
    rows = {}
    for name in ("sgd", "sgd_teleport", "adagrad", "adagrad_teleport"):
        with open(os.path.join(folder, name + ".csv"), newline="") as f:
            rows[name] = [{k: v for k, v in r.items() if k != "time_s"} for r in csv.DictReader(f)]
    return rows


def check_resume(reproduce, out):
    shutil.rmtree(out, ignore_errors=True)
    data = os.path.join(out, "data")
    write_tiny_mnist(data)
    common = ["--only", "mnist", "--data", data, "--mnist-epochs", "3", "--no-plot"]
    whole = os.path.join(out, "whole")
    run([reproduce] + common + ["--out", whole], 0)
    # the command reproduce gave the mnist driver, stopped after 5 of its 12 epochs
    with open(os.path.join(whole, "summary.json")) as f:
        command = json.load(f)["experiments"][0]["command"]
    if "--resume" in command:
        fail(f"reproduce passed --resume without being asked: {command}")
    resumed = os.path.join(out, "resumed")
    stopped = command[:]
    stopped[stopped.index("--out") + 1] = os.path.join(resumed, "mnist")
    run(stopped + ["--stop-after", "5"], 0)
    if not os.path.isfile(os.path.join(resumed, "mnist", "checkpoint", "checkpoint.json")):
        fail("the stopped mnist run left no checkpoint")
    run([reproduce] + common + ["--out", resumed, "--resume"], 0)
    with open(os.path.join(resumed, "summary.json")) as f:
        command = json.load(f)["experiments"][0]["command"]
    if "--resume" not in command:
        fail(f"reproduce --resume did not pass --resume to mnist: {command}")
    if os.path.exists(os.path.join(resumed, "mnist", "checkpoint")):
        fail("the checkpoint is still there after the resumed run")
    if mnist_rows(os.path.join(resumed, "mnist")) != mnist_rows(os.path.join(whole, "mnist")):
        fail("the resumed MNIST run's CSV numbers differ from the uninterrupted run's")
    # --resume without a checkpoint: MNIST from the start
    fresh = os.path.join(out, "fresh")
    run([reproduce] + common + ["--out", fresh, "--resume"], 0)
    if mnist_rows(os.path.join(fresh, "mnist")) != mnist_rows(os.path.join(whole, "mnist")):
        fail("reproduce --resume without a checkpoint gave other MNIST numbers")
    print("resumed MNIST run matches the uninterrupted one")


def check_table(table, out, drivers):
    shutil.rmtree(out, ignore_errors=True)
    summaries = []
    for driver in drivers:
        name = os.path.basename(driver)
        run([driver, "--no-plot", "--out", os.path.join(out, name)], 0)
        summaries.append(os.path.join(out, name, "summary.json"))
    for thresholds in (None, [0.5, 1e-3]):
        args = [table] + summaries + (["--thresholds", ",".join(map(str, thresholds))] if thresholds else [])
        lines = run(args, 0).stdout.splitlines()
        for path in summaries:
            with open(path) as f:
                s = json.load(f)
            for m in s["methods"]:
                if m["teleport"]:
                    continue
                twin = next((t for t in s["methods"] if t["name"] == m["name"] + "_teleport"), None)
                losses = "%.4e" % m["final_loss"] + ("  %.4e" % twin["final_loss"] if twin else "")
                head = [i for i, line in enumerate(lines) if line.startswith(f"{s['driver']:<15s} {m['label']:<15s} ")]
                if len(head) != 1 or losses not in lines[head[0]]:
                    fail(f"no line for {s['driver']} {m['label']} with final loss {losses}:\n" + "\n".join(lines))
                if thresholds:
                    block = lines[head[0]:head[0] + len(thresholds)]
                    if [line[57:64].strip() for line in block] != ["%g" % t for t in thresholds]:
                        fail(f"the threshold lines of {s['driver']} {m['label']}:\n" + "\n".join(block))
        print("\n".join(lines))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "run" and len(sys.argv) == 5:
        check_run(*sys.argv[2:])
    elif mode == "failure" and len(sys.argv) == 4:
        check_failure(*sys.argv[2:])
    elif mode == "resume" and len(sys.argv) == 4:
        check_resume(*sys.argv[2:])
    elif mode == "table" and len(sys.argv) >= 5:
        check_table(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        fail("usage: reproduce_test.py run|failure|resume|table ...")
