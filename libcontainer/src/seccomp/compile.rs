//! From the OCI profile to per-ABI rules (what `ext::assemble` turns into one program).

use super::ext::{self, Abi, AbiRules, Action, Rule};
use super::{SeccompError, SeccompProgram};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use seccompiler::{SeccompCmpOp, SeccompCondition, SeccompRule};

/// What a syscall from an ABI the profile does not filter gets (libseccomp's "bad arch"
/// action). The whole process, not one thread: a half-killed process helps nobody.
const BAD_ARCH: Action = Action::KillProcess;

pub(super) fn compile(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    let default = action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "defaultErrnoRet",
    )
    .map_err(|reason| SeccompError::InvalidField {
        field: "defaultAction",
        reason,
    })?;
    if default == Action::Notify {
        return Err(SeccompError::InvalidField {
            field: "defaultAction",
            reason: "SCMP_ACT_NOTIFY cannot be the default: it would also stop the runtime's \
                     own last syscalls (execve) waiting for the agent"
                .into(),
        });
    }
    let mut abis: Vec<AbiRules> = architectures(seccomp)?
        .into_iter()
        .map(|abi| AbiRules {
            abi,
            rules: Vec::with_capacity(512),
        })
        .collect();
    let mut skipped = Vec::new();
    let mut listener = false;
    for (index, entry) in seccomp.syscalls().iter().flatten().enumerate() {
        let err = |reason| SeccompError::InvalidRule { index, reason };
        let act = action(entry.action(), entry.errno_ret(), "errnoRet").map_err(err)?;
        if act == Action::Notify && entry.names().iter().any(|n| n == "write") {
            // The process hands its listener over with write(2) once the filter is in.
            return Err(err(
                "SCMP_ACT_NOTIFY cannot be used for the write syscall (the listener is \
                 handed to the agent with it)"
                    .into(),
            ));
        }
        let args = entry.args().as_deref().unwrap_or_default();
        check_args(args).map_err(err)?;
        let known = add_entry(&mut abis, entry, act, args);
        listener |= act == Action::Notify && known.contains(&true);
        let names = entry.names().iter().zip(known);
        skipped.extend(names.filter(|(_, k)| !k).map(|(n, _)| n.clone()));
    }
    if listener && seccomp.listener_path().is_none() {
        return Err(SeccompError::InvalidField {
            field: "listenerPath",
            reason: "required when a rule uses SCMP_ACT_NOTIFY".into(),
        });
    }
    let bpf =
        ext::assemble(abis, default, BAD_ARCH).map_err(|len| SeccompError::TooLarge { len })?;
    Ok(SeccompProgram {
        bpf,
        flags: flags(seccomp)?,
        listener,
        skipped,
    })
}

/// Adds one syscall entry to every ABI; returns, per name, whether any ABI knows it.
fn add_entry(
    abis: &mut [AbiRules],
    entry: &LinuxSyscall,
    act: Action,
    args: &[LinuxSeccompArg],
) -> Vec<bool> {
    // Conditions depend on the ABI's argument width, not on the name: build once per ABI.
    let rules: Vec<Option<Rule>> = abis
        .iter()
        .map(|a| match abi_rule(a.abi, args) {
            AbiRule::Always => Some(Rule::Always(act)),
            AbiRule::When(r) => Some(Rule::When(r, act)),
            AbiRule::Never => None,
        })
        .collect();
    let mut known = vec![false; entry.names().len()];
    for (name, known) in entry.names().iter().zip(known.iter_mut()) {
        for (abi_rules, rule) in abis.iter_mut().zip(&rules) {
            if abi_rules.abi == Abi::I386 {
                *known |= add_i386_multiplexed(&mut abi_rules.rules, name, rule.as_ref());
            }
        }
        let Some(row) = ext::lookup(name) else {
            continue;
        };
        for (abi_rules, rule) in abis.iter_mut().zip(&rules) {
            let Some(nr) = abi_rules.abi.syscall_nr(row) else {
                continue;
            };
            *known = true;
            if let Some(rule) = rule {
                abi_rules.rules.push((nr, rule.clone()));
            }
        }
    }
    known
}

