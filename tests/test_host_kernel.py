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

from pltvm import Machine

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
    # CI tests an installed wheel, so compare the bundled file's bytes, not its path.
    assert pltvm.programs.path("host-kernel").read_bytes() == KERNEL.read_bytes()


def test_exec_system_by_name_prints_the_enclaves_greeting() -> None:
    """`pltvm exec --system host-kernel`: the console shows only the enclave's text; the exit
    status is the enclave's return value (0)."""
    proc = subprocess.run([sys.executable, "-m", "pltvm", "exec", "--system", "host-kernel"],
                          capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout) == (0, "hello world!\n"), proc.stderr


def test_demo_logs_every_monitor_call(tmp_path: Path) -> None:
    run = run_command("demo", tmp_path)
    assert run.status == 0, run.out + run.err
    assert "hello world!\n" in run.out
    assert run.number("create") == 0
    assert run.number("eid") == 0  # the first monitor slot
    assert run.number("run") == 0
    assert run.number("retval") == 0
    # EAPP_RETURN already freed the enclave (docs/abi.md §2.2): DESTROY finds nothing
    assert run.number("destroy") == -1
    assert run.trap() is None
    # the boot log: the guarded page table was set up and satp points at the PGD root
    assert "PT_AREA_SEPARATION pgd_order=1 pmd_order=2 -> 0" in run.out
    assert f"satp=0x{(8 << 60) | (PGD_ROOT >> 12):016x}" in run.out


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


@pytest.mark.parametrize("ram_size, mapped_end, bitmap", [
    (10 << 20, 0x80A0_0000, (0x8060_0000, 2 << 20)),             # the least the plan needs
    ((10 << 20) + 4096, 0x80A0_0000, (0x8060_0000, 2 << 20)),    # a partial 2 MiB slot is unused
    ((256 << 20) - 4096, 0x8FE0_0000, (0x8060_0000, 2 << 20)),
    (2 << 30, 0x1_0000_0000, (0xFFC0_0000, 4 << 20)),           # bitmap grows, moves to the top
    (3 << 30, 0x1_4000_0000, (0x1_3FC0_0000, 4 << 20)),
    (8 << 30, 0x1_4000_0000, (0x2_7F00_0000, 16 << 20)),        # only 3 GiB are mapped
])
def test_ram_sizes(tmp_path: Path, ram_size: int, mapped_end: int, bitmap: tuple[int, int]) -> None:
    """The kernel finds RAM by probing, sizes the bitmap for all of it (one u32 per frame, at
    least 2 MiB) and maps what its four PMD pages can; the positive path works at every size."""
    run = run_kernel(kernel_with("pte", tmp_path), ram_size=ram_size)
    assert run.status == 0, run.out + run.err
    assert f"RAM 0x80000000..{mapped_end:#x}," in run.out
    base, size = bitmap
    assert f"bitmap={base:#x}+{size:#x} -> 0 (installed=1)" in run.out
    assert f"({(mapped_end - 0x8000_0000) >> 21} 2 MiB leaves," in run.out


def test_bitmap_at_the_top_of_a_large_ram_is_not_accessible(tmp_path: Path) -> None:
    run = run_kernel(kernel_with("read-bitmap", tmp_path), ram_size=3 << 30)
    assert run.trap() is not None and run.trap()[:2] == (5, 0x1_3FC0_0000), run.out  # type: ignore[index]
    assert run.status == TRAP_EXIT + 5


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


def test_split_block_donated_to_an_enclave_then_freed_and_remapped(tmp_path: Path) -> None:
    """Making the split block an enclave's clears V in all 512 leaves; the enclave's exit
    sets it again (free and remap)."""
    run = run_command("split", tmp_path)
    assert run.status == 0, run.out + run.err
    s = FIRST_BLOCK
    expected = dict(SPLIT) | {
        "split.create": "0",
        "split.secure_page": "cause 13",
        "split.leaf3_secure": hex(leaf(s + 3 * PAGE) & ~1),
        "split.run": "0",
        "split.retval": "0",
        "split.remapped_page": "ok",
        "split.leaf3_remapped": hex(leaf(s + 3 * PAGE)),
    }
    assert {k: run.value(k) for k in expected} == expected
    assert run.out.count("hello world!\n") == 1


def test_two_mib_leaf_donated_then_freed_and_reused(tmp_path: Path) -> None:
    run = run_command("remap", tmp_path)
    assert run.status == 0, run.out + run.err
    b = FIRST_BLOCK
    expected = {
        "remap.create": "0",
        "remap.pmd_secure": hex(leaf(b) & ~1),   # V cleared in the host's 2 MiB leaf
        "remap.secure_read": "cause 13",
        "remap.run": "0",
        "remap.retval": "0",
        "remap.pmd_freed": hex(leaf(b)),         # V set again when the enclave ended
        "remap.freed_read": "ok",
        "remap.create_again": "0",
        "remap.run_again": "0",
    }
    assert {k: run.value(k) for k in expected} == expected


@pytest.mark.parametrize("command", ["hello", "demo", "pte", "map-pte", "load", "split", "remap"])
def test_positive_paths_take_no_trap(tmp_path: Path, command: str) -> None:
    run = run_command(command, tmp_path)
    assert run.trap() is None, run.out
    assert run.status == 0, run.out + run.err
    assert "ATTACK SUCCEEDED" not in run.out and "panic" not in run.out


