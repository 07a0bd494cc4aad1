"""``pltvm measure``, ``pltvm attest`` and ``pltvm verify``: measurements and reports from the
command line (registered by :mod:`pltvm.cli`).

* ``pltvm measure ELF [--shadow] [--stack-size N] [--shm FILE]``: the measurement the monitor
  would store, computed from the file alone (hex).
* ``pltvm attest ELF [--nonce N] [--json] [-o FILE] [--test-keys]``: create the enclave (no run),
  attest it, print the 328-byte ``report_t`` as hex (or JSON; ``-o`` writes the raw bytes).
* ``pltvm verify REPORT [--expect HEX|ELF [--stack-size N] [--shm FILE] [--shadow]] [--nonce N]
  [--device-key HEX|local|test]``: check a report (raw, hex or JSON file, ``-`` for stdin). Exit
  status 0 if it verifies, 1 with the failed check on stderr if not, 2 for usage errors.
  ``--nonce`` needs ``--expect``: the report's nonce field is not signed, only the hash of
  measurement and nonce is.

``--shm FILE`` is the shm contents at create time, padded with zeros to whole pages as
``Device.create`` pads them; every command reads it the same way, so the three agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

from .common import EXIT_FAILED, EXIT_USAGE

COMMANDS = ("measure", "attest", "verify")


def _int(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= v < 1 << 64:
        raise argparse.ArgumentTypeError(f"{text} is not a 64-bit unsigned value")
    return v


def _size(text: str) -> int:
    from ..sizes import parse_size

    try:
        return parse_size(text, allow_zero=True)  # a stack size may be 0
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parsers(sub: Any) -> None:
    m = sub.add_parser("measure", help="measurement of an enclave ELF, without running it",
                       description="Print the SM3 measurement the Penglai monitor stores for this ELF "
                       "(computed from the file alone).")
    m.add_argument("elf", metavar="ELF", help="enclave ELF (a file, or a bundled enclave name)")
    m.add_argument("--shadow", action="store_true", help="as a shadow template (image only; fork "
                   "instances carry this hash)")
    m.add_argument("--stack-size", type=_size, default=0x10000, metavar="N",
                   help="stack size of a normal enclave (default 64K)")
    m.add_argument("--shm", metavar="FILE", help="host shm contents at create time (part of the identity; "
                   "padded with zeros to whole pages)")

    a = sub.add_parser("attest", help="create an enclave and print its signed report",
                       description="Create the enclave (it is not run), attest it with NONCE and print "
                       "the 328-byte report_t as hex.")
    a.add_argument("elf", metavar="ELF", help="enclave ELF (a file, or a bundled enclave name)")
    a.add_argument("--nonce", type=_int, default=0, metavar="N", help="nonce (default 0)")
    a.add_argument("--json", action="store_true", help="print the report's fields as JSON")
    a.add_argument("-o", "--output", metavar="FILE", help="also write the raw report bytes to FILE")
    a.add_argument("--stack-size", type=_size, default=0x10000, metavar="N", help="stack size (default 64K)")
    a.add_argument("--shm", metavar="FILE", help="host shm contents (padded with zeros to whole pages)")
    a.add_argument("--test-keys", action="store_true",
                   help="sign with the documented test keys instead of this machine's keys")

    v = sub.add_parser("verify", help="verify a report",
                       description="Verify a report_t (raw bytes, hex or JSON; '-' reads stdin): the "
                       "signature chain, and optionally the nonce and the measurement.")
    v.add_argument("report", metavar="REPORT", help="report file, or - for stdin")
    v.add_argument("--expect", metavar="HEX|ELF",
                   help="expected measurement: 64 hex digits, or an enclave ELF to measure")
    v.add_argument("--nonce", type=_int, metavar="N",
                   help="the nonce the report must be made for (needs --expect: the nonce field is not signed)")
    v.add_argument("--device-key", metavar="HEX|local|test",
                   help="trusted device public key (X||Y hex), 'local' (this machine's) or 'test'")
    v.add_argument("--shadow", action="store_true", help="with --expect ELF: measure it as a shadow template")
    v.add_argument("--stack-size", type=_size, default=None, metavar="N",
                   help="with --expect ELF: the stack size the enclave was created with (default 64K)")
    v.add_argument("--shm", metavar="FILE", help="with --expect ELF: the shm contents it was created with")


def _elf_path(name: str) -> Path:
    p = Path(name)
    if p.is_file():
        return p
    from .. import enclaves

    try:
        return Path(enclaves.path(name))
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: no such file or bundled enclave") from None


class UsageError(Exception):
    """A bad argument: printed as ``pltvm: error: ...``, exit status 2."""


def _read_shm(path: Optional[str]) -> Optional[bytes]:
    """The shm file's contents padded with zeros to whole pages (as ``Device.create`` pads)."""
    if path is None:
        return None
    data = Path(path).read_bytes()
    if not data:
        raise UsageError(f"--shm {path}: the file is empty (an shm is at least one page)")
    return data + bytes(-len(data) % 4096)


