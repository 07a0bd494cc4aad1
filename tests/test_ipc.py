"""Server enclaves and enclave-to-enclave calls (docs/ipc.md): creation, acquire/call/return
with the memory that moves between the parties, nesting, busy servers, faults and OCALLs
inside a callee, destroy in the middle of a call, hostile arguments, and the SDK's IPC demo
chain through the C host-API mirror.

Most tests drive the bundled ``ipc-client`` (a programmable caller: the request is written in
its shm, the results are read back from it) against ``ipc-server`` (a server whose behaviour
is chosen by ``req_arg``); see the comments at the top of guest/demos/ipc-*/."""

from __future__ import annotations

import struct
from typing import Any, Optional

import pytest
from conftest import bundled

_core: Any = pytest.importorskip("pltvm._core")
pytestmark = pytest.mark.skipif(not hasattr(_core, "Monitor"), reason="pltvm._core without Monitor")

PAGE = 4096
M1 = (1 << 64) - 1
BUSY = (1 << 64) - 2
SHM_BASE = 0x39_0000_0000
MM_ARG_BASE = 0x38_0000_0000
STACK_BASE = 0x38_0000_0000
MMAP_BASE = 0x30_0000_0000
SHM_PAGES = 2
# ipc-server operations (req_arg & 0xff).
INFO, KEEP, FAULT, PRINT, OCALL, NESTED, REENTER, EXIT, YIELD, SPIN, BAD_RETURN, RELAY, COUNT = range(13)


def elf(name: str) -> bytes:
    return bundled(name).read_bytes()


def monitor() -> Any:
    return _core.Monitor.new()


def server(m: Any, name: bytes, program: str = "ipc-server") -> Any:
    return m.create(elf(program), name=name, type=1)


def request(words: dict[int, int], name: bytes = b"", extra: Optional[dict[int, bytes]] = None) -> bytes:
    shm = bytearray(SHM_PAGES * PAGE)
    for i, v in words.items():
        shm[i * 8:i * 8 + 8] = struct.pack("<Q", v & M1)
    shm[512:512 + len(name)] = name
    for off, data in (extra or {}).items():
        shm[off:off + len(data)] = data
    return bytes(shm)


def words(shm: bytes, n: int = 32) -> list[int]:
    return list(struct.unpack_from(f"<{n}Q", shm))


class Client:
    """One ipc-client enclave with its request; ``run`` returns the RunResult."""

    def __init__(self, m: Any, req: bytes, ocalls: tuple[int, ...] = ()) -> None:
        self.enclave = m.create(elf("ipc-client"), name=b"client", shm=req)
        if ocalls:
            self.enclave.set_user_ocalls(list(ocalls))
        self.out: list[bytes] = []

    def run(self, entry: str = "start", **kw: Any) -> Any:
        return self.enclave.run(entry, output=self.out.append, budget=1 << 32, **kw)


def call(m: Any, op: int, region: int = 0, flags: int = 0, handle: int = -1, name: bytes = b"ipc-a",
         times: int = 1) -> tuple[Any, list[int]]:
    """ipc-client makes one call (``times`` times) with ``req_arg = op``; returns the run
    result and the result words W[0..32]."""
    c = Client(m, request({0: 1, 1: handle, 2: op, 3: region, 4: flags, 5: times}, name))
    r = c.run()
    return r, words(r.shm) if r.shm is not None else []


def raw(m: Any, calls: list[tuple[int, int, int, int, int]], extra: Optional[dict[int, bytes]] = None,
        name: bytes = b"") -> list[int]:
    """ipc-client makes raw enclave calls (a7, a0..a3); returns each a0 after the ecall."""
    w = {0: 2, 1: len(calls)}
    for i, c in enumerate(calls):
        for j, v in enumerate(c):
            w[384 + 6 * i + j] = v
    c = Client(m, request(w, name, extra))
    r = c.run()
    assert r.reason == "exit", r
    return [struct.unpack_from("<Q", r.shm, (384 + 6 * i + 5) * 8)[0] for i in range(len(calls))]


# ---- creation --------------------------------------------------------------------------------


