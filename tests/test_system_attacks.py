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

import pytest

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


def test_set_pte_cannot_map_a_secure_frame(tmp_path: Path) -> None:
    """SET_PTE refuses (-1) every entry that would map a secure frame (here: a block donated
    with MEMORY_EXTEND), stores nothing, and the refused VA is unusable (load page fault)."""
    run = run_command("set-pte-secure", tmp_path)
    values(run, {
        "attack.donate": "0",
        "attack.set_one_4k": "-1",
        "attack.set_one_4k_entry": "0x0",
        "attack.set_one_2m": "-1",          # a 2 MiB leaf over the enclave's block
        "attack.set_one_2m_entry": "0x0",
        "attack.pointer_outside_pte_area": "-1",
        "attack.pgd_outside_pmd_area": "-1",
        "attack.memcpy": "-1",              # flag 3, second source entry secure: nothing stored
        "attack.memcpy_entry0": "0x0",
        "attack.memcpy_entry1": "0x0",
        "attack.batch_set": "-1",           # flag 5 stops at the bad entry; the public one stays
        "attack.batch_set_entry1": "0x0",
        "attack.use_4k": "cause 13",
        "attack.use_2m": "cause 13",
    })
    trapped(run, LOAD_PAGE_FAULT, ALIAS_VA + PAGE)


def test_set_pte_bit63_does_not_bypass_the_check(tmp_path: Path) -> None:
    """Penglai skips its checks for entries with bit 63 set ("PGD values"); a leaf with bit 63
    set that maps a secure frame must not give access to it."""
    run = run_command("set-pte-secure", tmp_path)
    assert run.value("attack.bit63") == "-1"
    assert run.value("attack.bit63_entry") == "0x0"
    assert run.value("attack.bit63_use") == "cause 13"


GADGET = [
    "set_one_monitor", "set_one_bitmap", "set_one_secure", "set_one_ram",   # outside the PT area
    "set_one_unaligned", "set_one_straddles_pt_end",
    "memset_bitmap", "memset_past_pt_end", "memset_nonzero",
    "memcpy_to_secure", "memcpy_size_overflow",
    "batch_zero_monitor", "batch_zero_overflow", "batch_count_overflow",
    "bad_flag", "memset_2_63", "memcpy_2_40",
    "extend_zero", "extend_unaligned", "extend_overflow", "extend_pt_area",
    "extend_part_of_a_2m_leaf",                  # would unmap the kernel's own 2 MiB leaf in part
    "map_pte_into_secure", "map_pte_into_monitor",
    "sm_init_again", "separation_again",         # a second PT area the kernel could write
]


def test_monitor_is_not_a_write_gadget(tmp_path: Path) -> None:
    """SET_PTE / MAP_PTE / MEMORY_EXTEND with destinations outside the PT area, sizes that
    overflow, and a second SM_INIT / PT_AREA_SEPARATION: every one -1; an unknown fid -2; a
    legitimate SET_PTE afterwards still works."""
    run = run_command("write-gadget", tmp_path)
    assert run.status == 0 and run.trap() is None, run.out + run.err
    expected = {f"gadget.{n}": "-1" for n in GADGET}
    expected |= {"gadget.donate": "0", "gadget.unknown_fid": "-2", "gadget.legit_after": "0"}
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


def test_stale_2mib_mapping_of_donated_memory_page_faults(tmp_path: Path) -> None:
    """MEMORY_EXTEND donates a block the kernel maps with a 2 MiB leaf: the leaf loses V."""
    run = run_command("stale-read", tmp_path)
    values(run, {"stale.read_before": "ok", "stale.donate": "0"})
    trapped(run, LOAD_PAGE_FAULT, FIRST_BLOCK + 0x3000)


def test_stale_4kib_mapping_of_donated_memory_page_faults(tmp_path: Path) -> None:
    """The same after MAP_PTE split the leaf: all 512 4 KiB leaves lose V."""
    run = run_command("stale-read-4k", tmp_path)
    values(run, {"stale.map_pte": "0", "stale.read_before": "ok", "stale.donate": "0"})
    trapped(run, LOAD_PAGE_FAULT, FIRST_BLOCK + 0x3000)


