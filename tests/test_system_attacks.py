"""Attacks an untrusted S-mode host kernel might try on the system machine; every one must fail.

Each attack is a command of the bundled host kernel (guest/system/host-kernel/attacks.c,
docs/host-kernel.md), selected by patching its ``.host_command`` section. An attack prints the
monitor's answers as ``host-kernel: <name> = <value>`` and, where the protection is a trap, ends
with a real access: the kernel's trap handler prints
``host-kernel: trap cause=<n> tval=0x<16 hex> sepc=0x<16 hex>`` and exits with 100 + cause.
``ATTACK SUCCEEDED`` (exit 1) would mean the protection did not hold.
"""

from __future__ import annotations

from pathlib import Path

from host_kernel_support import (
    ALIAS_VA,
    BITMAP_BASE,
    FIRST_BLOCK,
    MONITOR_BASE,
    PGD_ROOT,
    TRAP_EXIT,
    Run,
    run_command,
)

PAGE = 0x1000
MEGA = 0x20_0000
ILLEGAL_INSTRUCTION, LOAD_ACCESS, STORE_ACCESS, LOAD_PAGE_FAULT = 2, 5, 7, 13


def trapped(run: Run, cause: int, tval: int | None = None) -> None:
    """The run ended in the kernel's trap handler with this cause (and tval)."""
    assert "ATTACK SUCCEEDED" not in run.out, run.out
    t = run.trap()
    assert t is not None, f"no trap line:\n{run.out}\n{run.err}"
    assert t[0] == cause, run.out
    if tval is not None:
        assert t[1] == tval, f"tval {t[1]:#x} != {tval:#x}\n{run.out}"
    assert run.status == TRAP_EXIT + cause


def values(run: Run, expected: dict[str, str]) -> None:
    assert {k: run.value(k) for k in expected} == expected


def test_direct_store_into_the_pt_area_is_a_store_access_fault(tmp_path: Path) -> None:
    run = run_command("pt-store", tmp_path)
    values(run, {
        "attack.pt_read": "ok",                # the PT area stays readable
        "attack.pt_store_pmd": "cause 7",
        "attack.pt_store_pte": "cause 7",
    })
    trapped(run, STORE_ACCESS, PGD_ROOT + 8)


def test_satp_outside_the_pgd_sub_area_is_an_illegal_instruction(tmp_path: Path) -> None:
    run = run_command("satp", tmp_path)
    values(run, {
        "satp.normal_ram_root": "cause 2",     # a table the kernel wrote freely
        "satp.pt_base_root": "cause 2",        # must be strictly above the PT-area base
        "satp.pmd_area_root": "cause 2",
        "satp.pte_area_root": "cause 2",
        "satp.sv48_mode": "cause 2",
        "satp.bare_mode": "cause 2",           # paging cannot be switched off either
        "satp.kernel_root": "ok",              # control: the real root is accepted
        "satp.unchanged": "1",
    })
    trapped(run, ILLEGAL_INSTRUCTION)
    # stval is the instruction, as a redirected illegal-instruction trap carries it:
    # csrrw x0, satp, rs1
    tval = run.trap()[1]  # type: ignore[index]
    assert tval & 0xFFF0_7FFF == 0x1800_1073, hex(tval)


def test_monitor_region_is_not_accessible(tmp_path: Path) -> None:
    run = run_command("read-monitor", tmp_path)
    values(run, {"attack.monitor_store": "cause 7", "attack.monitor_keys_load": "cause 5"})
    trapped(run, LOAD_ACCESS, MONITOR_BASE)


def test_bitmap_is_not_accessible(tmp_path: Path) -> None:
    run = run_command("read-bitmap", tmp_path)
    values(run, {"attack.bitmap_store": "cause 7"})
    trapped(run, LOAD_ACCESS, BITMAP_BASE)