def test_server_is_runnable_unique_by_name_and_measured_without_a_kbuffer() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    assert (s.state, s.type) == ("RUNNABLE", 1)
    assert s.measurement == _core.measure_elf(elf("ipc-server"), type=1)
    assert s.measurement != _core.measure_elf(elf("ipc-server"), type=0), "the kbuffer page is not measured"
    with pytest.raises(ValueError, match="exists already"):
        server(m, b"ipc-a")
    with pytest.raises(ValueError, match="needs a name"):
        server(m, b"")
    # Names compare up to the first NUL, like the monitor's 16-byte name field.
    with pytest.raises(ValueError, match="exists already"):
        server(m, b"ipc-a\0junk")
    # A normal enclave may share a server's name: uniqueness is among servers.
    m.create(elf("ipc-client"), name=b"ipc-a")


def test_the_host_cannot_run_stop_or_attest_a_server_and_destroys_it_once() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    for entry in ("start", "continue"):
        r = s.run(entry)
        assert r.reason == "refused" and "only inside call_enclave" in r.message
    assert s.stop() == -1
    with pytest.raises(RuntimeError, match="RUNNABLE"):
        s.attest(0)
    used = m.secure_memory_used
    assert s.destroy() == 0 and s.state == "INVALID"
    assert m.secure_memory_used < used
    assert s.destroy() == -1
    # The name is free again.
    server(m, b"ipc-a")


# ---- one call --------------------------------------------------------------------------------


def test_call_values_registers_and_both_regions() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    r, w = call(m, INFO, region=4 * PAGE)
    assert r.reason == "exit", r
    handle, result, resp_val, req_vaddr, req_size, resp_vaddr, resp_size = w[8:15]
    region = w[17]
    # eapp_mmap(16 KiB) maps 7 pages just below 0x30_0000_0000 (B15).
    assert region == MMAP_BASE - 7 * PAGE
    assert (handle, result, resp_val) == (s.eid, 0, 0x600D)
    # The region comes back at the same VA with each int incremented by the server.
    assert (req_vaddr, req_size) == (region, 4 * PAGE)
    assert w[15] == 2 * PAGE, "4096 ints of 1 + 1 each"
    # The response region (one page) lands right below the caller's lowest mmap region.
    assert (resp_vaddr, resp_size) == (region - PAGE, PAGE)
    assert r.calls == [(r.calls[0][0], s.eid, 0, 0x600D, 1)]


def test_callee_entry_registers() -> None:
    """a0 = req_arg, a1 = the callee VA of the region, a2 = req_size, a3/a4 = the callee's own
    shm (none here), sp = 0x38_0000_0000, every other register zero; get_enclave_id() is the
    callee's eid and get_caller_id() the caller's."""
    m = monitor()
    s = server(m, b"ipc-a")
    c = Client(m, request({0: 1, 1: -1, 2: INFO | 0x1234_5600, 3: 4 * PAGE, 4: 0}, b"ipc-a"))
    r = c.run()
    w = words(r.shm)
    assert r.reason == "exit" and w[9] == 0
    # ipc-client sums the response page as 32-bit ints (W[16]): the server wrote 10 words.
    region = MMAP_BASE - 7 * PAGE
    expect = [INFO | 0x1234_5600, region, 4 * PAGE, 0, 0, STACK_BASE, s.eid, c.enclave.eid, 0, PAGE]
    total = sum(struct.unpack("<20i", struct.pack("<10Q", *expect))) % (1 << 64)
    assert w[16] == total
    # The same with a shm given to the server: a3/a4 are the server's own shm.
    m2 = monitor()
    s2 = m2.create(elf("ipc-server"), name=b"ipc-a", type=1, shm=bytes(3 * PAGE))
    c2 = Client(m2, request({0: 1, 1: -1, 2: INFO}, b"ipc-a"))
    w2 = words(c2.run().shm)
    expect = [INFO, 0, 0, SHM_BASE, 3 * PAGE, STACK_BASE, s2.eid, c2.enclave.eid, 0, 0]
    assert w2[16] == sum(struct.unpack("<20i", struct.pack("<10Q", *expect))) % (1 << 64)


