"""pltvm.host, the C host API mirror: return codes and messages of docs/abi.md §4.5,
the demo flows of §4.6 with the bundled enclaves, and the error paths."""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import A0, ECALL, ILLEGAL, Seg, addi, bundled, code, jal, li, lui, make_elf

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = [
    pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor"),
    pytest.mark.usefixtures("fresh_host_device"),
]

from pltvm import host as H  # noqa: E402
from pltvm.host import driver  # noqa: E402

A6, A7 = 16, 17


def exit_elf(v: int = 0) -> bytes:
    insns = li(A0, v) + [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, 0, 99), ECALL]
    return make_elf([Seg(0x1000, code(insns), flags=7)], 0x1000)


def spin_elf() -> bytes:
    return make_elf([Seg(0x1000, code(jal(0, 0)), flags=7)], 0x1000)


def load(path: Path) -> H.elf_args:
    e = H.elf_args()
    H.elf_args_init(e, str(path))
    return e


def create(elf: H.elf_args, name: bytes = b"test-enclave0", shmid: int = 0, shm_size: int = 0,
           type: int = H.NORMAL_ENCLAVE) -> tuple[H.PLenclave, int]:
    e = H.PLenclave()
    params = H.enclave_args()
    assert H.PLenclave_init(e) == 0
    H.enclave_args_init(params)
    params.name = name
    params.type = type
    params.shmid, params.shm_offset, params.shm_size = shmid, 0, shm_size
    return e, H.PLenclave_create(e, elf, params)


def host_demo(path: Path, i: int = 0, relay_value: int = 0) -> tuple[int, int]:
    """demo/host/host.c for one thread; returns (last run result, retval)."""
    elf = load(path)
    assert H.elf_valid(elf)
    shmid = H.PLenclave_shmget(0x1000)
    shm = H.PLenclave_shmat(shmid, 0)
    assert isinstance(shm, memoryview)
    struct.pack_into("<i", shm, 0, 11111)
    mid = H.PLenclave_schrodinger_get(0x1000)
    mm = H.PLenclave_schrodinger_at(mid, 0)
    assert isinstance(mm, memoryview)
    struct.pack_into("<i", mm, 0, 22222)
    e, rc = create(elf, b"test-enclave%d" % i, shmid, 0x1000)
    assert rc == 0
    H.PLenclave_set_mem_arg(e, mid, 0, 0x1000)
    while (r := H.PLenclave_run(e)):
        if r != H.RETURN_USER_RELAY_PAGE:
            break
        struct.pack_into("<i", mm, 0, relay_value)
        H.PLenclave_set_rerun_arg(e, H.RETURN_USER_RELAY_PAGE)
    assert H.PLenclave_destruct(e) == 0
    assert H.PLenclave_shmdt(shmid, shm) == 0
    assert H.PLenclave_shmctl(shmid) == 0
    assert H.PLenclave_schrodinger_dt(mid, mm) == 0
    assert H.PLenclave_schrodinger_ctl(mid) == 0
    H.elf_args_destroy(elf)
    return r, e.user_param.retval


def test_constants() -> None:
    assert (H.NORMAL_ENCLAVE, H.SERVER_ENCLAVE, H.SHADOW_ENCLAVE) == (0, 1, 2)
    assert (H.RETURN_USER_EXIT_ENCL, H.RETURN_USER_RELAY_PAGE, H.DEFAULT_STACK_SIZE) == (0, 1, 0x10000)
    import pltvm

    assert pltvm.host is H


def test_hello_world_demo(capsys: pytest.CaptureFixture[str]) -> None:
    r, retval = host_demo(bundled("hello-world"))
    assert (r, retval) == (0, 0)
    out = capsys.readouterr()
    assert out.out == "hello world!\n"
    assert out.err == ""


def test_relay_page_demo(capsys: pytest.CaptureFixture[str]) -> None:
    r, _ = host_demo(bundled("relay-page"), relay_value=2)
    assert r == 0
    assert capsys.readouterr().out == "relay_page 1 000056ce\nrelay_page 2 00000002\n"


