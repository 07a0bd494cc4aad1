#!/usr/bin/env python3
"""A throw-away mini "monitor" to smoke-test the guest SDK before the real monitor model exists.

It is NOT the pltvm monitor and not a reference for it: it runs an enclave ELF on a bare
``pltvm._core.Machine`` in U-mode under Sv39 page tables built here, maps the image the way
docs/abi.md §1.4 describes (stack, NOBITS sections, then every program header), puts the
entry registers of §2.1 in place, and services enclave ecalls (§3) from Python:
99 exit, 98 OCALLs 1 mmap / 2 unmap / 3 sys_write / 4 sbrk / 7 return relay page /
8 getrandom (§6.6 LCG), 90 get_enclave_id, 89 yield, Linux ioctl (29) -> 0.
Traps reach an M-mode stub that writes HTIF tohost, so every trap returns to Python.

usage: python guest/tools/harness.py ELF [--relay N] [--shm N] [--trace]
"""
from __future__ import annotations

import argparse
import struct
import sys
from typing import Callable, Optional

from elftools.elf.elffile import ELFFile

from pltvm import _core

RAM = 0x8000_0000
RAM_SIZE = 64 << 20
PAGE = 4096
V, R, W, X, U, A, D = 1, 2, 4, 8, 16, 64, 128
PTE_RWX = 0xDF
PTE_RX = 0xDB
PTE_RW = 0xD7
HEAP_BASE = 0x10_0000_0000
MMAP_BASE = 0x30_0000_0000
STACK_TOP = 0x38_0000_0000
RELAY_BASE = 0x38_0000_0000
SHM_BASE = 0x39_0000_0000
KBUF = 0xFFFF_FFE0_0000_0000
MASK = (1 << 64) - 1

HANDLER = RAM            # M-mode trap stub
MRET = RAM + 0x40
TOHOST = RAM + 0x700


def asm_stub() -> bytes:
    # handler: csrw mscratch,t0 ; auipc t0,0 ; addi t0,t0,0x6fd ; sd t0,-1(t0) ; j .
    words = [0x34029073, 0x00000297, 0x6FD28293, 0xFE52BFA3, 0x0000006F]
    code = b"".join(struct.pack("<I", w) for w in words)
    code = code.ljust(0x40, b"\0")
    code += struct.pack("<I", 0x30200073)  # mret
    return code