def test_the_region_stays_with_the_callee_and_the_caller_faults_on_it() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    r, w = call(m, KEEP, region=4 * PAGE)
    assert r.reason == "exit" and (w[9], w[10], w[11], w[13]) == (0, 1, 0, 0)
    used = m.secure_memory_used
    # The same call with flag 1 reads the region after the call: it is not mapped any more.
    r, w = call(m, KEEP, region=4 * PAGE, flags=1)
    assert r.reason == "fault" and r.cause == 13 and r.tval == MMAP_BASE - 7 * PAGE
    # The server holds both regions it kept (8 pages each), and the pool still counts them.
    assert m.secure_memory_used >= used
    assert s.state == "RUNNABLE"


def test_relay_region_zero_moves_to_the_callee_and_back() -> None:
    m = monitor()
    server(m, b"ipc-a")
    c = Client(m, request({0: 1, 1: -1, 2: RELAY, 3: PAGE, 4: 2}, b"ipc-a"))
    relay = struct.pack("<I", 22222) + bytes(PAGE - 4)
    r = c.run(relay=relay)
    w = words(r.shm)
    assert r.reason == "exit", r
    assert (w[9], w[10], w[11], w[12]) == (0, 11, MM_ARG_BASE, PAGE)
    assert w[18] == 33333, "the server's write is visible once the page is back"
    assert struct.unpack_from("<I", r.relay[0])[0] == 33333


def test_relay_call_without_relay_region_is_refused() -> None:
    m = monitor()
    server(m, b"ipc-a")
    r, w = call(m, RELAY, region=PAGE, flags=2)
    # call_enclave says -1; the client's read of the relay page afterwards faults.
    assert (r.reason, r.tval) == ("fault", MM_ARG_BASE)
    assert words(r.shm)[9] == M1


# ---- busy, nesting, chains --------------------------------------------------------------------


def test_reentrant_call_is_busy() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    r, w = call(m, REENTER)
    assert r.reason == "exit" and (w[9], w[10]) == (0, BUSY)
    assert r.calls == [(s.eid, s.eid, -2, 0, 2), (r.calls[1][0], s.eid, 0, BUSY, 1)]


def test_nested_call_two_deep_moves_the_region_along_the_chain() -> None:
    m = monitor()
    a = server(m, b"ipc-a")
    b = server(m, b"ipc-b")
    r, w = call(m, NESTED | (INFO << 8), region=4 * PAGE)
    assert r.reason == "exit", r
    # b answered a with 0x600d; a packed (call result << 32 | resp_val).
    assert (w[9], w[10]) == (0, 0x600D)
    assert (w[11], w[12]) == (MMAP_BASE - 7 * PAGE, 4 * PAGE)
    assert w[15] == 2 * PAGE, "b incremented the ints; the region came back through a"
    assert (w[13], w[14]) == (MMAP_BASE - 8 * PAGE, PAGE), "b's response region reached the caller"
    client_eid = r.calls[1][0]
    assert r.calls == [(a.eid, b.eid, 0, 0x600D, 2), (client_eid, a.eid, 0, 0x600D, 1)]
    assert (a.state, b.state) == ("RUNNABLE", "RUNNABLE")


def test_print_inside_a_callee_reaches_the_top_callers_host() -> None:
    m = monitor()
    server(m, b"ipc-a")
    c = Client(m, request({0: 1, 1: -1, 2: PRINT}, b"ipc-a"))
    r = c.run()
    assert r.reason == "exit" and words(r.shm)[10] == 3
    assert b"".join(c.out) == b"ipc-server: print from a callee\n"


def test_ocall_inside_a_callee_goes_to_the_top_callers_host_and_back() -> None:
    m = monitor()
    a = server(m, b"ipc-a")
    b = server(m, b"ipc-b")
    c = Client(m, request({0: 1, 1: -1, 2: NESTED | (OCALL << 8)}, b"ipc-a"), ocalls=(100,))
    r = c.run()
    assert (r.reason, r.ocall_id, r.ocall_args) == ("ocall", 100, (1, 2, 3))
    assert c.enclave.state == "OCALLING"
    assert (a.state, b.state) == ("RUNNABLE", "RUNNING")
    assert a.destroy() == -1 and b.destroy() == -1, "servers in a call are not destroyed"
    r = c.run("ocall_return", ocall_result=77)
    assert r.reason == "exit", r
    assert words(r.shm)[10] == 77
    assert (a.state, b.state) == ("RUNNABLE", "RUNNABLE")