def test_kernel_runs_from_the_python_api(capfd: pytest.CaptureFixture[str]) -> None:
    """The bundled kernel in this process through pltvm.Machine.system (no CLI)."""
    import pltvm

    m = pltvm.Machine.system()
    m.load_elf(KERNEL)
    ex = m.run()
    assert (ex.reason, ex.code) == ("exit", 0)
    assert capfd.readouterr().out == "hello world!\n"


def _walk_enclave_table(m: Machine, root: int) -> dict[int, tuple[int, int, list[int]]]:
    """VA -> (PA, low 10 bits, [table PAs on the way]) for every valid leaf of an Sv39 table."""
    out: dict[int, tuple[int, int, list[int]]] = {}

    def visit(table: int, level: int, va: int, path: list[int]) -> None:
        raw = m.mem_read(table, PAGE)
        for i in range(512):
            pte = int.from_bytes(raw[8 * i:8 * i + 8], "little")
            if not pte & 1:
                continue
            v = va | (i << (12 + 9 * level))
            if level == 2 and i >= 256:
                v |= 0xFFFF_FF80_0000_0000  # sign-extend the upper half
            pa = (pte >> 10) << 12
            if pte & 0xE:
                assert level == 0, f"huge leaf at {v:#x}"
                out[v] = (pa, pte & 0x3FF, path + [table])
            else:
                visit(pa, level - 1, v, path + [table])

    visit(root, 2, 0, [])
    return out


def test_load_builds_the_block_as_the_penglai_driver_does(capfd: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    """The kernel's driver part alone (docs/abi.md §1.3, §1.4): hello-world in a 2 MiB block,
    its own Sv39 table in page 1, every mapped page inside the block with the driver's flags
    and the ELF's bytes, and the create_param filled for CREATE."""
    import pltvm
    import pltvm.enclaves
    from elftools.elf.elffile import ELFFile

    m = pltvm.Machine.system()
    m.load_elf(kernel_with("load", tmp_path))
    ex = m.run()
    out = capfd.readouterr().out
    assert (ex.reason, ex.code) == ("exit", 0), out
    res = dict(line.split(" = ") for line in out.splitlines() if line.startswith("host-kernel: load."))
    param, block = int(res["host-kernel: load.param"], 16), int(res["host-kernel: load.block"], 16)
    pages, nxt = int(res["host-kernel: load.pages"], 16), int(res["host-kernel: load.next"], 16)
    assert (block, pages) == (FIRST_BLOCK, 512)  # ceil(0x13e38 / 4 KiB) + 16 + 256 -> 512

    elf_path = Path(pltvm.enclaves.path("hello-world"))
    data = elf_path.read_bytes()
    expected: dict[int, tuple[int, bytes]] = {}
    for va in range(0x38_0000_0000 - 0x10000, 0x38_0000_0000, PAGE):
        expected[va] = (0xD7, b"")
    with elf_path.open("rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if sec["sh_type"] == "SHT_NOBITS" and sec["sh_addr"]:
                for va in range(sec["sh_addr"], sec["sh_addr"] + sec["sh_size"], PAGE):
                    expected[va] = (0xDF, b"")
        for seg in elf.iter_segments():
            h = seg.header
            for va in range(h.p_vaddr, h.p_vaddr + h.p_filesz, PAGE):
                off = h.p_offset + va - h.p_vaddr
                n = min(PAGE, h.p_vaddr + h.p_filesz - va)
                expected[va] = (0xDF if h.p_flags & 2 else 0xDB, data[off:off + n])
        entry = elf["e_entry"]

    leaves = _walk_enclave_table(m, block + PAGE)
    assert sorted(leaves) == sorted(expected)
    used = {block, block + PAGE, block + 2 * PAGE}
    for va, (flags, content) in expected.items():
        pa, got_flags, tables = leaves[va]
        assert got_flags == flags, hex(va)
        assert block + 3 * PAGE <= pa < block + pages * PAGE
        assert m.mem_read(pa, PAGE) == content.ljust(PAGE, b"\0"), hex(va)
        used.add(pa)
        used.update(tables)
    # pages handed out in order from page 3; the next one is free_mem
    assert len(used) == (nxt - block) // PAGE - 1
    assert all(block <= p < nxt - PAGE for p in used)
    free_mem = nxt - PAGE
    assert m.mem_read(block, PAGE) == bytes(PAGE) and m.mem_read(block + 2 * PAGE, PAGE) == bytes(PAGE)

    p = m.mem_read(param, 136)
    u64 = [int.from_bytes(p[i:i + 8], "little") for i in range(0, 136, 8)]
    assert p[8:24].rstrip(b"\0") == b"hello-world"
    assert int.from_bytes(p[24:28], "little") == 0  # NORMAL
    assert u64[4:8] == [block, pages * PAGE, entry, free_mem]
    kbuffer, kbuffer_size, shm_pa, shm_size = u64[8:12]
    assert kbuffer % PAGE == 0 and kbuffer_size == PAGE and (shm_pa, shm_size) == (0, 0)
    assert m.mem_read(kbuffer, PAGE) == bytes(PAGE)
    words = [u64[0], *u64[12:17]]  # eid_ptr, the four mailbox words, retval
    assert len(set(words)) == 6
    assert all(0x8020_0000 <= w < 0x8040_0000 for w in words)  # the kernel's own memory


def test_enclave_calls_refuse_bad_arguments(tmp_path: Path) -> None:
    """CREATE with a parameter block at PA 0 and RUN / RESUME / DESTROY of an id that does not
    exist: -1 each."""
    run = run_command("fids", tmp_path)
    expected = {"fids.create": "-1", "fids.run": "-1", "fids.resume": "-1", "fids.destroy": "-1"}
    assert {k: run.value(k) for k in expected} == expected
