//! Seccomp user notification: the runtime hands the filter's listener fd to the agent at
//! `listenerPath`, and the agent answers the container's trapped syscalls.

use super::{checked, Case};
use crate::bundle::Suite;
use crate::outcome::{CaseResult, Outcome};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use serde_json::{json, Value};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[Case::new("linux_seccomp_notify", notify)];

/// What the agent saw: the payload sent with the fd and how many syscalls it answered.
type Seen = Result<(Value, usize), String>;

/// Answers every notification with `-errno` until stopped or the container is gone.
struct Agent {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Seen>>,
}

impl Agent {
    fn start(path: &Path, errno: i32) -> Result<Agent, Outcome> {
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || serve(&listener, &flag, errno));
        Ok(Agent {
            stop,
            thread: Some(thread),
        })
    }

    fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        let t = self.thread.take().ok_or("agent already finished")?;
        t.join().map_err(|_| "agent thread panicked".to_owned())?
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: &UnixListener, stop: &AtomicBool, errno: i32) -> Seen {
    let start = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(_) if stop.load(Ordering::SeqCst) || start.elapsed() > Duration::from_secs(20) => {
                return Err("the runtime never connected to listenerPath".to_owned())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let mut buf = vec![0u8; 8192];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(|e| format!("recvmsg on the listener socket: {e}"))?;
    let fd = msg
        .cmsgs()
        .map_err(|e| e.to_string())?
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .ok_or("no file descriptor came with the message")?;
    let len = msg.bytes;
    // SAFETY: the fd arrived by SCM_RIGHTS and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let payload: Value = serde_json::from_slice(&buf[..len]).unwrap_or(Value::Null);
    let answered = answer(&fd, stop, errno)?;
    Ok((payload, answered))
}

fn answer(fd: &OwnedFd, stop: &AtomicBool, errno: i32) -> Result<usize, String> {
    let mut answered = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one fd we own.
        let n = unsafe { libc::poll(&mut pfd, 1, 20) };
        if n <= 0 || pfd.revents & libc::POLLIN == 0 {
            if pfd.revents & libc::POLLHUP != 0 {
                break;
            }
            continue;
        }
        // SAFETY: the ioctls fill and read structs of the kernel's layout, which libc mirrors.
        unsafe {
            let mut req: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) != 0 {
                continue;
            }
            let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
            resp.id = req.id;
            resp.error = -errno;
            if libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) == 0 {
                answered += 1;
            }
        }
    }
    Ok(answered)
}

fn notify(s: &Suite) -> CaseResult {
    let mut result = Ok(());
    let mut agent = None;
    let sock = s.base.0.join(format!("notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let outcome = checked(s, "seccompnotify", &["seccomp_notify"], |b| {
        match Agent::start(&sock, libc::EXDEV) {
            Ok(a) => agent = Some(a),
            Err(e) => result = Err(e),
        }
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "listenerPath": sock,
            "listenerMetadata": "conformance-metadata",
            "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
        b.expect["notify_probe"] = json!({"syscall": "mkdirat", "errno": libc::EXDEV});
    });
    result?;
    let seen = agent
        .ok_or_else(|| Outcome::Fail("agent did not start".into()))?
        .finish();
    let _ = std::fs::remove_file(&sock);
    let (payload, answered) = seen?;
    outcome?;
    crate::ensure!(answered > 0, "the agent answered no notification");
    crate::ensure!(
        payload["metadata"] == "conformance-metadata",
        "listener payload lacks the metadata: {payload}"
    );
    Ok(())
}