def test_yield_inside_a_callee_goes_to_the_top_callers_host_and_continue_goes_to_the_callee() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    c = Client(m, request({0: 1, 1: -1, 2: YIELD, 3: 0, 4: 0, 5: 1}, b"ipc-a"))
    r = c.run()
    assert r.reason == "yield", "the server yielded inside the call"
    assert (c.enclave.state, s.state) == ("RUNNABLE", "RUNNING"), "the call is still in flight"
    r = c.run("continue")
    w = words(r.shm)
    assert r.reason == "exit" and (w[9], w[10]) == (0, 8), "the server went on and answered 8"
    assert r.calls == [(c.enclave.eid, s.eid, 0, 8, 1)]


# ---- faults and destroy -----------------------------------------------------------------------


def test_fault_in_a_callee_destroys_it_and_ends_the_top_run() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    base = m.secure_memory_used
    r, w = call(m, FAULT, region=4 * PAGE)
    assert (r.reason, r.cause, r.tval) == ("fault", 15, 8)
    assert s.state == "INVALID"
    assert r.calls[-1][1:3] == (s.eid, -1)
    assert m.secure_memory_used < base, "the server and the region it held are freed"
    r, w = call(m, INFO)
    assert r.reason == "exit" and (w[8], w[9]) == (M1, M1), "acquire and call fail: no such server"


def test_fault_two_deep_releases_the_middle_server() -> None:
    m = monitor()
    a = server(m, b"ipc-a")
    b = server(m, b"ipc-b")
    r, _ = call(m, NESTED | (FAULT << 8), region=4 * PAGE)
    assert r.reason == "fault" and r.tval == 8
    assert (a.state, b.state) == ("RUNNABLE", "INVALID")
    r, w = call(m, COUNT)
    assert r.reason == "exit" and (w[9], w[10]) == (0, 2), "a serves again and remembers its calls"


def test_destroy_the_top_caller_in_the_middle_of_a_call() -> None:
    m = monitor()
    a = server(m, b"ipc-a")
    base = m.secure_memory_used
    c = Client(m, request({0: 1, 1: -1, 2: SPIN, 3: 4 * PAGE}, b"ipc-a"))
    r = c.enclave.run("start", budget=100_000)
    assert r.reason == "budget"
    assert a.state == "RUNNING"
    assert a.destroy() == -1
    assert c.enclave.destroy() == 0
    assert a.state == "RUNNABLE"
    assert m.secure_memory_used == base, "the region the callee received is freed with the call"
    r, w = call(m, COUNT)
    assert r.reason == "exit" and (w[9], w[10]) == (0, 2)
    assert a.destroy() == 0


def test_destroy_the_top_caller_while_a_nested_callee_waits_for_its_host() -> None:
    m = monitor()
    a = server(m, b"ipc-a")
    b = server(m, b"ipc-b")
    c = Client(m, request({0: 1, 1: -1, 2: NESTED | (OCALL << 8), 3: 4 * PAGE}, b"ipc-a"), ocalls=(100,))
    assert c.run().reason == "ocall"
    assert c.enclave.destroy() == 0
    assert (a.state, b.state) == ("RUNNABLE", "RUNNABLE")
    r, w = call(m, NESTED | (COUNT << 8))
    assert r.reason == "exit" and w[10] == 2


# ---- return rules and hostile arguments -------------------------------------------------------


def test_a_server_cannot_exit_and_bad_return_pointers_get_minus_one() -> None:
    m = monitor()
    server(m, b"ipc-a")
    r, w = call(m, EXIT)
    assert r.reason == "exit" and (w[9], w[10]) == (0, M1)
    r, w = call(m, BAD_RETURN)
    assert r.reason == "exit" and (w[9], w[10]) == (0, M1)


ACQUIRE, CALL, RETURN, GET_REPORT, CALLER_ID, ENCLAVE_ID = 97, 96, 95, 94, 91, 90
SHM_END = SHM_BASE + SHM_PAGES * PAGE
HOSTILE_ADDRS = [0, 8, PAGE - 1, SHM_END, SHM_END - 1, M1, M1 - 7, 1 << 40, 1 << 63, (1 << 64) - PAGE]