/// i386 socketcall(2) (102) and ipc(2) (117): one syscall each for all socket and SysV IPC
/// calls, the call picked by arg0. Every i386 program built before the direct calls existed
/// (Linux 4.3 for sockets, 5.1 for IPC) and many since use them, so a rule on `socket` that
/// only covered the direct i386 call would be bypassed (deny) or break programs (allow). As
/// libseccomp does, each such rule also becomes a socketcall/ipc rule with arg0 == the call.
/// (seccompiler has no i386 at all, so this lives with the rest of the i386 handling.)
///
/// The real arguments sit in memory behind arg1, which a filter cannot read: the rule's own
/// argument conditions cannot be checked and are dropped, so the rule holds for every such call
/// (libseccomp keeps conditions on args 1-5, which then test socketcall's pointer, and
/// replaces the one on arg0 — the same for the profiles in use, which only test arg0). A rule
/// whose conditions can never hold on i386 stays out.
const I386_MULTIPLEXED: [(&str, u32, u32); 32] = {
    const SOCKETCALL: u32 = 102;
    const IPC: u32 = 117;
    [
        ("socket", SOCKETCALL, 1),
        ("bind", SOCKETCALL, 2),
        ("connect", SOCKETCALL, 3),
        ("listen", SOCKETCALL, 4),
        ("accept", SOCKETCALL, 5),
        ("getsockname", SOCKETCALL, 6),
        ("getpeername", SOCKETCALL, 7),
        ("socketpair", SOCKETCALL, 8),
        ("send", SOCKETCALL, 9),
        ("recv", SOCKETCALL, 10),
        ("sendto", SOCKETCALL, 11),
        ("recvfrom", SOCKETCALL, 12),
        ("shutdown", SOCKETCALL, 13),
        ("setsockopt", SOCKETCALL, 14),
        ("getsockopt", SOCKETCALL, 15),
        ("sendmsg", SOCKETCALL, 16),
        ("recvmsg", SOCKETCALL, 17),
        ("accept4", SOCKETCALL, 18),
        ("recvmmsg", SOCKETCALL, 19),
        ("sendmmsg", SOCKETCALL, 20),
        ("semop", IPC, 1),
        ("semget", IPC, 2),
        ("semctl", IPC, 3),
        ("semtimedop", IPC, 4),
        ("msgsnd", IPC, 11),
        ("msgrcv", IPC, 12),
        ("msgget", IPC, 13),
        ("msgctl", IPC, 14),
        ("shmat", IPC, 21),
        ("shmdt", IPC, 22),
        ("shmget", IPC, 23),
        ("shmctl", IPC, 24),
    ]
};

/// Adds the i386 socketcall/ipc rule for `name`, if it is a multiplexed call; returns whether
/// it is one (`send` and `recv` exist on i386 only this way).
fn add_i386_multiplexed(rules: &mut Vec<(u32, Rule)>, name: &str, rule: Option<&Rule>) -> bool {
    let Some(&(_, nr, call)) = I386_MULTIPLEXED.iter().find(|(n, ..)| *n == name) else {
        return false;
    };
    let action = match rule {
        Some(Rule::Always(a) | Rule::When(_, a)) => *a,
        None => return true,
    };
    // ipc(2) takes only the low 16 bits as the call (the high ones are a version that e.g.
    // shmat accepts), so compare those alone or a version would slip past the rule.
    let op = match nr {
        102 => SeccompCmpOp::Eq,
        _ => SeccompCmpOp::MaskedEq(0xffff),
    };
    let cond = SeccompCondition::new(0, Abi::I386.arg_len(), op, call.into());
    let rule = cond.and_then(|c| SeccompRule::new(vec![c]));
    // argument 0 and one condition: neither can fail
    let rule = rule.unwrap_or_else(|e| unreachable!("{e}"));
    rules.push((nr, Rule::When(rule, action)));
    true
}