def _read_report(name: str) -> bytes:
    from ..attest import REPORT_SIZE, Report

    raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    if len(raw) == REPORT_SIZE:
        return raw
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{name}: not a report (bad JSON: {e})") from None
        return Report.from_dict(d.get("report", d) if isinstance(d, dict) else d).to_bytes()
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        return raw


def _device_key(spec: Optional[str]) -> Optional[bytes]:
    if spec is None:
        return None
    from .. import _core, attest

    if spec == "local":
        return attest.local_device_public_key()
    if spec == "test":
        return _core.sm2_public_key(attest.test_keys()[0])
    text = spec.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) == 65 and key[0] == 4:
        key = key[1:]
    if len(key) != attest.PUBLIC_KEY_SIZE:
        raise UsageError(f"--device-key {spec!r}: expected a device public key as 128 hex digits (X||Y, "
                         "optionally with the 04 prefix), 'local' or 'test'")
    return key


def _measure(ns: argparse.Namespace) -> int:
    from ..attest import measure

    kind = "shadow" if ns.shadow else "normal"
    print(measure(_elf_path(ns.elf), kind, stack_size=ns.stack_size, shm=_read_shm(ns.shm)).hex())
    return 0


def _attest(ns: argparse.Namespace) -> int:
    from .. import _core
    from ..attest import Report

    path = _elf_path(ns.elf)
    data = path.read_bytes()
    mon = _core.Monitor.new()
    if ns.test_keys:
        mon.set_keys(test=True)
    try:
        enc = mon.create(data, stack_size=ns.stack_size, shm=_read_shm(ns.shm))
    except (ValueError, MemoryError, NotImplementedError, RuntimeError) as e:
        raise type(e)(f"{ns.elf}: {e}") from None
    try:
        raw = enc.attest(ns.nonce)
        measurement = bytes(enc.measurement)
    finally:
        enc.destroy()
    if ns.output:
        Path(ns.output).write_bytes(raw)
    if ns.json:
        out = {"report": Report.from_bytes(raw).as_dict(), "measurement": measurement.hex(),
               "keys": mon.platform()["origin"]}
        print(json.dumps(out, indent=2))
    else:
        print(raw.hex())
    return 0


def _verify(ns: argparse.Namespace) -> int:
    from ..attest import measure, verify
    from ..errors import AttestationError

    if ns.nonce is not None and ns.expect is None:
        raise UsageError("--nonce needs --expect HEX|ELF: the report's nonce field is not signed; only "
                         "enclave.hash = SM3(measurement || nonce) binds it, so without the measurement a "
                         "replayed report with a rewritten nonce would pass")
    if ns.expect is None and (ns.stack_size is not None or ns.shm is not None or ns.shadow):
        raise UsageError("--stack-size, --shm and --shadow describe the --expect ELF; give --expect")
    dev_key = _device_key(ns.device_key)
    raw = _read_report(ns.report)
    expect: Optional[bytes] = None
    if ns.expect is not None:
        e = ns.expect.strip().removeprefix("0x")
        if len(e) == 64 and all(c in "0123456789abcdefABCDEF" for c in e):
            if ns.stack_size is not None or ns.shm is not None or ns.shadow:
                raise UsageError("--stack-size, --shm and --shadow apply to --expect ELF, not to a hex measurement")
            expect = bytes.fromhex(e)
        else:
            stack = 0x10000 if ns.stack_size is None else ns.stack_size
            expect = measure(_elf_path(ns.expect), "shadow" if ns.shadow else "normal",
                             stack_size=stack, shm=_read_shm(ns.shm))
    try:
        v = verify(raw, expected_measurement=expect, nonce=ns.nonce, device_public_key=dev_key)
    except AttestationError as err:
        sys.stderr.write(f"pltvm verify: FAILED ({err.check}): {err}\n")
        return EXIT_FAILED
    print(f"OK: signature chain verifies; enclave.hash {v.enclave_hash.hex()}")
    print(f"device key: {v.device_public_key.hex()}" + ("" if v.device_key_pinned else
          " (NOT pinned: pass --device-key to trust a specific device)"))
    if v.measurement is not None:
        print(f"measurement: {v.measurement.hex()} (matches)")
        print(f"nonce: {v.nonce:#x}" + (" (matches --nonce: the report is fresh)" if v.fresh else
                                         " (bound by enclave.hash; pass --nonce to check freshness)"))
    else:
        print("measurement: not checked (pass --expect); nonce: not checked (the field is not signed)")
    return 0


def main(ns: argparse.Namespace) -> int:
    try:
        if ns.command == "measure":
            return _measure(ns)
        if ns.command == "attest":
            return _attest(ns)
        return _verify(ns)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, RuntimeError, MemoryError, NotImplementedError, UsageError) as e:
        msg = e.strerror if isinstance(e, OSError) and e.strerror and not e.filename else str(e)
        if isinstance(e, OSError) and e.filename:
            msg = f"{e.filename}: {e.strerror}"
        sys.stderr.write(f"pltvm: error: {msg}\n")
        return EXIT_USAGE