def test_acquire_hostile_names() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    # A 15-byte name flush against the end of the shm: its terminator would be unmapped.
    tail = {SHM_PAGES * PAGE - 15: b"ipc-aaaaaaaaaaa"}
    got = raw(m, [(ACQUIRE, SHM_BASE + 512, 0, 0, 0), (ACQUIRE, SHM_END - 15, 0, 0, 0)]
              + [(ACQUIRE, a, 0, 0, 0) for a in HOSTILE_ADDRS], extra=tail, name=b"ipc-a")
    assert got == [s.eid] + [M1] * (1 + len(HOSTILE_ADDRS))


def test_call_hostile_handles_and_arguments() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    arg_va = SHM_BASE + 1024

    def arg(req_vaddr: int, req_size: int) -> bytes:
        return struct.pack("<6Q", COUNT, 0, req_vaddr & M1, req_size & M1, 0, 0)

    cases = [
        (s.eid, arg(0, 0)),                       # fine: 0
        (M1, arg(0, 0)), (1 << 32, arg(0, 0)), (s.eid + 1, arg(0, 0)),  # no such server
        (s.eid, arg(MMAP_BASE - PAGE + 1, PAGE)),  # unaligned address
        (s.eid, arg(MMAP_BASE - PAGE, PAGE + 1)),  # unaligned size
        (s.eid, arg(MMAP_BASE - PAGE, 0)),         # size 0 with an address
        (s.eid, arg(MMAP_BASE - PAGE, (1 << 64) - PAGE)),  # addr + size wraps
        (s.eid, arg((1 << 64) - PAGE, 2 * PAGE)),
        (s.eid, arg(1 << 63, 1 << 63)),
        (s.eid, arg(MMAP_BASE - PAGE, 1 << 40)),
        (s.eid, arg(SHM_BASE, PAGE)),              # mapped, but not an mmap region
        (s.eid, arg(MM_ARG_BASE, PAGE)),           # no relay region
    ]
    extra = {}
    calls = []
    for i, (h, a) in enumerate(cases):
        extra[1024 + 64 * i] = a
        calls.append((CALL, h, arg_va + 64 * i, 0, 0))
    # The client itself (a normal enclave) is no server; pointers to the arg struct that are
    # not mapped or wrap.
    calls += [(CALL, s.eid, a, 0, 0) for a in HOSTILE_ADDRS]
    got = raw(m, calls, extra=extra)
    assert got[0] == 0
    assert got[1:] == [M1] * (len(calls) - 1)
    assert s.state == "RUNNABLE"


def test_calls_outside_a_server_call() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    got = raw(m, [(RETURN, SHM_BASE, 0, 0, 0), (CALLER_ID, 0, 0, 0, 0), (ENCLAVE_ID, 0, 0, 0, 0)])
    assert got[:2] == [M1, M1]
    assert got[2] == s.eid + 1, "the client is the next enclave"


def test_get_report_by_server_name() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    got = raw(m, [(GET_REPORT, SHM_BASE + 512, SHM_BASE + 2048, 1234, 0),
                  (GET_REPORT, SHM_BASE + 600, SHM_BASE + 2048, 1, 0)],
              extra={600: b"nobody\0"}, name=b"ipc-a")
    assert got == [0, M1]
    c = Client(m, request({0: 2, 1: 1, 384: GET_REPORT, 385: SHM_BASE + 512, 386: SHM_BASE + 2048, 387: 1234}, b"ipc-a"))
    r = c.run()
    report = r.shm[2048:2048 + 328]
    assert report == m.attest_hash(s.measurement, 1234)
    # The server's stored measurement is not changed by the report (B7 fix).
    assert s.measurement == _core.measure_elf(elf("ipc-server"), type=1)


def test_many_calls_in_one_run() -> None:
    m = monitor()
    s = server(m, b"ipc-a")
    base = m.secure_memory_used
    r, w = call(m, INFO, region=4 * PAGE, times=50)
    assert r.reason == "exit" and (w[9], w[10]) == (0, 0x600D)
    assert w[15] == PAGE * 51, "each call added one to every int"
    assert len(r.calls) == 50
    r, w = call(m, COUNT)
    assert w[10] == 51
    assert s.state == "RUNNABLE"
    assert m.secure_memory_used >= base


