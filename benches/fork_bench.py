"""Shadow-enclave fork benchmarks (issue 5), from Python.

    python3 benches/fork_bench.py            # everything (about a minute)
    python3 benches/fork_bench.py latency    # or: throughput, vs-create, memory

* latency:    ``shadow.fork()`` p50/p99 for templates with 64 KiB, 1 MiB, 16 MiB and 64 MiB of
              initialised data (the instance is destroyed outside the timed region).
* throughput: fork + run to exit + destroy of hello-world with its output captured, per second
              on one core: the batch API ``fork_run_destroy`` and a plain Python loop.
* vs-create:  creating the same 16 MiB enclave normally vs forking it.
* memory:     resident bytes per live instance, 10,000 instances that each wrote one page
              (by the host; and by running, paused on a relay return), each in a fresh process.

The Rust-level copy-on-write figures: ``cargo test --release -p pltvm-core --lib bench_ --
--ignored --nocapture --test-threads 1`` (rust/core/src/monitor/shadow/tests.rs).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import time

from pltvm import _core

TEXT, DATA = 0x1000, 0x2000


def _elf(data_size: int, insns: bytes) -> bytes:
    """RV64 ELF: code at 0x1000 (R-X) and ``data_size`` bytes of non-zero data at 0x2000."""
    data = bytes((i * 7 + 1) & 0xFF for i in range(4096)) * (data_size // 4096)
    segs = [(TEXT, insns, 5), (DATA, data, 6)]
    phoff, n = 64, len(segs)
    off = 0x1000
    body = b""
    phdrs = b""
    for va, d, flags in segs:
        pos = off + len(body)
        body += bytes((va - pos) % 0x1000)
        phdrs += struct.pack("<IIQQQQQQ", 1, flags, off + len(body), va, va, len(d), len(d), 0x1000)
        body += d
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 243, 1, TEXT, phoff, 0, 0, 64, 56, n, 64, 0, 0)
    head = ehdr + phdrs
    return head + bytes(off - len(head)) + body


# li a0, 0; a6 = 0x100101; a7 = 99; ecall
EXIT0 = struct.pack("<6I", 0x00000513, 0x00100837, 0x10180813, 0x06300893, 0x00000073, 0)


def _pct(v: list[int], p: float) -> float:
    v = sorted(v)
    return v[int((len(v) - 1) * p)]


def latency() -> None:
    m = _core.Monitor.new(secure_memory=1 << 31)
    p50s = {}
    for label, size in (("64 KiB", 64 << 10), ("1 MiB", 1 << 20), ("16 MiB", 16 << 20), ("64 MiB", 64 << 20)):
        t = m.create_shadow(_elf(size, EXIT0))
        for _ in range(2000):  # warm up
            t.fork().destroy()
        times = []
        for _ in range(50_000):
            s = time.perf_counter_ns()
            f = t.fork()
            times.append(time.perf_counter_ns() - s)
            f.destroy()
        p50s[label] = _pct(times, 0.5)
        print(f"fork latency, {label:>6} template: p50 {_pct(times, 0.5) / 1000:.2f} us  "
              f"p99 {_pct(times, 0.99) / 1000:.2f} us")
        t.destroy()
    print(f"fork latency ratio 64 MiB / 64 KiB (p50): {p50s['64 MiB'] / p50s['64 KiB']:.2f}")


def throughput() -> None:
    from pltvm import enclaves

    m = _core.Monitor.new()
    t = m.create_shadow(enclaves.path("hello-world").read_bytes())
    t.fork_run_destroy(2000)
    n = 200_000
    s = time.perf_counter()
    k, out = t.fork_run_destroy(n)
    dt = time.perf_counter() - s
    assert k == n and out == b"hello world!\n" * n
    print(f"fork + run + destroy, hello-world, output captured, batch API: {n / dt:,.0f} per second (1 core)")
    chunks: list[bytes] = []
    n = 20_000
    s = time.perf_counter()
    for _ in range(n):
        r = t.fork().run(output=chunks.append)
        assert r.reason == "exit"
    dt = time.perf_counter() - s
    print(f"fork + run + destroy, hello-world, output captured, Python loop: {n / dt:,.0f} per second (1 core)")


def vs_create() -> None:
    m = _core.Monitor.new(secure_memory=1 << 31)
    elf = _elf(16 << 20, EXIT0)
    times = []
    for _ in range(20):
        s = time.perf_counter_ns()
        e = m.create(elf)
        times.append(time.perf_counter_ns() - s)
        e.destroy()
    create = _pct(times, 0.5)
    t = m.create_shadow(elf)
    times = []
    for _ in range(20_000):
        s = time.perf_counter_ns()
        f = t.fork()
        times.append(time.perf_counter_ns() - s)
        f.destroy()
    fork = _pct(times, 0.5)
    print(f"16 MiB image: normal create p50 {create / 1e6:.2f} ms, shadow fork p50 {fork / 1000:.2f} us: "
          f"fork is {create / fork:,.0f}x faster")


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_child(mode: str) -> None:
    from pltvm import enclaves  # noqa: F401  (import cost before the baseline)

    m = _core.Monitor.new()
    # Increments the global at 0x2000, then returns its relay page (OCALL 7) and stays alive.
    insns = struct.pack(
        "<12I",
        0x000022B7, 0x0002B303, 0x00130313, 0x0062B023,  # lui t0,2; ld t1,0(t0); addi; sd
        0x00700513, 0x00100837, 0x10180813, 0x06200893, 0x00000073,  # a0=7; a6; a7=98; ecall
        0x00000513, 0x06300893, 0x00000073,  # exit
    )
    t = m.create_shadow(_elf(64 << 10, insns))
    n = 10_000
    live = []
    before = _rss_kib()
    for i in range(n):
        f = t.fork(name=b"m%d" % i)  # relay pages need unique names
        if mode == "host":
            f.write(DATA, b"\x01")
        else:
            assert f.run(relay=bytes(4096), output=lambda b: None).reason == "relay"
        live.append(f)
    after = _rss_kib()
    s = m.stats()
    print(f"{n:,} live instances that each wrote one page ({'host write, never run' if mode == 'host' else 'ran, paused in OCALL 7'}): "
          f"{(after - before) / n:.1f} KiB resident per instance ({s['frames_private'] / n:.1f} private frames each)")


def memory() -> None:
    for mode in ("host", "run"):
        subprocess.run([sys.executable, __file__, "memory-child", mode], check=True)


if __name__ == "__main__":
    what = sys.argv[1:] or ["latency", "throughput", "vs-create", "memory"]
    if what[0] == "memory-child":
        memory_child(what[1])
        sys.exit(0)
    for w in what:
        {"latency": latency, "throughput": throughput, "vs-create": vs_create, "memory": memory}[w]()