/// The architectures to filter: the native one always (as libseccomp does), plus the listed
/// ones this host can execute. Engines' multi-arch default profiles also name architectures
/// no process here can use (SCMP_ARCH_AARCH64 in an x86_64 profile): runc accepts them, and
/// so does berth, leaving them out of the filter (a syscall of theirs could only arrive
/// with their audit arch, which gets the bad-arch action anyway) and saying so in a debug log.
fn architectures(seccomp: &LinuxSeccomp) -> Result<Vec<Abi>, SeccompError> {
    let native = native_abi()?;
    let mut abis = vec![native];
    let mut foreign = Vec::new();
    for arch in seccomp.architectures().iter().flatten() {
        let abi = match arch {
            Arch::ScmpArchNative => native,
            other => match ARCHS.iter().find(|(a, _)| a == other) {
                Some(&(_, abi)) => abi,
                None if FOREIGN_ARCHS.contains(other) => {
                    foreign.push(other.to_string());
                    continue;
                }
                None => {
                    return Err(SeccompError::UnsupportedArch {
                        arch: other.to_string(),
                    })
                }
            },
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    if !foreign.is_empty() {
        log::debug!(
            "linux.seccomp.architectures: not filtering {}: this host cannot execute them",
            foreign.join(", ")
        );
    }
    Ok(abis)
}

fn native_abi() -> Result<Abi, SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(Abi::X86_64)
    } else {
        Err(SeccompError::UnsupportedArch {
            arch: format!("the native {}", std::env::consts::ARCH),
        })
    }
}

/// The filter flags berth applies and their kernel values (`flags` and `berth features`).
/// - TSYNC: harmless in the single-threaded init, and honoured rather than ignored.
/// - WAIT_KILLABLE_RECV: only changes how a notified syscall waits; `install` drops it when
///   no rule notifies, because the kernel refuses it without NEW_LISTENER.
pub(super) const FLAGS: [(LinuxSeccompFilterFlag, libc::c_ulong); 4] = {
    use LinuxSeccompFilterFlag as F;
    [
        (F::SeccompFilterFlagTsync, libc::SECCOMP_FILTER_FLAG_TSYNC),
        (F::SeccompFilterFlagLog, libc::SECCOMP_FILTER_FLAG_LOG),
        (
            F::SeccompFilterFlagSpecAllow,
            libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        ),
        (
            F::SeccompFilterFlagWaitKillableRecv,
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        ),
    ]
};

/// The architectures `architectures` filters besides the native one (SCMP_ARCH_NATIVE is
/// always accepted and not listed, as libseccomp does not list it).
pub(super) const ARCHS: [(Arch, Abi); 3] = [
    (Arch::ScmpArchX86_64, Abi::X86_64),
    (Arch::ScmpArchX86, Abi::I386),
    (Arch::ScmpArchX32, Abi::X32),
];

/// Architectures an x86_64 host never executes: accepted in a profile, not filtered (see
/// `architectures`).
pub(super) const FOREIGN_ARCHS: [Arch; 20] = {
    use Arch as A;
    [
        A::ScmpArchArm,
        A::ScmpArchAarch64,
        A::ScmpArchMips,
        A::ScmpArchMips64,
        A::ScmpArchMips64n32,
        A::ScmpArchMipsel,
        A::ScmpArchMipsel64,
        A::ScmpArchMipsel64n32,
        A::ScmpArchPpc,
        A::ScmpArchPpc64,
        A::ScmpArchPpc64le,
        A::ScmpArchS390,
        A::ScmpArchS390x,
        A::ScmpArchParisc,
        A::ScmpArchParisc64,
        A::ScmpArchRiscv64,
        A::ScmpArchLoongarch64,
        A::ScmpArchM68k,
        A::ScmpArchSh,
        A::ScmpArchSheb,
    ]
};

/// Every action `action` maps (a test compiles a rule with each).
pub(super) const ACTIONS: [LinuxSeccompAction; 9] = {
    use LinuxSeccompAction as A;
    [
        A::ScmpActKill,
        A::ScmpActKillProcess,
        A::ScmpActKillThread,
        A::ScmpActTrap,
        A::ScmpActErrno,
        A::ScmpActTrace,
        A::ScmpActAllow,
        A::ScmpActLog,
        A::ScmpActNotify,
    ]
};

/// Every operator `condition` maps (a test compiles a rule with each).
pub(super) const OPERATORS: [LinuxSeccompOperator; 7] = {
    use LinuxSeccompOperator as O;
    [
        O::ScmpCmpNe,
        O::ScmpCmpLt,
        O::ScmpCmpLe,
        O::ScmpCmpEq,
        O::ScmpCmpGe,
        O::ScmpCmpGt,
        O::ScmpCmpMaskedEq,
    ]
};