# ---- Pythonic layer ---------------------------------------------------------------------------


def test_device_create_server_calls_and_typed_errors() -> None:
    import pltvm
    from pltvm.server import Call, ServerEnclave, ServerError, ServerNameTaken

    with pltvm.Device() as dev:
        s = dev.create_server("server", name="test-server")
        s1 = dev.create_server("server1", name=b"test-server1")
        assert isinstance(s, ServerEnclave) and (s.name, s.state) == ("test-server", "RUNNABLE")
        assert s.measurement == _core.measure_elf(elf("server"), type=1)
        with pytest.raises(ServerNameTaken):
            dev.create_server("server", name="test-server")
        with pytest.raises(ValueError, match="non-empty name"):
            dev.create_server("server", name="")
        with pytest.raises(ValueError, match="at most 16 bytes"):
            dev.create_server("server", name="x" * 17)
        with pytest.raises(TypeError):
            dev.create_server("server", name=5)  # type: ignore[arg-type]
        for misuse in (s.run, s.stop, s.attest):
            with pytest.raises(ServerError):
                misuse()
        c = dev.create("caller", output="capture")
        r = c.run()
        assert r.exited and r.value == 0
        assert r.calls == (Call(s1.eid, s.eid, 0, 2, 2), Call(c.eid, s1.eid, 0, 3, 1))
        assert r.output is not None and b"caller: get server1 retval:0x0000000000000003\n" in r.output
        s1.destroy()
        assert not s1.alive
        s1.destroy()  # gone: nothing to do
    assert not s.alive, "closing the device destroys its servers"


def test_device_server_busy_while_serving_and_destroy_order_on_close() -> None:
    import pltvm
    from pltvm.server import ServerError

    dev = pltvm.Device()
    s = dev.create_server("ipc-server", name="ipc-a")
    c = dev.create("ipc-client", shm=request({0: 1, 1: -1, 2: SPIN}, b"ipc-a"))
    r = c.run(max_instructions=50_000)
    assert r.reason == "budget" and s.state == "RUNNING"
    with pytest.raises(ServerError, match="serving a call"):
        s.destroy()
    dev.close()
    assert (c.alive, s.alive) == (False, False)


def test_failed_calls_are_recorded_signed() -> None:
    import pltvm
    from pltvm.server import Call

    with pltvm.Device() as dev:
        s = dev.create_server("ipc-server", name="ipc-a")
        c = dev.create("ipc-client", shm=request({0: 1, 1: -1, 2: REENTER}, b"ipc-a"))
        r = c.run()
        assert r.calls == (Call(s.eid, s.eid, -2, 0, 2), Call(c.eid, s.eid, 0, -2, 1))
        c = dev.create("ipc-client", shm=request({0: 1, 1: M1, 2: INFO}))
        assert c.run().calls == (Call(c.eid, -1, -1, 0, 1),)


# ---- C host-API mirror ------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_host_device")
def test_test_caller_demo_through_the_c_mirror(capsys: pytest.CaptureFixture[str]) -> None:
    from pltvm.cli.ipc import run_test_caller

    assert run_test_caller(str(bundled("caller")), str(bundled("server")), str(bundled("server1"))) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-3:] == [
        "caller: read req_vaddr after calling server:0x0000000000002000",
        "caller: read resp_vaddr after calling server:0x0000000000002000",
        "caller: get server1 retval:0x0000000000000003",
    ]
    assert "server: read req_vaddr:0x0000000019962000" in out
    assert run_test_caller(str(bundled("caller")), str(bundled("server"))) == 0
    out = capsys.readouterr().out
    assert "server: read req_vaddr:0x0000000019961000" in out
    assert out.splitlines()[-1] == "caller: get server retval:0x0000000000000002"


