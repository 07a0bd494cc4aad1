"""The bundled S-mode host kernel (guest/system/host-kernel) on the system machine: the positive
paths. It plays the Penglai driver's part (docs/host-kernel.md): SM_INIT, PT_AREA_SEPARATION,
its own page tables written only through SET_PTE, then the embedded hello-world enclave is
created, run (its print OCALL served) and destroyed.

Every value asserted here is printed by the kernel as ``host-kernel: <name> = <value>``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from host_kernel_support import (
    FIRST_BLOCK,
    KERNEL,
    PGD_ROOT,
    TRAP_EXIT,
    kernel_with,
    run_command,
    run_kernel,
)

PAGE = 0x1000
KERNEL_LEAF = 0xCF  # V R W X A D


def leaf(pa: int, flags: int = KERNEL_LEAF) -> int:
    return ((pa >> 12) << 10) | flags


def test_bundled_as_a_program() -> None:
    import pltvm.programs

    assert "host-kernel" in pltvm.programs.names()
    assert pltvm.programs.path("host-kernel") == KERNEL.resolve()


def test_exec_system_runs_a_patched_kernel(tmp_path: Path) -> None:
    """`pltvm exec --system FILE`: the console is stdout, the SRST reason the exit status."""
    path = kernel_with("map-pte", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pltvm", "exec", "--system", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "host-kernel: split.map_pte = 0\n" in proc.stdout
    assert "PT_AREA_SEPARATION pgd_order=1 pmd_order=2 -> 0\n" in proc.stdout


def test_trap_exit_status_through_the_cli(tmp_path: Path) -> None:
    path = kernel_with("pt-store", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pltvm", "exec", "--system", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == TRAP_EXIT + 7, proc.stdout + proc.stderr
    assert f"host-kernel: trap cause=7 tval=0x{PGD_ROOT + 8:016x} " in proc.stdout


def test_kernel_needs_its_memory_plan(tmp_path: Path) -> None:
    """With RAM smaller than its plan (enclave blocks start at 0x8080_0000) the kernel says so
    and exits 1 instead of running into missing memory."""
    run = run_kernel(kernel_with("pte", tmp_path), ram_size=8 << 20)
    assert run.status == 1
    assert "host-kernel: panic: RAM ends at 0x80800000: the kernel needs at least 0x80a00000" in run.out


def test_unknown_command_exits_2(tmp_path: Path) -> None:
    run = run_command("no-such-command", tmp_path)
    assert run.status == 2
    assert 'host-kernel: unknown command "no-such-command"' in run.out


def test_legitimate_pte_writes_with_every_set_pte_flag(tmp_path: Path) -> None:
    run = run_command("pte", tmp_path)
    assert run.status == 0, run.out + run.err
    expected = {
        "pte.set_one": "0",                 # flag 1: a 4 KiB alias of a kernel page
        "pte.alias_load": "ok",
        "pte.alias_value": "0x1000",
        "pte.alias_store": "ok",
        "pte.identity_value": "0xabcd",     # written through the alias, read through the identity map
        "pte.clear_one": "0",
        "pte.after_clear": "cause 13",      # load page fault once the entry is 0
        "pte.memcpy": "0",                  # flag 3: four entries from an array
        "pte.memcpy_value": "0x1003",
        "pte.memset": "0",                  # flag 2: zero them
        "pte.after_memset": "cause 13",
        "pte.batch_set": "0",               # flag 5: {ptep, entry} list
        "pte.batch_set_value": "0x1003",
        "pte.batch_zero": "0",              # flag 4: {ptep_base, bytes} list
        "pte.after_batch_zero": "cause 13",
    }
    assert {k: run.value(k) for k in expected} == expected


SPLIT = {
    "split.map_pte": "0",
    "split.pmd_is_pointer": "1",
    "split.leaf3": hex(leaf(FIRST_BLOCK + 3 * PAGE)),  # same attributes as the 2 MiB leaf
    "split.read": "ok",
    "split.read_value": "0x5a5a5a5a",
    "split.clear_4k": "0",
    "split.cleared_page": "cause 13",
    "split.neighbour_page": "ok",
    "split.restore_4k": "0",
    "split.restored_page": "ok",
    "split.again": "-1",                 # no longer a 2 MiB leaf
    "split.entry_not_in_pmd": "-1",
    "split.page_not_in_pte_area": "-1",
}


def test_map_pte_splits_a_huge_leaf(tmp_path: Path) -> None:
    """MAP_PTE turns the 2 MiB leaf of a block into a pointer to 512 4 KiB leaves with the same
    attributes; single 4 KiB entries can then be changed through SET_PTE."""
    run = run_command("map-pte", tmp_path)
    assert run.status == 0, run.out + run.err
    assert {k: run.value(k) for k in SPLIT} == SPLIT


@pytest.mark.parametrize("command", ["pte", "map-pte"])
def test_positive_paths_take_no_trap(tmp_path: Path, command: str) -> None:
    run = run_command(command, tmp_path)
    assert run.trap() is None, run.out
    assert run.status == 0, run.out + run.err
    assert "ATTACK SUCCEEDED" not in run.out and "panic" not in run.out
