//! Test-only helper shared (via `#[path]`) by the modules that change process state: the work
//! runs in a forked child so the test binary's own credentials, limits and stdio stay intact.

use std::io::{Read, Write};

/// Forks, runs `f` in the child and panics in the parent with the child's error message if `f`
/// failed or panicked. The child leaves with `_exit` so no test-harness state is touched twice.
/// The child's stdio is /dev/null: code under test may chown or replace its stdio, which must
/// never reach the terminal or files the test binary was started with.
pub fn in_child<F: FnOnce() -> Result<(), String>>(f: F) {
    let (rd, wr) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child only runs `f` and `_exit`s; it never returns into the test harness.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            drop(rd);
            detach_stdio();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let msg = match outcome {
                Ok(Ok(())) => String::new(),
                Ok(Err(e)) => e,
                Err(p) => match (p.downcast_ref::<&str>(), p.downcast_ref::<String>()) {
                    (Some(s), _) => format!("child panicked: {s}"),
                    (_, Some(s)) => format!("child panicked: {s}"),
                    _ => "child panicked".to_string(),
                },
            };
            let mut wr = std::fs::File::from(wr);
            let _ = wr.write_all(msg.as_bytes());
            // SAFETY: _exit is always safe; it skips atexit handlers inherited from the harness.
            unsafe { libc::_exit(if msg.is_empty() { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(wr);
            let mut msg = String::new();
            std::fs::File::from(rd)
                .read_to_string(&mut msg)
                .expect("read child report");
            let status = nix::sys::wait::waitpid(child, None).expect("waitpid");
            assert!(msg.is_empty(), "child failed: {msg}");
            assert_eq!(
                status,
                nix::sys::wait::WaitStatus::Exited(child, 0),
                "child did not exit cleanly"
            );
        }
    }
}

fn detach_stdio() {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null");
    let null = null.expect("open /dev/null");
    for fd in 0..=2 {
        // SAFETY: replaces this child's own stdio numbers with /dev/null.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
    }
}

/// Makes syscall `nr` fail with ENOSYS in this process from now on, as an old kernel or a
/// seccomp profile like Docker's answers it (for the fallbacks; call it in `in_child`).
pub fn refuse_with_enosys(nr: libc::c_long) -> Result<(), String> {
    use seccompiler::{SeccompAction, SeccompFilter, TargetArch};
    let filter = SeccompFilter::new(
        [(nr, vec![])].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )
    .map_err(|e| e.to_string())?;
    let prog: seccompiler::BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&prog).map_err(|e| e.to_string())
}

/// The fd number is close-on-exec (false for a free number).
pub fn cloexec(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of an fd number.
    unsafe { libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0 }
}
