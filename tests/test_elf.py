"""ELF parsing and validation: malformed files raise pltvm.ElfError naming the problem."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import (
    PF_R,
    PF_W,
    PT_INTERP,
    PT_PHDR,
    RAM_BASE,
    USER_BASE,
    Seg,
    bare_exit_program,
    code,
    jal,
    make_elf,
    make_elf_layout,
    needs_native,
    run_cli,
    user_exit_program,
    ZERO,
)

import pltvm
from pltvm.elf import ElfImage, check_bare_layout, check_user_layout, parse_elf


def valid_user_elf() -> bytes:
    segs, entry = user_exit_program(3)
    return make_elf(segs, entry)


def expect_error(path: Path, fragment: str) -> pltvm.ElfError:
    with pytest.raises(pltvm.ElfError) as info:
        parse_elf(path)
    assert fragment in str(info.value), str(info.value)
    return info.value


def test_error_hierarchy() -> None:
    assert issubclass(pltvm.ElfError, pltvm.PltvmError)
    assert issubclass(pltvm.PltvmError, Exception)
    assert not issubclass(pltvm.PltvmError, ValueError)


def test_valid_elf_parses(write_elf) -> None:
    segs, entry, syms = bare_exit_program(5)
    img = parse_elf(write_elf(segs, entry, syms))
    assert isinstance(img, ElfImage)
    assert img.entry == RAM_BASE
    assert [s.vaddr for s in img.segments] == [RAM_BASE, RAM_BASE + 0x1000]
    assert img.segments[0].executable and not img.segments[1].executable
    assert img.segments[0].data == segs[0].data
    assert img.symbol("tohost") == RAM_BASE + 0x1000
    assert img.symbol("fromhost") == RAM_BASE + 0x1008
    assert img.symbol("nonexistent") is None
    assert img.phnum == 2 and img.phentsize == 56
    check_bare_layout(img, RAM_BASE, 1 << 20)


def test_phdr_address_from_load_segment(write_elf) -> None:
    # A segment that maps the start of the file (ELF header + phdrs) like real linkers do.
    body = code(jal(ZERO, 0))
    head = 64 + 56
    data = b"\0" * head + body
    # The segment's file offset is 0, so the phdrs (offset 64) are at vaddr + 64.
    layout = make_elf_layout([Seg(USER_BASE, data, offset=0)], USER_BASE + head)
    raw = bytearray(layout.data)
    p = write_elf(bytes(raw))
    img = parse_elf(p)
    assert img.phdr_addr == USER_BASE + 64


def test_phdr_address_from_pt_phdr(write_elf) -> None:
    segs, entry = user_exit_program(0)
    segs = [Seg(0x12340, b"", p_type=PT_PHDR, flags=PF_R), *segs]
    img = parse_elf(write_elf(segs, entry))
    assert img.phdr_addr == 0x12340


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.elf", "no such file")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(pltvm.ElfError):
        parse_elf(tmp_path)


def test_empty_file(write_elf) -> None:
    expect_error(write_elf(b""), "not an ELF file")


def test_bad_magic(write_elf) -> None:
    expect_error(write_elf(b"#!/bin/sh\necho hi\n" + b"\0" * 100), "not an ELF file (bad magic")
    segs, entry = user_exit_program(0)
    expect_error(write_elf(make_elf(segs, entry, magic=b"\x7fELG")), "bad magic")


def test_32bit(write_elf) -> None:
    segs, entry = user_exit_program(0)
    expect_error(write_elf(make_elf(segs, entry, ei_class=1)), "32-bit ELF")


def test_bad_class(write_elf) -> None:
    segs, entry = user_exit_program(0)
    expect_error(write_elf(make_elf(segs, entry, ei_class=7)), "invalid ELF class")


def test_big_endian(write_elf) -> None:
    segs, entry = user_exit_program(0)
    expect_error(write_elf(make_elf(segs, entry, ei_data=2)), "big-endian")


def test_wrong_machine(write_elf) -> None:
    segs, entry = user_exit_program(0)
    err = expect_error(write_elf(make_elf(segs, entry, machine=62)), "not a RISC-V ELF")
    assert "e_machine=62" in str(err) and "X86_64" in str(err)


def test_relocatable(write_elf) -> None:
    segs, entry = user_exit_program(0)
    expect_error(write_elf(make_elf(segs, entry, e_type=1)), "ET_REL")


def test_pie(write_elf) -> None:
    segs, entry = user_exit_program(0)
    expect_error(write_elf(make_elf(segs, entry, e_type=3)), "position-independent executable (ET_DYN)")


def test_dynamic_with_interpreter(write_elf) -> None:
    segs, entry = user_exit_program(0)
    interp = Seg(0, b"/lib/ld-linux-riscv64-lp64d.so.1\0", p_type=PT_INTERP, flags=PF_R)
    err = expect_error(write_elf(make_elf([interp, *segs], entry, e_type=3)), "dynamically linked")
    assert "ld-linux-riscv64" in str(err)
    # ET_EXEC with an interpreter is dynamically linked too.
    expect_error(write_elf(make_elf([interp, *segs], entry)), "dynamically linked")


@pytest.mark.parametrize("cut", [3, 10, 20, 63])
def test_truncated_header(write_elf, cut: int) -> None:
    data = valid_user_elf()[:cut]
    with pytest.raises(pltvm.ElfError) as info:
        parse_elf(write_elf(data))
    msg = str(info.value)
    assert ("truncated" in msg) or ("not an ELF" in msg and cut < 4), msg


@pytest.mark.parametrize("cut", [64, 64 + 30, 64 + 55])
def test_truncated_program_headers(write_elf, cut: int) -> None:
    expect_error(write_elf(valid_user_elf()[:cut]), "program headers")


def test_truncated_segment_data(write_elf) -> None:
    segs, entry = user_exit_program(0)
    layout = make_elf_layout(segs, entry)
    cut = layout.seg_offsets[0] + 2
    err = expect_error(write_elf(layout.data[:cut]), "truncated")
    assert "segment 0" in str(err)


def test_truncated_section_headers(write_elf) -> None:
    segs, entry, syms = bare_exit_program(0)
    layout = make_elf_layout(segs, entry, syms)
    expect_error(write_elf(layout.data[: layout.shoff + 70]), "section headers")


def test_segment_offset_past_eof(write_elf) -> None:
    segs, entry = user_exit_program(0)
    segs[0].offset = 1 << 20
    expect_error(write_elf(segs, entry), "past the end of the file")


def test_no_load_segments(write_elf) -> None:
    phdr_only = [Seg(USER_BASE, b"", p_type=PT_PHDR)]
    expect_error(write_elf(phdr_only, USER_BASE), "no PT_LOAD segments")


def test_filesz_greater_than_memsz(write_elf) -> None:
    segs, entry = user_exit_program(0)
    segs[0].memsz = 4
    expect_error(write_elf(segs, entry), "filesz 0xc > memsz 0x4")


def test_overlapping_segments(write_elf) -> None:
    segs, entry = user_exit_program(0)
    segs.append(Seg(USER_BASE + 8, b"\0" * 8, flags=PF_R | PF_W))
    expect_error(write_elf(segs, entry), "overlapping PT_LOAD segments")
    # bss overlapping the next segment counts too
    segs2, entry2 = user_exit_program(0)
    segs2[0].memsz = 0x2000
    segs2.append(Seg(USER_BASE + 0x1000, b"x", flags=PF_R))
    expect_error(write_elf(segs2, entry2), "overlapping")


def test_adjacent_segments_are_fine(write_elf) -> None:
    segs, entry = user_exit_program(0)
    n = len(segs[0].data)
    segs.append(Seg(USER_BASE + n, b"\1" * 4, memsz=64, flags=PF_R | PF_W))
    img = parse_elf(write_elf(segs, entry))
    assert img.end == USER_BASE + n + 64


def test_entry_outside_segments(write_elf) -> None:
    segs, _ = user_exit_program(0)
    expect_error(write_elf(segs, USER_BASE + 0x100000), "entry point 0x110000 is not inside")


def test_entry_in_non_executable_segment(write_elf) -> None:
    segs, entry = user_exit_program(0)
    segs[0].flags = PF_R | PF_W
    expect_error(write_elf(segs, entry), "not inside an executable")


def test_bare_outside_ram(write_elf) -> None:
    segs, entry, syms = bare_exit_program(0)
    img = parse_elf(write_elf(segs, entry, syms))
    with pytest.raises(pltvm.ElfError, match="outside RAM"):
        check_bare_layout(img, RAM_BASE, 0x1008)  # the data segment's last bytes are past RAM
    with pytest.raises(pltvm.ElfError, match="outside RAM"):
        check_bare_layout(img, RAM_BASE + 0x1000, 1 << 20)
    check_bare_layout(img, RAM_BASE, 0x1010)  # exactly fits


def test_user_zero_page(write_elf) -> None:
    segs = [Seg(0x800, code(jal(ZERO, 0)))]
    img = parse_elf(write_elf(segs, 0x800))
    with pytest.raises(pltvm.ElfError, match="zero page"):
        check_user_layout(img)


def test_user_stack_area(write_elf) -> None:
    base = 0x40_0000_0000 - (8 << 20) - 4
    segs = [Seg(base, code(jal(ZERO, 0)), memsz=8)]
    img = parse_elf(write_elf(segs, base))
    with pytest.raises(pltvm.ElfError, match="stack area"):
        check_user_layout(img)
    ok = parse_elf(write_elf([Seg(base, code(jal(ZERO, 0)))], base))
    check_user_layout(ok)


def test_bad_phentsize(write_elf) -> None:
    raw = bytearray(valid_user_elf())
    struct.pack_into("<H", raw, 54, 32)
    expect_error(write_elf(bytes(raw)), "e_phentsize")


# --- through Machine.load_elf and the CLI -------------------------------------------------------


@needs_native
def test_machine_bare_rejects_outside_ram(write_elf) -> None:
    segs, entry, syms = bare_exit_program(0)
    p = write_elf(segs, entry, syms)
    m = pltvm.Machine.bare(ram_size=0x1000)
    with pytest.raises(pltvm.ElfError, match="outside RAM"):
        m.load_elf(p)


@needs_native
def test_machine_user_rejects_bare_program(write_elf) -> None:
    segs, entry, syms = bare_exit_program(0)
    p = write_elf(segs, entry, syms)
    # 0x8000_0000 is a fine user address too; use one in the stack area instead.
    segs2 = [Seg(0x40_0000_0000 - 0x1000, code(jal(ZERO, 0)))]
    p2 = write_elf(segs2, segs2[0].vaddr)
    with pytest.raises(pltvm.ElfError, match="stack area"):
        pltvm.Machine.user().load_elf(p2)
    assert pltvm.Machine.user().load_elf(p) == RAM_BASE


@needs_native
def test_machine_missing_file(tmp_path: Path) -> None:
    with pytest.raises(pltvm.ElfError, match="no such file"):
        pltvm.Machine.bare().load_elf(tmp_path / "missing.elf")


CLI_CASES = {
    "bad_magic": (lambda: b"\x7fELG" + valid_user_elf()[4:], "bad magic"),
    "class32": (lambda: make_elf(*user_exit_program(0), ei_class=1), "32-bit ELF"),
    "big_endian": (lambda: make_elf(*user_exit_program(0), ei_data=2), "big-endian"),
    "x86_64": (lambda: make_elf(*user_exit_program(0), machine=62), "not a RISC-V ELF"),
    "truncated": (lambda: valid_user_elf()[:100], "truncated"),
    "pie": (lambda: make_elf(*user_exit_program(0), e_type=3), "ET_DYN"),
    "entry": (lambda: make_elf(user_exit_program(0)[0], 0x999000), "entry point"),
}


@needs_native
@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_reports_elf_errors(write_elf, case: str) -> None:
    make, fragment = CLI_CASES[case]
    p = write_elf(make())
    r = run_cli("exec", str(p))
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "pltvm: error:" in err and fragment in err, err
    assert "Traceback" not in err


@needs_native
def test_cli_missing_file() -> None:
    r = run_cli("exec", "/nonexistent/definitely-not-here.elf")
    err = r.stderr.decode()
    assert r.returncode == 2
    assert "pltvm: error:" in err and "no such file" in err
    assert "Traceback" not in err


@needs_native
def test_cli_bare_outside_ram(write_elf) -> None:
    segs, entry, syms = bare_exit_program(0)
    r = run_cli("exec", "--bare", "--ram-size", "4K", str(write_elf(segs, entry, syms)))
    err = r.stderr.decode()
    assert r.returncode == 2 and "outside RAM" in err and "Traceback" not in err
