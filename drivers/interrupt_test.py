#!/usr/bin/env python3
"""A run's files after an interrupt or a failure (drivers/meson.build runs it; issue 18, defects 2, 3).

usage: interrupt_test.py CASE WORKDIR DRIVER [SUMMARY_TABLE]

  consistent  DRIVER (booth) writes a folder, then a second run with other options fails while it
              writes its files (a folder stands where one CSV goes): summary.json must not be the
              first run's beside the second run's CSVs; it says "incomplete" and SUMMARY_TABLE
              refuses it with one line.
  signal-term, signal-int
              DRIVER (booth, with figures) is sent SIGTERM / SIGINT while gnuplot renders (a fake
              gnuplot on PATH that waits): the driver ends, gnuplot is ended and awaited, no
              temporary file is left, summary.json says "incomplete".
  signal-kill DRIVER is killed (SIGKILL) while gnuplot renders: gnuplot does not outlive it (it gets
              SIGTERM from the kernel), and the next run in the folder removes the temporaries left.
  stale       temporaries of dead processes in the output folder (hidden and not) are removed when
              a run starts; one of a live process stays.
  resume      DRIVER (mnist, tiny) stopped with --stop-after: stale temporaries in the folder and
              in its checkpoint/ are removed by --resume, which completes the run.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

case, work, driver = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
table = sys.argv[4] if len(sys.argv) > 4 else None
DEAD_PID = 99999999  # above any pid_max: no such process


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def temporaries(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp*"))


def status(folder):
    return json.loads((folder / "summary.json").read_text()).get("status")


def alive(pid):
    """True while pid runs (a zombie counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(predicate, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    fail(f"timed out after {seconds} s waiting for {what}")


if work.exists():
    shutil.rmtree(work)
work.mkdir(parents=True)
out = work / "out"

FAKE_GNUPLOT = r'''#!/usr/bin/env python3
# Answers the driver's probe at once; a rendering creates its first figure under the temporary
# suffix, writes its pid where FAKE_GNUPLOT_PID says, and waits to be interrupted.
import os, re, sys, time
if len(sys.argv) == 3 and sys.argv[1] == "-e" and sys.argv[2].startswith("set terminal"):
    sys.exit(0)
setup = sys.argv[2]
suffix = re.search(r"suffix='([^']*)'", setup).group(1)
folder = re.search(r"cd '([^']*)'", setup).group(1)
open(os.path.join(folder, "loss.png" + suffix), "w").close()
with open(os.environ["FAKE_GNUPLOT_PID"] + ".part", "w") as f:
    f.write(str(os.getpid()))
os.rename(os.environ["FAKE_GNUPLOT_PID"] + ".part", os.environ["FAKE_GNUPLOT_PID"])
time.sleep(60)
'''


def start_rendering():
    """Starts DRIVER with the fake gnuplot; returns it and the gnuplot pid once it renders."""
    bin_dir = work / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "gnuplot"
    fake.write_text(FAKE_GNUPLOT)
    fake.chmod(0o755)
    pid_file = work / "gnuplot.pid"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_GNUPLOT_PID=str(pid_file))
    p = subprocess.Popen([driver, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    wait_until(lambda: pid_file.exists() or p.poll() is not None, 30, "gnuplot to start")
    if p.poll() is not None:
        fail(f"the driver ended before rendering: {p.returncode}, {p.stderr.read()}")
    return p, int(pid_file.read_text())


if case == "consistent":
    first = subprocess.run([driver, "--out", str(out), "--no-plot"], capture_output=True, text=True)
    if first.returncode != 0:
        fail("first run: " + first.stderr)
    (out / "gd_teleport.csv").unlink()
    (out / "gd_teleport.csv").mkdir()  # the second run cannot write this file
    second = subprocess.run([driver, "--out", str(out), "--no-plot", "--lr", "0.001", "--steps", "20"],
                            capture_output=True, text=True)
    if second.returncode != 2 or len(second.stderr.splitlines()) != 1:
        fail(f"second run: exit {second.returncode} (expected 2), stderr {second.stderr!r}")
    if len((out / "gd.csv").read_text().splitlines()) != 22:
        fail("test setup: the second run did not write its gd.csv (21 rows)")
    if status(out) != "incomplete":
        fail(f"summary.json has status {status(out)!r} beside another run's gd.csv (expected 'incomplete')")
    t = subprocess.run([table, str(out / "summary.json")], capture_output=True, text=True)
    if t.returncode != 2 or len(t.stderr.splitlines()) != 1 or "incomplete" not in t.stderr:
        fail(f"summary_table on the incomplete folder: exit {t.returncode}, stderr {t.stderr!r}")
    print("refused:", t.stderr.strip())
elif case in ("signal-term", "signal-int"):
    sig = signal.SIGTERM if case == "signal-term" else signal.SIGINT
    p, gnuplot = start_rendering()
    p.send_signal(sig)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("the driver did not end within 10 s of the signal")
    if p.returncode != -sig:
        fail(f"the driver ended with {p.returncode}, not by the signal ({-sig}); stderr {p.stderr.read()!r}")
    if alive(gnuplot):
        os.kill(gnuplot, signal.SIGKILL)
        fail("gnuplot outlived the driver")
    if temporaries(out):
        fail(f"temporary files left: {temporaries(out)}")
    if status(out) != "incomplete":
        fail(f"summary.json of the interrupted run has status {status(out)!r}")
    print(f"ended by signal {int(sig)}; gnuplot ended; no temporaries")
elif case == "signal-kill":
    p, gnuplot = start_rendering()
    p.kill()
    p.wait()
    try:
        wait_until(lambda: not alive(gnuplot), 5, "gnuplot to end after the driver was killed")
    except SystemExit:
        os.kill(gnuplot, signal.SIGKILL)
        raise
    left = temporaries(out)
    if not left:
        fail("test setup: the killed rendering left no temporary")
    again = subprocess.run([driver, "--out", str(out), "--no-plot"], capture_output=True, text=True)
    if again.returncode != 0:
        fail("the next run: " + again.stderr)
    if temporaries(out):
        fail(f"the next run left the killed run's temporaries: {temporaries(out)}")
    print(f"gnuplot ended with the driver; the next run removed {left}")
elif case == "stale":
    out.mkdir()
    stale = [f".gd.csv.tmp{DEAD_PID}", f"loss.png.tmp{DEAD_PID}", f".figures.gp.log.tmp{DEAD_PID}"]
    live = f"notes.tmp{os.getpid()}"  # this test's own pid: a live process
    for name in stale + [live]:
        (out / name).write_text("x")
    r = subprocess.run([driver, "--out", str(out), "--no-plot"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(r.stderr)
    if temporaries(out) != [live]:
        fail(f"left {temporaries(out)}, expected only the live process's {live}")
    print(f"removed {stale}; kept {live}")
elif case == "resume":
    tiny = ["--limit", "500", "--widths", "784,32,32,10", "--teleport-steps", "2", "--epochs", "2", "--no-plot",
            "--out", str(out)]
    r = subprocess.run([driver, *tiny, "--stop-after", "1"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("stopped run: " + r.stderr)
    stale = [out / f"sgd.csv.tmp{DEAD_PID}", out / "checkpoint" / f".weights-9.npy.tmp{DEAD_PID}",
             out / "checkpoint" / f".checkpoint.json.tmp{DEAD_PID}"]
    for path in stale:
        path.write_text("x")
    r = subprocess.run([driver, *tiny, "--resume"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("resumed run: " + r.stderr)
    if temporaries(out):
        fail(f"--resume left {temporaries(out)}")
    if status(out) != "complete":
        fail("the resumed run's summary.json is not complete")
    print("--resume removed the stale temporaries and completed the run")
else:
    fail("unknown case " + case)
