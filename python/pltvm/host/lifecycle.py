"""Enclave life cycle: ``PLenclave_init``, ``_create``, ``_run``, ``_attest``, ``_stop``,
``_resume``, ``_destroy`` and ``_destruct``."""

from __future__ import annotations

from typing import Optional, Union

from .. import _core
from ..attest import Report
from .driver import Binding, Device, Record, Region, close_dev, current_output, device_of, err, int_arg, log, open_dev
from .structs import (NAME_LEN, NORMAL_ENCLAVE, RETURN_USER_RELAY_PAGE, SERVER_ENCLAVE, SHADOW_ENCLAVE, U64_END,
                      PLenclave, elf_args, enclave_args, penglai_enclave_attest_param, penglai_enclave_user_param)

def PLenclave_init(PLenclave_: Optional[PLenclave]) -> int:
    """Reset the structure and open the (emulated) enclave device."""
    if PLenclave_ is None:
        return -1
    PLenclave_.elffile = None
    PLenclave_.eid = -1
    PLenclave_.user_param = penglai_enclave_user_param()
    PLenclave_.attest_param = penglai_enclave_attest_param()
    PLenclave_.fd = open_dev()
    if PLenclave_.fd < 0:
        err("LIB: PLenclave_init: cannot open enclave dev\n")
        return -1
    return 0


def _name16(name: Union[bytes, str, None]) -> bytes:
    if name is None:
        return b""
    if isinstance(name, str):
        name = name.encode()
    return bytes(name[:NAME_LEN]).split(b"\0", 1)[0]


def PLenclave_create(
    PLenclave_: Optional[PLenclave], u_elffile: Optional[elf_args], u_param: Optional[enclave_args]
) -> int:
    """Create an enclave from the ELF; ``user_param.eid`` (and ``eid``) become its id. The
    integer fields of ``u_elffile`` and ``u_param`` must be ints (TypeError); values the driver
    cannot use make the create fail as in C (e.g. a stack over 64 MiB, ``size`` past the end of
    ``ptr``); an shm triple the driver does not accept leaves the enclave without shm."""
    if PLenclave_ is None or PLenclave_.fd < 0:
        err("LIB: PLenclave_create: enclave hasn't be initialized yet\n")
        return -1
    if u_elffile is None:
        err("LIB: PLenclave_create: elffile does not exist\n")
        return -1
    int_arg("PLenclave_create", "elf_args.size", u_elffile.size)
    if u_param is not None:
        for name in ("type", "stack_size", "shmid", "shm_offset", "shm_size"):
            int_arg("PLenclave_create", f"enclave_args.{name}", getattr(u_param, name))
    PLenclave_.elffile = u_elffile
    p = PLenclave_.user_param
    p.elf_ptr = u_elffile.ptr
    p.elf_size = u_elffile.size
    if p.elf_ptr is None or p.elf_size <= 0:
        err("LIB: PLencalve_create: ioctl create enclave: elf_ptr is NULL\n")
        return -1
    if u_param is None:
        err("LIB: PLenclave_create: ioctl create enclave is failed\n")
        return -1
    p.stack_size = 0 if u_param.type == SHADOW_ENCLAVE else u_param.stack_size
    p.shmid = u_param.shmid
    p.shm_offset = u_param.shm_offset
    p.shm_size = u_param.shm_size
    p.type = u_param.type
    p.name = _name16(u_param.name)
    dev = device_of(PLenclave_.fd)
    eid = _ioctl_create(dev, p) if dev is not None else None
    if eid is None:
        err("LIB: PLenclave_create: ioctl create enclave is failed\n")
        return -1
    p.eid = eid
    PLenclave_.eid = eid
    return 0


def _ioctl_create(dev: Device, p: penglai_enclave_user_param) -> Optional[int]:
    assert p.elf_ptr is not None
    if p.elf_size > len(p.elf_ptr):  # the driver's copy of elf_size bytes would fault
        log.warning("create enclave failed: elf_size %#x is past the end of the ELF (%#x bytes)",
                     p.elf_size, len(p.elf_ptr))
        return None
    elf = p.elf_ptr if p.elf_size == len(p.elf_ptr) else p.elf_ptr[: p.elf_size]
    if not 0 <= p.type < 1 << 32 or not 0 <= p.stack_size < U64_END:  # the ioctl's u32 and u64
        log.warning("create enclave failed: type %d or stack_size %d does not fit the ioctl's fields",
                     p.type, p.stack_size)
        return None
    shm = None
    if p.type in (NORMAL_ENCLAVE, SERVER_ENCLAVE):
        shm = Device.resolve(dev.shms, p.shmid, p.shm_offset, p.shm_size)
    persistency = dev.persistency_file if shm is not None and dev.persistency_shm == p.shmid else None
    try:
        enc = dev.monitor.create(
            elf,
            name=p.name,
            type=p.type,
            stack_size=p.stack_size,
            shm=shm.get() if shm is not None else None,
            persistency=persistency,
        )
    except (ValueError, MemoryError, NotImplementedError, RuntimeError, OverflowError) as e:
        log.warning("create enclave failed: %s", e)
        return None
    for w in enc.warnings:
        log.warning("%s", w)
    dev.register(enc, shm)
    return enc.id


