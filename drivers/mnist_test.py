#!/usr/bin/env python3
"""A short mnist run (drivers/meson.build): the four CSVs and summary.json are written with the
contract's columns, the training loss of every method decreases, and every teleport records its
batch loss change, its validation loss change and, when accepted, a batch loss change within the
tolerance. Usage: mnist_test.py DRIVER OUTDIR [ARG...]; skipped (77) without the default data."""
import csv
import json
import os
import subprocess
import sys

driver, out, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
if "--data" not in extra and not os.path.isdir("/usr/share/datasets/fashion-mnist"):
    print("SKIP: Fashion-MNIST is not installed (apt install dataset-fashion-mnist)")
    sys.exit(77)
args = [driver, "--limit", "2000", "--epochs", "2", "--no-plot", "--out", out] + extra
subprocess.run(args, check=True, stdout=subprocess.DEVNULL)

columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norm_sq", "time_s", "teleported"]
failures = []
for name in ["sgd", "sgd_teleport", "adagrad", "adagrad_teleport"]:
    with open(os.path.join(out, name + ".csv")) as f:
        rows = list(csv.DictReader(f))
    if list(rows[0].keys()) != columns:
        failures.append(f"{name}.csv: columns {list(rows[0].keys())}, expected {columns}")
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

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