def test_demo_threads_in_parallel(capsys: pytest.CaptureFixture[str]) -> None:
    path = bundled("hello-world")
    results: list[tuple[int, int]] = []
    ts = [threading.Thread(target=lambda i=i: results.append(host_demo(path, i))) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [(0, 0)] * 4
    assert capsys.readouterr().out == "hello world!\n" * 4
    assert H.default_device().monitor.ids() == []


def test_mem_demo(capsys: pytest.CaptureFixture[str]) -> None:
    elf = load(bundled("mem"))
    e, rc = create(elf)
    assert rc == 0 and H.PLenclave_run(e) == 0
    out = capsys.readouterr().out
    assert "mem: 0 failures" in out, out


def test_crash_destroys_only_itself(capsys: pytest.CaptureFixture[str]) -> None:
    other, rc = create(load(bundled("hello-world")), b"other")
    assert rc == 0
    crash, rc = create(load(bundled("crash")), b"crash")
    assert rc == 0
    assert H.PLenclave_run(crash) == -1
    err = capsys.readouterr().err
    assert err.endswith("LIB: PLenclave_run: ioctl run enclave is failed \n")
    assert H.PLenclave_destroy(crash) == -1
    assert H.PLenclave_run(other) == 0
    assert capsys.readouterr().out == "hello world!\n"


def test_run_after_exit_and_destroy_after_exit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf(77))
    e, rc = create(load(p))
    assert rc == 0 and e.eid == e.user_param.eid == 0x1000
    assert H.PLenclave_run(e) == 0 and e.user_param.retval == 77
    capsys.readouterr()
    assert H.PLenclave_destroy(e) == -1  # B20: the driver freed the record after the run
    assert capsys.readouterr().err == "LIB: ioctl stop enclave is failed \n"
    assert H.PLenclave_run(e) == -1
    assert capsys.readouterr().err == "LIB: PLenclave_run: ioctl run enclave is failed \n"


def test_double_destroy_and_wrong_eid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    e, rc = create(load(p))
    assert rc == 0
    assert H.PLenclave_destroy(e) == 0
    assert H.PLenclave_destroy(e) == -1
    assert H.PLenclave_run(e) == -1
    f, rc = create(load(p))
    assert rc == 0 and f.eid == 0x1000, "ids are reused lowest first"
    f.user_param.eid = 0x2345
    assert H.PLenclave_run(f) == -1
    assert H.PLenclave_stop(f) == -1
    assert H.PLenclave_resume(f) == -1
    assert H.PLenclave_destroy(f) == -1
    f.user_param.eid = 0x1000
    assert H.PLenclave_run(f) == 0
    err = capsys.readouterr().err
    stop, run = "LIB: ioctl stop enclave is failed \n", "LIB: PLenclave_run: ioctl run enclave is failed \n"
    assert err == stop + run + run + stop * 3


def test_none_arguments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert H.PLenclave_init(None) == -1
    e = H.PLenclave()
    assert H.PLenclave_create(e, None, H.enclave_args()) == -1
    assert H.PLenclave_run(e) == -1
    assert H.PLenclave_run(None) == -1
    assert H.PLenclave_stop(None) == -1
    assert H.PLenclave_destroy(None) == -1
    assert H.PLenclave_destruct(None) == -1
    H.PLenclave_init(e)
    assert H.PLenclave_create(e, None, H.enclave_args()) == -1
    assert H.PLenclave_create(e, H.elf_args(), H.enclave_args()) == -1
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    assert H.PLenclave_create(e, load(p), None) == -1
    for f in (H.PLenclave_set_shm, H.PLenclave_set_mem_arg):
        assert f(None, 1, 0, 0) == -1
    assert H.PLenclave_set_rerun_arg(None, 1) == -1
    H.elf_args_init(None, "x")
    H.enclave_args_init(None)
    H.elf_args_destroy(None)
    assert not H.elf_valid(None)
    err = capsys.readouterr().err
    assert err == (
        "LIB: PLenclave_create: enclave hasn't be initialized yet\n"
        "LIB: PLenclave_run: enclave can not be run\n"
        "LIB: PLenclave_run: enclave can not be run\n"
        "LIB: ioctl stop enclave is failed \n"
        "LIB: ioctl stop enclave is failed \n"
        "LIB: PLenclave_create: elffile does not exist\n"
        "LIB: PLencalve_create: ioctl create enclave: elf_ptr is NULL\n"
        "LIB: PLenclave_create: ioctl create enclave is failed\n"
    )


