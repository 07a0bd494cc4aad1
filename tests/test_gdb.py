"""The gdb remote stub driven by a real gdb (Debian's gdb-multiarch, in batch mode).

`pltvm debug` serves tests/debug/build/target.elf (C with DWARF: `scale(x, k)` adds x * k to
the global `counter`; exit code 60) or an ISA program on a bare machine; gdb connects with
`target remote` and its output is checked.
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tests" / "debug" / "build" / "target.elf"
TRIGGER_ELF = ROOT / "tests" / "isa" / "build" / "trigger.elf"
GDB = shutil.which("gdb-multiarch")

needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed (.ci/run installs it)")


def served(argv: list[str], elf: Path, *commands: str, stdin: str | None = None) -> tuple[str, int, str, str, str]:
    """Runs ``pltvm *argv`` (``stdin`` as its input, else none), reads its 'waiting for gdb'
    line, then gdb on ``elf`` with ``commands``; returns (gdb output, pltvm's exit status, its
    stdout, its stderr, the host it named)."""
    proc = subprocess.Popen([sys.executable, "-m", "pltvm", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and proc.stdout is not None
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        lines = ""
        m = None
        for _ in range(5):
            line = proc.stderr.readline()
            lines += line
            m = re.search(r"waiting for gdb on (\S+):(\d+) \(target remote", line)
            if m or not line:
                break
        assert m, f"no listening line: {lines!r}"
        gdb_argv = [GDB or "gdb-multiarch", "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{m.group(2)}"]
        for c in commands:
            gdb_argv += ["-ex", c]
        out = subprocess.run([*gdb_argv, str(elf)], capture_output=True, text=True, timeout=120)
        rc = proc.wait(timeout=60)
        return out.stdout + out.stderr, rc, proc.stdout.read(), lines + proc.stderr.read(), m.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def debug_session(elf: Path, *commands: str, bare: bool = False) -> tuple[str, int, str]:
    """Runs `pltvm debug` on ``elf``, then gdb with ``commands``; returns (gdb output, pltvm's
    exit status, pltvm's stderr)."""
    argv = ["debug", "--gdb", "127.0.0.1:0", *(["--bare"] if bare else []), str(elf)]
    out, rc, _, err, _ = served(argv, elf, *commands)
    return out, rc, err


@needs_gdb
def test_info_registers_shows_every_feature_without_warnings() -> None:
    out, rc, err = debug_session(TARGET, "info registers", "info all-registers", "info registers csr", "kill")
    assert "warning" not in out.lower(), out
    for reg in ("zero", "ra", "sp", "pc", "ft0", "fs11", "fflags", "frm", "fcsr", "mstatus", "misa", "satp",
                "mtvec", "tselect", "tdata1", "tinfo", "instret", "priv"):
        assert re.search(rf"^{reg}\s", out, re.M), f"{reg} missing:\n{out}"
    assert "prv:0 [User/Application]" in out
    assert re.search(r"^misa\s+0x800000000014112d\s+RV64ACDFIMSU", out, re.M)
    assert re.search(r"^pc\s+0x100b0\s+0x100b0 <_start>", out, re.M)
    assert rc == 0 and "gdb killed" in err


@needs_gdb
def test_break_in_a_function_reads_its_arguments_and_continues_to_the_next_call() -> None:
    out, rc, _ = debug_session(
        TARGET, "break scale", "continue", "info args", "continue", "print x", "print k", "kill"
    )
    assert "Breakpoint 1, scale (x=x@entry=1, k=k@entry=10)" in out, out
    assert re.search(r"^\$1 = 2$", out, re.M) and re.search(r"^\$2 = 10$", out, re.M), out
    assert rc == 0


@needs_gdb
def test_hardware_breakpoint_and_stepi() -> None:
    out, _, _ = debug_session(TARGET, "hbreak scale", "continue", "print $pc", "stepi", "print $pc", "kill")
    assert "Hardware assisted breakpoint 1 at" in out and "Breakpoint 1, scale (x=x@entry=1" in out, out
    pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)", out, re.M)]
    assert len(pcs) == 2 and pcs[1] in (pcs[0] + 2, pcs[0] + 4), out


