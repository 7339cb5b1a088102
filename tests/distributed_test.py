#!/usr/bin/env python3
"""Runs tests/test_distributed.cpp's modes under mpirun (docs/distributed.md).

usage: distributed_test.py MODE MPIRUN PROGRAM

compare, spread: `mpirun -np 2` must exit 0 (compare also on one rank) and print its line.
bad-data, other-data, replica: every rank must exit with status 2 and exactly one error line, from
rank 1 ("... error: rank 1: ...").  alone: rank 1 fails alone inside the run; the job must end
(non-zero) with rank 1's error line well within the test's timeout, not hang.
Each job runs under a 60 s timeout of its own; the process group is killed if it hangs.
"""
import os
import signal
import subprocess
import sys
import time

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OPENBLAS_NUM_THREADS="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")


def run(mpirun, program, mode, ranks):
    cmd = [mpirun, "-np", str(ranks), "--oversubscribe", program, mode]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        sys.exit(f"FAIL: {' '.join(cmd)} hung (killed after 60 s)\n{out}{err}")
    seconds = time.monotonic() - start
    print(f"$ {' '.join(cmd)}  -> status {proc.returncode} in {seconds:.1f} s")
    sys.stdout.write(out)
    sys.stdout.write(err)
    return proc.returncode, out, err


def main():
    mode, mpirun, program = sys.argv[1:4]
    if mode in ("compare", "spread"):
        for ranks in ((2, 1) if mode == "compare" else (2,)):
            status, out, _ = run(mpirun, program, mode, ranks)
            if status != 0 or f"ranks {ranks}:" not in out:
                sys.exit(f"FAIL: {mode} on {ranks} ranks")
        return
    expected = {
        "bad-data": "error: rank 1: one_hot: label 7 at index 3 is not below the 3 classes",
        "other-data": "error: rank 1: the training images differ from rank 0's",
        "replica": "error: rank 1: the weights after epoch 1 differ from rank 0's",
        "alone": "error: rank 1: ran out of something",
    }[mode]
    status, out, err = run(mpirun, program, mode, 2)
    errors = [line for line in err.splitlines() if "test_distributed: error:" in line]
    if status == 0 or "the run completed" in out:
        sys.exit(f"FAIL: {mode}: the job did not fail")
    if mode != "alone" and status != 2:
        sys.exit(f"FAIL: {mode}: status {status}, not 2 on every rank")
    if len(errors) != 1 or expected not in errors[0]:
        sys.exit(f"FAIL: {mode}: expected one line with '{expected}', got {errors}")
    print(f"ok: {mode}: one error line, status {status}")


if __name__ == "__main__":
    main()