def test_elf_args_init_messages(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    e = H.elf_args()
    H.elf_args_init(e, str(tmp_path / "missing.elf"))
    assert not H.elf_valid(e)
    assert capsys.readouterr().err == "LIB: the elf file is not existed\n"
    (tmp_path / "empty").write_bytes(b"")
    H.elf_args_init(e, str(tmp_path / "empty"))
    assert not H.elf_valid(e)
    assert capsys.readouterr().err == "LIB: the elf file'size  is zero\n"
    H.elf_args_init(e, None)
    assert capsys.readouterr().err == "LIB: the elf file is not existed\n"
    good = tmp_path / "good"
    good.write_bytes(exit_elf())
    H.elf_args_init(e, good)
    assert H.elf_valid(e) and e.size == len(exit_elf()) and e.fd >= 0
    H.elf_args_destroy(e)
    assert not H.elf_valid(e)
    assert capsys.readouterr().err == ""


def _bad_elves() -> list[tuple[str, bytes, str]]:
    seg = [Seg(0x1000, code(ILLEGAL), flags=7)]
    good = make_elf(seg, 0x1000)
    return [
        ("garbage", b"hello world, not an ELF", "not a valid ELF"),
        ("truncated", good[:40], "not a valid ELF"),
        ("elf32", make_elf(seg, 0x1000, ei_class=1), "64-bit"),
        ("big-endian", make_elf(seg, 0x1000, ei_data=2), "little-endian"),
        ("x86-64", make_elf(seg, 0x1000, machine=62), "RISC-V"),
        ("shared object", make_elf(seg, 0x1000, e_type=3), "executable"),
        ("relocatable", make_elf(seg, 0x1000, e_type=1), "executable"),
        ("segment past EOF", make_elf([Seg(0x1000, code(ILLEGAL), filesz=1 << 20)], 0x1000), "past the end"),
        ("bad magic", make_elf(seg, 0x1000, magic=b"\x7fELG"), "not a valid ELF"),
    ]


@pytest.mark.parametrize("label, data, reason", _bad_elves(), ids=[b[0] for b in _bad_elves()])
def test_bad_elf_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, label: str, data: bytes,
                       reason: str) -> None:
    p = tmp_path / "bad.elf"
    p.write_bytes(data)
    e = H.elf_args()
    H.elf_args_init(e, str(p))
    assert not H.elf_valid(e)
    err = capsys.readouterr().err
    assert err.startswith("LIB: the elf file is not a valid Penglai enclave: ") and err.endswith("\n")
    assert reason in err
    enc, rc = create(e)
    assert rc == -1
    assert capsys.readouterr().err == "LIB: PLencalve_create: ioctl create enclave: elf_ptr is NULL\n"


@pytest.mark.parametrize("entry, vaddr, reason", [(0, 0x1000, "e_entry is 0"), (0x1010, 0x1010, "page-aligned")])
def test_loader_rejections(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path,
                           entry: int, vaddr: int, reason: str) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(make_elf([Seg(vaddr, code(ILLEGAL), flags=7)], entry))
    e, rc = create(load(p))
    assert rc == -1
    assert capsys.readouterr().err == "LIB: PLenclave_create: ioctl create enclave is failed\n"
    assert reason in caplog.text


def test_secure_memory_exhausted(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                                 tmp_path: Path) -> None:
    H.configure(secure_memory=5 << 20)
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf(5))
    a, rc_a = create(load(p), b"a")
    b, rc_b = create(load(p), b"b")
    c, rc_c = create(load(p), b"c")
    assert (rc_a, rc_b, rc_c) == (0, 0, -1)
    assert capsys.readouterr().err == "LIB: PLenclave_create: ioctl create enclave is failed\n"
    assert "secure memory exhausted" in caplog.text
    assert H.PLenclave_run(a) == 0 and a.user_param.retval == 5
    assert H.PLenclave_run(b) == 0 and b.user_param.retval == 5
    c, rc_c = create(load(p), b"c")
    assert rc_c == 0 and H.PLenclave_run(c) == 0


