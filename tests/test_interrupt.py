"""Ctrl-C in the multi-thread demos (`pltvm run`, `pltvm fork-host`, see pltvm/cli/threads.py)
and threads still running enclaves when Python exits.

Whenever SIGINT comes, from the first line of `pltvm.cli.main` to its return, the command ends
with status 130 and `pltvm: interrupted` as the last line of its output, with no traceback, no
"Fatal Python error" and no Rust panic; or, if the demo was already done, with its normal ending.
What comes before `main` (CPython starting, the console script importing pltvm.cli) is Python's
own start-up, which no package can change, so the sweeps count their offsets from main's start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import bundled

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = [
    pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.usefixtures("fresh_host_device"),
]

from pltvm.cli import fork_host as cli_fork  # noqa: E402
from pltvm.cli import run as cli_run  # noqa: E402
from pltvm import host as H  # noqa: E402
from pltvm.host import elf as host_elf  # noqa: E402

INTERRUPTED = "pltvm: interrupted"

# The console script (`sys.exit(main())` with sys.argv), plus a marker written to a pipe as
# main's body starts, which the sweep counts its offsets from. SIGINT gets Python's default
# handler even if this test runs with SIGINT ignored (a background job); SIGUSR1 dumps the
# threads' stacks if a trial hangs.
CHILD = """\
import faulthandler, os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
faulthandler.register(signal.SIGUSR1, all_threads=True)
import pltvm.cli.dispatch as cli
fd = int(sys.argv[1])
sys.argv = ["pltvm", *sys.argv[2:]]
body = cli._main
def marked(argv):
    os.write(fd, b"r")
    os.close(fd)
    return body(argv)
cli._main = marked
sys.exit(cli.main())
"""


def _trial(args: list[str], offset: float) -> tuple[int, str]:
    """Run `pltvm ARGS`, send SIGINT `offset` seconds after main started; (status, output with
    stderr merged into stdout in the order of the writes)."""
    r, w = os.pipe()
    # (No preexec_fn: the trials are started from two threads, and code run between fork and
    # exec can deadlock on a lock another thread held at the fork.)
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(w), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(w,),
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    os.close(w)
    try:
        assert os.read(r, 1) == b"r", "the child never reached pltvm.cli.main"
        os.close(r)
        time.sleep(offset)
        p.send_signal(signal.SIGINT)
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGUSR1)
            time.sleep(2)
            p.kill()
            out, _ = p.communicate()
            pytest.fail(f"pltvm {' '.join(args)} hung after SIGINT {offset * 1000:.0f} ms after main started; "
                        f"its output and threads:\n{out.decode(errors='replace')[-8000:]}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out.decode(errors="replace")


def _check(args: list[str], offset: float) -> str:
    """One trial; 'interrupted' or 'finished', asserting everything the ending must satisfy."""
    rc, out = _trial(args, offset)
    where = f"pltvm {' '.join(args)}, SIGINT {offset * 1000:.0f} ms after main started:\n{out[-2000:]}"
    for bad in ("Fatal Python error", "panicked", "Traceback", "KeyboardInterrupt", "[ERROR]"):
        assert bad not in out, where
    lines = out.splitlines()
    if rc == EXIT_INTERRUPTED:
        assert lines and lines[-1] == INTERRUPTED, where
        assert lines.count(INTERRUPTED) == 1, where
        return "interrupted"
    # The demo was done before the signal came: its normal ending, status 0.
    assert rc == 0 and INTERRUPTED not in lines, where
    if args[0] == "run":
        assert lines[-1] == "host: after exit the thread", where
        assert lines.count("host: PLenclave run is finish ") == int(args[2]), where
    else:
        assert lines.count("relay_page 2 00000002") == int(args[2]), where
    return "finished"


EXIT_INTERRUPTED = 130
RUN = ["run", "relay-page", "8"]
FORK = ["fork-host", "relay-page", "8"]
LOOP = ["run", "loop", "500"]


def _sweep(cases: list[tuple[list[str], float]]) -> dict[str, dict[str, int]]:
    """The trials, two at a time (each demo is itself 8 or 500 threads: the machine is loaded)."""
    with ThreadPoolExecutor(2) as ex:
        kinds = list(ex.map(lambda c: _check(*c), cases))
    counts: dict[str, dict[str, int]] = {}
    for (args, _), kind in zip(cases, kinds):
        d = counts.setdefault(" ".join(args), {"interrupted": 0, "finished": 0})
        d[kind] += 1
    return counts


def _offsets(lo: float, hi: float, n: int) -> list[float]:
    return [lo + (hi - lo) * k / (n - 1) for k in range(n)]


def test_sigint_at_many_offsets() -> None:
    """Offsets from 20 ms (imports, ELF checks) through thread start-up and the runs to the
    demo's end; `run loop 500` never ends by itself, so every offset interrupts it."""
    for name in ("relay-page", "loop"):
        bundled(name)
    cases = [(RUN, t) for t in _offsets(0.02, 0.6, 12)] + [(FORK, t) for t in _offsets(0.02, 0.6, 10)]
    cases += [(LOOP, t) for t in _offsets(0.02, 1.5, 8)]
    counts = _sweep(cases)
    assert counts[" ".join(LOOP)] == {"interrupted": 8, "finished": 0}
    for args in (RUN, FORK):
        assert counts[" ".join(args)]["interrupted"] >= 1, counts


