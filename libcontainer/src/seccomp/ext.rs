//! The one place where berth extends seccompiler.
//!
//! seccompiler compiles each argument rule (`SeccompRule` → BPF) and gives us the BPF types, and
//! we use it for exactly that. It cannot express an OCI profile on its own, because:
//! - a `SeccompFilter` has a single match action, while every OCI syscall entry has its own;
//! - it has no SCMP_ACT_NOTIFY (`SECCOMP_RET_USER_NOTIF`) action;
//! - its filter checks one architecture and kills every other, while Docker-style profiles filter
//!   x86_64, i386 (own syscall numbers, AUDIT_ARCH_I386) and x32 (AUDIT_ARCH_X86_64 with
//!   `__X32_SYSCALL_BIT` in the number) in one program;
//! - its syscall tables are private and lack i386 and x32.
//!
//! So the program skeleton is assembled here by hand: a dispatch on `seccomp_data.arch` (and on
//! the x32 bit), then per ABI a binary search over syscall numbers whose leaves hold the
//! seccompiler-compiled rule blocks. Jumps are symbolic and resolved at the end, with `JA`
//! trampolines where a conditional jump would exceed BPF's 8-bit offsets.

use super::syscall_table::SYSCALLS;
use seccompiler::{sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompRule};

/// Marks an ABI on which a syscall does not exist, in the generated table.
pub(super) const NONE: u32 = u32::MAX;

const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// BPF_MAXINSNS: the kernel refuses longer filters.
pub(super) const MAX_INSNS: usize = 4096;

const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;
const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;

/// Syscalls per leaf of the number search: few enough that the leaf's jumps stay short and a
/// lookup costs ~log2(n) + 8 instructions instead of a linear scan of the whole profile.
const LEAF_LEN: usize = 8;
/// A left subtree with more syscalls than this is likely over 255 instructions long.
const FAR_SUBTREE: usize = 48;

/// Every action the kernel knows, NOTIFY included (seccompiler's `SeccompAction` lacks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
    Notify,
}

impl Action {
    /// The filter's return value for this action.
    pub(super) fn ret_value(self) -> u32 {
        let known = match self {
            Action::Notify => return libc::SECCOMP_RET_USER_NOTIF,
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
            Action::Trap => SeccompAction::Trap,
            Action::Errno(e) => SeccompAction::Errno(e.into()),
            Action::Trace(t) => SeccompAction::Trace(t.into()),
            Action::Allow => SeccompAction::Allow,
            Action::Log => SeccompAction::Log,
        };
        known.into()
    }
}

/// The x86 syscall ABIs a filter can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Abi {
    X86_64,
    I386,
    X32,
}

impl Abi {
    /// The syscall number as `seccomp_data.nr` shows it on this ABI, from a `lookup` row.
    pub(super) fn syscall_nr(self, row: &SyscallRow) -> Option<u32> {
        let nr = match self {
            Abi::X86_64 => row.1,
            Abi::I386 => row.2,
            Abi::X32 => row.3,
        };
        (nr != NONE).then(|| {
            if self == Abi::X32 {
                nr | X32_SYSCALL_BIT
            } else {
                nr
            }
        })
    }

    /// Arguments are registers of the ABI's width: on i386 and x32 only the low 32 bits are
    /// the syscall's argument (libseccomp compares the same way).
    pub(super) fn arg_len(self) -> SeccompCmpArgLen {
        match self {
            Abi::X86_64 => SeccompCmpArgLen::Qword,
            Abi::I386 | Abi::X32 => SeccompCmpArgLen::Dword,
        }
    }

    pub(super) fn is_32bit(self) -> bool {
        self != Abi::X86_64
    }
}

/// (name, x86_64, i386, x32 without the x32 bit) as in the generated table.
pub(super) type SyscallRow = (&'static str, u32, u32, u32);

/// The syscall's numbers on every ABI; one binary search serves all of them.
pub(super) fn lookup(name: &str) -> Option<&'static SyscallRow> {
    let i = SYSCALLS.binary_search_by(|e| e.0.cmp(name)).ok()?;
    Some(&SYSCALLS[i])
}

/// One profile rule for one syscall number.
#[derive(Clone, Debug)]
pub(super) enum Rule {
    Always(Action),
    When(SeccompRule, Action),
}