def test_shadow_type_creates_a_template(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """SHADOW_ENCLAVE creates a template (the fork flow is in test_shadow.py)."""
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    e, rc = create(load(p), type=H.SHADOW_ENCLAVE)
    assert rc == 0 and e.user_param.stack_size == 0
    assert capsys.readouterr().err == ""
    t = H.default_device().monitor.lookup(e.user_param.eid)
    assert t is not None and t.type == H.SHADOW_ENCLAVE and t.state == "FRESH"


def _wait_state(e: H.PLenclave, state: str) -> None:
    enc = H.default_device().monitor.lookup(e.user_param.eid)
    deadline = time.time() + 10
    while enc is not None and enc.state != state and time.time() < deadline:
        time.sleep(0.002)
    assert enc is not None and enc.state == state


def test_stop_resume_destroy_from_another_thread(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """demo/test-stop: a thread spins in PLenclave_run; main stops, resumes and destroys it."""
    p = tmp_path / "loop.elf"
    p.write_bytes(spin_elf())
    e, rc = create(load(p))
    assert rc == 0
    assert H.PLenclave_stop(e) == -1, "FRESH enclaves cannot be stopped"
    results: list[int] = []
    t = threading.Thread(target=lambda: results.append(H.PLenclave_run(e)))
    t.start()
    _wait_state(e, "RUNNING")
    assert H.PLenclave_stop(e) == 0
    _wait_state(e, "STOPPED")
    time.sleep(0.05)
    assert t.is_alive()
    assert H.PLenclave_resume(e) == 0
    _wait_state(e, "RUNNING")
    assert H.PLenclave_destroy(e) == 0
    t.join(10)
    assert results == [0] and e.user_param.retval == 0
    assert H.default_device().monitor.ids() == []
    out = capsys.readouterr()
    assert out.err == "LIB: ioctl stop enclave is failed \n"


def test_bundled_loop_enclave(capsys: pytest.CaptureFixture[str]) -> None:
    e, rc = create(load(bundled("loop")))
    assert rc == 0
    t = threading.Thread(target=lambda: H.PLenclave_run(e))
    t.start()
    _wait_state(e, "RUNNING")
    time.sleep(0.05)
    assert H.PLenclave_destroy(e) == 0
    t.join(10)
    assert capsys.readouterr().out == "loop: spinning\n"


def test_failed_resume_drops_the_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    e, rc = create(load(p))
    assert H.PLenclave_resume(e) == -1  # FRESH: the driver frees its record on failure
    assert H.PLenclave_run(e) == -1
    assert H.default_device().monitor.ids() == []
    assert H.default_device().monitor.secure_memory_used == 0


def test_destruct_then_destroy_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """fork-host's order: close the device fd, then destroy -> EBADF -> message."""
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    e, rc = create(load(p))
    assert H.PLenclave_destruct(e) == 0
    assert H.PLenclave_destruct(e) == -1
    assert H.PLenclave_destroy(e) == -1
    assert capsys.readouterr().err == "LIB: ioctl stop enclave is failed \n"


def test_output_sink(tmp_path: Path) -> None:
    got: list[bytes] = []
    H.set_output(got.append)
    assert host_demo(bundled("hello-world"))[0] == 0
    assert b"".join(got) == b"hello world!\n"


def test_shm_functions(capsys: pytest.CaptureFixture[str]) -> None:
    assert H.PLenclave_shmget(0) == -1
    assert H.PLenclave_shmget(100) == -1
    assert capsys.readouterr().out == "PLenclave_shmget: failed to create shm\n" * 2
    a = H.PLenclave_shmget(0x2000)
    b = H.PLenclave_shmget(0x1000)
    assert (a, b) == (0x10000, 0x10001)
    assert H.PLenclave_shmat(0x5555, 0) == H.MAP_FAILED
    assert capsys.readouterr().out == "PLenclave_shmat: failed to bind shm 21845\n"
    v1 = H.PLenclave_shmat(a, 0)
    v2 = H.PLenclave_shmat(a, 0)
    assert isinstance(v1, memoryview) and isinstance(v2, memoryview) and len(v1) == 0x2000
    v1[0] = 7
    assert v2[0] == 7, "two attachments see the same memory"
    assert H.PLenclave_shmctl(a) == 0  # B41/B43: refused while attached, still returns 0
    assert capsys.readouterr().out == f"PLenclave_shmctl: failed to destroy shm{a}\n"
    assert H.PLenclave_shmdt(a, v1) == 0
    with pytest.raises(ValueError):
        v1[0]  # released like an unmapped pointer
    assert H.PLenclave_shmdt(a, v2) == 0
    assert H.PLenclave_shmdt(a, None) == -1
    assert capsys.readouterr().out == f"PLenclave_shmdt: failed to unbind shm{a}\n"
    assert H.PLenclave_shmctl(a) == 0
    assert H.PLenclave_shmctl(a) == 0
    assert capsys.readouterr().out == f"PLenclave_shmctl: failed to destroy shm{a}\n"
    assert H.PLenclave_shmget(0x1000) == 0x10000, "lowest free id reused"


def test_schrodinger_functions(capsys: pytest.CaptureFixture[str]) -> None:
    assert H.PLenclave_schrodinger_get(3) == -1
    assert capsys.readouterr().out == "PLenclave_schrodinger_get: failed to create\n"
    big = H.PLenclave_schrodinger_get(16 << 20)
    assert big >= 0x10000
    assert H.PLenclave_schrodinger_get(0x1000) == -1, "the 16 MiB pool is used up"
    capsys.readouterr()
    assert H.PLenclave_schrodinger_ctl(big) == 0
    r = H.PLenclave_schrodinger_get(0x1000)
    v = H.PLenclave_schrodinger_at(r, 0)
    assert isinstance(v, memoryview)
    assert H.PLenclave_schrodinger_at(r, 0) == H.MAP_FAILED, "exclusive"
    assert capsys.readouterr().out == f"PLenclave_schrodinger_at: failed to bind schrodinger mm {r}\n"
    assert H.PLenclave_schrodinger_ctl(r) == 0
    assert capsys.readouterr().out == f"PLenclave_schrodinger_ctl: failed to destroy schrodinger mm{r}\n"
    assert H.PLenclave_schrodinger_dt(r, v) == 0
    assert H.PLenclave_schrodinger_dt(r, v) == -1
    assert capsys.readouterr().out == f"PLenclave_schrodinger_dt: failed to unbind schrodinger mm{r}\n"
    assert H.PLenclave_schrodinger_ctl(r) == 0
    assert capsys.readouterr().out == ""


def test_shm_is_seen_by_the_enclave_and_written_back(tmp_path: Path) -> None:
    # Enclave: a0 = shm VA; load word 0, add 1, store it back; exit with the old value.
    ld = 0x00053283  # ld t0, 0(a0)
    addi_t1 = addi(6, 5, 1)
    sd_t1 = 0x00653023  # sd t1, 0(a0)
    mv = addi(A0, 5, 0)
    insns = [ld, addi_t1, sd_t1, mv, lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, 0, 99), ECALL]
    p = tmp_path / "e.elf"
    p.write_bytes(make_elf([Seg(0x1000, code(insns), flags=7)], 0x1000))
    shmid = H.PLenclave_shmget(0x2000)
    view = H.PLenclave_shmat(shmid, 0)
    assert isinstance(view, memoryview)
    e, rc = create(load(p), shmid=shmid, shm_size=0x1000)
    assert rc == 0
    struct.pack_into("<Q", view, 0, 100)  # written after create: seen at run
    assert H.PLenclave_run(e) == 0
    assert e.user_param.retval == 100
    assert struct.unpack_from("<Q", view, 0)[0] == 101


def test_persistency_sectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "persist"
    monkeypatch.setattr(H.default_device(), "persistency_file", str(f))
    shmid = H.PLenclave_shmget(0x1000)
    assert H.PLenclave_fs_persistency_init(0x7777) == -1
    assert H.PLenclave_fs_persistency_init(shmid) == 0
    assert f.stat().st_size == 4 << 20
    # write sector 3 from shm, then read sector 2000 (past the end: zero-filled, extends)
    oc = [lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, 0, 98), ECALL]
    insns = [addi(8, A0, 0), addi(A0, 0, 6), addi(11, 0, 3)] + oc + [addi(9, A0, 0),
             addi(A0, 0, 5)] + li(11, 2000) + oc + [0x00A43423,  # sd a0, 8(s0)
             0x00943023]  # sd s1, 0(s0)
    insns += [addi(A0, 0, 0), lui(A6, 0x100), addi(A6, A6, 0x101), addi(A7, 0, 99), ECALL]
    p = tmp_path / "e.elf"
    p.write_bytes(make_elf([Seg(0x1000, code(insns), flags=7)], 0x1000))
    view = H.PLenclave_shmat(shmid, 0)
    assert isinstance(view, memoryview)
    view[16:20] = b"abcd"
    e, rc = create(load(p), shmid=shmid, shm_size=0x1000)
    assert rc == 0 and H.PLenclave_run(e) == 0
    data = f.read_bytes()
    assert data[3 * 4096 + 16 : 3 * 4096 + 20] == b"abcd"
    assert len(data) == 2001 * 4096
    assert struct.unpack_from("<QQ", view, 0) == (0, 0)
    assert bytes(view[16:20]) == b"\0\0\0\0", "sector 2000 was read into the shm"