@pytest.mark.slow
def test_sigint_at_many_offsets_long() -> None:
    for name in ("relay-page", "loop"):
        bundled(name)
    cases = [(RUN, t) for t in _offsets(0.0, 0.8, 60)] + [(FORK, t) for t in _offsets(0.0, 0.8, 60)]
    cases += [(LOOP, t) for t in _offsets(0.0, 1.5, 30)]
    counts = _sweep(cases)
    assert counts[" ".join(LOOP)]["finished"] == 0


# In-process: what an interrupted demo leaves behind.


def _sigint_on_first_output() -> list[bytes]:
    """Enclave output goes to a list; the first output sends this process SIGINT (from the
    thread running that enclave, while the main thread waits for the demo's threads)."""
    got: list[bytes] = []
    once = threading.Lock()

    def sink(data: bytes) -> None:
        # Exactly one SIGINT (a second one during the clean-up would end this process).
        if once.acquire(blocking=False):
            os.kill(os.getpid(), signal.SIGINT)
        got.append(data)

    H.set_output(sink)
    return got


def _demo_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pltvm-")]


@pytest.mark.parametrize("demo", ["run", "fork-host"])
def test_interrupted_demo_destroys_every_enclave_and_ends_every_thread(
        capsys: pytest.CaptureFixture[str], demo: str) -> None:
    path = str(bundled("loop"))
    before = signal.getsignal(signal.SIGINT)
    got = _sigint_on_first_output()
    if demo == "run":
        status = cli_run.run_host_demo(path, 6)
    else:
        status = cli_fork.run_fork_host(path, 6)
    assert status == EXIT_INTERRUPTED
    assert got and b"".join(got).startswith(b"loop: spinning\n")
    assert H.default_device().monitor.ids() == [], "every enclave (and the shadow template) destroyed"
    assert _demo_threads() == [], "every thread ended"
    assert signal.getsignal(signal.SIGINT) is before
    out = capsys.readouterr()
    assert out.err.splitlines()[-1] == INTERRUPTED and "Traceback" not in out.err
    assert "host: PLenclave run is finish" not in out.out and "[ERROR]" not in out.out