fn flags(seccomp: &LinuxSeccomp) -> Result<libc::c_ulong, SeccompError> {
    let mut flags = 0;
    for flag in seccomp.flags().iter().flatten() {
        // Every variant oci-spec knows is in FLAGS (a test checks it).
        let (_, value) =
            FLAGS
                .iter()
                .find(|(f, _)| f == flag)
                .ok_or_else(|| SeccompError::InvalidField {
                    field: "flags",
                    reason: format!("{flag} is not supported"),
                })?;
        flags |= value;
    }
    Ok(flags)
}

/// The kernel action for an OCI action; `errno_field` names the errno field for errors.
fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
) -> Result<Action, String> {
    // runc's default for ERRNO and TRACE without an explicit value.
    let data = || -> Result<u16, String> {
        let value = errno_ret.unwrap_or(libc::EPERM as u32);
        u16::try_from(value).map_err(|_| format!("{errno_field} {value} does not fit in 16 bits"))
    };
    let a = match act {
        LinuxSeccompAction::ScmpActErrno => return Ok(Action::Errno(data()?)),
        LinuxSeccompAction::ScmpActTrace => return Ok(Action::Trace(data()?)),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            Action::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActTrap => Action::Trap,
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActNotify => Action::Notify,
    };
    match errno_ret {
        Some(_) => Err(format!(
            "{errno_field} is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {act}"
        )),
        None => Ok(a),
    }
}

fn check_args(args: &[LinuxSeccompArg]) -> Result<(), String> {
    for (i, arg) in args.iter().enumerate() {
        if arg.index() > 5 {
            return Err(format!(
                "args[{i}].index {} is out of range (a syscall has arguments 0..=5)",
                arg.index()
            ));
        }
        if arg.value_two().is_some() && arg.op() != LinuxSeccompOperator::ScmpCmpMaskedEq {
            return Err(format!(
                "args[{i}].valueTwo is only meaningful with SCMP_CMP_MASKED_EQ, not {}",
                arg.op()
            ));
        }
    }
    Ok(())
}

/// An entry's argument conditions on one ABI.
enum AbiRule {
    /// No conditions, or all of them hold for every argument value.
    Always,
    /// A condition can never hold (a value beyond a 32-bit argument's range).
    Never,
    When(SeccompRule),
}

/// All conditions ANDed, as seccompiler's `SeccompRule` does.
fn abi_rule(abi: Abi, args: &[LinuxSeccompArg]) -> AbiRule {
    let mut conds = Vec::new();
    for arg in args {
        match condition(abi, arg) {
            Cond::Always => {}
            Cond::Never => return AbiRule::Never,
            Cond::Is(c) => conds.push(c),
        }
    }
    match SeccompRule::new(conds) {
        Ok(rule) => AbiRule::When(rule),
        // the only error is an empty condition list
        Err(_) => AbiRule::Always,
    }
}

enum Cond {
    Always,
    Never,
    Is(SeccompCondition),
}

/// One argument condition. A 32-bit ABI's argument has no high bits, so a value that needs
/// them decides the condition statically (comparing only the low bits would match wrongly).
fn condition(abi: Abi, arg: &LinuxSeccompArg) -> Cond {
    use LinuxSeccompOperator as Op;
    let (op, value) = match arg.op() {
        Op::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
        Op::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
        Op::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
        Op::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
        Op::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
        Op::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
        // OCI: `value` is the mask, `valueTwo` what the masked argument must equal.
        Op::ScmpCmpMaskedEq => {
            let mask = arg.value();
            let want = arg.value_two().unwrap_or(0);
            if want & !mask != 0 {
                return Cond::Never; // bits outside the mask are always 0 after masking
            }
            let mask = if abi.is_32bit() {
                mask & 0xffff_ffff
            } else {
                mask
            };
            (SeccompCmpOp::MaskedEq(mask), want)
        }
    };
    if abi.is_32bit() && value > u32::MAX as u64 {
        // argument <= u32::MAX < value
        return match op {
            SeccompCmpOp::Ne | SeccompCmpOp::Lt | SeccompCmpOp::Le => Cond::Always,
            _ => Cond::Never,
        };
    }
    // The index was checked (<= 5), the only way `new` fails.
    match SeccompCondition::new(arg.index() as u8, abi.arg_len(), op, value) {
        Ok(c) => Cond::Is(c),
        Err(_) => unreachable!("argument index checked by check_args"),
    }
}