def test_attest_fills_the_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Full coverage in test_attest.py; here: the C mirror's fields, return codes and message.
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    e, rc = create(load(p))
    assert H.PLenclave_attest(e, 5) == 0
    assert e.attest_param.nonce == 5 and e.attest_param.eid == e.eid
    assert e.attest_param.report.enclave.nonce == 5 and any(e.attest_param.report.enclave.hash)
    assert capsys.readouterr().err == ""
    assert H.PLenclave_run(e) == 0  # gone after the run: attestation fails as in C
    assert H.PLenclave_attest(e, 5) == -1
    assert capsys.readouterr().err == "LIB: ioctl attest enclave is failed ret -1 \n"


# Hostile integers: every size, count, offset, id and address the mirror takes. Ints take the C
# failure path (-1 and the C message, or no shm / relay when the driver ignores a bad triple);
# anything else is a TypeError naming the argument. Nothing may raise MemoryError or
# OverflowError, allocate the size asked for, or abort.

BAD_INTS = [-1, -4096, 1 << 40, (1 << 40) + 4096, 1 << 62, (1 << 64) - 1, (1 << 64) - 4096, 1 << 64,
            (1 << 64) + 4096, -(1 << 64)]
NOT_INTS = ["4096", 4096.0, None, b"\x00\x10", [4096]]


