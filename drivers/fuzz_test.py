#!/usr/bin/env python3
"""Bounded fuzz test of the drivers' file inputs (drivers/meson.build runs it; docs/robustness.md).

usage: fuzz_test.py WORKDIR MLP_REGRESSION MNIST SUMMARY_TABLE BOOTH [--seed N] [--only npy,idx,summary]

Mutates, from valid files the drivers write (or tiny ones written here), the inputs read by
  mlp_regression --init-dir (.npy: X, Y, W1, W2),
  mnist --data (IDX images and labels, plain and gzip, 50 images of 4x4 pixels, one epoch),
  summary_table (summary.json and the CSV beside it, from a short booth run):
truncations at many offsets, magic and header flips, dtype and shape lies, huge declared sizes,
non-regular files (FIFO, folder, /dev/zero, a dangling link), wrong types and signs, and random
byte flips. Every case is run with a timeout and must end without a signal and without hanging;
a case whose file is known valid must exit 0, one known invalid must exit 2 with exactly one line
"<driver>: error: ..." on stderr; a random flip whose validity is not known (a changed digit, a
flip inside a gzip stream) may do either, but an exit 2 still has one line. The cases are drawn
from the seed, so a failure is reproduced by the same command; the last line gives the counts.
"""
import gzip
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

args = sys.argv[1:]
seed = 1
only = {"npy", "idx", "summary"}
if "--seed" in args:
    i = args.index("--seed")
    seed = int(args[i + 1])
    del args[i:i + 2]
if "--only" in args:
    i = args.index("--only")
    only = set(args[i + 1].split(","))
    del args[i:i + 2]
work, mlp, mnist, table, booth = Path(args[0]), args[1], args[2], args[3], args[4]
rng = random.Random(seed)
TIMEOUT = 20  # seconds per case: a reader that blocks (a FIFO) or loops is a failure
counts = {}
failures = []

VALID, INVALID, EITHER = "valid", "invalid", "either"


def run_case(group, label, command, expect):
    counts.setdefault(group, {VALID: 0, INVALID: 0, EITHER: 0})
    counts[group][expect] += 1
    try:
        r = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                           errors="replace")
    except subprocess.TimeoutExpired:
        failures.append(f"{group} {label}: no answer within {TIMEOUT} s (hang)")
        return
    lines = r.stderr.splitlines()
    problem = None
    if r.returncode < 0:
        problem = f"killed by signal {-r.returncode}"
    elif expect == VALID and r.returncode != 0:
        problem = f"exit {r.returncode} for a valid file"
    elif expect == INVALID and r.returncode != 2:
        problem = f"exit {r.returncode} for an invalid file (expected 2)"
    elif r.returncode not in (0, 2):
        problem = f"exit {r.returncode}"
    elif r.returncode == 2 and (len(lines) != 1 or ": error: " not in lines[0]):
        problem = f"{len(lines)} lines on stderr (expected one '<driver>: error: ...')"
    if problem:
        failures.append(f"{group} {label}: {problem}; stderr: {r.stderr.strip()[:300]!r}")


def fresh(path):
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def non_regular(path, kind):
    """Puts a FIFO, a folder, a link to /dev/zero or a dangling link at path."""
    fresh(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.symlink_to(path.parent / "no-such-file")


NON_REGULAR = ["fifo", "folder", "device", "dangling"]


def truncation_offsets(size, count, ends=12):
    """Offsets 0 .. size-1: the first and last `ends` and `count` drawn from the seed."""
    picked = set(range(min(size, ends))) | set(range(max(0, size - ends), size))
    picked |= {rng.randrange(size) for _ in range(count)}
    return sorted(picked)


# --- .npy: mlp_regression --init-dir ---------------------------------------------------------------

def npy_parse(raw):
    length = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + length].decode("latin1")
    return header, raw[10 + length:]


def npy_bytes(descr, shape, data, fortran="False", major=1):
    """A .npy file as numpy writes it: the header padded so that the data starts at a multiple of 64."""
    preamble = 10 if major == 1 else 12
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pad = 64 - (preamble + len(header) + 1) % 64
    header = (header + " " * (pad % 64) + "\n").encode("latin1")
    length = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + length + header + data


