#!/usr/bin/env python3
"""Bad and good .npy input for a network driver (drivers/meson.build runs it).

usage: npy_input_test.py DRIVER WORKDIR CASE

CASE big-seeds: --save-init with seeds up to 2^64-1 (20-digit folder names), read back by --init-dir.

Writes an initialization with DRIVER --save-init, changes one file as CASE says, and runs DRIVER
--init-dir on it: a bad file must give exit status 2 and one line "<driver>: error: ..." on stderr
that names the problem; an accepted variant (float32) must run.
"""
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

driver, work, case = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
quick = ["--no-plot", "--epochs", "6", "--seeds", "1"]


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def run(*args):
    return subprocess.run([driver, *args], capture_output=True, text=True)


def parse(path):
    """(header dict text, descr, shape, data bytes) of a version 1.0 .npy file."""
    raw = path.read_bytes()
    length = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + length].decode("latin1")
    d = eval(header)  # a Python literal written by the driver itself
    return d["descr"], tuple(d["shape"]), raw[10 + length:]


def write(path, descr, shape, data):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(tuple(shape)))
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data)


if work.exists():
    shutil.rmtree(work)
init = work / "init"
if case == "big-seeds":
    # seeds up to 2^64-1 have 20 digits: --init-dir reads back the seed<N>/ folders --save-init wrote
    made = run(*quick[:3], "--seeds", "2", "--seed", "18446744073709551614", "--out", str(work / "made"),
               "--save-init", str(init))
    if made.returncode != 0:
        fail("--save-init run failed: " + made.stderr)
    again = run(*quick[:3], "--out", str(work / "out"), "--init-dir", str(init))
    if again.returncode != 0:
        fail("--init-dir on 20-digit seed folders: " + again.stderr)
    seeds = json.loads((work / "out" / "summary.json").read_text())["config"]["seeds"]
    if seeds != [18446744073709551614, 18446744073709551615]:
        fail(f"read back seeds {seeds}")
    print("read back seeds", seeds)
    sys.exit(0)
made = run(*quick, "--out", str(work / "made"), "--save-init", str(init))
if made.returncode != 0:
    fail("--save-init run failed: " + made.stderr)

expect = None  # substring of the one-line error, or None when the run must succeed
if case == "float32":
    for name in ["X", "Y", "W1", "W2", "W3"]:
        descr, shape, data = parse(init / f"{name}.npy")
        values = struct.unpack(f"<{len(data) // 8}d", data)
        write(init / f"{name}.npy", "<f4", shape, struct.pack(f"<{len(values)}f", *values))
elif case == "dtype":
    descr, shape, data = parse(init / "W2.npy")
    write(init / "W2.npy", "<i8", shape, data)
    expect = "not supported"
elif case == "truncated":
    raw = (init / "W2.npy").read_bytes()
    (init / "W2.npy").write_bytes(raw[:-8])
    expect = "W2.npy"
elif case == "shape":
    shutil.copy(init / "W1.npy", init / "W2.npy")
    expect = "do not chain"
elif case == "y-shape":
    shutil.copy(init / "X.npy", init / "Y.npy")
    expect = "Y is"
elif case == "nan":
    descr, shape, data = parse(init / "X.npy")
    values = list(struct.unpack(f"<{len(data) // 8}d", data))
    values[3] = float("nan")
    write(init / "X.npy", descr, shape, struct.pack(f"<{len(values)}d", *values))
    expect = "non-finite"
elif case == "missing-weight":
    (init / "W2.npy").unlink()
    (init / "W3.npy").unlink()
    expect = "W2.npy"
elif case == "not-npy":
    (init / "W1.npy").write_text("W1 = [[1, 2], [3, 4]]\n")
    expect = "W1.npy"
else:
    fail("unknown case " + case)

result = run(*quick, "--out", str(work / "out"), "--init-dir", str(init))
if expect is None:
    if result.returncode != 0:
        fail(f"{case}: exit status {result.returncode}: {result.stderr}")
    print(result.stdout.splitlines()[0])
    sys.exit(0)
lines = result.stderr.splitlines()
if result.returncode != 2:
    fail(f"{case}: exit status {result.returncode} (expected 2); stderr: {result.stderr}")
if len(lines) != 1 or ": error: " not in lines[0]:
    fail(f"{case}: expected one line '<driver>: error: ...' on stderr, got: {result.stderr!r}")
if expect not in lines[0]:
    fail(f"{case}: the error does not mention '{expect}': {lines[0]}")
print(lines[0])