@pytest.mark.parametrize("func, message", [
    (H.PLenclave_shmget, "PLenclave_shmget: failed to create shm\n"),
    (H.PLenclave_schrodinger_get, "PLenclave_schrodinger_get: failed to create\n"),
])
def test_region_sizes(capsys: pytest.CaptureFixture[str], func: Any, message: str) -> None:
    limit = H.SHM_MAX_SIZE if func is H.PLenclave_shmget else H.SCHRODINGER_POOL_PAGES * 4096
    for size in [0, 1, 4095, 4097, limit + 4096, 2 * limit] + BAD_INTS:
        assert func(size) == -1, size
        assert capsys.readouterr().out == message, size
    for size in NOT_INTS:
        with pytest.raises(TypeError, match=f"{func.__name__}: size must be an int"):
            func(size)
    rid = func(limit)  # the largest region the driver gives
    assert rid >= 0x10000
    assert capsys.readouterr().out == ""
    dev = H.default_device()
    assert len((dev.shms if func is H.PLenclave_shmget else dev.schrodingers)[rid].buf) == limit


@pytest.mark.parametrize("kind", ["shm", "schrodinger"])
def test_region_ids_and_addresses(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    if kind == "shm":
        get, at, dt, ctl = H.PLenclave_shmget, H.PLenclave_shmat, H.PLenclave_shmdt, H.PLenclave_shmctl
        msgs = ("PLenclave_shmat: failed to bind shm {}\n", "PLenclave_shmdt: failed to unbind shm{}\n",
                "PLenclave_shmctl: failed to destroy shm{}\n")
        arg = "shmid"
    else:
        get, at, dt, ctl = (H.PLenclave_schrodinger_get, H.PLenclave_schrodinger_at, H.PLenclave_schrodinger_dt,
                            H.PLenclave_schrodinger_ctl)
        msgs = ("PLenclave_schrodinger_at: failed to bind schrodinger mm {}\n",
                "PLenclave_schrodinger_dt: failed to unbind schrodinger mm{}\n",
                "PLenclave_schrodinger_ctl: failed to destroy schrodinger mm{}\n")
        arg = "id"
    for rid in [0, 0xFFFF, 0xFFFFF] + BAD_INTS:
        assert at(rid, 0) == H.MAP_FAILED
        assert dt(rid, None) == -1
        assert ctl(rid) == 0  # B41
        assert capsys.readouterr().out == "".join(m.format(rid) for m in msgs)
    for rid in NOT_INTS:
        for f in (lambda: at(rid, 0), lambda: dt(rid, None), lambda: ctl(rid)):
            with pytest.raises(TypeError, match=f": {arg} must be an int"):
                f()
    # addr is C's mmap hint (attach) or the mapping to drop (detach): any value is accepted.
    for addr in [0, -1, 1 << 40, 1 << 62, (1 << 64) - 1, 1 << 64, "x", None, 4096.0]:
        rid = get(0x1000)
        view = at(rid, addr)
        assert isinstance(view, memoryview) and len(view) == 0x1000, addr
        assert dt(rid, addr) == 0 and ctl(rid) == 0
        view.release()
    assert capsys.readouterr().out == ""


def test_create_with_hostile_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf(5))
    elf = load(p)
    failed = "LIB: PLenclave_create: ioctl create enclave is failed\n"

    def try_create(field: str, value: Any, target: Any = None) -> tuple[H.PLenclave, int, str]:
        e, params = H.PLenclave(), H.enclave_args()
        H.PLenclave_init(e)
        H.enclave_args_init(params)
        setattr(target or params, field, value)
        rc = H.PLenclave_create(e, elf, params)
        return e, rc, capsys.readouterr().err

    for value in BAD_INTS + [1 << 32]:
        assert try_create("stack_size", value)[1:] == (-1, failed), value
        assert try_create("type", value)[1:] == (-1, failed), value
    # elf_args.size: the driver copies that many bytes from ptr.
    size = elf.size
    for value in [0, -1, -(1 << 64)]:
        assert try_create("size", value, elf)[1:] == (-1, "LIB: PLencalve_create: ioctl create enclave: elf_ptr is NULL\n")
    for value in [size + 1, 1 << 40, 1 << 62, (1 << 64) - 1, 1 << 64]:
        assert try_create("size", value, elf)[1:] == (-1, failed), value
    elf.size = size
    # A bad shm triple is not passed to the enclave (the driver leaves the fields unset): it is
    # created and runs without shm.
    shmid = H.PLenclave_shmget(0x1000)
    for field, values in (("shmid", [0, 0xFFFFF]), ("shm_offset", [0x1000, 0x800]), ("shm_size", [0, 0x800, 0x2000])):
        for value in values + BAD_INTS:
            e, params = H.PLenclave(), H.enclave_args()
            H.PLenclave_init(e)
            H.enclave_args_init(params)
            params.shmid, params.shm_offset, params.shm_size = shmid, 0, 0x1000
            setattr(params, field, value)
            assert H.PLenclave_create(e, elf, params) == 0, (field, value)
            assert H.default_device().records[e.eid].shm is None
            assert H.PLenclave_run(e) == 0 and e.user_param.retval == 5
    assert capsys.readouterr().err == ""
    for field in ("stack_size", "type", "shmid", "shm_offset", "shm_size"):
        for value in NOT_INTS:
            with pytest.raises(TypeError, match=f"PLenclave_create: enclave_args.{field} must be an int"):
                try_create(field, value)
    with pytest.raises(TypeError, match="PLenclave_create: elf_args.size must be an int"):
        try_create("size", "100", elf)
    assert H.default_device().monitor.ids() == []