@needs_gdb
def test_write_watchpoint_on_a_global_reports_old_and_new_value() -> None:
    out, _, _ = debug_session(TARGET, "watch counter", "continue", "continue", "print counter", "kill")
    assert "Hardware watchpoint 1: counter" in out
    assert re.search(r"Old value = 0\s+New value = 10", out), out
    assert re.search(r"Old value = 10\s+New value = 30", out), out
    assert re.search(r"^\$1 = 30$", out, re.M), out


@needs_gdb
def test_read_and_access_watchpoints() -> None:
    out, _, _ = debug_session(TARGET, "rwatch counter", "continue", "delete", "awatch counter", "continue", "kill")
    assert "Hardware read watchpoint 1: counter" in out
    assert re.search(r"Value = 0", out), out
    assert "Hardware access (read/write) watchpoint 2: counter" in out, out


@needs_gdb
def test_memory_reads_through_the_translation_and_the_exit_code_reaches_gdb() -> None:
    out, rc, err = debug_session(TARGET, "print counter", "x/2i $pc", "set var counter = 5", "print counter",
                                 "continue")
    assert re.search(r"^\$1 = 0$", out, re.M) and re.search(r"^\$2 = 5$", out, re.M), out
    assert "<_start>:" in out
    # 5 + 10 + 20 + 30: gdb's write to the global took effect
    assert "[Inferior 1 (process 1) exited with code 0101]" in out, out
    assert rc == 65 and "exited with code 65" in err


@needs_gdb
def test_bare_machine_monitor_commands_and_privilege() -> None:
    out, _, _ = debug_session(
        TRIGGER_ELF, "stepi 3", "monitor instret", "monitor privilege", "info registers priv", "monitor tlb flush",
        "monitor help", "kill", bare=True,
    )
    assert re.search(r"^3$", out, re.M), out
    assert "M (3)" in out and "prv:3 [Machine]" in out and "TLB and decoded code flushed" in out
    assert "instret       instructions retired" in out


@needs_gdb
def test_python_api_serves_and_detach_leaves_the_machine_where_it_stopped() -> None:
    import pltvm

    m = pltvm.Machine.user(argv=["target"])
    m.load_elf(str(TARGET))
    ports: list[int] = []
    ready = threading.Event()
    result: list[object] = []

    def serve() -> None:
        result.append(m.gdb_serve(":0", ready=lambda p: (ports.append(p), ready.set())))

    t = threading.Thread(target=serve)
    t.start()
    assert ready.wait(30)
    out = subprocess.run(
        [GDB or "", "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{ports[0]}", "-ex", "break scale",
         "-ex", "continue", "-ex", "detach", str(TARGET)],
        capture_output=True, text=True, timeout=120,
    ).stdout
    t.join(60)
    assert "Breakpoint 1, scale" in out
    assert result == [("detached", None)]
    scale = m.image.symbol("scale") if m.image else None
    assert scale is not None and m.pc == scale
    ex = m.run()
    assert ex.reason == "exit" and ex.code == 60, "the breakpoint is gone after the session"


def test_gdb_address_parsing_names_the_argument() -> None:
    from pltvm.machine import parse_gdb_address

    assert parse_gdb_address(":0") == ("127.0.0.1", 0)
    assert parse_gdb_address(1234) == ("127.0.0.1", 1234)
    assert parse_gdb_address("0.0.0.0:9") == ("0.0.0.0", 9)
    assert parse_gdb_address("[::1]:9") == ("::1", 9)
    for bad in ("host:", "host:x", ":65536", ":-1", "12345678901234567890"):
        with pytest.raises(ValueError, match="address"):
            parse_gdb_address(bad)
    for wrong in (True, 1.5, None, b":1"):
        with pytest.raises(TypeError, match="address"):
            parse_gdb_address(wrong)  # type: ignore[arg-type]


