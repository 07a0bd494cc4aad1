"""Names of RISC-V trap causes (``mcause``/``scause`` values), shared by error messages, fault
records and the command line."""

from __future__ import annotations

__all__ = ["cause_name"]

_EXCEPTIONS = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store/AMO address misaligned",
    7: "store/AMO access fault",
    8: "environment call from U-mode",
    9: "environment call from S-mode",
    11: "environment call from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store/AMO page fault",
}
_INTERRUPTS = {
    1: "supervisor software interrupt",
    3: "machine software interrupt",
    5: "supervisor timer interrupt",
    7: "machine timer interrupt",
    9: "supervisor external interrupt",
    11: "machine external interrupt",
}


def cause_name(cause: int) -> str:
    """Human name of an ``mcause`` value (bit 63 set: an interrupt)."""
    if cause >> 63:
        code = cause & ((1 << 63) - 1)
        return _INTERRUPTS.get(code, f"interrupt {code}")
    return _EXCEPTIONS.get(cause, f"exception {cause}")