def test_run_with_hostile_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf(9))
    elf = load(p)
    mid = H.PLenclave_schrodinger_get(0x1000)
    # A relay triple the driver does not accept: the enclave runs without relay pages.
    for i, (rid, off, size) in enumerate([(mid, 0, v) for v in BAD_INTS] + [(mid, v, 0x1000) for v in BAD_INTS]
                                         + [(v, 0, 0x1000) for v in BAD_INTS]):
        e, rc = create(elf, b"r%d" % i)
        assert rc == 0
        assert H.PLenclave_set_mem_arg(e, rid, off, size) == 0
        assert H.PLenclave_run(e) == 0 and e.user_param.retval == 9, (rid, off, size)
    # rerun_reason: > 1 is an error, <= 0 means a first run.
    e, rc = create(elf)
    for reason in [1 << 40, 1 << 62, (1 << 64) - 1, 1 << 64]:
        assert H.PLenclave_set_rerun_arg(e, reason) == 0
        assert H.PLenclave_run(e) == -1
    assert capsys.readouterr().err == "LIB: PLenclave_run: ioctl run enclave is failed \n" * 4
    for reason in [-1, -(1 << 64)]:
        H.PLenclave_set_rerun_arg(e, reason)
    assert H.PLenclave_run(e) == 0 and e.user_param.retval == 9
    # Driver ids that name nothing.
    for eid in BAD_INTS:
        e, rc = create(elf)
        e.user_param.eid = eid
        assert H.PLenclave_run(e) == -1
        assert H.PLenclave_stop(e) == H.PLenclave_resume(e) == H.PLenclave_destroy(e) == -1
        e.user_param.eid = e.eid
        assert H.PLenclave_destroy(e) == 0
    err = capsys.readouterr().err
    assert err == ("LIB: PLenclave_run: ioctl run enclave is failed \n" + "LIB: ioctl stop enclave is failed \n" * 3) \
        * len(BAD_INTS)
    for eid in BAD_INTS[:3]:
        e, rc = create(elf)
        e.eid = e.user_param.eid = eid
        assert H.PLenclave_run(e) == -1 and H.PLenclave_attest(e, 0) == -1
    assert "Traceback" not in capsys.readouterr().err
    # Non-ints: TypeError naming the argument, at the setter or at the run that reads the field.
    e, rc = create(elf)
    for value in NOT_INTS:
        for args, name in (((value, 0, 0x1000), "id"), ((mid, value, 0x1000), "offset"), ((mid, 0, value), "size")):
            with pytest.raises(TypeError, match=f"PLenclave_set_mem_arg: {name} must be an int"):
                H.PLenclave_set_mem_arg(e, *args)
        with pytest.raises(TypeError, match="PLenclave_set_shm: shm_size must be an int"):
            H.PLenclave_set_shm(e, 0, 0, value)
        with pytest.raises(TypeError, match="PLenclave_set_rerun_arg: reason must be an int"):
            H.PLenclave_set_rerun_arg(e, value)
        for field in ("schrodinger_size", "rerun_reason", "eid", "shm_offset"):
            saved = getattr(e.user_param, field)
            setattr(e.user_param, field, value)
            with pytest.raises(TypeError, match=f"PLenclave_run: user_param.{field} must be an int"):
                H.PLenclave_run(e)
            setattr(e.user_param, field, saved)
    assert H.PLenclave_run(e) == 0 and e.user_param.retval == 9