/// The rules of one ABI, in profile order (any syscall order).
pub(super) struct AbiRules {
    pub(super) abi: Abi,
    pub(super) rules: Vec<(u32, Rule)>,
}

/// What a matched syscall number runs; always ends in a return.
#[derive(Debug, PartialEq, Eq)]
enum Block {
    Ret(u32),
    Code(Vec<sock_filter>),
}

/// The block for one syscall's rules: conditional rules in profile order (first match wins),
/// then the first unconditional action, else the default. None when that is just the default.
fn syscall_block(rules: &[(u32, Rule)], default: Action) -> Option<Block> {
    let always = rules.iter().find_map(|(_, r)| match r {
        Rule::Always(a) => Some(*a),
        Rule::When(..) => None,
    });
    let fallback = always.unwrap_or(default);
    let mut code = Vec::new();
    for (_, rule) in rules {
        match rule {
            // a match would return what a mismatch returns anyway
            Rule::When(_, action) if *action == fallback => {}
            Rule::When(rule, action) => {
                // seccompiler's rule code falls through on match and skips one instruction
                // (the return we append) on mismatch.
                code.extend(BpfProgram::from(rule.clone()));
                code.push(ret(action.ret_value()));
            }
            Rule::Always(_) => {}
        }
    }
    match (code.is_empty(), fallback == default) {
        (true, true) => None,
        (true, false) => Some(Block::Ret(fallback.ret_value())),
        (false, _) => {
            code.push(ret(fallback.ret_value()));
            Some(Block::Code(code))
        }
    }
}

/// Sorts one ABI's rules by number (stably: profile order stays) and makes one block each.
fn abi_blocks(mut rules: Vec<(u32, Rule)>, default: Action) -> Vec<(u32, Block)> {
    rules.sort_by_key(|(nr, _)| *nr);
    rules
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|same| Some((same[0].0, syscall_block(same, default)?)))
        .collect()
}

fn ret(value: u32) -> sock_filter {
    stmt(BPF_RET_K, value)
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Builds the whole program. `abis` must contain `Abi::X86_64` (the native ABI). Returns the
/// instruction count as error when the kernel would refuse the program as too long.
pub(super) fn assemble(
    abis: Vec<AbiRules>,
    default: Action,
    bad_arch: Action,
) -> Result<Vec<sock_filter>, usize> {
    let has = |abi| abis.iter().any(|a| a.abi == abi);
    let mut asm = Asm::default();
    let (l64, l32, lx32, lbad) = (asm.label(), asm.label(), asm.label(), asm.label());
    let lenosys = asm.label();
    let enosys = enosys_for_newer(default);
    asm.raw(stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH));
    asm.jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, l64);
    if has(Abi::I386) {
        asm.far_jump(BPF_JEQ_K, AUDIT_ARCH_I386, l32);
    }
    asm.raw(ret(bad_arch.ret_value()));
    // Without this, an x32 call would be looked up in the x86_64 table (where its number with
    // the x32 bit never matches) and get the default action, e.g. ALLOW in a deny-list profile.
    let x32 = has(Abi::X32);
    let mut abis = abis;
    abis.sort_by_key(|a| a.abi);
    for AbiRules { abi, rules } in abis {
        match abi {
            Abi::X86_64 => {
                asm.mark(l64);
                asm.raw(stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR));
                asm.x32_split(x32.then_some(lx32), lbad);
            }
            Abi::X32 => asm.mark(lx32), // the number is still loaded
            Abi::I386 => {
                asm.mark(l32);
                asm.raw(stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR));
            }
        }
        let newest = rules.iter().map(|(nr, _)| *nr).max();
        if let Some(newest) = newest.filter(|_| enosys) {
            asm.far_jump(BPF_JGE_K, newest.saturating_add(1), lenosys);
        }
        asm.search(&abi_blocks(rules, default), default.ret_value());
    }
    asm.mark(lbad);
    asm.raw(ret(bad_arch.ret_value()));
    if enosys {
        asm.mark(lenosys);
        asm.raw(ret(Action::Errno(ENOSYS).ret_value()));
    }
    let program = asm.finish();
    if program.len() > MAX_INSNS {
        return Err(program.len());
    }
    Ok(program)
}

const ENOSYS: u16 = libc::ENOSYS as u16;

