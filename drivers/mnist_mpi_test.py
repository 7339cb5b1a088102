#!/usr/bin/env python3
"""The mnist driver under mpirun (docs/distributed.md); skipped (77) without the default data.

  mnist_mpi_test.py data MPIRUN DRIVER OUTDIR [ARG...]
      The four methods data-parallel on 2 ranks (--precision double) against the single-process
      run: every epoch's loss, validation loss and ‖∇L‖² within 1e-12 relative for the methods
      without teleports, 1e-9 with them (a teleport amplifies the last-digit differences of its
      starting point, docs/distributed.md), the same accuracies and teleport epochs; then stopped
      after 5 epochs and resumed on 2 ranks: the uninterrupted 2-rank numbers exactly.
  mnist_mpi_test.py sweep MPIRUN DRIVER OUTDIR [ARG...]
      --sweep when spread over 2 ranks: the same CSVs as the single-process sweep (every run is
      computed on one rank); stopped after 2 epochs per rank and resumed: the same again, with the
      per-rank checkpoints gone at the end; --resume on another number of ranks is refused.
  mnist_mpi_test.py bad-data MPIRUN DRIVER OUTDIR [ARG...]
      Started as two programs (mpirun's MPMD form), rank 1 with --data naming a folder whose image
      file is truncated, then one whose labels differ in one byte: every rank exits with status 2
      and one error line, from rank 1; --data missing on every rank: one line too.
Every job runs under a timeout (60 s); a hang fails the test.
"""
import csv
import os
import shutil
import signal
import subprocess
import sys

mode, mpirun, driver, out, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
if mode != "bad-data" and not os.path.isdir("/usr/share/datasets/fashion-mnist"):
    print("SKIP: Fashion-MNIST is not installed (apt install dataset-fashion-mnist)")
    sys.exit(77)
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
           OMPI_MCA_btl_vader_single_copy_mechanism="none")


def run(ranks, folder, *args, expect=0, rank1=None):
    cmd = ([mpirun, "-np", str(ranks), "--oversubscribe"] if ranks else []) + [driver, "--out", folder, "--no-plot"]
    cmd += extra + list(args)
    if rank1:  # MPMD: rank 0 as above, rank 1 with these arguments added
        cmd[2] = "1"
        cmd += [":", "-np", "1", driver, "--out", folder, "--no-plot"] + extra + list(args) + rank1
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        sys.exit(f"FAIL: {' '.join(cmd)} hung")
    if expect is not None and proc.returncode != expect:
        sys.exit(f"FAIL: {' '.join(cmd)}: status {proc.returncode}\n{stdout}{stderr}")
    return proc.returncode, stdout, stderr


def rows(folder, name):
    with open(os.path.join(folder, name + ".csv")) as f:
        return list(csv.DictReader(f))


def relative(a, b):
    a, b = float(a), float(b)
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def csvs(folder):
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".csv"))


def same_columns(a, b, name):
    """Everything but the times equal."""
    ra, rb = rows(a, name), rows(b, name)
    for x, y in zip(ra, rb):
        for k in x:
            if k != "time_s" and x[k] != y[k]:
                sys.exit(f"FAIL: {name}.csv: {k} {x[k]} in {a} but {y[k]} in {b}")
    if len(ra) != len(rb):
        sys.exit(f"FAIL: {name}.csv: {len(ra)} rows in {a}, {len(rb)} in {b}")


shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
one, two, resumed = (os.path.join(out, d) for d in ("one", "two", "resumed"))
if mode == "data":
    run(0, one, "--precision", "double")
    run(2, two, "--precision", "double")
    for name in ("sgd", "sgd_teleport", "adagrad", "adagrad_teleport"):
        bound = 1e-9 if "teleport" in name else 1e-12
        worst = 0.0
        for x, y in zip(rows(one, name), rows(two, name)):
            for k in ("loss", "val_loss", "grad_norm_sq"):
                worst = max(worst, relative(x[k], y[k]))
            for k in ("accuracy", "val_accuracy", "teleported"):
                if x[k] != y[k]:
                    sys.exit(f"FAIL: {name}: {k} differs at epoch {x['epoch']}: {x[k]} and {y[k]}")
        print(f"{name}: largest relative difference per epoch, 2 ranks against 1: {worst:.2e} (bound {bound:g})")
        if worst > bound:
            sys.exit(f"FAIL: {name}: {worst:.2e} > {bound:g}")
    run(2, resumed, "--precision", "double", "--stop-after", "5")
    if not os.path.exists(os.path.join(resumed, "checkpoint", "checkpoint.json")):
        sys.exit("FAIL: no checkpoint after --stop-after")
    run(2, resumed, "--precision", "double", "--resume")
    for name in csvs(two):
        same_columns(two, resumed, name)
    print("stopped and resumed on 2 ranks: the uninterrupted 2-rank numbers")
elif mode == "sweep":
    sweep = ["--sweep", "when", "--sweep-values", "0,1,2"]
    run(0, one, *sweep)
    run(2, two, *sweep)
    if csvs(one) != csvs(two):
        sys.exit(f"FAIL: the spread sweep wrote {csvs(two)}, the single-process one {csvs(one)}")
    for name in csvs(one):
        same_columns(one, two, name)
    print(f"spread over 2 ranks: {len(csvs(one))} CSVs equal to the single-process sweep's")
    run(2, resumed, *sweep, "--stop-after", "2")
    kept = sorted(d for d in os.listdir(resumed) if d.startswith("checkpoint-rank"))
    if kept != ["checkpoint-rank0", "checkpoint-rank1"]:
        sys.exit(f"FAIL: after --stop-after the folder holds {kept}, not one checkpoint per rank")
    status, _, err = run(3, resumed, *sweep, "--resume", expect=2)
    if "config/ranks/count is 2 there and 3 now" not in err:
        sys.exit(f"FAIL: --resume on 3 ranks was not refused as expected:\n{err}")
    run(2, resumed, *sweep, "--resume")
    for name in csvs(one):
        same_columns(one, resumed, name)
    left = [d for d in os.listdir(resumed) if d.startswith("checkpoint")]
    if left:
        sys.exit(f"FAIL: checkpoints left after the sweep: {left}")
    print("stopped, refused on 3 ranks, resumed on 2: the same CSVs, no checkpoint left")
elif mode == "bad-data":
    import gzip

    def one_error(err, expected):
        errors = [line for line in err.splitlines() if line.startswith("mnist: error:")]
        if len(errors) != 1 or expected not in errors[0]:
            sys.exit(f"FAIL: expected one error line with '{expected}', got:\n{err}")
        print(f"ok: status 2 on every rank and one line: {errors[0]}")

    source = "/usr/share/datasets/fashion-mnist"
    if os.path.isdir(source):
        truncated, other = os.path.join(out, "truncated"), os.path.join(out, "other")
        for folder in (truncated, other):
            os.makedirs(folder)
        for name in os.listdir(source):
            if name.startswith("train-"):
                with gzip.open(os.path.join(source, name)) as f:
                    data = bytearray(f.read())
                for folder in (truncated, other):
                    part = data
                    if folder == truncated and "images" in name:
                        part = data[:1000]
                    if folder == other and "labels" in name:
                        part = bytearray(data)
                        part[8] = (part[8] + 1) % 10  # the first label
                    with open(os.path.join(folder, name.removesuffix(".gz")), "wb") as f:
                        f.write(part)
        _, _, err = run(2, two, expect=2, rank1=["--data", truncated])
        one_error(err, "mnist: error: rank 1: ")
        _, _, err = run(2, two, expect=2, rank1=["--data", other])
        one_error(err, "mnist: error: rank 1: the labels read from --data differ from rank 0's")
    _, _, err = run(2, two, "--data", os.path.join(out, "missing"), expect=2)
    one_error(err, "the directory does not exist")
shutil.rmtree(out, ignore_errors=True)