def test_attest_nonces(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "e.elf"
    p.write_bytes(exit_elf())
    e, rc = create(load(p))
    for nonce in [0] + BAD_INTS:  # uintptr_t: taken modulo 2**64, as C converts it
        assert H.PLenclave_attest(e, nonce) == 0
        assert e.attest_param.report.enclave.nonce == nonce % (1 << 64)
    for nonce in NOT_INTS:
        with pytest.raises(TypeError, match="PLenclave_attest: nonce must be an int"):
            H.PLenclave_attest(e, nonce)
    assert capsys.readouterr().err == ""


def test_persistency_init_ids(capsys: pytest.CaptureFixture[str]) -> None:
    for shm_id in [0, 0xFFFF] + BAD_INTS:
        assert H.PLenclave_fs_persistency_init(shm_id) == -1
        assert capsys.readouterr().out == "PLenclave_fs_persistency_init failed\n"
    for shm_id in NOT_INTS:
        with pytest.raises(TypeError, match="PLenclave_fs_persistency_init: shm_id must be an int"):
            H.PLenclave_fs_persistency_init(shm_id)


def test_device_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in [0, 1 << 40, 1 << 62, (1 << 64) - 1]:  # a bound, not an allocation
        assert H.configure(secure_memory=value).monitor.secure_memory == value
        assert H.configure(seed=value) is H.default_device()
    for value in [-1, -(1 << 64), 1 << 64, (1 << 64) + 4096]:
        with pytest.raises(ValueError, match="secure_memory must be in"):
            H.configure(secure_memory=value)
        with pytest.raises(ValueError, match="seed must be in"):
            H.configure(seed=value)
    for value in ["1G", 1.5, b"1"]:  # (None: the default)
        with pytest.raises(TypeError, match="Device: secure_memory must be an int"):
            H.configure(secure_memory=value)
    monkeypatch.setenv("PLTVM_SECURE_MEMORY", "lots")
    with pytest.raises(ValueError, match="PLTVM_SECURE_MEMORY must be a number of bytes, not 'lots'"):
        H.Device()
    monkeypatch.setenv("PLTVM_SECURE_MEMORY", "0x100000")
    assert H.Device().monitor.secure_memory == 1 << 20


def test_region_ids_run_out(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "SHM_ID_END", H.SHM_ID_MIN + 3)
    ids = [H.PLenclave_shmget(0x1000) for _ in range(3)]
    assert ids == [0x10000, 0x10001, 0x10002]
    assert H.PLenclave_shmget(0x1000) == -1
    assert H.PLenclave_schrodinger_get(0x1000) == -1, "one id space for both kinds"
    assert capsys.readouterr().out == "PLenclave_shmget: failed to create shm\nPLenclave_schrodinger_get: failed to create\n"
