//! Slow-path thunks: the load/store helpers behind a call that clobbers no register.
//!
//! A compiled region calls `helpers::load`/`helpers::store` on every TLB miss, misaligned
//! access, MMIO or code-page store. Those are ordinary C-ABI functions, and a C call clobbers
//! every caller-saved register, so a slow path inside a loop made the register allocator keep
//! the loop's values (guest registers, `retired`, the slice limit, the TLB view) in stack
//! slots around the whole loop, hot path included. A thunk is a tiny function compiled once
//! per process with Cranelift's `PreserveAll` convention: a call to it clobbers nothing (on
//! x86-64 and aarch64 alike, `get_regs_clobbered_by_call(PreserveAll, false)` is the empty
//! set), and as a `PreserveAll` function it saves in its prologue every register it clobbers,
//! including all that its own C call to the helper clobbers (full vector registers too), and
//! restores them before returning. `PreserveAll` has no return values, so the thunk stores the
//! helper's status in `ctx.status`, where compiled code reads it after the call. Its one
//! argument, the context, is passed as in the host's C convention and forwarded unchanged.
//!
//! The thunks live in their own executable mappings for the whole process; if Cranelift
//! cannot build them, compiled code calls the helpers directly, as before.
use super::exec_mem::ExecMem;
use super::{helpers, CTX_BASE_OFFSETS};
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature, UserFuncName};
use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use std::sync::OnceLock;

/// Entry addresses of the thunks for `helpers::load`, `helpers::store` and `helpers::exec`
/// (F/D slow paths: handler calls in integer code are C calls, with every register written
/// back and reloaded around them anyway).
pub(crate) struct Thunks {
    pub load: u64,
    pub store: u64,
    pub exec: u64,
    _mem: [ExecMem; 3],
}

/// The signature compiled code calls a thunk with: the context (the helpers' one argument),
/// nothing returned, nothing clobbered.
pub(crate) fn signature() -> Signature {
    let mut s = Signature::new(CallConv::PreserveAll);
    s.params.push(AbiParam::new(types::I64));
    s
}

/// The process's thunks, built at first use; None if Cranelift could not build them.
pub(crate) fn get(isa: &OwnedTargetIsa) -> Option<&'static Thunks> {
    static THUNKS: OnceLock<Option<Thunks>> = OnceLock::new();
    THUNKS
        .get_or_init(|| {
            let (load, lm) = build(isa, helpers::load as *const () as u64)?;
            let (store, sm) = build(isa, helpers::store as *const () as u64)?;
            let (exec, em) = build(isa, helpers::exec as *const () as u64)?;
            Some(Thunks { load, store, exec, _mem: [lm, sm, em] })
        })
        .as_ref()
}

/// Which entry of `Ctx::calls` a call site uses.
#[derive(Clone, Copy)]
pub(crate) enum Call {
    /// The slow paths: through the thunks if there are any, else the helpers themselves.
    Load = 0,
    Store = 1,
    Exec = 2,
    /// `helpers::exec` by a C call (integer code writes every register back around it).
    ExecC = 3,
}

/// The addresses of `Call`'s entries for this process, the same for every compile: compiled
/// code calls through the thunks exactly when `get` built them.
pub(crate) fn calls() -> [u64; 4] {
    static CALLS: OnceLock<[u64; 4]> = OnceLock::new();
    *CALLS.get_or_init(|| {
        let exec = helpers::exec as *const () as u64;
        match super::isa().and_then(get) {
            Some(t) => [t.load, t.store, t.exec, exec],
            None => [helpers::load as *const () as u64, helpers::store as *const () as u64, exec, exec],
        }
    })
}

/// `thunk(ctx) { ctx.status = helper(ctx) }` with `PreserveAll`.
fn build(isa: &OwnedTargetIsa, helper: u64) -> Option<(u64, ExecMem)> {
    let mut func = Function::with_name_signature(UserFuncName::user(1, 1), signature());
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let args = b.block_params(entry).to_vec();
    let c = b.import_signature(super::translate::helper_sig(isa));
    let f = b.ins().iconst(types::I64, helper as i64);
    let call = b.ins().call_indirect(c, f, &args);
    let status = b.inst_results(call)[0];
    b.ins().store(MemFlagsData::trusted(), status, args[0], CTX_BASE_OFFSETS.status);
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
    let (bytes, entry) = super::translate::machine_code(isa, func)?;
    let mem = ExecMem::new(&bytes)?;
    Some((mem.as_ptr() as u64 + entry as u64, mem))
}
