"""Shadow enclaves and copy-on-write fork: the fork-host demo (CLI and C-API mirror), isolation,
copy-on-write accounting, concurrency, template destroy with live instances, faults, and the
Pythonic layer (pltvm.shadow)."""

from __future__ import annotations

import struct
import threading
from typing import Any

import pytest
from conftest import A0, A1, A6, A7, ECALL, S0, SP, T0, T1, T2, ZERO, Seg, addi, bne, code, li, lui, make_elf, run_cli, sd

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = pytest.mark.skipif(not hasattr(_core.Enclave, "fork"), reason="pltvm._core without fork")

TEXT = 0x1000
DATA = 0x2000
HEAP = 0x10_0000_0000
STACK = 0x38_0000_0000
KBUFFER = 0xFFFF_FFE0_0000_0000


def _ld(rd: int, off: int, rs1: int) -> int:
    return ((off & 0xFFF) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03


def _add(rd: int, rs1: int, rs2: int) -> int:
    return (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33


def _slli(rd: int, rs1: int, sh: int) -> int:
    return (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13


def _penglai(fid: int) -> list[int]:
    return [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, ZERO, fid), ECALL]


def counter_elf(pages: int = 1) -> bytes:
    """Increments the global at 0x2000 (initially 41), reads then writes the stack word at
    sp-8 and the first heap word (after sbrk(4096)), returns its relay page (OCALL 7) so the
    host can look at it, then exits with global + old stack word + old heap word (42 when
    every instance sees the template's values and fresh stack and heap)."""
    insns = [
        lui(T0, DATA >> 12), _ld(T1, 0, T0), addi(T1, T1, 1), sd(T1, 0, T0),
        _ld(T2, -8, SP), sd(T1, -8, SP), _add(T1, T1, T2),
        addi(A0, ZERO, 4), *li(A1, 4096), *_penglai(98),  # sbrk(4096)
        addi(S0, ZERO, 1), _slli(S0, S0, 36),  # s0 = HEAP
        _ld(T2, 0, S0), sd(T1, 0, S0), _add(T1, T1, T2),
        addi(A0, ZERO, 7), *_penglai(98),  # eapp_return_relay_page()
        addi(A0, T1, 0), *_penglai(99),
    ]
    data = struct.pack("<Q", 41) + bytes(pages * 4096 - 8)
    return make_elf([Seg(TEXT, code(insns), flags=5), Seg(DATA, data, flags=6)], TEXT)


RELAY = bytes(4096)


# ---------------------------------------------------------------------------------------------
# The fork-host demo.


def test_fork_host_cli_prints_the_demo_lines() -> None:
    r = run_cli("fork-host", "hello-world", "4")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert sorted(x for x in lines if x.startswith("host:")) == [f"host:{i}: enclave run eid 1000" for i in range(1, 5)]
    assert lines.count("hello world!") == 4 and len(lines) == 8
    assert r.stderr.decode() == "LIB: ioctl stop enclave is failed \n"


def test_fork_host_cli_relay_rerun_writes_2() -> None:
    r = run_cli("fork-host", "relay-page")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "host:1: enclave run eid 1000", "relay_page 1 000056ce", "relay_page 2 00000002",
    ]


def test_fork_host_cli_entry_registers() -> None:
    r = run_cli("fork-host", "info", "2")
    out = r.stdout.decode()
    assert "info: a1 shm size   0x4000" in out and "info: shm[0] 11111" in out and "info: relay[0] 22222" in out
    counters = [x for x in out.splitlines() if "a2 run count" in x]
    # Reset by the shadow creation, then % 5; the two threads print in either order.
    assert sorted(c.split()[-1] for c in counters) == ["0", "1"]


def test_c_api_flow_as_the_tutorial(capfd: Any) -> None:
    from pltvm import enclaves
    from pltvm import host as H

    dev = H.configure()
    elf = H.elf_args()
    H.elf_args_init(elf, str(enclaves.path("hello-world")))
    shadow, params = H.PLenclave(), H.enclave_args()
    H.PLenclave_init(shadow)
    H.enclave_args_init(params)
    params.type = H.SHADOW_ENCLAVE
    assert H.PLenclave_create(shadow, elf, params) == 0
    tid = shadow.user_param.eid
    assert tid == shadow.eid == 0x1000 and shadow.user_param.stack_size == 0
    ids = []
    for i in range(3):
        e = H.PLenclave()
        H.PLenclave_init(e)
        e.fd, e.user_param.eid, e.eid = shadow.fd, tid, tid
        e.user_param.name = b"inst%d" % i
        assert H.PLenclave_attest(e, 7) == 0  # isShadow 0: the template (fid 80)
        assert e.attest_param.report.enclave.nonce == 7
        assert H.PLenclave_run(e) == 0
        assert e.user_param.isShadow == 1 and e.user_param.eid != tid and e.eid == tid
        ids.append(e.user_param.eid)
        assert dev.monitor.lookup(e.user_param.eid) is None, "B21: the instance id is freed"
    assert ids == [0x1001] * 3
    assert capfd.readouterr().out.count("hello world!") == 3
    # A relay flow on an instance; attest with isShadow 1 after the run addresses the instance.
    assert H.PLenclave_destroy(shadow) == 0, "the template is destroyed while its fd is open"
    assert dev.monitor.lookup(tid) is None
    H.PLenclave_destruct(shadow)
    H.elf_args_destroy(elf)


# ---------------------------------------------------------------------------------------------
# Isolation and copy-on-write.


@pytest.fixture
def mon() -> Any:
    return _core.Monitor.new()


def test_instances_are_isolated_and_the_template_unchanged(mon: Any) -> None:
    t = mon.create_shadow(counter_elf())
    assert (t.type, t.state, t.shadow_of) == (2, "FRESH", None)
    forks = [t.fork(name=b"f%d" % i) for i in range(4)]
    assert all(f.shadow_of == t.id and f.measurement == t.measurement for f in forks)
    r = forks[0].run(relay=RELAY)
    assert r.reason == "relay"
    # The paused instance sees its own writes; a sibling sees the template's values.
    assert forks[0].read(DATA, 8) == struct.pack("<Q", 42)
    assert forks[0].read(STACK - 8, 8) == struct.pack("<Q", 42)
    assert forks[0].read(HEAP, 8) == struct.pack("<Q", 42)
    assert forks[1].read(DATA, 8) == struct.pack("<Q", 41)
    assert forks[1].read(STACK - 8, 8) == bytes(8)
    for f in forks[1:]:
        assert f.run(relay=RELAY).reason == "relay"
    for f in forks:
        r = f.run("rerun_relay", relay=RELAY)
        assert (r.reason, r.retval) == ("exit", 42)
    assert t.read(DATA, 8) == struct.pack("<Q", 41)
    with pytest.raises(ValueError):
        t.read(STACK - 8, 8)  # the template has no stack


def test_copy_on_write_accounting(mon: Any) -> None:
    t = mon.create_shadow(counter_elf(pages=64))
    base = t.fork()
    assert base.private_bytes == 0 and base.shared_bytes >= 65 * 4096
    for k in (1, 8, 32):
        f = t.fork()
        for i in range(k):
            f.write(DATA + i * 4096 + 16, b"\xff" * 8)
        assert f.private_bytes == k * 4096
        assert f.private_bytes + f.shared_bytes == base.shared_bytes
    # An instance that ran and wrote its global, stack and heap pages owns a few frames.
    f = t.fork(name=b"r")
    assert f.run(relay=RELAY).reason == "relay"
    assert 3 * 4096 <= f.private_bytes <= 16 * 4096
    s = mon.stats()
    assert (s["templates"], s["instances"], s["enclaves"]) == (1, 5, 5)
    assert s["frames_template"] >= 65


def test_destroying_the_template_keeps_instances_running(mon: Any) -> None:
    t = mon.create_shadow(counter_elf())
    a, b = t.fork(name=b"a"), t.fork(name=b"b")
    assert a.run(relay=RELAY).reason == "relay"
    assert t.destroy() == 0 and t.state == "INVALID"
    with pytest.raises(ValueError):
        t.fork()
    assert a.run("rerun_relay", relay=RELAY).retval == 42
    assert b.run(relay=RELAY).reason == "relay"
    assert b.run("rerun_relay", relay=RELAY).retval == 42
    assert mon.ids() == [] and mon.secure_memory_used == 0


def test_a_faulting_instance_leaves_its_siblings_running(mon: Any) -> None:
    t = mon.create_shadow(counter_elf())
    good, bad, other = t.fork(name=b"g"), t.fork(name=b"b"), t.fork(name=b"o")
    assert good.run(relay=RELAY).reason == "relay"  # paused mid-run
    bad.write(TEXT, bytes(4))  # an illegal instruction in its own copy of the code page
    r = bad.run(relay=RELAY)
    assert (r.reason, r.cause, r.pc) == ("fault", 2, TEXT)
    assert good.run("rerun_relay", relay=RELAY).retval == 42
    assert other.run(relay=RELAY).reason == "relay"
    assert other.run("rerun_relay", relay=RELAY).retval == 42
    assert t.read(TEXT, 4) != bytes(4)


def test_concurrent_forks_from_many_threads(mon: Any) -> None:
    t = mon.create_shadow(counter_elf())
    results: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(40):
            f = t.fork(name=b"t%d-%d" % (i, j))
            assert f.run(relay=RELAY).reason == "relay"
            r = f.run("rerun_relay", relay=RELAY)
            with lock:
                results.append(r.retval)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [42] * 320
    assert mon.ids() == [t.id] and mon.stats()["enclaves"] == 0


def test_fork_run_destroy_batch(mon: Any) -> None:
    from pltvm import enclaves

    t = mon.create_shadow(enclaves.path("hello-world").read_bytes())
    k, out = t.fork_run_destroy(100)
    assert k == 100 and out == b"hello world!\n" * 100
    assert mon.ids() == [t.id]


# ---------------------------------------------------------------------------------------------
# Pythonic layer.


def test_device_create_shadow_fork_and_stats() -> None:
    import pltvm

    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world", output="capture")
        assert isinstance(shadow, pltvm.ShadowEnclave) and shadow.alive
        e = shadow.fork(shm=4096)
        assert e.state == "FRESH" and e.private_bytes == 2 * 4096  # the shm page and its table
        r = e.run()
        assert r.output == b"hello world!\n" and r.exited
        assert shadow.attest(3).nonce == 3
        e2 = shadow.fork(relay=b"\x01" * 10)
        s = dev.stats()
        assert (s["templates"], s["instances"]) == (1, 1)
        assert s["private_bytes"] == s["frames_private"] * 4096
        assert shadow.fork_run_destroy(5) == (5, b"hello world!\n" * 5)
        assert e2.run().exited
    assert not shadow.alive
    with pytest.raises(pltvm.EnclaveError):
        shadow.fork()


def test_template_properties_after_destroy_raise_enclave_destroyed() -> None:
    import pltvm

    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world")
        assert len(shadow.measurement) == 32 and shadow.size > 0
        shadow.destroy()
        for read in (lambda: shadow.measurement, lambda: shadow.size, lambda: shadow.attest(1), shadow.fork,
                     lambda: shadow.fork_run_destroy(1)):
            with pytest.raises(pltvm.EnclaveDestroyed, match="0x1000 was destroyed"):
                read()


def test_fork_name_errors_are_the_same_as_create() -> None:
    import pltvm

    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world")
        for name, error in (("b" * 17, ValueError), (b"a\0b", ValueError), ("\u00e9" * 9, ValueError)):
            with pytest.raises(error) as created:
                dev.create("hello-world", name=name)
            with pytest.raises(error) as forked:
                shadow.fork(name=name)
            assert type(forked.value) is type(created.value) and str(forked.value) == str(created.value)
        assert shadow.fork(name="b" * 16).name == "b" * 16
        assert dev.stats()["instances"] == 1


def test_default_fork_names_are_unique_per_template() -> None:
    import pltvm

    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world")
        names = [shadow.fork().name for _ in range(3)]
        assert names == [f"fork{shadow.id:x}-{i}" for i in (1, 2, 3)]


def test_fork_registers_the_instance_and_destroy_forgets_it() -> None:
    import pltvm

    with pltvm.Device() as dev:
        shadow = dev.create_shadow("hello-world")
        a, b = shadow.fork(), shadow.fork()
        assert dev.enclaves == [a, b]
        a.destroy()
        assert dev.enclaves == [b]
        assert b.run(output="capture").exited and dev.enclaves == []
        c = shadow.fork()
        assert c.id == a.id and dev.enclaves == [c]  # the freed id is reused
        a.destroy()  # a no-op: it must not drop c, which has its id now
        assert dev.enclaves == [c]
    assert not c.alive
    with pytest.raises(pltvm.EnclaveError, match="closed"):
        shadow.fork()


def _countdown_elf(value: int) -> bytes:
    """Counts t0 down from 100,000, then exits with ``value``."""
    insns = [*li(T0, 100_000), addi(T0, T0, -1), bne(T0, ZERO, -4), addi(A0, ZERO, value), *_penglai(99)]
    return make_elf([Seg(TEXT, code(insns), flags=5)], TEXT)


def test_a_reused_template_id_does_not_bring_in_another_templates_code() -> None:
    """Destroyed instances leave their hart (with its decoded code) to the next fork of their
    template. An instance that outlives its template and is destroyed after another template
    got the same driver id and layout must not leave it code of the first template."""
    import pltvm

    with pltvm.Device() as dev:
        first = dev.create_shadow(_countdown_elf(1))
        old = first.fork()
        assert old.run(max_instructions=1000).reason == "budget"  # its code is decoded
        first.destroy()
        second = dev.create_shadow(_countdown_elf(2))
        assert second.id == first.id
        old.destroy()
        for _ in range(3):
            assert second.fork().run().value == 2
        assert second.fork_run_destroy(3)[0] == 3