/// runc's -ENOSYS stub: a syscall numbered above every one the profile names (per ABI) is
/// newer than the profile, and gets ENOSYS instead of a refusing default action, so programs
/// fall back to the older call they also know (glibc: clone3 to clone, faccessat2 to
/// faccessat) instead of failing on EPERM. Not with an allowing default (ALLOW, LOG, and
/// TRACE, whose tracer handles new calls itself), nor when the default already is ENOSYS.
fn enosys_for_newer(default: Action) -> bool {
    match default {
        Action::Allow | Action::Log | Action::Trace(_) => false,
        Action::Errno(e) => e != ENOSYS,
        _ => true,
    }
}

type Label = usize;

#[derive(Clone, Debug)]
enum Ins {
    /// An instruction without symbolic jumps (may be part of a seccompiler rule block whose
    /// relative jumps stay inside the block: nothing is ever inserted between `Raw`s).
    Raw(sock_filter),
    /// Conditional jump to `jt` if true, `jf` if false; `None` is the next instruction.
    Jump {
        code: u16,
        k: u32,
        jt: Option<Label>,
        jf: Option<Label>,
    },
    Always(Label),
    Mark(Label),
}

#[derive(Default)]
struct Asm {
    ins: Vec<Ins>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }

    fn mark(&mut self, label: Label) {
        self.ins.push(Ins::Mark(label));
    }

    fn raw(&mut self, f: sock_filter) {
        self.ins.push(Ins::Raw(f));
    }

    /// Jumps to `target` if the condition holds, else falls through. For near targets.
    fn jump(&mut self, code: u16, k: u32, target: Label) {
        let (jt, jf) = (Some(target), None);
        self.ins.push(Ins::Jump { code, k, jt, jf });
    }

    /// Like `jump`, for targets that are usually farther than 255 instructions: through a
    /// `JA`, so that `finish` rarely needs a second pass.
    fn far_jump(&mut self, code: u16, k: u32, target: Label) {
        let skip = self.label();
        let (jt, jf) = (None, Some(skip));
        self.ins.push(Ins::Jump { code, k, jt, jf });
        self.ins.push(Ins::Always(target));
        self.mark(skip);
    }

    /// Sends x32 numbers to `x32` (or, unfiltered, to `bad`) and lets x86_64 ones fall
    /// through. Number -1 stays x86_64 (it gets the default action, ENOSYS in the kernel), as
    /// in libseccomp: tracers use it to skip a syscall.
    fn x32_split(&mut self, x32: Option<Label>, bad: Label) {
        if let Some(x32) = x32 {
            return self.far_jump(BPF_JGE_K, X32_SYSCALL_BIT, x32);
        }
        let native = self.label();
        let (code, k) = (BPF_JGE_K, X32_SYSCALL_BIT);
        let (jt, jf) = (None, Some(native));
        self.ins.push(Ins::Jump { code, k, jt, jf });
        self.jump(BPF_JEQ_K, u32::MAX, native);
        self.ins.push(Ins::Always(bad));
        self.mark(native);
    }

    /// Binary search on the syscall number (in the accumulator) over `blocks`, sorted by number.
    fn search(&mut self, blocks: &[(u32, Block)], default_ret: u32) {
        if blocks.len() <= LEAF_LEN {
            return self.leaf(blocks, default_ret);
        }
        let mid = blocks.len() / 2;
        let right = self.label();
        // Small left halves are near: a plain jump saves an instruction per node.
        if mid > FAR_SUBTREE {
            self.far_jump(BPF_JGE_K, blocks[mid].0, right);
        } else {
            self.jump(BPF_JGE_K, blocks[mid].0, right);
        }
        self.search(&blocks[..mid], default_ret);
        self.mark(right);
        self.search(&blocks[mid..], default_ret);
    }

    /// Compares the number against each syscall of the leaf; identical blocks (typically a bare
    /// `RET ALLOW`) are emitted once.
    fn leaf(&mut self, blocks: &[(u32, Block)], default_ret: u32) {
        let mut bodies: Vec<(&Block, Label)> = Vec::with_capacity(blocks.len());
        for (nr, block) in blocks {
            let target = match bodies.iter().find(|(b, _)| *b == block) {
                Some((_, label)) => *label,
                None => {
                    let label = self.label();
                    bodies.push((block, label));
                    label
                }
            };
            self.jump(BPF_JEQ_K, *nr, target);
        }
        self.raw(ret(default_ret));
        for (body, label) in bodies {
            self.mark(label);
            match body {
                Block::Ret(value) => self.raw(ret(*value)),
                Block::Code(code) => code.iter().for_each(|f| self.raw(f.clone())),
            }
        }
    }

    /// Resolves labels; each conditional jump farther than 255 instructions gets `JA`
    /// trampolines right behind it (repeated until no jump is too far, as trampolines move code).
    fn finish(mut self) -> Vec<sock_filter> {
        loop {
            let pos = self.positions();
            let far = |from: usize, to: Option<Label>| {
                to.is_some_and(|l| pos[l] - from - 1 > u8::MAX as usize)
            };
            let mut here = 0;
            let too_far = self.ins.iter().any(|ins| match ins {
                Ins::Mark(_) => false,
                Ins::Jump { jt, jf, .. } => {
                    here += 1;
                    far(here - 1, *jt) || far(here - 1, *jf)
                }
                _ => {
                    here += 1;
                    false
                }
            });
            if !too_far {
                return self.emit(&pos);
            }
            self.add_trampolines(&pos);
        }
    }

    fn add_trampolines(&mut self, pos: &[usize]) {
        let far = |from: usize, to: Option<Label>| {
            to.is_some_and(|l| pos[l] - from - 1 > u8::MAX as usize)
        };
        let old = std::mem::take(&mut self.ins);
        let mut fixed = Vec::with_capacity(old.len() + 16);
        let mut here = 0;
        for ins in old {
            match ins {
                Ins::Mark(_) => {
                    fixed.push(ins);
                    continue;
                }
                Ins::Jump { code, k, jt, jf } if far(here, jt) || far(here, jf) => {
                    let (t, f, next) = (self.label(), self.label(), self.label());
                    let (jt, jf) = (jt.unwrap_or(next), jf.unwrap_or(next));
                    fixed.push(Ins::Jump {
                        code,
                        k,
                        jt: Some(t),
                        jf: Some(f),
                    });
                    fixed.extend([Ins::Mark(t), Ins::Always(jt), Ins::Mark(f), Ins::Always(jf)]);
                    fixed.push(Ins::Mark(next));
                }
                other => fixed.push(other),
            }
            here += 1;
        }
        self.ins = fixed;
    }

    /// Instruction index of every label.
    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![usize::MAX; self.labels];
        let mut here = 0;
        for ins in &self.ins {
            match ins {
                Ins::Mark(l) => pos[*l] = here,
                _ => here += 1,
            }
        }
        pos
    }

    fn emit(&self, pos: &[usize]) -> Vec<sock_filter> {
        let mut out = Vec::with_capacity(self.ins.len());
        for ins in &self.ins {
            let here = out.len();
            let off = |to: Label| pos[to] - here - 1;
            let cond = |to: Option<Label>| to.map_or(0, off) as u8;
            match ins {
                Ins::Mark(_) => {}
                Ins::Raw(f) => out.push(f.clone()),
                Ins::Always(to) => out.push(stmt(BPF_JA, off(*to) as u32)),
                Ins::Jump { code, k, jt, jf } => out.push(sock_filter {
                    code: *code,
                    jt: cond(*jt),
                    jf: cond(*jf),
                    k: *k,
                }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::tests::bpf_interp::{run, Data};

    #[test]
    fn conditional_jumps_beyond_255_get_trampolines() {
        let mut asm = Asm::default();
        let (far, near) = (asm.label(), asm.label());
        asm.raw(stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR));
        asm.jump(BPF_JEQ_K, 5, far);
        asm.jump(BPF_JEQ_K, 6, near);
        asm.raw(ret(1));
        asm.mark(near);
        (0..300).for_each(|_| asm.raw(ret(2)));
        asm.mark(far);
        asm.raw(ret(3));
        let prog = asm.finish();
        assert!(
            prog.len() > 304,
            "no trampoline in {} instructions",
            prog.len()
        );
        let result = |nr| run(&prog, &Data::new(0, nr, &[]));
        assert_eq!([result(5), result(6), result(7)], [3, 2, 1]);
    }
}
