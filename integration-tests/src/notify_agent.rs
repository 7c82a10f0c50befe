//! A seccomp notify agent, the other end of `linux.seccomp.listenerPath`: it receives the
//! listener fd (SCM_RIGHTS) with the runtime-spec "seccomp state" JSON, then answers every
//! SCMP_ACT_NOTIFY syscall with a closure.
//!
//! ```ignore
//! let agent = notify_agent::start(&sock, |n| match n.read_str(0).as_deref() {
//!     Some("/tmp/deny") => Answer::Errno(libc::EDQUOT),
//!     _ => Answer::Continue,
//! });
//! // ... run a container whose profile has "listenerPath": sock ...
//! let state = agent.state(); // what the runtime sent
//! ```
//! The agent runs on its own thread and stops (closing the listener, which fails any later
//! notified syscall with ENOSYS) when the handle drops.

use nix::libc;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How often the agent thread looks at the stop flag while nothing happens.
const TICK_MS: i32 = 50;

/// What a notified syscall does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Returns this value without running.
    Value(i64),
    /// Fails with this errno without running.
    Errno(i32),
    /// Runs as if it had not been notified (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
    Continue,
}

/// One notified syscall, as the kernel reported it.
#[derive(Clone, Debug)]
pub struct Notification {
    /// The kernel's cookie for this notification.
    pub id: u64,
    /// The calling thread, in the agent's pid namespace.
    pub pid: u32,
    pub nr: i32,
    /// AUDIT_ARCH_* of the call.
    pub arch: u32,
    pub args: [u64; 6],
    /// What the agent answered.
    pub answer: Option<Answer>,
}

impl Notification {
    /// The NUL-terminated string argument `arg` points to (e.g. mkdir's path), read from the
    /// caller's memory while it waits for the answer.
    pub fn read_str(&self, arg: usize) -> Option<String> {
        let mem = std::fs::File::open(format!("/proc/{}/mem", self.pid)).ok()?;
        let mut buf = vec![0u8; 4096];
        let n = mem.read_at(&mut buf, self.args[arg]).ok()?;
        let bytes = &buf[..n];
        let end = bytes.iter().position(|&b| b == 0)?;
        String::from_utf8(bytes[..end].to_vec()).ok()
    }
}

#[derive(Default)]
struct Shared {
    state: Option<serde_json::Value>,
    notifications: Vec<Notification>,
    error: Option<String>,
}

/// A running agent; stops on drop.
pub struct NotifyAgent {
    path: PathBuf,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Listens on `listener_path` (bound before returning, so a runtime started afterwards finds
/// it) and answers each notified syscall with `answer`.
pub fn start(
    listener_path: &Path,
    answer: impl FnMut(&Notification) -> Answer + Send + 'static,
) -> NotifyAgent {
    let _ = std::fs::remove_file(listener_path);
    let socket = UnixListener::bind(listener_path)
        .unwrap_or_else(|e| panic!("binding the agent at {}: {e}", listener_path.display()));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st) = (shared.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        if let Err(e) = serve(&socket, &s, &st, answer) {
            s.lock().unwrap().error = Some(e);
        }
    });
    NotifyAgent {
        path: listener_path.to_path_buf(),
        shared,
        stop,
        thread: Some(thread),
    }
}

impl NotifyAgent {
    /// The seccomp state the runtime sent with the listener fd; waits for it, panics with the
    /// agent's error if it failed.
    pub fn state(&self) -> serde_json::Value {
        crate::poll(crate::STATE_TIMEOUT, "the runtime's seccomp state", || {
            let s = self.shared.lock().unwrap();
            if let Some(e) = &s.error {
                panic!("notify agent: {e}");
            }
            s.state.clone()
        })
    }

    /// The notified syscalls answered so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.lock().unwrap().notifications.clone()
    }

    /// The agent's error, if it failed.
    pub fn error(&self) -> Option<String> {
        self.shared.lock().unwrap().error.clone()
    }
}

impl Drop for NotifyAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits up to one tick for `fd` to be readable; Err when the stop flag is set.
fn ready(fd: RawFd, stop: &AtomicBool) -> Result<libc::c_short, String> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err("stopped".into());
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, TICK_MS) } {
            1 => return Ok(pfd.revents),
            -1 if nix::errno::Errno::last() != nix::errno::Errno::EINTR => {
                return Err(format!("poll: {}", std::io::Error::last_os_error()))
            }
            _ => {}
        }
    }
}

fn serve(
    socket: &UnixListener,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    mut answer: impl FnMut(&Notification) -> Answer,
) -> Result<(), String> {
    let stopped_quietly = |e: String| if e == "stopped" { Ok(()) } else { Err(e) };
    if let Err(e) = ready(socket.as_raw_fd(), stop) {
        return stopped_quietly(e);
    }
    let (conn, _) = socket.accept().map_err(|e| format!("accept: {e}"))?;
    let (listener, state) = receive(&conn)?;
    shared.lock().unwrap().state = Some(state);
    loop {
        let revents = match ready(listener.as_raw_fd(), stop) {
            Ok(r) => r,
            Err(e) => return stopped_quietly(e),
        };
        if revents & libc::POLLIN == 0 {
            return Ok(()); // POLLHUP: every process under the filter is gone
        }
        let Some(mut n) = recv_notification(&listener)? else {
            continue;
        };
        let a = answer(&n);
        n.answer = Some(a);
        shared.lock().unwrap().notifications.push(n.clone());
        send_answer(&listener, &n, a)?;
    }
}

/// Reads the listener fd and the state JSON. Done at the end of the JSON document, not at the
/// end of the connection: runc keeps it open until the container exits.
fn receive(conn: &std::os::unix::net::UnixStream) -> Result<(OwnedFd, serde_json::Value), String> {
    let mut state = Vec::new();
    let mut fd = None;
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)
            .map_err(|e| format!("recvmsg: {e}"))?;
        for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: SCM_RIGHTS fds are new in this process and owned by nobody else.
                fd = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
            }
        }
        let n = msg.bytes;
        if n == 0 {
            let text = String::from_utf8_lossy(&state);
            return Err(format!("connection closed before a whole state: {text:?}"));
        }
        state.extend_from_slice(&buf[..n]);
        if let Ok(json) = serde_json::from_slice(&state) {
            return Ok((fd.ok_or("no SCM_RIGHTS fd with the state")?, json));
        }
    }
}

/// SECCOMP_IOCTL_NOTIF_RECV; None when the caller went away before it was read.
fn recv_notification(listener: &OwnedFd) -> Result<Option<Notification>, String> {
    // SAFETY: all-zero is a valid seccomp_notif, and the kernel requires it zeroed.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut notif,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT | libc::EINTR) => Ok(None),
            _ => Err(format!("SECCOMP_IOCTL_NOTIF_RECV: {e}")),
        };
    }
    Ok(Some(Notification {
        id: notif.id,
        pid: notif.pid,
        nr: notif.data.nr,
        arch: notif.data.arch,
        args: notif.data.args,
        answer: None,
    }))
}

fn send_answer(listener: &OwnedFd, n: &Notification, answer: Answer) -> Result<(), String> {
    let (val, error, flags) = match answer {
        Answer::Value(v) => (v, 0, 0),
        Answer::Errno(e) => (0, -e, 0),
        Answer::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let mut resp = libc::seccomp_notif_resp {
        id: n.id,
        val,
        error,
        flags,
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
        return Err(format!(
            "SECCOMP_IOCTL_NOTIF_SEND: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