@pytest.mark.usefixtures("fresh_host_device")
def test_c_mirror_server_paths(capsys: pytest.CaptureFixture[str]) -> None:
    from pltvm import host as H

    def create(name: bytes, program: str = "server") -> Any:
        f = H.elf_args()
        H.elf_args_init(f, str(bundled(program)))
        e = H.PLenclave()
        H.PLenclave_init(e)
        p = H.enclave_args()
        H.enclave_args_init(p)
        p.name, p.type = name, H.SERVER_ENCLAVE
        return e, H.PLenclave_create(e, f, p)

    s, r = create(b"test-server")
    assert r == 0 and s.eid >= 0x1000
    _, r = create(b"test-server")
    assert r == -1
    assert "LIB: PLenclave_create: ioctl create enclave is failed\n" in capsys.readouterr().err
    assert H.PLenclave_run(s) == -1
    assert "LIB: PLenclave_run: ioctl run enclave is failed \n" in capsys.readouterr().err
    assert H.PLenclave_attest(s, 0) == -1
    assert H.PLenclave_stop(s) == -1
    assert H.PLenclave_destroy(s) == 0
    assert H.PLenclave_destroy(s) == -1
    assert "LIB: ioctl stop enclave is failed \n" in capsys.readouterr().err
    _, r = create(b"test-server")
    assert r == 0, "the name is free once the server is destroyed"


@pytest.mark.usefixtures("fresh_host_device")
def test_cli_test_caller(capsys: pytest.CaptureFixture[str]) -> None:
    from pltvm.cli import main

    assert main(["test-caller", "caller", "server", "server1"]) == 0
    assert capsys.readouterr().out.endswith("caller: get server1 retval:0x0000000000000003\n")
    assert main(["test-caller", "no-such-enclave"]) == 2


# ---- relay regions handed on by name ---------------------------------------------------------

ASYN, SPLIT = 93, 92


def asyn_client(m: Any, calls: list[tuple[int, int, int, int, int]], relay: bytes, extra: dict[int, bytes],
                name: bytes = b"heir") -> tuple[Any, list[int]]:
    w = {0: 2, 1: len(calls)}
    for i, c in enumerate(calls):
        for j, v in enumerate(c):
            w[384 + 6 * i + j] = v
    c = Client(m, request(w, name, extra))
    r = c.run(relay=relay)
    assert r.reason == "exit", r
    return r, [struct.unpack_from("<Q", r.shm, (384 + 6 * i + 5) * 8)[0] for i in range(len(calls))]


def relay_words(n_pages: int) -> bytes:
    return b"".join(struct.pack("<I", 0x1000 + i) + bytes(PAGE - 4) for i in range(n_pages))


def test_asyn_call_hands_a_split_relay_region_to_a_name() -> None:
    m = monitor()
    arg = SHM_BASE + 1024
    # Split the 2-page relay region at its second page, hand the second half to "heir".
    _, got = asyn_client(m, [
        (SPLIT, MM_ARG_BASE, 2 * PAGE, MM_ARG_BASE + PAGE, 0),
        (ASYN, SHM_BASE + 512, arg, 0, 0),
        (ASYN, SHM_BASE + 512, arg, 0, 0),          # gone now: -1
    ], relay_words(2), {1024: struct.pack("<6Q", 0, 0, MM_ARG_BASE + PAGE, PAGE, 0, 0)})
    assert got == [0, 0, M1]
    heir = m.create(elf("info"), name=b"heir")
    out: list[bytes] = []
    r = heir.run("start_inherit", output=out.append)
    assert r.reason == "exit", r
    text = b"".join(out).decode()
    assert "info: a3 relay      0x3800000000" in text
    assert "info: a4 relay size 0x1000" in text
    assert struct.unpack_from("<I", r.relay[0])[0] == 0x1001, "the second page of the split region"
    # Nothing is left for that name: a second heir's run is refused.
    again = m.create(elf("info"), name=b"heir")
    r = again.run("start_inherit")
    assert r.reason == "refused" and "no relay regions" in r.message


