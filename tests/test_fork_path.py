"""The fork -> run -> destroy fast path: output captured by the binding (``run(capture=True)``,
which ``output="capture"`` uses), fork names borrowed from bytes, and destroy without releasing
the GIL when nothing runs. Behaviour only; the speed is in benches/fork_bench.py."""

from __future__ import annotations

import threading
import time
from typing import Any, List

import pytest
from conftest import A0, A6, A7, ECALL, T0, T1, ZERO, Seg, addi, bundled, code, li, lui, make_elf, sd

import pltvm

_core: Any = pytest.importorskip("pltvm._core")

TEXT = 0x1000


def slli(rd: int, rs1: int, sh: int) -> int:
    return (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13


def penglai(fid: int) -> List[int]:
    return [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, fid), ECALL]


def ocall(oid: int) -> List[int]:
    return [addi(A0, ZERO, oid)] + penglai(98)


def print_word(text: bytes) -> List[int]:
    """Writes ``text`` (at most 4 bytes) and a NUL to the kbuffer, then OCALL_SYS_WRITE."""
    kbuf = li(T0, -1) + [slli(T0, T0, 37)]  # 0xFFFF_FFE0_0000_0000
    return kbuf + li(T1, int.from_bytes(text, "little")) + [sd(T1, 0, T0)] + ocall(3)


# Prints "hi!\n", makes OCALL 100 (answered in Python), prints "yo\n", exits with 0.
PRINT_OCALL_PRINT = make_elf(
    [Seg(TEXT, code(print_word(b"hi!\n") + ocall(100) + print_word(b"yo\n") + li(A0, 0) + penglai(99)), flags=7)],
    TEXT,
)


def test_native_capture_collects_the_output_and_calls_no_sink() -> None:
    m = _core.Monitor.new()
    t = m.create_shadow(bundled("hello-world").read_bytes())
    called: List[bytes] = []
    r = t.fork().run("start", capture=True, output=called.append)
    assert (r.reason, r.output, called) == ("exit", b"hello world!\n", [])
    r = t.fork().run("start", output=called.append)
    assert (r.reason, r.output, called) == ("exit", None, [b"hello world!\n"])


def test_public_capture_across_a_python_ocall_round_trip() -> None:
    with pltvm.Device() as dev:
        seen: List[int] = []
        e = dev.create(PRINT_OCALL_PRINT)

        @e.on_ocall(100)
        def handler(enclave: Any, a1: int, a2: int, a3: int) -> int:
            seen.append(a1)
            return 0

        r = e.run(output="capture")
        assert (r.reason, r.value, r.ocalls, r.output, len(seen)) == ("exit", 0, 1, b"hi!\nyo\n", 1)
        # The same with a bytearray sink (the Python path) gives the same output.
        buf = bytearray(b"x")
        e2 = dev.create(PRINT_OCALL_PRINT)
        e2.on_ocall(100, handler)
        r2 = e2.run(output=buf)
        assert (r2.output, bytes(buf)) == (b"hi!\nyo\n", b"xhi!\nyo\n")
        # A run that prints nothing captures b"", not None.
        r3 = dev.create(make_elf([Seg(TEXT, code(li(A0, 3) + penglai(99)), flags=7)], TEXT)).run(output="capture")
        assert (r3.value, r3.output) == (3, b"")


def test_native_fork_names() -> None:
    m = _core.Monitor.new()
    t = m.create_shadow(bundled("hello-world").read_bytes())
    assert t.fork().name == b""
    assert t.fork(name=b"abc").name == b"abc"
    assert t.fork(name=bytearray(b"def")).name == b"def"
    assert t.fork(name=b"x" * 20).name == b"x" * 16, "cut to 16 bytes, as before"
    with pytest.raises(TypeError):
        t.fork(name="str")


def test_destroy_of_an_idle_or_running_instance() -> None:
    m = _core.Monitor.new(slice=10_000)
    spin = make_elf([Seg(TEXT, code([addi(T0, T0, 1), 0x0000006F]), flags=7)], TEXT)  # jal x0, 0
    t = m.create_shadow(spin)
    idle = t.fork()
    assert (idle.destroy(), idle.state, idle.destroy()) == (0, "INVALID", -1)
    busy = t.fork()
    out: List[Any] = []
    th = threading.Thread(target=lambda: out.append(busy.run("start")))
    th.start()
    deadline = time.monotonic() + 30
    while busy.state != "RUNNING":
        assert time.monotonic() < deadline, "the run did not start"
    # The run goes on in the other thread with the GIL released; this destroy waits for it.
    assert busy.destroy() == 0
    th.join(timeout=30)
    assert not th.is_alive() and out[0].reason == "destroyed"
    assert m.ids() == [t.id]


# --- the per-instance hot path (ShadowEnclave.fork without arguments, run(output="capture")) ---

SPIN = make_elf([Seg(TEXT, code([addi(T0, T0, 1), 0x0000006F]), flags=7)], TEXT)  # jal x0, 0


