#!/usr/bin/env python3
"""Reverse execution latency of the gdb stub over a history of 10 million steps or more.

A user machine runs ``benches/build/sha256.elf`` (about 5.8 million instructions per hash)
under ``Machine.gdb_serve``; this script speaks the gdb remote protocol itself (no gdb, so
gdb's own work is not counted) over loopback TCP:

1. a breakpoint at ``sha256`` and ``c`` until the guest has run ``--history`` steps or more
   (each ``c`` stops at the next hash);
2. ``bs`` (reverse-stepi) ``--repeat`` times, each timed from sending the packet to the stop
   reply;
3. ``bc`` (reverse-continue) to the previous hit of the breakpoint, one hash back;
4. ``bc`` with no breakpoint: the whole history is replayed looking for a hit, and the guest
   ends at the beginning (the worst case);
5. ``bs`` right after that, far from the end of the history;
6. ``monitor checkpoints``: the number of checkpoints and the memory they hold.

Figures depend on the machine's load: the script prints ``os.getloadavg()`` with them.

    python3 benches/debug_bench.py                 # 10M-step history, 20 repeats
    python3 benches/debug_bench.py --history 50000000 --repeat 5
    python3 benches/debug_bench.py --program sieve --symbol sieve   # 2 MB rewritten per pass

Not part of the test suite. Build the program with ``make -C tests/user`` (benches/build).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time
from pathlib import Path

import pltvm
from pltvm.elf import parse_elf

HERE = Path(__file__).resolve().parent


class Rsp:
    """A minimal gdb remote protocol client (acknowledged mode)."""

    def __init__(self, port: int) -> None:
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _byte(self) -> int:
        if not self.buf:
            self.buf = self.s.recv(65536)
            if not self.buf:
                raise ConnectionError("stub closed the connection")
        b, self.buf = self.buf[0], self.buf[1:]
        return b

    def reply(self) -> str:
        while self._byte() != ord("$"):
            pass
        body = bytearray()
        while (b := self._byte()) != ord("#"):
            body.append(b)
        self._byte(), self._byte()
        self.s.sendall(b"+")
        out = bytearray()
        i = 0
        while i < len(body):  # run-length encoding: X*n repeats X (n - 29) more times
            if body[i] == ord("*") and i + 1 < len(body):
                out += bytes([out[-1]]) * (body[i + 1] - 29)
                i += 2
            else:
                out.append(body[i])
                i += 1
        return out.decode()

    def ask(self, body: str) -> str:
        self.s.sendall(b"$%s#%02x" % (body.encode(), sum(body.encode()) & 0xFF))
        return self.reply()

    def timed(self, body: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        r = self.ask(body)
        return time.perf_counter() - t0, r

    def monitor(self, cmd: str) -> str:
        text = ""
        r = self.ask("qRcmd," + cmd.encode().hex())
        while r.startswith("O") and r != "OK":
            text += bytes.fromhex(r[1:]).decode()
            r = self.reply()
        return text.strip()

    def reg(self, n: int) -> int:
        return int.from_bytes(bytes.fromhex(self.ask(f"p{n:x}")), "little")


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:.2f} ms, max {max(xs) * 1e3:.2f} ms (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--history", type=int, default=10_000_000, help="steps to run before going back")
    ap.add_argument("--repeat", type=int, default=20, help="reverse-stepi samples")
    ap.add_argument("--program", default="sha256", help="benches/build/PROGRAM.elf")
    ap.add_argument("--symbol", default="sha256", help="the breakpoint: a function called once per pass")
    args = ap.parse_args()

    program = HERE / "build" / f"{args.program}.elf"
    sym = parse_elf(str(program)).symbols[args.symbol]
    m = pltvm.Machine.user(argv=[args.program, "1000"])
    m.load_elf(str(program))
    ready = threading.Event()
    ports: list[int] = []
    result: list[object] = []
    server = threading.Thread(
        target=lambda: result.append(m.gdb_serve(":0", ready=lambda p: (ports.append(p), ready.set())))
    )
    server.start()
    assert ready.wait(30)
    c = Rsp(ports[0])
    assert "ReverseStep+" in c.ask("qSupported:swbreak+;hwbreak+")
    c.ask("?")
    assert c.ask(f"Z0,{sym:x},2") == "OK"

    t0 = time.perf_counter()
    steps = 0
    while steps < args.history:
        assert c.ask("c").startswith("T05")
        steps = int(c.monitor("instret"))
    forward = time.perf_counter() - t0
    print(f"load average {os.getloadavg()[0]:.2f}; program {program.name}, breakpoint at {args.symbol} ({sym:#x})")
    print(f"forward: {steps:,} instructions to the last hit in {forward:.2f} s (checkpointing on)")
    print("checkpoints:", c.monitor("checkpoints"))

    pc0 = c.reg(32)
    back = []
    for _ in range(args.repeat):
        dt, r = c.timed("bs")
        assert r.startswith("T05") or r == "S05", r
        back.append(dt)
    print(f"reverse-stepi at the end of the history: {ms(back)}")
    fwd = []
    for _ in range(args.repeat):
        dt, r = c.timed("s")
        fwd.append(dt)
    assert c.reg(32) == pc0, "stepping forward again comes back to the same pc"
    print(f"stepi (forward, for comparison): {ms(fwd)}")

    dt, r = c.timed("bc")
    assert r.startswith("T05") and c.reg(32) == sym, r
    print(f"reverse-continue to the previous hit (one pass back): {dt * 1e3:.1f} ms, now at "
          f"{int(c.monitor('instret')):,}")
    assert c.ask(f"z0,{sym:x},2") == "OK"
    dt, r = c.timed("bc")
    assert "replaylog:begin" in r, r
    print(f"reverse-continue with no hit, back to the beginning (whole history replayed): {dt * 1e3:.1f} ms")
    near_start = []
    for _ in range(3):
        c.ask("s")
    for _ in range(args.repeat):
        dt, _ = c.timed("bs")
        near_start.append(dt)
        c.ask("s")
    print(f"reverse-stepi near the beginning: {ms(near_start)}")
    print("checkpoints:", c.monitor("checkpoints"))
    c.s.sendall(b"$k#6b")
    server.join(60)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
