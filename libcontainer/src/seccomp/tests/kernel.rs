//! The compiled filters in the real kernel, each in a forked child (a filter cannot be removed).

use super::agent;
use super::{profile, DEFAULT_LIKE};
use crate::seccomp::{compile, install, send_listener, SeccompProgram};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;
use std::ffi::CString;
use std::path::PathBuf;

/// Runs `f` in a forked child, which exits with f's return value; returns how it ended.
fn in_child(f: impl FnOnce() -> i32) -> WaitStatus {
    // SAFETY: the child only runs `f` and exits; glibc keeps malloc usable after fork.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(100);
            // SAFETY: leaving the child without running the test harness's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
    }
}

/// Installs `program` in a child and runs `check` there; the child exits 0 when it holds.
fn under_filter(program: &SeccompProgram, check: impl FnOnce() -> i32) -> WaitStatus {
    in_child(|| match install(program) {
        Ok(None) => check(),
        Ok(Some(_)) => 90,
        Err(_) => 91,
    })
}

fn exited_ok(status: WaitStatus) {
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

/// errno of the last failed libc call, or 0 when `rc` is not a failure.
fn errno_if_failed(rc: libc::c_long) -> i32 {
    if rc == -1 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

fn compiled(spec: &LinuxSeccomp) -> SeccompProgram {
    compile(spec).expect("profile compiles")
}

/// A path under the temp dir unique to this test and process, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("berth-seccomp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }

    fn c(&self) -> CString {
        CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

fn mkdir_errno(path: &CString) -> i32 {
    // SAFETY: a valid C string.
    errno_if_failed(unsafe { libc::mkdir(path.as_ptr(), 0o700) }.into())
}

#[test]
fn denied_syscall_returns_the_configured_errno_and_allowed_ones_work() {
    let dir = TempPath::new("errno");
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 123}]
    })));
    let path = dir.c();
    exited_ok(under_filter(&p, || {
        // SAFETY: plain syscalls.
        let pid = unsafe { libc::syscall(libc::SYS_getpid) };
        match (mkdir_errno(&path), pid == std::process::id() as i64) {
            (123, true) => 0,
            _ => 1,
        }
    }));
    assert!(!dir.0.exists());
}

#[test]
fn kill_process_kills_with_sigsys() {
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
    })));
    let status = under_filter(&p, || {
        // SAFETY: a plain syscall; the filter must kill us in it.
        unsafe { libc::syscall(libc::SYS_getppid) };
        1
    });
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "{status:?}"
    );
}

#[test]
fn argument_filter_allows_one_value_and_denies_another() {
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 78,
             "args": [{"index": 1, "value": 255, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    })));
    exited_ok(under_filter(&p, || {
        let me = std::process::id() as libc::c_long;
        // SAFETY: plain syscalls; signal 0 and SIGCONT to oneself are harmless.
        let results = unsafe {
            [
                errno_if_failed(libc::syscall(libc::SYS_getpgid, 0)),
                errno_if_failed(libc::syscall(libc::SYS_getpgid, me)),
                errno_if_failed(libc::syscall(libc::SYS_kill, me, 0)),
                errno_if_failed(libc::syscall(libc::SYS_kill, me, libc::SIGCONT)),
            ]
        };
        (results != [0, 77, 78, 0]) as i32
    }));
}

#[test]
fn log_allows() {
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]
    })));
    let parent = std::process::id() as libc::c_long;
    // SAFETY: a plain syscall.
    exited_ok(under_filter(&p, || {
        (unsafe { libc::syscall(libc::SYS_getppid) } != parent) as i32
    }));
}

#[test]
fn default_like_profile_runs_basic_syscalls_and_denies_the_rest() {
    let p = compiled(&serde_json::from_str(DEFAULT_LIKE).unwrap());
    let dir = TempPath::new("default-like");
    let path = dir.c();
    let (rd, wr) = nix::unistd::pipe().unwrap();
    exited_ok(under_filter(&p, || {
        let ok_write = nix::unistd::write(&wr, b"hi") == Ok(2);
        let ok_pid = std::process::id() > 0;
        let ok_mkdir = mkdir_errno(&path) == 0;
        let target = c"/";
        // SAFETY: mount with valid strings; the profile must refuse it.
        let mount = unsafe {
            libc::mount(
                target.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT,
                std::ptr::null(),
            )
        };
        let denied_mount = errno_if_failed(mount.into()) == libc::EPERM;
        (!(ok_write && ok_pid && ok_mkdir && denied_mount)) as i32
    }));
    let mut buf = [0u8; 2];
    assert_eq!(nix::unistd::read(&rd, &mut buf), Ok(2));
    assert!(dir.0.is_dir());
}