def fuzz_npy():
    base = work / "npy-base"
    made = subprocess.run([mlp, "--no-plot", "--epochs", "1", "--seeds", "1", "--widths", "3,4,2", "--samples", "5",
                           "--schedule", "none", "--out", str(work / "npy-made"), "--save-init", str(base)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit("FAIL: --save-init run: " + made.stderr)
    names = ["X", "Y", "W1", "W2"]  # X 3x5, Y 2x5, W1 4x3, W2 2x4: no shape is square
    original = {n: (base / f"{n}.npy").read_bytes() for n in names}
    case_dir = work / "npy-case"

    def case(label, expect, name=None, content=None, special=None):
        fresh(case_dir)
        shutil.copytree(base, case_dir)
        if special:
            non_regular(case_dir / f"{name}.npy", special)
        elif name is not None:
            (case_dir / f"{name}.npy").write_bytes(content)
        run_case("npy", label, [mlp, "--no-plot", "--epochs", "1", "--schedule", "none", "--out",
                                str(work / "npy-out"), "--init-dir", str(case_dir)], expect)

    case("unchanged", VALID)
    for n in names:
        raw = original[n]
        header, data = npy_parse(raw)
        shape = eval(header)["shape"]  # written by the driver itself
        values = struct.unpack(f"<{len(data) // 8}d", data)
        case(f"{n} float32", VALID, n, npy_bytes("<f4", shape, struct.pack(f"<{len(values)}f", *values)))
        case(f"{n} version 2.0", VALID, n, npy_bytes("<f8", shape, data, major=2))
        for k in truncation_offsets(len(raw), 8, ends=5):
            case(f"{n} truncated at {k}", INVALID, n, raw[:k])
        for k in range(6):
            case(f"{n} magic byte {k}", INVALID, n, raw[:k] + bytes([raw[k] ^ 0x20]) + raw[k + 1:])
        for v in [b"\x00\x00", b"\x04\x00", b"\x02\x00"]:
            case(f"{n} version {v.hex()}", INVALID, n, raw[:6] + v + raw[8:])
        for delta in [-1, 1, 64]:
            length = struct.unpack("<H", raw[8:10])[0] + delta
            case(f"{n} header length {delta:+d}", INVALID, n, raw[:8] + struct.pack("<H", length) + raw[10:])
        for descr in ["<f4", "<i8", "|u1", "<c16", "|O", "float64"]:
            case(f"{n} dtype {descr!r}", INVALID, n, npy_bytes(descr, shape, data))
        rows, cols = shape
        for lie in [(cols, rows), (rows + 1, cols), (rows * cols,), (rows, cols, 1), (0, cols), (2**40, 2**40),
                    (2**64, 1), (-1, cols)]:
            case(f"{n} shape {lie}", INVALID, n, npy_bytes("<f8", lie, data))
        case(f"{n} extra byte", INVALID, n, raw + b"\x00")
        case(f"{n} not a dict", INVALID, n, raw[:10] + b"[" + raw[11:])
        case(f"{n} fortran_order maybe", INVALID, n, npy_bytes("<f8", shape, data, fortran="Maybe"))
        for kind in NON_REGULAR:
            case(f"{n} {kind}", INVALID, n, special=kind)
        # a value that is not finite: refused; another changed byte of a value: either
        for _ in range(2):
            k = rng.randrange(len(values))
            case(f"{n} value {k} nan", INVALID, n, raw[:len(raw) - len(data) + 8 * k] + struct.pack("<d", float("nan")) +
                 raw[len(raw) - len(data) + 8 * k + 8:])
        data_start = len(raw) - len(data)
        for _ in range(4):
            k = rng.randrange(data_start, len(raw))
            flipped = raw[:k] + bytes([raw[k] ^ (1 << rng.randrange(8))]) + raw[k + 1:]
            first = data_start + 8 * ((k - data_start) // 8)
            value = struct.unpack("<d", flipped[first:first + 8])[0]
            finite = value == value and abs(value) != float("inf")
            case(f"{n} data byte {k}", EITHER if finite else INVALID, n, flipped)
        for _ in range(6):  # a random byte of the header text
            k = rng.randrange(10, len(raw) - len(data))
            case(f"{n} header byte {k}", EITHER, n, raw[:k] + bytes([rng.randrange(256)]) + raw[k + 1:])
    case("a W3 that does not chain", INVALID, "W3", original["W2"])  # 2x4 after W2 (2x4)


# --- IDX: mnist --data ---------------------------------------------------------------------------

IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def idx_images(count, rows, cols, pixels, magic=b"\x00\x00\x08\x03"):
    return magic + struct.pack(">III", count, rows, cols) + pixels


def idx_labels(count, labels, magic=b"\x00\x00\x08\x01"):
    return magic + struct.pack(">I", count) + labels


def fuzz_idx():
    n, rows, cols = 50, 4, 4
    pixels = bytes(rng.randrange(256) for _ in range(n * rows * cols))
    labels = bytes(k % 10 for k in range(n))
    images_raw, labels_raw = idx_images(n, rows, cols, pixels), idx_labels(n, labels)
    case_dir = work / "idx-case"

    def case(label, expect, files, gz=False, stream=False):
        """files: {name: bytes or a non-regular kind}, the other file valid; gz: both compressed and
        named .gz (stream: the images' bytes are already the compressed stream)."""
        fresh(case_dir)
        case_dir.mkdir()
        contents = {IMAGES: images_raw, LABELS: labels_raw}
        contents.update(files)
        for name, content in contents.items():
            path = case_dir / (name + (".gz" if gz else ""))
            if isinstance(content, str):
                non_regular(path, content)
            else:
                path.write_bytes(gzip.compress(content, mtime=0) if gz and not (stream and name == IMAGES) else content)
        run_case("idx", label + (" (gzip)" if gz else ""),
                 [mnist, "--data", str(case_dir), "--widths", "16,8,8,10", "--batch", "5", "--epochs", "1",
                  "--schedule", "none", "--no-plot", "--out", str(work / "idx-out")], expect)

    for gz in (False, True):
        case("unchanged", VALID, {}, gz)
        case("images 8x2", VALID, {IMAGES: idx_images(n, 8, 2, pixels)}, gz)
        case("labels changed within 0-9", VALID, {LABELS: idx_labels(n, bytes((k * 7) % 10 for k in range(n)))}, gz)
        for name, raw in [(IMAGES, images_raw), (LABELS, labels_raw)]:
            for k in truncation_offsets(len(raw), 10 if name == IMAGES else 6):
                case(f"{name} truncated at {k}", INVALID, {name: raw[:k]}, gz)
            for k in range(4):
                case(f"{name} magic byte {k}", INVALID, {name: raw[:k] + bytes([raw[k] ^ 0x41]) + raw[k + 1:]}, gz)
            case(f"{name} extra byte", INVALID, {name: raw + b"\x00"}, gz)
            for kind in NON_REGULAR:
                case(f"{name} {kind}", INVALID, {name: kind}, gz)
        for lie in [(n + 1, rows, cols), (n - 1, rows, cols), (n, rows + 1, cols), (n, rows, cols - 1), (0, rows, cols),
                    (n, 0, cols), (2**32 - 1, rows, cols), (n, 65535, 65535), (2**32 - 1, 2**32 - 1, 2**32 - 1)]:
            case(f"images declare {lie}", INVALID, {IMAGES: idx_images(*lie, pixels)}, gz)
        for count in [n - 1, n + 1, 0, 2**32 - 1]:
            case(f"labels declare {count}", INVALID, {LABELS: idx_labels(count, labels)}, gz)
        case("labels of images", INVALID, {LABELS: images_raw}, gz)
        for k in [0, n // 2, n - 1]:
            case(f"label {k} is 10", INVALID, {LABELS: idx_labels(n, labels[:k] + b"\x0a" + labels[k + 1:])}, gz)
        case("label 255", INVALID, {LABELS: idx_labels(n, labels[:3] + b"\xff" + labels[4:])}, gz)
        for _ in range(4):  # any pixel value is valid
            k = rng.randrange(16, len(images_raw))
            case(f"pixel byte {k}", VALID, {IMAGES: images_raw[:k] + bytes([rng.randrange(256)]) + images_raw[k + 1:]}, gz)
    # the compressed stream itself: truncated, its magic and method, a byte inside it
    compressed = gzip.compress(images_raw, mtime=0)

    def stream_case(label, expect, content):
        case(label, expect, {IMAGES: content}, gz=True, stream=True)

    for k in truncation_offsets(len(compressed), 12):
        stream_case(f"gzip stream truncated at {k}", INVALID, compressed[:k])
    stream_case("gzip magic byte 0", INVALID, b"\x00" + compressed[1:])
    stream_case("gzip method byte", INVALID, compressed[:2] + b"\x07" + compressed[3:])
    stream_case("gzip of garbage", INVALID, gzip.compress(b"\x01" * 100))
    stream_case("gzip then garbage", INVALID, compressed + b"junk")
    for _ in range(12):
        k = rng.randrange(10, len(compressed))
        stream_case(f"gzip byte {k}", EITHER, compressed[:k] + bytes([compressed[k] ^ (1 << rng.randrange(8))]) +
                    compressed[k + 1:])


# --- summary.json and CSV: summary_table ------------------------------------------------------------

def fuzz_summary():
    base = work / "summary-base"
    made = subprocess.run([booth, "--no-plot", "--steps", "30", "--out", str(base)], capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit("FAIL: booth run: " + made.stderr)
    text = (base / "summary.json").read_text()
    csv = (base / "gd.csv").read_bytes()
    case_dir = work / "summary-case"

    def case(label, expect, summary=None, gd=None, special=None):
        fresh(case_dir)
        shutil.copytree(base, case_dir)
        if summary is not None:
            (case_dir / "summary.json").write_text(summary) if isinstance(summary, str) else \
                (case_dir / "summary.json").write_bytes(summary)
        if gd is not None:
            (case_dir / "gd.csv").write_bytes(gd)
        if special:
            non_regular(case_dir / special[0], special[1])
        run_case("summary", label, [table, str(case_dir / "summary.json")], expect)

    def edited(change):
        j = json.loads(text)
        change(j)
        return json.dumps(j, indent=2) + "\n"

    case("unchanged", VALID)
    case("one line", VALID, json.dumps(json.loads(text)))
    case("final_loss null", VALID, edited(lambda j: j["methods"][0].update(final_loss=None)))
    case("no status (an older file)", VALID, edited(lambda j: j.pop("status")))
    stripped = len(text.rstrip())
    for k in truncation_offsets(len(text), 40):
        case(f"summary.json truncated at {k}", VALID if k >= stripped else INVALID, text[:k])
    line_ends = [i + 1 for i, b in enumerate(csv) if b == 10]
    for k in sorted(set(truncation_offsets(len(csv), 20)) | set(line_ends[:-1])):
        case(f"gd.csv truncated at {k}", INVALID, gd=csv[:k])
    bad_values = {
        "final_loss": ["zz", -1, True, [], {}],
        "total_seconds": [-1, "1"],
        "teleport_seconds": [-0.5],
        "teleports_accepted": [-1, 1.5, "3", 99],
        "name": [5, ""],
        "label": [7],
        "teleport": ["yes", 1],
        "csv": ["../gd.csv", 5, "", "/etc/passwd"],
        "updates": [29, 31, -1, "30"],
        "teleports": [{}, "none"],
    }
    for key, values in bad_values.items():
        for v in values:
            case(f"method {key} = {v!r}", INVALID, edited(lambda j: j["methods"][1].update({key: v})))
    for key, v in [("status", "incomplete"), ("status", "bogus"), ("status", 5), ("threshold", -1), ("threshold", 0),
                   ("threshold", "x"), ("driver", 5), ("experiment", []), ("figures", "x"), ("figures", [1]),
                   ("methods", []), ("methods", {}), ("methods", [5])]:
        case(f"{key} = {v!r}", INVALID, edited(lambda j: j.update({key: v})))
    if json.loads(text)["methods"][1]["teleports"]:
        case("a teleport's paid_off = 'yes'", INVALID,
             edited(lambda j: j["methods"][1]["teleports"][0].update(paid_off="yes")))
    lines = csv.split(b"\n")
    for row in [1, 5, len(lines) - 2]:
        cells = lines[row].split(b",")
        for label, new in [("step -1", [b"-1"] + cells[1:]), ("step 1.5", [b"1.5"] + cells[1:]),
                           ("loss zz", cells[:1] + [b"zz"] + cells[2:]), ("time -3", cells[:3] + [b"-3"] + cells[4:]),
                           ("time nan", cells[:3] + [b"nan"] + cells[4:]), ("a cell more", cells + [b"1"]),
                           ("a cell less", cells[:-1])]:
            case(f"gd.csv row {row} {label}", INVALID, gd=b"\n".join(lines[:row] + [b",".join(new)] + lines[row + 1:]))
        case(f"gd.csv row {row} twice", INVALID, gd=b"\n".join(lines[:row + 1] + [lines[row]] + lines[row + 1:]))
    case("gd.csv loss inf", VALID,
         gd=b"\n".join(lines[:3] + [b",".join(lines[3].split(b",")[:1] + [b"inf"] + lines[3].split(b",")[2:])] + lines[4:]))
    for name in ["summary.json", "gd.csv", "gd_teleport.csv"]:
        for kind in NON_REGULAR:
            case(f"{name} {kind}", INVALID, special=(name, kind))
    raw = text.encode()
    for _ in range(40):  # a random byte anywhere in summary.json: a changed digit may stay valid
        k = rng.randrange(len(raw))
        case(f"summary.json byte {k}", EITHER, raw[:k] + bytes([rng.randrange(32, 127)]) + raw[k + 1:])


start = time.monotonic()
work.mkdir(parents=True, exist_ok=True)
for group, fuzz in [("npy", fuzz_npy), ("idx", fuzz_idx), ("summary", fuzz_summary)]:
    if group in only:
        t = time.monotonic()
        fuzz()
        c = counts.get(group, {})
        print(f"{group}: {sum(c.values())} cases ({c.get(VALID, 0)} valid, {c.get(INVALID, 0)} invalid, "
              f"{c.get(EITHER, 0)} either) in {time.monotonic() - t:.1f} s")
shutil.rmtree(work, ignore_errors=True)
total = sum(sum(c.values()) for c in counts.values())
for f in failures[:40]:
    print("FAIL:", f, file=sys.stderr)
print(f"fuzz (seed {seed}): {total} cases, {len(failures)} failed, {time.monotonic() - start:.1f} s")
sys.exit(1 if failures else 0)
