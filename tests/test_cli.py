"""The `pltvm` command line (`python -m pltvm`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    A0,
    A1,
    A2,
    A7,
    EBREAK,
    ECALL,
    PF_R,
    PF_X,
    REPO,
    SP,
    SYS_EXIT,
    SYS_WRITE,
    Seg,
    T0,
    T1,
    T2,
    USER_BASE,
    ZERO,
    addi,
    auipc,
    bare_exit_program,
    bare_loop_program,
    bare_signature_program,
    code,
    jal,
    lbu,
    li,
    needs_native,
    run_cli,
    sd,
    user_exit_program,
    user_illegal_program,
    user_loop_program,
    user_write_exit_program,
)

from pltvm import cli
from pltvm.cli import exec as cli_exec

# --- pure-Python parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [("4096", 4096), ("64M", 64 << 20), ("64m", 64 << 20), ("1G", 1 << 30), ("16K", 16 << 10),
     ("64MiB", 64 << 20), ("0x1000", 4096), ("2gb", 2 << 30)],
)
def test_parse_size(text: str, value: int) -> None:
    assert cli.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "M", "12X", "-1", "0", "1.5G", "64 M B"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        cli.parse_size(text)


@pytest.mark.parametrize(
    "reason,code,cause,status",
    [
        ("exit", 0, None, 0), ("exit", 7, None, 7), ("exit", 256 + 3, None, 3),
        ("exit", -1 & ((1 << 64) - 1), None, 255),
        ("fault", None, 2, 132), ("fault", None, 3, 133),
        ("fault", None, 0, 135), ("fault", None, 4, 135), ("fault", None, 6, 135),
        ("fault", None, 1, 139), ("fault", None, 5, 139), ("fault", None, 7, 139),
        ("fault", None, 12, 139), ("fault", None, 13, 139), ("fault", None, 15, 139),
        ("fault", None, 8, 134), ("fault", None, (1 << 63) | 7, 134),
        ("budget", None, None, 124), ("halt", None, None, 125),
    ],
)
def test_exit_status(reason: str, code: int, cause: int, status: int) -> None:
    assert cli.exit_status(reason, code, cause) == status


def test_cause_names() -> None:
    assert cli.cause_name(2) == "illegal instruction"
    assert cli.cause_name(13) == "load page fault"
    assert cli.cause_name((1 << 63) | 7) == "machine timer interrupt"


@pytest.mark.parametrize(
    "args,head,guest",
    [
        (["prog"], ["prog"], []),
        (["--stats", "prog", "-x", "--stats"], ["--stats", "prog"], ["-x", "--stats"]),
        (["--max-instructions", "5", "prog", "a"], ["--max-instructions", "5", "prog"], ["a"]),
        (["--max-instructions=5", "prog", "a"], ["--max-instructions=5", "prog"], ["a"]),
        (["--bare", "--signature", "s.txt", "t.elf"], ["--bare", "--signature", "s.txt", "t.elf"], []),
        (["--", "-weird", "-a"], ["--", "-weird"], ["-a"]),
        (["--stats"], ["--stats"], []),
    ],
)
def test_split_exec_args(args: list[str], head: list[str], guest: list[str]) -> None:
    assert cli_exec.split_args(args) == (head, guest)


def test_help_documents_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec", "--help"]) == 0
    out = capsys.readouterr().out
    for fragment in ("124", "128 + signal", "--max-instructions", "--signature", "--ram-size"):
        assert fragment in out


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["exec"]) == 2
    err = capsys.readouterr().err
    assert "pltvm: error:" in err
    assert cli.main(["exec", "--ram-size", "lots", "x"]) == 2
    assert "invalid size" in capsys.readouterr().err
    assert cli.main(["exec", "--misaligned", "maybe", "x"]) == 2
    assert "pltvm: error:" in capsys.readouterr().err
    assert cli.main(["exec", "--user", "--signature", "s.txt", "x"]) == 2
    assert "--signature needs --bare" in capsys.readouterr().err
    assert cli.main(["exec", "--bare", "--user", "x"]) == 2
    capsys.readouterr()
    assert cli.main(["exec", str(tmp_path / "definitely-missing")]) == 2
    assert "no such file or bundled program" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2
    capsys.readouterr()
    assert cli.main([]) == 2


def test_programs_lists_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    import pltvm.programs

    assert cli.main(["programs"]) == 0
    out = capsys.readouterr().out.split()
    assert out == pltvm.programs.names()
    for name in out:
        assert pltvm.programs.path(name).is_file()
        assert pltvm.programs.path(name + ".elf") == pltvm.programs.path(name)
    with pytest.raises(FileNotFoundError):
        pltvm.programs.path("no-such-program")
    with pytest.raises(FileNotFoundError):
        pltvm.programs.path("../programs/hello")


# --- running programs (needs the native module) ----------------------------------------------------


@needs_native
def test_version() -> None:
    r = run_cli("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"pltvm \S+\n", r.stdout.decode())


@needs_native
@pytest.mark.parametrize("status", [0, 1, 7, 42, 255, 256 + 5])
def test_exit_status_propagates(write_elf, status: int) -> None:
    r = run_cli("exec", str(write_elf(*user_exit_program(status))))
    assert r.returncode == status & 0xFF, r.stderr.decode()
    assert r.stderr == b""


@needs_native
def test_guest_output_and_args(write_elf) -> None:
    p = write_elf(*user_write_exit_program(b"out!\n", 3))
    r = run_cli("exec", "--user", str(p), "--stats", "-x")  # guest args, not pltvm options
    assert r.returncode == 3
    assert r.stdout == b"out!\n"
    assert r.stderr == b""  # --stats went to the guest


def _argc_program() -> tuple[list[Seg], int]:
    """User: exit(argc)."""
    text = code(lbu(A0, 0, SP), li(A7, SYS_EXIT), ECALL)
    return [Seg(USER_BASE, text)], USER_BASE


@needs_native
def test_guest_receives_all_args(write_elf) -> None:
    p = write_elf(*_argc_program())
    assert run_cli("exec", str(p)).returncode == 1
    assert run_cli("exec", str(p), "a", "--bare", "-", "--").returncode == 5
    assert run_cli("exec", "--", str(p), "a").returncode == 2


@needs_native
def test_stats_line(write_elf) -> None:
    r = run_cli("exec", "--stats", str(write_elf(*user_exit_program(0))))
    assert r.returncode == 0
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    m = re.fullmatch(r"pltvm: (\d+) instructions in (\d+\.\d{3}) s, (\d+\.\d) MIPS", lines[0])
    assert m, lines[0]
    assert int(m.group(1)) == 3


@needs_native
def test_budget_exit(write_elf) -> None:
    r = run_cli("exec", "--max-instructions", "1000", str(write_elf(*user_loop_program())))
    assert r.returncode == 124
    assert "pltvm: instruction budget exhausted after 1000 instructions" in r.stderr.decode()


@needs_native
def test_budget_with_stats(write_elf) -> None:
    r = run_cli("exec", "--stats", "--max-instructions=500", str(write_elf(*user_loop_program())))
    assert r.returncode == 124
    lines = r.stderr.decode().splitlines()
    assert any(re.fullmatch(r"pltvm: 500 instructions in \d+\.\d{3} s, \d+\.\d MIPS", ln) for ln in lines)


@needs_native
def test_illegal_instruction_fault(write_elf) -> None:
    r = run_cli("exec", str(write_elf(*user_illegal_program())))
    err = r.stderr.decode()
    assert r.returncode == 132, err
    assert re.search(
        r"pltvm: fault: illegal instruction \(mcause=2\) at pc=0x10004, tval=0x[0-9a-f]+", err
    ), err
    assert "Traceback" not in err


@needs_native
def test_breakpoint_fault(write_elf) -> None:
    p = write_elf([Seg(USER_BASE, code(EBREAK))], USER_BASE)
    r = run_cli("exec", str(p))
    assert r.returncode == 133
    assert "pltvm: fault: breakpoint (mcause=3)" in r.stderr.decode()


@needs_native
def test_load_access_fault(write_elf) -> None:
    # lbu a0, 0(t0) with t0 = 0x100: nothing is mapped there.
    p = write_elf([Seg(USER_BASE, code(addi(T0, ZERO, 0x100), lbu(A0, 0, T0)), flags=PF_R | PF_X)], USER_BASE)
    r = run_cli("exec", str(p))
    err = r.stderr.decode()
    assert r.returncode == 139, err
    assert "tval=0x100" in err


@needs_native
def test_bare_exit_and_ram_size(write_elf) -> None:
    p = write_elf(*bare_exit_program(21))
    r = run_cli("exec", "--bare", "--ram-size", "64M", str(p))
    assert r.returncode == 21, r.stderr.decode()
    r = run_cli("exec", "--bare", "--misaligned", "trap", str(p))
    assert r.returncode == 21


@needs_native
def test_bare_budget(write_elf) -> None:
    r = run_cli("exec", "--bare", "--max-instructions", "1_000", str(write_elf(*bare_loop_program())))
    assert r.returncode == 124


@needs_native
def test_signature_file(write_elf, tmp_path: Path) -> None:
    sig = tmp_path / "sig.txt"
    r = run_cli("exec", "--bare", "--signature", str(sig), str(write_elf(*bare_signature_program())))
    assert r.returncode == 0, r.stderr.decode()
    assert sig.read_text() == "deadbeef\n00000001\n12345678\n"


@needs_native
def test_signature_needs_symbols(write_elf, tmp_path: Path) -> None:
    r = run_cli("exec", "--bare", "--signature", str(tmp_path / "s"), str(write_elf(*bare_exit_program(0))))
    err = r.stderr.decode()
    assert r.returncode == 2 and "begin_signature" in err and "Traceback" not in err


@needs_native
def test_bare_rejects_guest_args(write_elf) -> None:
    r = run_cli("exec", "--bare", str(write_elf(*bare_exit_program(0))), "arg")
    assert r.returncode == 2 and "pltvm: error:" in r.stderr.decode()


HELLO = REPO / "python" / "pltvm" / "programs" / "hello.elf"


@needs_native
@pytest.mark.skipif(not HELLO.is_file(), reason="bundled hello.elf not present")
def test_bundled_hello(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Run from an empty directory so that `hello` is not a file there.
    r = subprocess.run(
        [sys.executable, "-m", "pltvm", "exec", "--stats", "hello", "a", "b c"],
        cwd=tmp_path, capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr.decode()
    # tests/user/hello.c: a greeting, then argc and each guest argument (the program name counts).
    assert r.stdout == b"Hello, world from pltvm!\nargc = 3\nargv[1] = a\nargv[2] = b c\n"
    assert re.search(rb"^pltvm: \d+ instructions in \d+\.\d{3} s, \d+\.\d MIPS$", r.stderr, re.M)


@needs_native
def test_python_main_function(write_elf, capfd: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec", str(write_elf(*user_write_exit_program(b"inproc\n", 9)))]) == 9
    assert capfd.readouterr().out == "inproc\n"


def _ready_then_spin_program() -> tuple[list[Seg], int]:
    """User: write(1, "R", 1); then `j .` forever."""
    n = 7
    text = code(
        li(A0, 1),
        auipc(A1, 0),
        addi(A1, A1, 4 * (n - 1)),
        li(A2, 1),
        li(A7, SYS_WRITE),
        ECALL,
        jal(ZERO, 0),
    )
    assert len(text) == 4 * n
    return [Seg(USER_BASE, text + b"R")], USER_BASE


@needs_native
def test_ctrl_c(write_elf) -> None:
    import signal
    import subprocess
    import sys

    p = write_elf(*_ready_then_spin_program())
    proc = subprocess.Popen(
        [sys.executable, "-m", "pltvm", "exec", "--stats", str(p)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.read(1) == b"R"  # the guest is running inside Machine.run
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert proc.returncode == 130, text
    assert "pltvm: interrupted after" in text
    assert re.search(r"^pltvm: \d+ instructions in \d+\.\d{3} s, \d+\.\d MIPS$", text, re.M), text
    assert "Traceback" not in text


# The bytes the misaligned-load program stores at sp (two aligned doublewords), and what it loads.
_MISALIGNED_WORDS = (0x1D2C_3B4A_5968_7786, 0xE1F2_0314_2536_4758)
_MISALIGNED_OFFSET = 3


def _misaligned_load_program() -> tuple[list[Seg], int]:
    """User: store two known doublewords at sp (16-aligned), ld a0, 3(sp) (misaligned, straddling
    both), fold the eight loaded bytes into one by xor, exit(that byte)."""

    def r_type(f7: int, rs2: int, rs1: int, f3: int, rd: int) -> int:
        return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x33

    def srli(rd: int, rs1: int, sh: int) -> int:
        return (sh << 20) | (rs1 << 15) | (5 << 12) | (rd << 7) | 0x13

    def slli(rd: int, rs1: int, sh: int) -> int:
        return (sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13

    def li64(rd: int, value: int) -> list[int]:  # rd = value, via t1 (high half) and t2 (low)
        hi, lo = value >> 32, value & 0xFFFF_FFFF
        return [*li(T1, hi - (1 << 32) if hi >> 31 else hi), slli(T1, T1, 32),
                *li(T2, lo - (1 << 32) if lo >> 31 else lo), slli(T2, T2, 32), srli(T2, T2, 32),
                r_type(0, T2, T1, 6, rd)]  # or

    ld_a0 = (_MISALIGNED_OFFSET << 20) | (SP << 15) | (3 << 12) | (A0 << 7) | 0x03
    fold = []
    for sh in (32, 16, 8):
        fold += [srli(A1, A0, sh), r_type(0, A1, A0, 4, A0)]  # a0 ^= a0 >> sh
    text = code(
        li64(A0, _MISALIGNED_WORDS[0]), sd(A0, 0, SP),
        li64(A0, _MISALIGNED_WORDS[1]), sd(A0, 8, SP),
        ld_a0, fold, li(A7, SYS_EXIT), ECALL,
    )
    return [Seg(USER_BASE, text)], USER_BASE


def _misaligned_status(offset: int) -> int:
    """The program's exit status had its load read the 8 bytes at sp + offset (computed here
    from the stored words, not by the emulator)."""
    mem = b"".join(w.to_bytes(8, "little") for w in _MISALIGNED_WORDS)
    status = 0
    for b in mem[offset:offset + 8]:
        status ^= b
    return status


@needs_native
def test_misaligned_option(write_elf) -> None:
    p = write_elf(*_misaligned_load_program())
    r = run_cli("exec", str(p))  # emulated by default: the load completes
    status = _misaligned_status(_MISALIGNED_OFFSET)
    assert status not in (0, _misaligned_status(0), _misaligned_status(8))  # the bytes tell loads apart
    assert (r.returncode, r.stderr) == (status, b""), r.stderr.decode()
    r = run_cli("exec", "--misaligned", "trap", str(p))
    err = r.stderr.decode()
    assert r.returncode == 135, err  # SIGBUS
    assert "pltvm: fault: load address misaligned (mcause=4)" in err


@needs_native
def test_bare_program_run_as_user_hints(write_elf) -> None:
    segs, entry = user_illegal_program()
    p = write_elf(segs, entry, {"tohost": USER_BASE + 0x100})
    r = run_cli("exec", str(p))
    assert r.returncode == 132
    assert "need --bare" in r.stderr.decode()
    r = run_cli("exec", str(write_elf(*user_illegal_program())))
    assert "--bare" not in r.stderr.decode()


def test_closed_stdout_ends_quietly() -> None:
    """`pltvm ... | head` must not print a traceback or an error when the reader goes away."""
    p = subprocess.Popen([sys.executable, "-m", "pltvm", "enclaves"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()
    err = p.stderr.read()
    rc = p.wait(timeout=60)
    assert rc in (0, 141), (rc, err)
    assert b"Traceback" not in err and b"error" not in err, err


# --- usage messages and hints (issue 9) ----------------------------------------------------------


def test_exec_without_elf_names_elf_with_the_exec_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: pltvm exec ")
    assert err.endswith("pltvm: error: the following arguments are required: ELF\n")
    assert cli.main(["exec", "--stats"]) == 2
    assert capsys.readouterr().err.endswith("required: ELF\n")


@pytest.mark.parametrize(
    "args,command,extra",
    [(["run", "hello-world", "4", "extra"], "run", "extra"),
     (["fork-host", "hello-world", "1", "x", "y"], "fork-host", "x y"),
     (["exec", "--bogus", "hello"], "exec", "--bogus"), (["programs", "extra"], "programs", "extra"),
     (["enclaves", "x"], "enclaves", "x"), (["measure", "hello-world", "extra"], "measure", "extra")],
)
def test_extra_arguments_print_the_subcommand_usage(capsys: pytest.CaptureFixture[str], args: list[str],
                                                    command: str, extra: str) -> None:
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: pltvm {command} ")
    assert err.endswith(f"pltvm: error: unrecognized arguments: {extra}\n")


def test_exec_of_a_bundled_enclave_name_points_to_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec", "hello-world"]) == 2
    assert "hello-world is a bundled enclave: pltvm run hello-world" in capsys.readouterr().err


@needs_native
def test_exec_of_an_enclave_elf_hints_pltvm_run(write_elf, tmp_path: Path) -> None:
    from pltvm import enclaves

    path = str(enclaves.path("hello-world"))
    r = run_cli("exec", path)
    err = r.stderr.decode()
    assert r.returncode == 139 and "pltvm: fault: store/AMO access fault" in err
    assert f"hint: this looks like a Penglai enclave (it defines EAPP_RETURN); enclaves run in the monitor: " \
        f"pltvm run {path}\n" in err
    # Without symbols: linked at 0x1000 with its entry there, like the SDK's enclaves.
    stripped = write_elf([Seg(0x1000, code(addi(A0, ZERO, 3), 0))], 0x1000)
    err = run_cli("exec", str(stripped)).stderr.decode()
    assert "hint: this looks like a Penglai enclave (it is linked at 0x1000 like the SDK's enclaves)" in err
    # An ordinary program that faults gets no such hint.
    err = run_cli("exec", str(write_elf(*user_illegal_program()))).stderr.decode()
    assert "pltvm: fault:" in err and "enclave" not in err
