"""pltvm.fuzz on both engines: the compiling tier counts coverage and cmplog exactly as the
interpreter does, so runs and seeded campaigns give the same results under either."""

from __future__ import annotations

import pytest

from pltvm.arguments import DEFAULT_ENGINE
from pltvm.fuzz import Fuzzer, FuzzError


def test_engine_argument_is_checked_and_kept() -> None:
    assert Fuzzer("fuzz-nop").engine == DEFAULT_ENGINE
    assert Fuzzer("fuzz-nop", engine="interp").engine == "interp"
    assert Fuzzer("fuzz-nop", engine="jit").engine == "jit"
    for bad in ("JIT", "", "qemu"):
        with pytest.raises(FuzzError, match="engine"):
            Fuzzer("fuzz-nop", engine=bad)
    with pytest.raises(FuzzError, match="engine must be a str"):
        Fuzzer("fuzz-nop", engine=1)  # type: ignore[arg-type]


def _parser_inputs() -> list[bytes]:
    records = b"V\x01\x02N\x03abcS\x03\x00\x01\x02"
    long = b"V\x01\x01" + b"N\x05hello" * 300
    return [b"", b"V", records, records + b"S\x02\x05\x07", long, long + b"S\x03\x00\x01\x02", b"HANG" * 10]


@pytest.mark.parametrize("name", ["fuzz-parser", "fuzz-magic4", "fuzz-hang", "fuzz-init"])
def test_runs_agree_between_engines(name: str) -> None:
    fi = Fuzzer(name, max_len=4096, max_instructions=200_000, engine="interp")
    fj = Fuzzer(name, max_len=4096, max_instructions=200_000, engine="jit")
    # Twice over, so the second round runs blocks the first made hot (compiled under jit).
    for data in _parser_inputs() * 2:
        ri, rj = fi.run_one(data), fj.run_one(data)
        assert (rj.outcome, rj.retval, rj.instructions, rj.edges, rj.output) == \
               (ri.outcome, ri.retval, ri.instructions, ri.edges, ri.output), data[:16]


def test_a_seeded_campaign_finds_the_same_magic_under_both_engines() -> None:
    stats = {e: Fuzzer("fuzz-magic4", max_len=64, seed=1, engine=e).run(runs=20_000) for e in ("interp", "jit")}
    si, sj = stats["interp"], stats["jit"]
    assert len(si.findings) == 1 and si.findings[0].input[:4] == (0x4D5A4C50).to_bytes(4, "little")
    assert [f.input for f in sj.findings] == [f.input for f in si.findings]
    assert (sj.executions, sj.edges, sj.corpus) == (si.executions, si.edges, si.corpus)