class Harness:
    def __init__(self, elf_bytes: bytes, relay: Optional[bytes], shm: Optional[bytes],
                 relay_hook: Optional[Callable[[bytearray], None]] = None, trace: bool = False):
        self.m = _core.Machine.bare(RAM_SIZE, "emulate")
        self.m.mem_write(RAM, asm_stub())
        self.m.set_htif(TOHOST, None)
        self.next_page = RAM + (1 << 20)
        self.root = self.alloc()
        self.out = bytearray()
        self.trace = trace
        self.writes: list[bytes] = []
        self.calls: list[str] = []
        self.heap_top = HEAP_BASE
        self.heap_regions: list[tuple[int, int]] = []
        self.mmap_regions: list[tuple[int, int]] = []  # (va, mapped size)
        self.seed = 12345
        self.relay_hook = relay_hook
        self.relay_pa = 0
        self.relay_size = 0
        self.load_elf(elf_bytes)
        self.kbuf_pa = self.alloc()
        self.map(KBUF, self.kbuf_pa, PTE_RW)
        shm_va = shm_size = 0
        if shm:
            shm_size = len(shm)
            for off in range(0, shm_size, PAGE):
                pa = self.alloc()
                self.m.mem_write(pa, shm[off:off + PAGE])
                self.map(SHM_BASE + off, pa, PTE_RW)
            shm_va = SHM_BASE
        relay_va = 0
        if relay:
            self.relay_size = len(relay)
            self.relay_pa = self.alloc(len(relay) // PAGE)
            self.m.mem_write(self.relay_pa, relay)
            self.map_relay()
            relay_va = RELAY_BASE
        m = self.m
        m.set_x(2, STACK_TOP)
        for i, v in zip(range(10, 15), (shm_va, shm_size, 0, relay_va, self.relay_size)):
            m.set_x(i, v)
        m.csr_write(0x305, HANDLER)                      # mtvec
        m.csr_write(0x180, (8 << 60) | (self.root >> 12))  # satp Sv39
        self.enter(self.entry)

    # ---- memory ----
    def alloc(self, n: int = 1) -> int:
        pa = self.next_page
        self.next_page += n * PAGE
        self.m.mem_write(pa, bytes(n * PAGE))
        return pa

    def rd64(self, pa: int) -> int:
        return int.from_bytes(self.m.mem_read(pa, 8), "little")

    def wr64(self, pa: int, v: int) -> None:
        self.m.mem_write(pa, v.to_bytes(8, "little"))

    def pte_addr(self, va: int, create: bool) -> Optional[int]:
        table = self.root
        for level in (2, 1):
            idx = (va >> (12 + 9 * level)) & 511
            pte = self.rd64(table + 8 * idx)
            if not pte & V:
                if not create:
                    return None
                new = self.alloc()
                self.wr64(table + 8 * idx, ((new >> 12) << 10) | V)
                pte = self.rd64(table + 8 * idx)
            table = (pte >> 10) << 12
        return table + 8 * ((va >> 12) & 511)

    def map(self, va: int, pa: int, flags: int) -> None:
        a = self.pte_addr(va, True)
        assert a is not None
        if self.rd64(a) & V:
            print(f"harness: warning: VA {va:#x} mapped twice", file=sys.stderr)
        self.wr64(a, ((pa >> 12) << 10) | flags)

    def unmap(self, va: int) -> None:
        a = self.pte_addr(va, False)
        if a is not None:
            self.wr64(a, 0)

    def translate(self, va: int) -> Optional[int]:
        a = self.pte_addr(va, False)
        if a is None:
            return None
        pte = self.rd64(a)
        if not pte & V:
            return None
        return ((pte >> 10) << 12) | (va & 4095)

    def vread(self, va: int, n: int) -> bytes:
        out = b""
        while n:
            pa = self.translate(va)
            assert pa is not None, f"unmapped {va:#x}"
            k = min(n, PAGE - (va & 4095))
            out += self.m.mem_read(pa, k)
            va += k
            n -= k
        return out

    def vwrite(self, va: int, data: bytes) -> None:
        while data:
            pa = self.translate(va)
            assert pa is not None, f"unmapped {va:#x}"
            k = min(len(data), PAGE - (va & 4095))
            self.m.mem_write(pa, data[:k])
            va += k
            data = data[k:]

    # ---- loading, as the Penglai driver does (§1.4) ----
    def load_elf(self, data: bytes) -> None:
        import io
        elf = ELFFile(io.BytesIO(data))
        for v in range(STACK_TOP - 0x10000, STACK_TOP, PAGE):
            self.map(v, self.alloc(), PTE_RW)
        self.entry = elf["e_entry"]
        for sec in elf.iter_sections():
            if sec["sh_addr"] and sec["sh_type"] == "SHT_NOBITS":
                v = sec["sh_addr"]
                while v < sec["sh_addr"] + sec["sh_size"]:
                    self.map(v, self.alloc(), PTE_RWX)
                    v += PAGE
        for seg in elf.iter_segments():
            h = seg.header
            v = h.p_vaddr
            while v < h.p_vaddr + h.p_filesz:
                pa = self.alloc()
                off = v - h.p_vaddr
                n = min(PAGE, h.p_filesz - off)
                self.m.mem_write(pa, data[h.p_offset + off:h.p_offset + off + n])
                self.map(v, pa, PTE_RWX if h.p_flags & 2 else PTE_RX)
                v += PAGE
        assert self.entry != 0

    def map_relay(self) -> None:
        for off in range(0, self.relay_size, PAGE):
            self.map(RELAY_BASE + off, self.relay_pa + off, PTE_RW)

    # ---- running ----
    def enter(self, pc: int) -> None:
        m = self.m
        m.csr_write(0x341, pc)                                  # mepc
        mstatus = m.csr_read(0x300) & ~(3 << 11)                # MPP = U
        m.csr_write(0x300, mstatus)
        m.pc = MRET

    def region(self, n: int) -> tuple[int, int]:
        """Host allocation of 2^k pages for n bytes + a metadata page; returns (pa, mapped)."""
        pages = (n + PAGE) // PAGE
        k = max(0, (pages - 1).bit_length())
        total = 1 << k
        pa = self.alloc(total)
        return pa + PAGE, (total - 1) * PAGE

    def getrand(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self.seed = (9 * self.seed + 7) % (1 << 20)
            out += self.seed.to_bytes(4, "big")
        return out[:n]

    def ocall(self, a: list[int]) -> Optional[int]:
        oid = a[0]
        if oid == 3:
            raw = self.vread(KBUF, 512)
            text = raw[:min(raw.index(0) if 0 in raw else 511, 511)]
            self.writes.append(text)
            self.out += text
            return 3
        if oid == 4:
            inc = a[1] - (1 << 64) if a[1] >> 63 else a[1]
            if inc == 0:
                return self.heap_top
            if abs(inc) % PAGE:
                return MASK
            if inc > 0:
                pa, size = self.region(inc)
                for off in range(0, size, PAGE):
                    self.map(self.heap_top + off, pa + off, PTE_RW)
                self.heap_regions.append((self.heap_top, size))
                self.heap_top += size
                return self.heap_top
            while self.heap_regions and self.heap_regions[-1][0] >= self.heap_top + inc:
                va, size = self.heap_regions.pop()
                for off in range(0, size, PAGE):
                    self.unmap(va + off)
            self.heap_top = sum(self.heap_regions[-1]) if self.heap_regions else HEAP_BASE
            return self.heap_top
        if oid == 1:
            hint, size = a[1], a[2]
            if hint and (hint % PAGE or size < PAGE or size % PAGE):
                return 0
            pa, mapped = self.region(size)
            va = hint if hint else MMAP_BASE - mapped
            def free(v: int) -> bool:
                return v + mapped <= MMAP_BASE and all(v + mapped <= r or v >= r + s
                                                       for r, s in self.mmap_regions)
            if not free(va):
                va = min(r for r, _ in self.mmap_regions) - mapped
            for off in range(0, mapped, PAGE):
                self.map(va + off, pa + off, PTE_RW)
            self.mmap_regions.append((va, mapped))
            return va
        if oid == 2:
            va, size = a[1], a[2]
            for r in self.mmap_regions:
                if r[0] <= va and va + size <= r[0] + r[1]:
                    self.mmap_regions.remove(r)
                    for off in range(0, r[1], PAGE):
                        self.unmap(r[0] + off)
                    return 0
            return MASK
        if oid == 7:
            for off in range(0, self.relay_size, PAGE):
                self.unmap(RELAY_BASE + off)
            page = bytearray(self.m.mem_read(self.relay_pa, self.relay_size))
            self.calls.append("host: run returned 1 (relay page)")
            if self.relay_hook:
                self.relay_hook(page)
            self.m.mem_write(self.relay_pa, bytes(page))
            self.map_relay()
            return 0
        if oid == 8:
            self.vwrite(a[1], self.getrand(a[2]))
            return a[2]
        return MASK

    def run(self, budget: int = 50_000_000) -> tuple[str, int]:
        m = self.m
        while True:
            ex = m.run(budget)
            if ex.reason != "exit":
                return ("stuck:" + ex.reason, ex.pc)
            m.mem_write(TOHOST, bytes(8))
            m.set_x(5, m.csr_read(0x340))                         # restore t0
            cause, epc, tval = m.csr_read(0x342), m.csr_read(0x341), m.csr_read(0x343)
            if cause != 8:
                return (f"fault cause={cause} pc={epc:#x} tval={tval:#x}", -1)
            a = [m.get_x(10 + i) for i in range(8)]
            fid, ext = a[7], a[6]
            if self.trace:
                print(f"harness: ecall a7={fid} a0..a3={[hex(x) for x in a[:4]]}", file=sys.stderr)
            if ext != 0x100101:
                if fid == 29:
                    res: Optional[int] = 0
                else:
                    return (f"illegal ecall a7={fid}", -1)
            elif fid == 99:
                self.calls.append(f"exit {a[0]:#x}")
                return ("exit", a[0])
            elif fid == 98:
                self.calls.append(f"ocall {a[0]}")
                res = self.ocall(a)
            elif fid == 90:
                res = 0
            elif fid == 89:
                res = a[0]
            else:
                return (f"unknown enclave call {fid}", -1)
            m.set_x(10, res & MASK if res is not None else a[0])
            self.enter(epc + 4)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("elf")
    ap.add_argument("--relay", type=lambda s: int(s, 0), default=0x1000)
    ap.add_argument("--shm", type=lambda s: int(s, 0), default=0x1000)
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--budget", type=int, default=50_000_000)
    args = ap.parse_args()
    data = open(args.elf, "rb").read()
    relay = struct.pack("<i", 22222).ljust(args.relay, b"\0") if args.relay else None
    shm = struct.pack("<i", 11111).ljust(args.shm, b"\0") if args.shm else None

    def hook(page: bytearray) -> None:
        page[0:4] = bytes(4)   # what demo/host does: mm_arg[0] = 0

    h = Harness(data, relay, shm, hook, args.trace)
    result = h.run(args.budget)
    sys.stdout.write(h.out.decode(errors="replace"))
    print(f"harness: {result[0]} {result[1]:#x}  ({len(h.writes)} OCALL_SYS_WRITE; "
          f"calls: {' '.join(h.calls)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