def test_interrupt_during_thread_start_up(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT as soon as the first of 64 threads runs, while the main thread starts the others:
    no more threads are started, and every one that was is waited for."""
    path = str(bundled("loop"))
    started: list[int] = []
    create = cli_run._create_enclave

    def first_sends_sigint(i: int, *args: Any) -> bool:
        started.append(i)
        if i == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return create(i, *args)

    monkeypatch.setattr(cli_run, "_create_enclave", first_sends_sigint)
    assert cli_run.run_host_demo(path, 64) == EXIT_INTERRUPTED
    assert H.default_device().monitor.ids() == []
    assert _demo_threads() == []
    assert capsys.readouterr().err.splitlines()[-1] == INTERRUPTED


@pytest.mark.parametrize("command", ["run", "fork-host"])
def test_interrupt_during_the_elf_checks(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         command: str) -> None:
    """SIGINT while the ELF is checked (pyelftools is imported there, where Python 3.11 would turn
    a KeyboardInterrupt inside a class definition into a RuntimeError): the check finishes, then
    the command ends as interrupted, before any enclave or thread exists."""
    bundled("hello-world")
    from pltvm import cli

    check = host_elf.elf_problem

    class SendsSigint:
        def __set_name__(self, owner: type, name: str) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs in this (main) thread meanwhile

    def interrupted_check(data: bytes) -> Any:
        class Checked:  # as pyelftools defines its classes on first import
            attr = SendsSigint()

        return check(data)

    monkeypatch.setattr(host_elf, "elf_problem", interrupted_check)
    assert cli.main([command, "hello-world", "4"]) == EXIT_INTERRUPTED
    out = capsys.readouterr()
    assert out.out == "" and out.err == INTERRUPTED + "\n"
    assert H.default_device().monitor.ids() == [] and _demo_threads() == []


def test_interrupt_after_the_demo_ended(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT as the demo prints its last line: the command still ends as interrupted."""
    bundled("hello-world")
    from pltvm import cli

    out = cli_run.out

    def last_line_then_sigint(text: str) -> None:
        out(text)
        if text == "host: after exit the thread\n":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)

    monkeypatch.setattr(cli_run, "out", last_line_then_sigint)
    assert cli.main(["run", "hello-world", "2"]) == EXIT_INTERRUPTED
    got = capsys.readouterr()
    assert got.out.endswith("host: after exit the thread\n") and got.err.endswith(INTERRUPTED + "\n")


def test_second_sigint_during_clean_up_exits_at_once() -> None:
    script = """\
import os, signal, time
from pltvm.cli.threads import DeferredSigint
with DeferredSigint() as flag:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)
    assert flag()
    flag.cleaning = True
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
print("not reached")
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (EXIT_INTERRUPTED, b"", b"pltvm: interrupted\n")
# Threads still inside an enclave run when the interpreter shuts down (daemon threads of a
# program using pltvm.host): the process ends normally, nothing calls into Python any more.

DAEMONS = """\
import sys, threading, time
from pltvm import host as H
elf = H.elf_args()
H.elf_args_init(elf, sys.argv[1])
started = threading.Semaphore(0)
def sink(data):
    started.release()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
if sys.argv[3] == "sink":
    H.set_output(sink)
def body(i):
    e, p = H.PLenclave(), H.enclave_args()
    H.PLenclave_init(e)
    H.enclave_args_init(p)
    p.name = b"d%d" % i
    H.PLenclave_create(e, elf, p)
    if sys.argv[3] != "sink":
        started.release()
    H.PLenclave_run(e)
for i in range(4):
    threading.Thread(target=body, args=(i,), daemon=True).start()
for i in range(4):
    started.acquire()
time.sleep(float(sys.argv[2]))
print("main exits", flush=True)
"""


@pytest.mark.parametrize("output", ["sink", "default"])
def test_daemon_threads_running_enclaves_at_exit(output: str) -> None:
    """`sink`: main exits once every enclave printed (through a callable of the program's);
    `default`: once they are created (output to sys.stdout)."""
    path = str(bundled("loop"))
    for delay in ("0", "0.01", "0.03", "0.06", "0.12"):
        r = subprocess.run([sys.executable, "-c", DAEMONS, path, delay, output], capture_output=True, timeout=60)
        where = f"delay {delay}: {r.stderr.decode(errors='replace')[-3000:]}"
        assert r.returncode == 0, where
        assert r.stderr == b"", where
        assert b"main exits\n" in r.stdout, where
        if output == "sink":
            assert r.stdout.count(b"loop: spinning\n") == 4, where
