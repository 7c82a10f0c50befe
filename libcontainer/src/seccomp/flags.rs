//! `linux.seccomp.flags` as passed to seccomp(2), and which of them a kernel refuses.

/// The flags the profile asked for (`requested`), adjusted for the kernel: NEW_LISTENER when a
/// rule notifies, and what that implies for the others.
pub(super) fn for_kernel(requested: libc::c_ulong, listener: bool) -> libc::c_ulong {
    let mut flags = requested;
    if listener {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            // TSYNC reports a failing thread through the return value, which NEW_LISTENER
            // needs for the fd; TSYNC_ESRCH makes TSYNC report through errno instead.
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    } else {
        // As libseccomp does: meaningless without a listener, and EINVAL if passed anyway.
        flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    flags
}

const NAMES: [(libc::c_ulong, &str); 6] = [
    (libc::SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
    (libc::SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
    (
        libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ),
    (
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    ),
    (
        libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
        "SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
    ),
    (
        libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ),
];

/// The flags of `flags` this kernel does not know, by name (hex for bits without one).
///
/// seccomp(2) answers every bad flag, and some bad combinations, with one EINVAL. Each flag is
/// tried alone (with the one it depends on) and a NULL program: the kernel checks flags before
/// reading the program, so a known flag fails with EFAULT and an unknown one with EINVAL, and
/// nothing is ever installed. libseccomp probes flags the same way.
pub(super) fn refused_by_kernel(flags: libc::c_ulong) -> Vec<String> {
    (0..libc::c_ulong::BITS)
        .map(|bit| (1 as libc::c_ulong) << bit)
        .filter(|&flag| flags & flag != 0 && !kernel_knows(flag))
        .map(|flag| match NAMES.iter().find(|(f, _)| *f == flag) {
            Some((_, name)) => name.to_string(),
            None => format!("flag {flag:#x}"),
        })
        .collect()
}

fn kernel_knows(flag: libc::c_ulong) -> bool {
    let needs = match flag {
        libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV => libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        _ => 0,
    };
    matches!(
        crate::sys::seccomp::probe_flags(flag | needs),
        Err(e) if e != nix::errno::Errno::EINVAL
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_killable_recv_goes_only_with_a_listener() {
        let wkr = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        let nl = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        assert_eq!(for_kernel(wkr, true), wkr | nl);
        let log = libc::SECCOMP_FILTER_FLAG_LOG;
        assert_eq!(for_kernel(wkr | log, false), log);
    }

    #[test]
    fn refused_flags_are_named() {
        // Every flag berth passes is known to the test kernels (6.x); bit 20 to none.
        let all = NAMES.iter().fold(0, |acc, (f, _)| acc | f);
        assert_eq!(refused_by_kernel(all), Vec::<String>::new());
        let bogus = 1 << 20;
        let refused = refused_by_kernel(bogus | libc::SECCOMP_FILTER_FLAG_LOG);
        assert_eq!(refused, ["flag 0x100000"]);
    }
}
