"""Byte sizes as people write them (``64M``, ``0x8000000``, ``1GiB``), parsed one way
everywhere: command-line options, ``PLTVM_SECURE_MEMORY`` and ``Device(secure_memory="64M")``.
"""

from __future__ import annotations

import os
import re

__all__ = ["parse_size", "secure_memory_from_env", "DEFAULT_SECURE_MEMORY", "SECURE_MEMORY_ENV"]

DEFAULT_SECURE_MEMORY = 1 << 30
SECURE_MEMORY_ENV = "PLTVM_SECURE_MEMORY"

_SIZE_RE = re.compile(r"^\s*(0x[0-9a-f]+|\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)
_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30}


def parse_size(text: str, *, allow_zero: bool = False) -> int:
    """Parse a byte count such as ``134217728``, ``0x8000000``, ``64M``, ``64MiB`` or ``1G``
    (K, M, G are powers of 1024; case does not matter). The result is positive (or zero with
    ``allow_zero``) and below 2**64. Raises ValueError."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"invalid size {text!r} (examples: 64M, 1G, 134217728)")
    value = int(m.group(1), 0) << _SHIFT[m.group(2).lower()]
    if value == 0 and not allow_zero:
        raise ValueError(f"size must be positive, not {text!r}")
    if value >> 64:
        raise ValueError(f"size must be below 2**64 bytes, not {text!r}")
    return value


def secure_memory_from_env(default: int = DEFAULT_SECURE_MEMORY) -> int:
    """``PLTVM_SECURE_MEMORY`` parsed with :func:`parse_size` (e.g. ``4M``), or ``default`` when
    it is unset or empty. Raises ValueError naming the variable."""
    env = os.environ.get(SECURE_MEMORY_ENV, "")
    if not env.strip():
        return default
    try:
        return parse_size(env)
    except ValueError as e:
        why = "examples: 64M, 1G, 134217728" if str(e).startswith("invalid size") else str(e)
        raise ValueError(f"{SECURE_MEMORY_ENV} must be a number of bytes, not {env!r} ({why})") from None