def test_live_enclave_block_is_out_of_the_kernels_reach(tmp_path: Path) -> None:
    """With an enclave alive: SET_PTE onto its block -1, CREATE on the same block or across it
    -1 (the overlapped neighbour stays public), a read through the kernel's old mapping while
    the enclave waits in its print OCALL is a page fault; after the exit the block is public
    again and scrubbed (its root table reads zero)."""
    run = run_command("enclave-victim", tmp_path)
    values(run, {
        "victim.create": "0",
        "victim.set_one_4k": "-1",
        "victim.set_one_2m": "-1",
        "victim.entries": "0x0",
        "victim.create_same_block": "-1",
        "victim.create_overlapping": "-1",
        "victim.overlap_block_public": "ok",
        "victim.run": "0",
        "victim.read_during_ocall": "cause 13",
        "victim.read_after_exit": "ok",
        "victim.root_read_after_exit": "ok",
        "victim.root_entry0_after_exit": "0x0",
    })
    assert run.status == 0 and run.trap() is None
    assert run.out.count("hello world!\n") == 1


def test_stale_mapping_of_an_enclave_block_page_faults(tmp_path: Path) -> None:
    """CREATE makes the block secure and clears the kernel's leaf that maps it."""
    run = run_command("stale-enclave", tmp_path)
    values(run, {"stale.read_before": "ok", "stale.create": "0"})
    trapped(run, LOAD_PAGE_FAULT, FIRST_BLOCK + 0x3000)


def test_monitor_refuses_host_buffers_that_run_into_secure_memory(tmp_path: Path) -> None:
    """Penglai checks only the first page of a host buffer; pltvm checks every byte the monitor
    reads: a buffer whose first bytes are public and whose later bytes are secure (a block
    donated with MEMORY_EXTEND) is refused, and the refused call has no effect."""
    run = run_command("copy-mixed", tmp_path)
    values(run, {
        "copy.victim_donate": "0",
        "copy.dbcn_straddles": "-3",             # the console would print secure bytes
        "copy.memcpy_source_straddles": "-1",    # SET_PTE flag 3 source array
        "copy.batch_list_straddles": "-1",       # SET_PTE flag 5 {ptep, entry} list
        "copy.memory_extend_straddles": "-1",    # donating a range that is partly secure already
        "copy.extend_refused_page_public": "ok",  # ... left its public page alone
    })
    assert run.status == 0 and run.trap() is None


def test_enclave_calls_refuse_parameter_blocks_that_run_into_secure_memory(tmp_path: Path) -> None:
    run = run_command("copy-mixed-enclave", tmp_path)
    values(run, {
        "copy.victim_donate": "0",
        "copy.create_param_straddles": "-1",
        "copy.block_still_public": "ok",         # the refused CREATE did not secure the block
        "copy.eid_ptr_secure": "-1",
        "copy.retval_secure": "-1",
        "copy.kbuffer_secure": "-1",
        "copy.eid_ptr_straddles": "-1",
        "copy.good_create": "0",
        "copy.run_param_straddles": "-1",
        "copy.good_run": "0",
    })
    assert run.status == 0 and run.trap() is None
    assert run.out.count("hello world!\n") == 1


def test_destroyed_enclave_id_cannot_be_used(tmp_path: Path) -> None:
    run = run_command("run-destroyed", tmp_path)
    values(run, {
        "destroyed.create": "0",
        "destroyed.destroy": "0",
        "destroyed.run": "-1",
        "destroyed.resume": "-1",
        "destroyed.stop": "-1",
        "destroyed.destroy_again": "-1",
        "destroyed.block_public": "ok",        # DESTROY gave the block back
        "destroyed.create_again": "0",
        "destroyed.run_again": "0",
    })
    assert run.status == 0 and run.trap() is None


def test_secure_memory_exhaustion_refuses_create_until_memory_is_freed(tmp_path: Path) -> None:
    """secure_memory = 8 MiB holds four 2 MiB enclave blocks: the fifth CREATE is refused with
    -2 (ENCLAVE_NO_MEM); destroying one makes room for a new enclave, which runs."""
    run = run_command("exhaust", tmp_path, secure_memory=8 << 20)
    values(run, {
        "exhaust.created": "4",
        "exhaust.refused": "-2",
        "exhaust.destroy_first": "0",
        "exhaust.create_after_free": "0",
        "exhaust.run_after_free": "0",
    })
    assert run.status == 0 and run.trap() is None
    assert run.out.count("hello world!\n") == 1


@pytest.mark.parametrize("secure_memory, created", [
    (0, 0),
    ((2 << 20) - 4096, 0),   # one page short of a block
    (2 << 20, 1),
    ((8 << 20) + 4096, 4),   # a page more than four blocks
])
def test_secure_memory_cap_counts_whole_blocks(tmp_path: Path, secure_memory: int, created: int) -> None:
    run = run_command("exhaust", tmp_path, secure_memory=secure_memory)
    values(run, {"exhaust.created": str(created), "exhaust.refused": "-2"})
    assert run.status == 0 and run.trap() is None