def test_fast_fork_makes_the_same_enclave_object_as_the_general_path() -> None:
    with pltvm.Device(output="capture") as dev:
        shadow = dev.create_shadow("hello-world")
        fast = shadow.fork()
        general = shadow.fork(shm=None, name=b"general")  # a name takes the general path
        assert type(fast) is type(general) is pltvm.Enclave
        assert vars(fast).keys() == vars(general).keys()
        assert (fast._device, fast._output, fast.shm, fast.relay) == (dev, "capture", None, None)
        assert fast in dev._enclaves and fast.state == "FRESH" and fast._core.shadow_of == shadow.id
        assert fast.id != general.id and fast.id == fast._core.id
        assert shadow.fork(output=bytearray())._output == bytearray()


def test_default_fork_names_count_per_template_and_are_shared_with_the_batch() -> None:
    with pltvm.Device() as dev:
        a, b = dev.create_shadow("hello-world"), dev.create_shadow("hello-world")
        tag = b"fork%x-" % a.id
        assert [a.fork().name for _ in range(3)] == [(tag + b"%d" % i).decode() for i in (1, 2, 3)]
        assert b.fork().name == "fork%x-1" % b.id, "each template counts on its own"
        assert a._next_name() == tag + b"4", "fork_run_destroy's name comes from the same counter"
        assert a.fork().name == (tag + b"5").decode()
        m = _core.Monitor.new()
        t = m.create_shadow(bundled("hello-world").read_bytes())
        for _ in range(10**4):
            t.next_fork_name()
        long = t.fork_default().name
        assert long == (b"fork%x-10001" % t.id)[:16] and len(long) <= 16


def test_fast_run_results_equal_the_general_paths() -> None:
    """output="capture" given as the interned literal takes run_capture; an equal string that
    is another object takes the general path: the results must be the same."""
    literal = "capture"
    capture = "".join(["cap", "ture"])
    assert capture == literal and capture is not literal
    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world")
        fast = shadow.fork().run(output="capture")
        general = shadow.fork().run(output=capture)
        assert fast == general == pltvm.RunResult(reason="exit", value=0, output=b"hello world!\n",
                                                  instret=fast.instret)
        assert list(vars(fast)) == list(vars(general))
        # A fault: raised, or returned with check=False, like the general path.
        crash = dev.create_shadow("crash")
        with pytest.raises(pltvm.EnclaveFault) as ei:
            crash.fork().run(output="capture")
        f1 = crash.fork().run(output="capture", check=False)
        f2 = crash.fork().run(output=capture, check=False)
        assert f1 == f2 and f1.faulted and ei.value.result == f1
        # A negative exit value comes back signed.
        neg = dev.create_shadow(make_elf([Seg(TEXT, code(li(A0, -5) + penglai(99)), flags=7)], TEXT))
        assert neg.fork().run(output="capture").value == -5
        assert dev.monitor.ids() == sorted([shadow.id, crash.id, neg.id]), "every instance is gone"


def test_fast_run_of_an_enclave_that_cannot_start_says_why() -> None:
    with pltvm.Device() as dev:
        shadow = dev.create_shadow(SPIN)
        e = shadow.fork()
        assert e.run(output="capture", max_instructions=1000).reason == "budget"
        # RUNNABLE now: run_capture is refused (nothing changes) and the general path goes on.
        assert e.run(output="capture", max_instructions=1000).reason == "budget"
        e.destroy()
        with pytest.raises(pltvm.EnclaveDestroyed):
            e.run(output="capture")
        done = shadow.fork(name=b"x")
        assert done.state == "FRESH"
        done.destroy()
        with pytest.raises(pltvm.EnclaveDestroyed):
            done.run(output="capture")


def test_fast_run_destroyed_mid_run_by_another_thread() -> None:
    with pltvm.Device() as dev:
        e = dev.create_shadow(SPIN).fork()
        out: List[Any] = []
        th = threading.Thread(target=lambda: out.append(e.run(output="capture")))
        th.start()
        deadline = time.monotonic() + 30
        while e.state != "RUNNING":
            assert time.monotonic() < deadline, "the run did not start"
        e.destroy()
        th.join(timeout=30)
        assert not th.is_alive() and out[0].reason == "destroyed" and out[0].output == b""
        assert e not in dev._enclaves and not e.alive


def test_fast_fork_of_a_destroyed_template_or_closed_device_is_a_typed_error() -> None:
    dev = pltvm.Device()
    shadow = dev.create_shadow("hello-world")
    e = shadow.fork()
    shadow.destroy()
    with pytest.raises(pltvm.EnclaveDestroyed):
        shadow.fork()
    assert e.run(output="capture").exited, "an instance outlives its template"
    shadow2 = dev.create_shadow("hello-world")
    dev.close()
    with pytest.raises(pltvm.EnclaveError, match="closed"):
        shadow2.fork()