def test_asyn_call_hostile_arguments() -> None:
    m = monitor()
    arg = SHM_BASE + 1024

    def a(va: int, size: int) -> bytes:
        return struct.pack("<6Q", 0, 0, va & M1, size & M1, 0, 0)

    cases = [a(MM_ARG_BASE, PAGE + 1), a(MM_ARG_BASE + 1, PAGE), a(MM_ARG_BASE, 0), a(MM_ARG_BASE, M1),
             a(MM_ARG_BASE, 1 << 63), a(SHM_BASE, PAGE), a(M1 - PAGE + 1, PAGE)]
    extra = {1024 + 64 * i: c for i, c in enumerate(cases)}
    calls = [(ASYN, SHM_BASE + 512, arg + 64 * i, 0, 0) for i in range(len(cases))]
    calls += [(ASYN, bad, arg, 0, 0) for bad in HOSTILE_ADDRS]      # the name
    calls += [(ASYN, SHM_BASE + 512, bad, 0, 0) for bad in HOSTILE_ADDRS]  # the argument
    calls += [(ASYN, SHM_BASE + 700, arg + 64 * len(cases), 0, 0)]  # empty name
    extra[1024 + 64 * len(cases)] = a(MM_ARG_BASE, PAGE)
    _, got = asyn_client(m, calls, relay_words(1), extra)
    assert got == [M1] * len(calls)


def test_at_most_ten_regions_wait_for_a_name() -> None:
    m = monitor()
    for k in range(11):
        _, got = asyn_client(m, [(ASYN, SHM_BASE + 512, SHM_BASE + 1024, 0, 0)], relay_words(1),
                             {1024: struct.pack("<6Q", 0, 0, MM_ARG_BASE, PAGE, 0, 0)}, name=b"heir")
        assert got == ([0] if k < 10 else [M1])


@pytest.mark.usefixtures("fresh_host_device")
def test_c_mirror_inherits_relay_pages_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    from pltvm import host as H

    dev = H.default_device()
    m = dev.monitor
    asyn_client(m, [(ASYN, SHM_BASE + 512, SHM_BASE + 1024, 0, 0)], relay_words(1),
                {1024: struct.pack("<6Q", 0, 0, MM_ARG_BASE, PAGE, 0, 0)}, name=b"test-enclave0")
    f = H.elf_args()
    H.elf_args_init(f, str(bundled("relay-page")))
    e = H.PLenclave()
    H.PLenclave_init(e)
    p = H.enclave_args()
    H.enclave_args_init(p)
    p.name = b"test-enclave0"
    assert H.PLenclave_create(e, f, p) == 0
    mm = H.PLenclave_schrodinger_get(PAGE)
    H.PLenclave_set_mem_arg(e, mm, 0, 0)  # size 0: inherit by name
    got = []
    while True:
        r = H.PLenclave_run(e)
        got.append(r)
        if r != H.RETURN_USER_RELAY_PAGE:
            break
        H.PLenclave_set_rerun_arg(e, H.RETURN_USER_RELAY_PAGE)
    assert got == [1, 0]
    out = capsys.readouterr().out
    assert "relay_page 1 00001000" in out
    # Nothing is registered any more: a second enclave of that name cannot inherit.
    e2 = H.PLenclave()
    H.PLenclave_init(e2)
    assert H.PLenclave_create(e2, f, p) == 0
    H.PLenclave_set_mem_arg(e2, mm, 0, 0)
    assert H.PLenclave_run(e2) == -1


def test_placement_when_the_same_va_is_taken_in_the_server() -> None:
    """The server already holds a region at the caller's VA (it kept one): the next region it
    is lent lands right below its lowest mmap region, and goes back to the caller's original
    VA on return."""
    m = monitor()
    s = server(m, b"ipc-a")
    r, w = call(m, KEEP, region=4 * PAGE)
    assert (w[9], w[11]) == (0, 0)
    c = Client(m, request({0: 1, 1: -1, 2: INFO, 3: 4 * PAGE}, b"ipc-a"))
    r = c.run()
    w = words(r.shm)
    assert r.reason == "exit" and w[9] == 0
    assert w[11] == MMAP_BASE - 7 * PAGE, "back at the caller's own VA"
    placed = MMAP_BASE - 14 * PAGE  # below the kept region (7 mapped pages) in the server
    expect = [INFO, placed, 4 * PAGE, 0, 0, STACK_BASE, s.eid, c.enclave.eid, 0, PAGE]
    assert w[16] == sum(struct.unpack("<20i", struct.pack("<10Q", *expect))) % (1 << 64)
