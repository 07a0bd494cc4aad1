"""The bundled enclave ELFs (python/pltvm/enclaves/*.elf) are what guest/Makefile builds.

* Always: every committed ELF is a 64-bit little-endian RISC-V executable entered at 0x1000,
  laid out like a Penglai SDK image (one RWX PT_LOAD at 0x1000, nothing mapped at VA 0,
  NOBITS sections page-aligned so the Penglai loader maps all of them).
* When riscv64-unknown-elf-gcc is on PATH: rebuild everything with ``make OUT=...`` into a
  temporary directory and compare byte for byte (the S-mode programs of guest/system/, bundled
  in python/pltvm/programs/, included).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

REPO = Path(__file__).resolve().parent.parent
GUEST = REPO / "guest"
ENCLAVES = REPO / "python" / "pltvm" / "enclaves"
PROGRAMS = REPO / "python" / "pltvm" / "programs"
# S-mode programs for the system machine (guest/system/<name>/), bundled as programs
SYSTEMS = sorted(p.name for p in (GUEST / "system").iterdir() if p.is_dir())
DEMOS = sorted(p.name for p in (GUEST / "demos").iterdir() if p.is_dir())
EXPECTED = {"hello-world", "mem", "loop", "relay-page", "crash"}

PF_X, PF_W, PF_R = 1, 2, 4


def committed() -> list[Path]:
    return sorted(ENCLAVES.glob("*.elf"))


def test_every_demo_is_committed() -> None:
    assert EXPECTED <= set(DEMOS)
    assert {p.stem for p in committed()} == set(DEMOS)


@pytest.mark.parametrize("name", DEMOS)
def test_committed_elf_layout(name: str) -> None:
    path = ENCLAVES / f"{name}.elf"
    with path.open("rb") as f:
        elf = ELFFile(f)
        assert elf.elfclass == 64
        assert elf.little_endian
        assert elf["e_machine"] == "EM_RISCV"
        assert elf["e_type"] == "ET_EXEC"
        assert elf["e_entry"] == 0x1000

        phdrs = [seg.header for seg in elf.iter_segments()]
        loads = [p for p in phdrs if p.p_type == "PT_LOAD"]
        assert len(loads) == 1, "one PT_LOAD, like the SDK's images"
        load = loads[0]
        assert load.p_vaddr == 0x1000 and load.p_offset % 0x1000 == 0
        assert load.p_flags == PF_R | PF_W | PF_X
        # The Penglai driver maps every program header's file part: only the PT_LOAD has one.
        for p in phdrs:
            if p is not load:
                assert p.p_filesz == 0, f"{p.p_type} would be mapped by the Penglai loader"

        mapped: set[int] = set()
        file_end = load.p_vaddr + load.p_filesz
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC:
                continue
            start, size = sec["sh_addr"], sec["sh_size"]
            assert start >= 0x1000, f"{sec.name} below 0x1000"
            assert start + size <= load.p_vaddr + load.p_memsz, f"{sec.name} outside the PT_LOAD"
            if sec["sh_type"] == "SHT_NOBITS":
                if size == 0:
                    continue
                # page-aligned start and size: the loader's page walk covers the section
                # exactly and never maps a file page a second time [B17]
                assert start % 0x1000 == 0, f"{sec.name} not page-aligned"
                assert start >= file_end, f"{sec.name} overlaps the file part"
                pages = set(range(start, start + size, 0x1000))
                assert not pages & mapped, f"{sec.name} shares a page with another section"
                mapped |= pages
            else:
                assert start + size <= file_end, f"{sec.name} extends past the file part"
        names = [s.name for s in elf.iter_sections()]
        mmap = elf.get_section_by_name(".mmap_area")
        assert mmap is not None and mmap["sh_type"] == "SHT_NOBITS", names
        assert mmap["sh_size"] == 0x10000


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None,
                    reason="riscv64-unknown-elf-gcc is not installed")
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_committed_enclaves_match_a_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        ["make", "-C", str(GUEST), f"OUT={out}"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"make failed:\n{proc.stdout}\n{proc.stderr}"
    built = {p.name for p in (out / "elf").glob("*.elf")}
    have = {p.name for p in committed()}
    assert built == have, f"built {sorted(built)}, committed {sorted(have)}"
    differ = [n for n in sorted(built)
              if (out / "elf" / n).read_bytes() != (ENCLAVES / n).read_bytes()]
    assert not differ, (f"{differ} differ from a rebuild "
                        "(run `make -C guest` and commit python/pltvm/enclaves/)")
    assert "host-kernel" in SYSTEMS
    built_systems = sorted(p.stem for p in (out / "system").glob("*.elf"))
    assert built_systems == SYSTEMS
    differ = [n for n in SYSTEMS
              if (out / "system" / f"{n}.elf").read_bytes() != (PROGRAMS / f"{n}.elf").read_bytes()]
    assert not differ, (f"{differ} differ from a rebuild "
                        "(run `make -C guest` and commit python/pltvm/programs/)")