#[test]
fn profile_denying_mkdir_makes_mkdir_fail_with_eperm() {
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    })));
    let dir = TempPath::new("mkdir-eperm");
    let path = dir.c();
    exited_ok(under_filter(&p, || {
        (mkdir_errno(&path) != libc::EPERM) as i32
    }));
    assert!(!dir.0.exists());
}

#[cfg(target_arch = "x86_64")]
/// An i386 syscall from this 64-bit process (the kernel treats `int 0x80` as the i386 ABI).
fn int80(nr: u32) -> i32 {
    let ret: i32;
    // SAFETY: syscalls without arguments; int 0x80 may clobber r8-r11.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("eax") nr as i32 => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    ret
}

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_syscalls_are_filtered_with_their_own_numbers() {
    const I386_GETPID: u32 = 20;
    const I386_SOCKETCALL: u32 = 102;
    const I386_GETPPID: u32 = 64;
    let probe = in_child(|| (int80(I386_GETPID) != std::process::id() as i32) as i32);
    if !matches!(probe, WaitStatus::Exited(_, 0)) {
        eprintln!("skipped: no IA32 emulation in this kernel ({probe:?})");
        return;
    }
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55},
            {"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 56}
        ]
    })));
    let parent = std::process::id() as i32;
    exited_ok(under_filter(&p, || {
        let got = [
            int80(I386_GETPID),
            int80(I386_SOCKETCALL),
            int80(I386_GETPPID),
        ];
        (got != [-55, -56, parent]) as i32
    }));
    // Not listed: the i386 ABI is killed rather than given the default action.
    let p = compiled(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})));
    let status = under_filter(&p, || {
        int80(I386_GETPID);
        1
    });
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "{status:?}"
    );
}

#[test]
fn notified_syscall_is_answered_by_the_agent() {
    let sock = TempPath::new("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock.0).unwrap();
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock.0,
        "listenerMetadata": "meta",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    })));
    assert!(p.wants_listener());
    let state = json!({"ociVersion": "1.2.0", "fds": ["seccompFd"], "pid": 1,
        "metadata": "meta", "state": {"ociVersion": "1.2.0", "id": "c1", "status": "creating",
        "pid": 1, "bundle": "/b"}});
    let state = serde_json::to_vec(&state).unwrap();
    let path = sock.0.clone();
    // SAFETY: the child only installs, sends and issues syscalls, then exits.
    let child = match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let code = match install(&p) {
                Ok(Some(fd)) => match send_listener(&path, fd, &state) {
                    // SAFETY: a plain syscall, answered by the agent.
                    Ok(()) => (unsafe { libc::syscall(libc::SYS_getppid) } != 4242) as i32,
                    Err(_) => 2,
                },
                _ => 3,
            };
            // SAFETY: leaving the child.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    let answered = agent::receive_listener(&listener).and_then(|(fd, state)| {
        let state: serde_json::Value = serde_json::from_slice(&state).map_err(|e| e.to_string())?;
        assert_eq!(state["metadata"], "meta");
        assert_eq!(state["fds"], json!(["seccompFd"]));
        agent::answer_one(&fd, |_| (4242, 0))
    });
    let status = waitpid(child, None).unwrap();
    let notif = answered.unwrap();
    assert_eq!(notif.pid as i32, child.as_raw());
    assert_eq!(notif.data.nr as i64, libc::SYS_getppid);
    assert_eq!(notif.data.arch, 0xc000_003e);
    exited_ok(status);
}

#[test]
fn filter_flags_are_accepted_by_the_kernel() {
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
    })));
    exited_ok(under_filter(&p, || {
        // SAFETY: a plain syscall.
        (errno_if_failed(unsafe { libc::syscall(libc::SYS_getppid) }) != 99) as i32
    }));
    // TSYNC with a listener needs TSYNC_ESRCH added, or the kernel refuses the combination.
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/nonexistent",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    })));
    exited_ok(in_child(|| match install(&p) {
        Ok(Some(_)) => 0,
        _ => 1,
    }));
}