def test_debug_refuses_a_port_in_use_with_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "pltvm", "debug", "--gdb", f"127.0.0.1:{port}", str(TARGET)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


def registers(out: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Each `info registers` dump in ``out``: name -> value, for ``names``."""
    dumps: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(0x[0-9a-f]+)\s", line)
        if m and m.group(1) in names:
            if m.group(1) in current:
                dumps.append(current)
                current = {}
            current[m.group(1)] = m.group(2)
    if current:
        dumps.append(current)
    return dumps


@needs_gdb
def test_stepi_then_reverse_stepi_returns_to_the_same_pc_and_registers() -> None:
    names = ("pc", "ra", "sp", "a0", "a1", "a5", "mstatus", "instret", "priv")
    dump = "info registers " + " ".join(names)
    out, _, _ = debug_session(TARGET, "break scale", "continue", "continue", dump, "stepi 4", dump,
                              "reverse-stepi 4", dump, "print counter", "stepi 4", dump, "kill")
    before, after, back, again = registers(out, names)
    assert before == back and after == again, out
    assert before["pc"] != after["pc"] and before["instret"] != after["instret"]
    assert re.search(r"^\$1 = 10$", out, re.M), "memory as it was: only the first call added"


@needs_gdb
def test_reverse_continue_stops_at_the_previous_breakpoint_hit_then_at_the_beginning() -> None:
    out, _, _ = debug_session(TARGET, "break scale", "continue", "continue", "continue", "reverse-continue",
                              "print x", "print counter", "reverse-continue", "print x", "reverse-continue",
                              "continue", "print x", "kill")
    hits = re.findall(r"Breakpoint 1, scale \(x=x@entry=(\d)", out)
    assert hits == ["1", "2", "3", "2", "1", "1"], out
    assert re.search(r"^\$1 = 2$", out, re.M) and re.search(r"^\$2 = 10$", out, re.M), out
    assert "No more reverse-execution history." in out and "_start ()" in out, out
    assert re.search(r"^\$4 = 1$", out, re.M), "forward again from the beginning: the first call"


@needs_gdb
def test_reverse_continue_stops_at_the_previous_write_of_a_watched_global() -> None:
    out, _, _ = debug_session(TARGET, "watch counter", "continue", "continue", "continue", "reverse-continue",
                              "print counter", "reverse-continue", "print counter", "monitor checkpoints", "kill")
    assert re.search(r"Old value = 30\s+New value = 60", out), out
    # backwards, gdb shows the value going back
    assert re.search(r"Old value = 60\s+New value = 30", out), out
    assert re.search(r"^\$1 = 30$", out, re.M) and re.search(r"^\$2 = 10$", out, re.M), out
    assert re.search(r"^\d+ checkpoints every \d+ steps, steps 0\.\.", out, re.M), out


@needs_gdb
def test_reverse_step_goes_back_to_the_calling_line() -> None:
    out, _, _ = debug_session(TARGET, "break scale", "continue", "continue", "reverse-step", "bt 1", "kill")
    assert re.search(r"^#0  main \(.*\) at tests/debug/target\.c:18$", out, re.M), out


ENCLAVES = ROOT / "python" / "pltvm" / "enclaves"


def symbol(elf: Path, name: str) -> int:
    """The address of function ``name`` in ``elf`` (the bundled demos move when the SDK's entry
    stub changes)."""
    from elftools.elf.elffile import ELFFile

    with elf.open("rb") as f:
        (sym,) = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)
        return int(sym["st_value"])


def enclave_session(elf: Path, *commands: str) -> tuple[str, int, str, str]:
    """Runs `pltvm run --gdb` on the enclave ``elf``, then gdb with ``commands``; returns (gdb
    output, pltvm's exit status, pltvm's stdout, pltvm's stderr)."""
    out, rc, stdout, err, _ = served(["run", "--gdb", "127.0.0.1:0", str(elf)], elf, *commands)
    return out, rc, stdout, err


@needs_gdb
def test_an_enclave_under_pltvm_run_gdb_shows_its_own_symbols_and_exit_value() -> None:
    out, rc, stdout, err = enclave_session(
        ENCLAVES / "hello-world.elf", "break hello", "continue", "bt 1", "info registers priv", "x/i $pc",
        "monitor checkpoints", "reverse-stepi", "continue",
    )
    # gdb puts the breakpoint after hello's prologue (hello + 12)
    bp = symbol(ENCLAVES / "hello-world.elf", "hello") + 12
    assert re.search(rf"Breakpoint 1, 0x0*{bp:x} in hello \(\)", out), out
    assert re.search(r"^#0 .*hello \(", out, re.M), out
    assert "prv:0 [User/Application]" in out, "the enclave runs in U-mode"
    assert re.search(rf"=> 0x{bp:x} <hello\+12>:", out), out
    assert "enclaves are not checkpointed" in out, out
    assert "Target remote does not support this command" in out or "not support" in out, out
    assert "[Inferior 1 (process 1) exited normally]" in out, out
    assert stdout == "hello world!\n", "the print OCALL was served while gdb drove"
    assert rc == 0 and "enclave exited with value 0 under gdb" in err, err


@needs_gdb
def test_an_enclave_that_faults_under_gdb_reports_the_signal() -> None:
    out, rc, stdout, err = enclave_session(ENCLAVES / "crash.elf", "continue", "print/x $pc", "kill")
    assert "Program received signal SIGSEGV" in out, out
    # the monitor destroyed the enclave; gdb still sees where: crash.c's store to address 0,
    # 16 bytes into main (after the stack adjustment, the string's address and the printf call)
    store = symbol(ENCLAVES / "crash.elf", "main") + 16
    assert re.search(rf"^\$1 = 0x{store:x}$", out, re.M), out
    assert stdout == "crash: storing to address 0\n"
    assert rc == 1 and "enclave faulted under gdb" in err, err


def test_run_gdb_refuses_more_than_one_thread_and_a_bad_address() -> None:
    for extra, message in ((["hello-world", "2"], "THREADS must be 1"), (["hello-world"], "the port must be")):
        addr = "127.0.0.1:1234" if "2" in extra else "127.0.0.1:http"
        p = subprocess.run([sys.executable, "-m", "pltvm", "run", "--gdb", addr, *extra],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and message in p.stderr, p.stderr


STDIN_UPPER = ROOT / "tests" / "user" / "build" / "stdin_upper.elf"


@needs_gdb
def test_console_input_and_output_are_played_back_not_repeated_when_going_back() -> None:
    text = "hello world\nsecond line\nthird\n"
    plain = subprocess.run([sys.executable, "-m", "pltvm", "exec", str(STDIN_UPPER)], input=text,
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "HELLO WORLD" in plain.stdout
    out, rc, stdout, _, _ = served(["debug", "--gdb", "127.0.0.1:0", str(STDIN_UPPER)], STDIN_UPPER, "stepi 1500",
                                   "monitor checkpoints", "reverse-stepi 1200", "continue", stdin=text)
    assert rc == 0, out
    # the reads were recorded on the first pass and played back on the second
    assert re.search(r"console tape [1-9]\d* calls, [1-9]\d* bytes", out), out
    assert stdout == plain.stdout, "each byte read once, each line printed once"


def test_enclave_debug_refuses_an_enclave_another_thread_runs_and_one_that_is_gone() -> None:
    import time

    import pltvm

    with pltvm.Device() as dev:
        spinning = dev.create("loop", output=lambda b: None)
        t = threading.Thread(target=lambda: spinning.run(check=False))
        t.start()
        try:
            for _ in range(2000):
                if spinning.state == "RUNNING":
                    break
                time.sleep(0.005)
            with pytest.raises(pltvm.EnclaveError, match="running in another thread"):
                spinning.debug(":0", ready=lambda p: pytest.fail("listened for a busy enclave"))
        finally:
            spinning.destroy()
            t.join(30)
        done = dev.create("hello-world", output=lambda b: None)
        assert done.run().reason == "exit"
        with pytest.raises(pltvm.EnclaveDestroyed):
            done.debug(":0", ready=lambda p: pytest.fail("listened for a gone enclave"))
        with pytest.raises(ValueError, match="port"):
            dev.create("hello-world").debug("127.0.0.1:99999")


BARE = ROOT / "tests" / "debug" / "build" / "bare.elf"


@needs_gdb
def test_exec_gdb_bare_breaks_in_a_function_reads_its_arguments_and_reports_the_exit_code() -> None:
    out, rc, _, err, host = served(["exec", "--bare", "--gdb", ":0", str(BARE)], BARE,
                                   "print $pc", "break mix", "continue", "info args", "finish", "continue")
    assert host == "127.0.0.1"
    assert re.search(r"^\$1 = \(void \(\*\)\(\)\) 0x80000000 <_start>$", out, re.M), "waits before the first instruction"
    assert "Breakpoint 1, mix (a=a@entry=3, b=b@entry=4, c=c@entry=5)" in out, out
    assert re.search(r"^a = 3\nb = 4\nc = 5$", out, re.M), out
    assert re.search(r"Value returned is \$\d+ = 17", out), out
    assert "[Inferior 1 (process 1) exited with code 021]" in out, out
    assert rc == 17 and "pltvm: program exited with code 17 under gdb" in err, err


@needs_gdb
def test_exec_gdb_user_passes_guest_arguments_and_the_program_stdout_still_works() -> None:
    # argc = 3: scale(x, 30) for x = 1..3, counter = 180 (exit code 180 = 0264)
    out, rc, stdout, err, _ = served(["exec", "--gdb", "0", str(TARGET), "one", "--two"], TARGET,
                                     "break scale", "continue", "print x", "print k", "print argc", "delete",
                                     "continue")
    assert "Breakpoint 1, scale (x=x@entry=1, k=k@entry=30)" in out, out
    assert re.search(r"^\$1 = 1\n\$2 = 30$", out, re.M), out
    assert "[Inferior 1 (process 1) exited with code 0264]" in out, out
    assert stdout == "total 300\n", stdout  # 30 + 90 + 180: scale returns the running counter
    assert rc == 180 and "exited with code 180 under gdb" in err, err


@needs_gdb
def test_debug_is_exec_gdb_with_a_default_address() -> None:
    out, rc, err = debug_session(BARE, "break mix", "continue", "info args", "continue", bare=True)
    assert "Breakpoint 1, mix (a=a@entry=3, b=b@entry=4, c=c@entry=5)" in out and "exited with code 021" in out, out
    assert rc == 17 and "program exited with code 17 under gdb" in err


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} has them) of the sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, _, p = local.rpartition(":")
            if state == "0A" and int(p, 16) == port:
                found.append(addr)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp")
@pytest.mark.parametrize("given, host, bound", [
    ("0", "127.0.0.1", "0100007F"),            # a bare port: loopback
    (":0", "127.0.0.1", "0100007F"),           # :PORT: loopback
    ("127.0.0.1:0", "127.0.0.1", "0100007F"),
    ("0.0.0.0:0", "0.0.0.0", "00000000"),      # any interface only when named
])
def test_exec_gdb_listens_on_loopback_unless_another_address_is_named(given: str, host: str, bound: str) -> None:
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "pltvm", "exec", "--bare", "--gdb", given, str(BARE)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"^pltvm: waiting for gdb on (\S+):(\d+) \(target remote \1:\2\)$", line)
        assert m and m.group(1) == host, line
        assert _listening(int(m.group(2))) == [bound]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, "Ctrl-C while waiting for gdb"
        assert "interrupted" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("extra, message", [
    (["--gdb", ":0", "--max-instructions", "5"], "--gdb cannot be combined with --max-instructions"),
    (["--gdb", ":0", "--stats"], "--gdb cannot be combined with --stats"),
    (["--gdb", "host:port"], "--gdb: address 'host:port': the port must be a number"),
    (["--gdb", ":65536"], "the port must be in 0..65535"),
    (["--gdb", ":-1"], "--gdb: address"),
])
def test_exec_gdb_usage_errors_exit_2_with_a_message(extra: list[str], message: str) -> None:
    r = subprocess.run([sys.executable, "-m", "pltvm", "exec", "--bare", *extra, str(BARE)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "waiting for gdb" not in r.stderr, "refused before listening"


def test_exec_and_fuzz_help_show_the_gdb_forms() -> None:
    ex = subprocess.run([sys.executable, "-m", "pltvm", "exec", "--help"], capture_output=True, text=True, timeout=60)
    assert "--gdb HOST:PORT" in ex.stdout and "127.0.0.1 only" in ex.stdout
    fz = subprocess.run([sys.executable, "-m", "pltvm", "fuzz", "-help=1"], capture_output=True, text=True, timeout=60)
    assert "pltvm fuzz ELF FILE --gdb HOST:PORT" in fz.stdout and "SIGXCPU" in fz.stdout


FUZZ_INIT_KEY0 = 0x5EFB940B
"""table[0] of guest/demos/fuzz-init after its initialisation (64 rounds of xorshift32)."""


def _fuzz_init_key0() -> int:
    x, table = 0x9E3779B9, [0] * 4096
    for _ in range(64):
        for i in range(4096):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            table[i] = (table[i] + x) & 0xFFFFFFFF
    return table[0]


def _fuzz_fault_pc(elf: str, path: Path, *flags: str) -> int:
    """The fault pc `pltvm fuzz ELF FILE` (no gdb) reports for the crash file ``path``."""
    r = subprocess.run([sys.executable, "-m", "pltvm", "fuzz", elf, str(path), *flags],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 77, r.stderr
    m = re.search(r"==pltvm== ERROR: crash: .* at pc (0x[0-9a-f]+)", r.stderr)
    assert m, r.stderr
    return int(m.group(1), 16)


@needs_gdb
def test_fuzz_gdb_stops_at_the_faulting_instruction_the_fuzzer_reports(tmp_path: Path) -> None:
    crash = tmp_path / "crash-magic"
    crash.write_bytes(b"PLZM")
    pc = _fuzz_fault_pc("fuzz-magic4", crash)
    out, rc, _, err, _ = served(["fuzz", "fuzz-magic4", str(crash), "--gdb", ":0"], ENCLAVES / "fuzz-magic4.elf",
                                "print/x $a0", "print/x $a1", "continue", "print/x $pc", "x/i $pc",
                                "print/x *(unsigned int *)0x3900000008", "continue", "kill")
    # before the first instruction a0/a1 are the shm's base and size, as the fuzzer delivers them
    # (the default -max_len=4096: 4096 + 8 bytes rounded up to pages)
    assert re.search(r"^\$1 = 0x3900000000\n\$2 = 0x2000$", out, re.M), out
    assert "Program received signal SIGSEGV" in out, out
    assert re.search(rf"^\$3 = {pc:#x}$", out, re.M), out
    assert re.search(rf"=> {pc:#x} <main\+\d+>:\s+sw\s", out), "the store has not run: pc is on it"
    assert re.search(r"^\$4 = 0x4d5a4c50$", out, re.M), "the input in the shm after its length"
    assert rc == 77 and f"crash: store page fault at pc {pc:#x}" in err and "(under gdb)" in err, err


@needs_gdb
def test_fuzz_gdb_continues_a_deferred_target_from_its_snapshot(tmp_path: Path) -> None:
    key = _fuzz_init_key0()
    assert key == FUZZ_INIT_KEY0
    crash = tmp_path / "crash-init"
    crash.write_bytes(bytes([0]) + key.to_bytes(4, "little"))
    pc = _fuzz_fault_pc("fuzz-init", crash)
    out, rc, stdout, err, _ = served(["fuzz", "fuzz-init", str(crash), "--gdb", ":0"], ENCLAVES / "fuzz-init.elf",
                                     "print *(unsigned int *)&inits", "continue", "print/x $pc", "x/i $pc",
                                     "info registers", "kill")
    assert re.search(r"^\$1 = 1$", out, re.M), "the initialisation already ran (the snapshot)"
    assert "Program received signal SIGSEGV" in out, out
    assert re.search(rf"^\$2 = {pc:#x}$", out, re.M), out
    assert re.search(rf"=> {pc:#x} <main\+\d+>:\s+sw\s", out), out
    assert re.search(rf"^\w+\s+{key:#x}\s", out, re.M), "the key is in a register before the store"
    assert "table ready" not in stdout, "the initialisation's print is not repeated"
    assert rc == 77


@needs_gdb
def test_fuzz_gdb_stops_with_sigxcpu_when_the_budget_runs_out(tmp_path: Path) -> None:
    hang = tmp_path / "timeout-hang"
    hang.write_bytes(b"HANG")
    plain = subprocess.run([sys.executable, "-m", "pltvm", "fuzz", "fuzz-hang", str(hang), "-max_instructions=20000"],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 70, plain.stderr
    out, rc, _, err, _ = served(["fuzz", "fuzz-hang", str(hang), "-max_instructions=20000", "--gdb", ":0"],
                                ENCLAVES / "fuzz-hang.elf", "continue", "monitor instret", "print *(unsigned long *)&spins > 0",
                                "kill")
    assert "Program received signal SIGXCPU" in out, out
    assert re.search(r"^\$1 = 1$", out, re.M), out
    assert rc == 70 and "after the budget ran out" in err, err


@needs_gdb
def test_fuzz_gdb_an_input_that_does_not_crash_exits_normally(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    ok.write_bytes(b"\x01\x02\x03")
    out, rc, _, err, _ = served(["fuzz", "fuzz-hang", str(ok), "--gdb", ":0"], ENCLAVES / "fuzz-hang.elf", "continue")
    assert "[Inferior 1 (process 1) exited with code 06]" in out, out
    assert rc == 0 and "ok, exit value 6 under gdb" in err, err


@pytest.mark.parametrize("args, message", [
    (["a", "b"], "--gdb reproduces exactly one input FILE, got 2 file(s)"),
    ([], "--gdb reproduces exactly one input FILE, got 0 file(s)"),
    (["DIR"], "--gdb reproduces exactly one input FILE, got 0 file(s) and 1 directory"),
    (["a", "--gdb"], "--gdb needs an address"),
    (["a", "--gdb", "x:y"], "--gdb: address 'x:y': the port must be a number"),
    (["a", "--gdb=:1", "--gdb", ":2"], "--gdb given twice"),
])
def test_fuzz_gdb_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "DIR").mkdir()
    argv = [str(tmp_path / a) if a in ("a", "b", "DIR") else a for a in args]
    if "--gdb" not in " ".join(args):
        argv += ["--gdb", ":0"]
    r = subprocess.run([sys.executable, "-m", "pltvm", "fuzz", "fuzz-magic4", *argv],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "waiting for gdb" not in r.stderr


@needs_gdb
def test_exec_gdb_system_starts_the_kernel_in_s_mode_under_the_monitor() -> None:
    from pltvm import programs

    kernel = programs.path("host-kernel")
    out, rc, stdout, err, _ = served(["exec", "--system", "--gdb", ":0", str(kernel)], kernel,
                                     "info registers pc priv", "continue")
    assert re.search(r"^priv\s+0x1\s+prv:1 \[Supervisor\]$", out, re.M), out
    assert "[Inferior 1 (process 1) exited normally]" in out, out
    assert "hello world!" in stdout and rc == 0, (stdout, err)
