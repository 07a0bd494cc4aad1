"""The system machine: an S-mode kernel under the Rust monitor (`pltvm.Machine.system`,
`pltvm exec --system`). The programs are tests/system/*.S, built into tests/system/build/."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, run_cli

import pltvm
from pltvm import cli
from pltvm.cli.common import EXIT_BUDGET
from pltvm.errors import ElfError
from pltvm.machine import DEFAULT_SYSTEM_RAM_SIZE, MONITOR_SIZE

BUILD = REPO / "tests" / "system" / "build"
HELLO = BUILD / "hello.elf"
TVM = BUILD / "tvm.elf"
# Linked at 0x8000_0000: inside the monitor's 2 MiB.
BARE_ELF = REPO / "tests" / "isa" / "build" / "rv64i.elf"


def test_machine_system_hands_over_in_s_mode_like_a_firmware() -> None:
    m = pltvm.Machine.system()
    assert (m.kind, m.ram_base, m.ram_size) == ("system", 0x8000_0000, DEFAULT_SYSTEM_RAM_SIZE)
    entry = m.load_elf(HELLO)
    assert entry == m.pc == 0x8020_0000
    assert (m.x[10], m.x[11]) == (0, 0), "a0 = hart id 0, a1 = no device tree"
    assert m.csr[0x180] == 0, "satp: bare"
    assert m.csr[0x302] == 0 and m.csr[0x303] == 0x222, "no exceptions delegated; S interrupts are"
    # PMP entry 0: the monitor's 2 MiB, NAPOT, no permissions; entry 7: everything, RWX.
    cfg0 = m.csr[0x3A0]
    assert cfg0 & 0xFF == 0x18 and (cfg0 >> 56) & 0xFF == 0x1F
    assert m.csr[0x3B0] == (0x8000_0000 >> 2) | ((MONITOR_SIZE >> 3) - 1)


def test_srst_reason_is_the_exit_code_and_the_console_is_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    m = pltvm.Machine.system(ram_size=8 << 20, secure_memory=0)
    m.load_elf(HELLO)
    ex = m.run(10_000)
    assert (ex.reason, ex.code) == ("exit", 7), ex
    assert capfd.readouterr().out == "hello from S-mode!\n"


def test_guarded_page_table_rules_seen_from_s_mode() -> None:
    m = pltvm.Machine.system()
    m.load_elf(TVM)
    ex = m.run(100_000)
    # Exit code = the first failed check of tvm.S (0: all passed).
    assert (ex.reason, ex.code) == ("exit", 0), ex
    assert m.csr[0x300] & (1 << 20), "mstatus.TVM is on after PT_AREA_SEPARATION"
    assert m.csr[0x180] == (8 << 60) | (0x8040_2000 >> 12), "the root the program switched to"


def test_an_s_mode_fault_without_a_handler_ends_the_run_with_its_cause() -> None:
    m = pltvm.Machine.system()
    # ld a0, 0(zero): address 0 is not RAM -> load access fault, stvec = 0 -> the run ends.
    m.mem_write(0x8020_0000, (0x00003503).to_bytes(4, "little"))
    m.pc = 0x8020_0000
    ex = m.run(10)
    assert (ex.reason, ex.cause, ex.tval, ex.pc) == ("fault", 5, 0, 0x8020_0000)
    # The monitor region: the same cause.
    m.x[11] = 0x8000_0000
    m.mem_write(0x8020_0000, (0x0005B503).to_bytes(4, "little"))  # ld a0, 0(a1)
    m.pc = 0x8020_0000
    ex = m.run(10)
    assert (ex.reason, ex.cause, ex.tval) == ("fault", 5, 0x8000_0000)


def test_the_kernel_must_not_overlap_the_monitor_region() -> None:
    m = pltvm.Machine.system()
    with pytest.raises(ElfError, match="outside RAM"):
        m.load_elf(BARE_ELF)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"ram_size": 0}, ValueError, "ram_size"),
        ({"ram_size": MONITOR_SIZE}, ValueError, "ram_size"),
        ({"ram_size": -1}, ValueError, "ram_size"),
        ({"ram_size": 1 << 41}, ValueError, "ram_size"),
        ({"ram_size": 1 << 64}, ValueError, "ram_size"),
        ({"ram_size": 2**70}, ValueError, "ram_size"),
        ({"ram_size": True}, TypeError, "ram_size"),
        ({"ram_size": 1.5}, TypeError, "ram_size"),
        ({"secure_memory": -1}, ValueError, "secure_memory"),
        ({"secure_memory": 1 << 63}, ValueError, "secure_memory"),
        ({"secure_memory": "1G"}, TypeError, "secure_memory"),
        ({"secure_memory": None}, TypeError, "secure_memory"),
    ],
)
def test_bad_arguments_are_typed_errors_naming_the_argument(kwargs: dict[str, object], exc: type, words: str) -> None:
    with pytest.raises(exc, match=words):
        pltvm.Machine.system(**kwargs)  # type: ignore[arg-type]


def test_native_binding_refuses_out_of_range_sizes() -> None:
    from pltvm import _core

    with pytest.raises(ValueError, match="ram_size"):
        _core.Machine.system(4096, 0)
    with pytest.raises(ValueError, match="secure_memory"):
        _core.Machine.system(1 << 24, 1 << 50)


def test_cli_exec_system_runs_the_kernel_and_exits_with_the_srst_reason() -> None:
    r = run_cli("exec", "--system", str(HELLO))
    assert r.returncode == 7, r.stderr
    assert r.stdout == b"hello from S-mode!\n"
    r = run_cli("exec", "--system", "--ram-size", "96M", str(TVM))
    assert r.returncode == 0, r.stderr


def test_cli_exec_system_reports_faults_and_budget(tmp_path: Path) -> None:
    r = run_cli("exec", "--system", "--max-instructions", "3", str(TVM))
    assert r.returncode == EXIT_BUDGET
    assert b"budget" in r.stderr
    r = run_cli("exec", "--system", str(BARE_ELF))
    assert r.returncode != 0 and b"outside RAM" in r.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--system", "--signature", "s.txt"], "--signature needs --bare"),
        (["--system", "--misaligned", "trap"], "--misaligned trap"),
        (["--system", "--ram-size", "1M"], "cannot create the machine"),
        (["--system", "--bare"], "not allowed with"),
    ],
)
def test_cli_exec_system_bad_arguments(args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec", *args, str(HELLO)]) == 2
    assert words in capsys.readouterr().err


def test_cli_exec_system_takes_no_program_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec", "--system", str(HELLO), "arg"]) == 2
    assert "takes no program arguments" in capsys.readouterr().err