def _run_result(dev: Device, p: penglai_enclave_user_param, rec: Record, entry: str,
                relay: Optional[bytes]) -> int:
    """One run of the enclave of ``rec`` and the driver's work after it. Only ``rec`` is
    touched: by the time the run returns, an ended enclave's id may already be another's."""
    enc, shm = rec.enc, rec.shm
    try:
        r = enc.run(entry, relay=relay, shm=shm.get() if shm is not None else None, output=current_output())
        # EAPP_YIELD. Penglai's driver loop does not handle it: the run ioctl frees the
        # driver's record and PLenclave_run returns 3 while the monitor still holds the enclave
        # (nothing can run or destroy it any more). We resume a yield at once, as the driver
        # resumes a timer exit, so the host program never sees it (docs/ipc.md, "Yield").
        while r.reason == "yield":
            if shm is not None and r.shm is not None:
                shm.put(r.shm)
            r = enc.run("continue", shm=shm.get() if shm is not None else None, output=current_output())
    except BaseException:
        if enc.state == "INVALID":  # the output sink raised: the enclave was destroyed
            dev.drop(rec)
        raise
    if shm is not None and r.shm is not None:
        shm.put(r.shm)
    if rec.relay is None and r.relay and r.reason == "relay":
        # A relay page the enclave inherited by name (no schrodinger region of the host): the
        # driver keeps region 0 in the mailbox and maps it again on the re-run.
        rec.relay = Binding(Region(len(r.relay[0])), 0, len(r.relay[0]))
    if rec.relay is not None and r.relay:
        rec.relay.put(r.relay[0])
    if r.reason == "exit":
        p.retval = r.retval or 0
    elif r.reason in ("destroyed", "fault", "aborted"):
        p.retval = 0  # B23: read from a freed record on Penglai
    if r.reason == "relay":
        return RETURN_USER_RELAY_PAGE
    if r.reason in ("exit", "fault", "destroyed", "aborted"):
        dev.drop(rec)
    if r.reason in ("exit", "destroyed"):
        return 0
    if r.reason == "fault":
        log.warning(
            "enclave %#x destroyed: cause %s at pc %#x, tval %#x%s", rec.id, r.cause, r.pc or 0, r.tval or 0,
            f", ecall a7={r.syscall}" if r.syscall is not None else "",
        )
    elif r.reason == "refused":
        log.warning("run enclave %#x refused: %s", rec.id, r.message)
    return -1


def _fork_instance(dev: Device, p: penglai_enclave_user_param, template: _core.Enclave) -> Optional[Record]:
    """Run of a shadow template (§4.4, §5.2): fork a fresh instance with the shm named by
    ``user_param`` and its name; ``user_param.eid`` becomes the instance's id and ``isShadow`` 1."""
    shm = Device.resolve(dev.shms, p.shmid, p.shm_offset, p.shm_size)
    persistency = dev.persistency_file if shm is not None and dev.persistency_shm == p.shmid else None
    try:
        inst = template.fork(name=p.name, shm=shm.get() if shm is not None else None, persistency=persistency)
    except (ValueError, MemoryError, NotImplementedError, RuntimeError, OverflowError) as e:
        log.warning("fork of shadow enclave %#x failed: %s", template.id, e)
        return None
    rec = dev.register(inst, shm)
    p.eid = inst.id
    p.isShadow = 1
    return rec


