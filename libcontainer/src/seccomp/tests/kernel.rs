//! The compiled filters in the real kernel, each in a forked child (a filter cannot be removed).

use super::agent;
use super::{profile, DEFAULT_LIKE};
use crate::seccomp::{compile, install, send_listener, SeccompError, SeccompProgram};
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
    int80_args(nr, [0; 5])
}

#[cfg(target_arch = "x86_64")]
/// `int80` with arguments (ebx, ecx, edx, esi, edi); pointers must be below 4 GiB.
fn int80_args(nr: u32, args: [u32; 5]) -> i32 {
    let ret: i32;
    // SAFETY: the caller passes arguments valid for the syscall; int 0x80 may clobber r8-r11.
    // rbx is reserved by LLVM: swapped in for the call and restored after.
    unsafe {
        std::arch::asm!("xchg {b:r}, rbx", "int 0x80", "xchg {b:r}, rbx",
            b = in(reg) u64::from(args[0]),
            inlateout("eax") nr as i32 => ret,
            in("ecx") args[1], in("edx") args[2], in("esi") args[3], in("edi") args[4],
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    ret
}

#[cfg(target_arch = "x86_64")]
/// Whether this kernel runs i386 syscalls (IA32 emulation); says so when it does not.
fn has_ia32_emulation() -> bool {
    const I386_GETPID: u32 = 20;
    let probe = in_child(|| (int80(I386_GETPID) != std::process::id() as i32) as i32);
    let has = matches!(probe, WaitStatus::Exited(_, 0));
    if !has {
        eprintln!("skipped: no IA32 emulation in this kernel ({probe:?})");
    }
    has
}

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_syscalls_are_filtered_with_their_own_numbers() {
    const I386_GETPID: u32 = 20;
    const I386_SOCKETCALL: u32 = 102;
    const I386_GETPPID: u32 = 64;
    if !has_ia32_emulation() {
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

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_socketcall_and_ipc_are_filtered_like_the_calls_they_multiplex() {
    const SOCKETCALL: u32 = 102;
    const IPC: u32 = 117;
    const I386_BIND: u32 = 361;
    const SYS_SOCKET: u32 = 1;
    const SYS_BIND: u32 = 2;
    const SHMAT: u32 = 21;
    const SHMDT: u32 = 22;
    if !has_ia32_emulation() {
        return;
    }
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["bind"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55},
            {"names": ["shmat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 56}
        ]
    })));
    exited_ok(under_filter(&p, || {
        // socketcall reads its arguments from memory an i386 pointer can reach
        // SAFETY: a fresh anonymous mapping below 4 GiB, only written through `args`.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        if mem == libc::MAP_FAILED {
            return 2;
        }
        let args = mem as *mut [u32; 3];
        // SAFETY: the mapping holds 4096 bytes.
        unsafe { *args = [libc::AF_UNIX as u32, libc::SOCK_STREAM as u32, 0] };
        let ptr = mem as u32;
        let fd = int80_args(SOCKETCALL, [SYS_SOCKET, ptr, 0, 0, 0]);
        let got = [
            (fd >= 0) as i32,
            int80_args(SOCKETCALL, [SYS_BIND, ptr, 0, 0, 0]),
            int80_args(I386_BIND, [fd as u32, 0, 0, 0, 0]),
            int80_args(IPC, [SHMAT, 0, 0, 0, 0]),
            int80_args(IPC, [SHMAT | 2 << 16, 0, 0, 0, 0]),
            // shmdt(NULL) is allowed through and fails on its own
            int80_args(IPC, [SHMDT, 0, 0, 0, 0]),
        ];
        (got != [1, -55, -55, -56, -56, -libc::EINVAL]) as i32
    }));
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

/// Installs `program` in a child under a spy filter that fails seccomp(2) with errno 77 unless
/// its flags are exactly `flags`; returns the install's error (None when it succeeded, i.e. the
/// kernel got exactly `flags` and accepted them) and whether it returned a listener.
fn install_seeing_flags(program: &SeccompProgram, flags: libc::c_ulong) -> (Option<i32>, bool) {
    let spy = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["seccomp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
            "args": [{"index": 1, "value": flags, "op": "SCMP_CMP_NE"}]}]
    })));
    let status = in_child(|| {
        if !matches!(install(&spy), Ok(None)) {
            return 250;
        }
        match install(program) {
            Ok(listener) => listener.is_some() as i32,
            Err(SeccompError::Install { source, .. }) => 2 + source.raw_os_error().unwrap_or(0),
            Err(_) => 251,
        }
    });
    match status {
        WaitStatus::Exited(_, code @ 0..=1) => (None, code == 1),
        WaitStatus::Exited(_, code @ 2..=249) => (Some(code - 2), false),
        other => panic!("{other:?}"),
    }
}

#[test]
fn filter_flags_reach_the_kernel() {
    use libc::{
        SECCOMP_FILTER_FLAG_LOG as LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER as NEW_LISTENER,
        SECCOMP_FILTER_FLAG_SPEC_ALLOW as SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC as TSYNC,
        SECCOMP_FILTER_FLAG_TSYNC_ESRCH as TSYNC_ESRCH,
        SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as WAIT_KILLABLE_RECV,
    };
    // Without a notify rule WAIT_KILLABLE_RECV is dropped (the kernel would refuse it).
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
    })));
    assert_eq!(install_seeing_flags(&p, LOG | SPEC_ALLOW), (None, false));
    // the spy itself: other flags are refused
    assert_eq!(install_seeing_flags(&p, LOG), (Some(77), false));
    exited_ok(under_filter(&p, || {
        // SAFETY: a plain syscall.
        (errno_if_failed(unsafe { libc::syscall(libc::SYS_getppid) }) != 99) as i32
    }));
    // With one, it goes to the kernel with the listener, which accepts it here (5.19+); TSYNC
    // with a listener needs TSYNC_ESRCH added, or the kernel refuses the combination.
    let p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/nonexistent",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC",
                  "SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    })));
    let want = WAIT_KILLABLE_RECV | NEW_LISTENER | TSYNC | TSYNC_ESRCH | LOG;
    assert_eq!(install_seeing_flags(&p, want), (None, true));
}

#[test]
fn a_flag_the_kernel_refuses_is_named() {
    // This kernel knows every flag the spec has; an unknown bit stands in for one that an
    // older kernel lacks (e.g. WAIT_KILLABLE_RECV before 5.19).
    let mut p = compiled(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG"]
    })));
    p.flags |= 1 << 20;
    let (rd, wr) = nix::unistd::pipe().unwrap();
    exited_ok(in_child(|| match install(&p) {
        Err(e) => {
            let _ = nix::unistd::write(&wr, e.to_string().as_bytes());
            0
        }
        Ok(_) => 1,
    }));
    drop(wr);
    let mut msg = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(rd), &mut msg).unwrap();
    assert_eq!(
        msg,
        "linux.seccomp.flags: this kernel does not support flag 0x100000"
    );
}