def PLenclave_run(PLenclave_: Optional[PLenclave]) -> int:
    """Run (or re-run after a relay-page return). 0: the enclave exited (value in
    ``user_param.retval``) or was destroyed; 1: it returned its relay page; -1: failure,
    including a faulting enclave. The integer fields of ``user_param`` must be ints (TypeError);
    a relay triple the driver does not accept runs the enclave without relay pages."""
    if PLenclave_ is not None:
        int_arg("PLenclave_run", "eid", PLenclave_.eid)
    if PLenclave_ is None or PLenclave_.fd < 0 or PLenclave_.eid < 0:
        err("LIB: PLenclave_run: enclave can not be run\n")
        return -1
    p = PLenclave_.user_param
    for name in ("eid", "rerun_reason", "schrodinger_id", "schrodinger_offset", "schrodinger_size",
                 "shmid", "shm_offset", "shm_size"):
        int_arg("PLenclave_run", f"user_param.{name}", getattr(p, name))
    dev = device_of(PLenclave_.fd)
    rec = dev.find(p.eid) if dev is not None else None
    ret = -1
    if dev is not None and rec is not None:
        if p.rerun_reason > 0:
            if p.rerun_reason == RETURN_USER_RELAY_PAGE:
                ret = _run_result(dev, p, rec, "rerun_relay", rec.relay.get() if rec.relay is not None else None)
        else:
            relay = None
            if p.schrodinger_id > 0 and p.schrodinger_size != 0:
                relay = Device.resolve(dev.schrodingers, p.schrodinger_id, p.schrodinger_offset,
                                        p.schrodinger_size)
            # Size 0: the driver's magic relay argument, "map the relay regions handed to my
            # name" (asyn_enclave_call in another enclave); the run fails if there are none.
            inherit = p.schrodinger_id > 0 and p.schrodinger_size == 0
            run: Optional[Record] = rec
            if rec.enc.type == SHADOW_ENCLAVE:
                run = _fork_instance(dev, p, rec.enc)
            if run is not None:
                run.relay = relay
                ret = _run_result(dev, p, run, "start_inherit" if inherit else "start",
                                  relay.get() if relay is not None else None)
    if ret < 0:
        err("LIB: PLenclave_run: ioctl run enclave is failed \n")
        return -1
    return ret


def PLenclave_attest(PLenclave_: Optional[PLenclave], nonce: int) -> int:
    """Host attestation (monitor fid 98; fid 80 for a shadow template): fills ``attest_param``
    as the library does (``isShadow``, ``eid`` = ``PLenclave->eid``, ``nonce``), then
    ``attest_param.report`` with the signed ``report_t`` (``enclave.hash`` =
    ``SM3(measurement ‖ le64(nonce))``; see :mod:`pltvm.attest`). The enclave must be FRESH or
    STOPPED. With ``isShadow = 1`` the instance named by ``user_param.eid`` is attested (B22).
    ``nonce`` is an int, taken modulo 2**64 as C converts it to ``uintptr_t``."""
    int_arg("PLenclave_attest", "nonce", nonce)
    report = None
    if PLenclave_ is not None:
        PLenclave_.attest_param.isShadow = PLenclave_.user_param.isShadow
        PLenclave_.attest_param.eid = PLenclave_.eid
        PLenclave_.attest_param.nonce = nonce
        dev = device_of(PLenclave_.fd)
        rid = PLenclave_.user_param.eid if PLenclave_.attest_param.isShadow else PLenclave_.eid
        rec = dev.find(rid) if dev is not None else None
        target = rec.enc if rec is not None else None
        if target is not None and hasattr(target, "attest"):
            try:
                report = target.attest(nonce & 0xFFFF_FFFF_FFFF_FFFF)
            except (RuntimeError, ValueError) as e:
                log.warning("attest enclave %#x failed: %s", rid, e)
    if report is None:
        err("LIB: ioctl attest enclave is failed ret -1 \n")
        return -1
    PLenclave_.attest_param.report = Report.from_bytes(report).to_report_t()  # type: ignore[union-attr]
    return 0


def _lookup(PLenclave_: Optional[PLenclave]) -> tuple[Optional[Device], Optional[Record]]:
    if PLenclave_ is None:
        return None, None
    dev = device_of(PLenclave_.fd)
    if dev is None:
        return None, None
    return dev, dev.find(PLenclave_.user_param.eid)


def PLenclave_stop(PLenclave_: Optional[PLenclave]) -> int:
    """Stop a running (or runnable) enclave; its pending PLenclave_run keeps blocking."""
    _, rec = _lookup(PLenclave_)
    if rec is None or rec.enc.stop() != 0:
        err("LIB: ioctl stop enclave is failed \n")
        return -1
    return 0


def PLenclave_resume(PLenclave_: Optional[PLenclave]) -> int:
    """Wake a stopped enclave. On failure the driver drops its record of the enclave."""
    dev, rec = _lookup(PLenclave_)
    if dev is None or rec is None:
        err("LIB: ioctl stop enclave is failed \n")
        return -1
    if rec.enc.resume() != 0:
        rec.enc.forget()
        dev.drop(rec)
        err("LIB: ioctl stop enclave is failed \n")
        return -1
    return 0


def PLenclave_destroy(PLenclave_: Optional[PLenclave]) -> int:
    """Destroy the enclave; a run in flight in another thread returns 0."""
    dev, rec = _lookup(PLenclave_)
    if dev is None or rec is None or rec.enc.destroy() != 0:
        err("LIB: ioctl stop enclave is failed \n")
        return -1
    dev.drop(rec)
    return 0


def PLenclave_destruct(PLenclave_: Optional[PLenclave]) -> int:
    """Close the device file descriptor; returns ``close()``'s result."""
    if PLenclave_ is None:
        return -1
    return close_dev(PLenclave_.fd)
