//! A minimal seccomp agent: the receiving end of `send_listener` and the answering end of the
//! notify fd (SECCOMP_IOCTL_NOTIF_RECV/SEND). Kept small and self-contained so integration
//! tests can reuse it.

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

/// How long the agent waits for the container before the test fails instead of hanging.
const TIMEOUT_SECS: i64 = 10;

/// Accepts one runtime connection; returns the listener fd and the state JSON sent with it.
pub(crate) fn receive_listener(socket: &UnixListener) -> Result<(OwnedFd, Vec<u8>), String> {
    let timeout = TimeVal::new(TIMEOUT_SECS, 0);
    setsockopt(socket, sockopt::ReceiveTimeout, &timeout).map_err(|e| format!("timeout: {e}"))?;
    let (conn, _) = socket.accept().map_err(|e| format!("accept: {e}"))?;
    setsockopt(&conn, sockopt::ReceiveTimeout, &timeout).map_err(|e| format!("timeout: {e}"))?;
    let mut state = Vec::new();
    let mut fd = None;
    loop {
        let mut buf = [0u8; 4096];
        let (n, got) = crate::fdpass::recv_with_fd(conn.as_fd(), &mut buf)
            .map_err(|e| format!("recvmsg: {e}"))?;
        if got.is_some() {
            fd = got;
        }
        if n == 0 {
            break; // the runtime closed the connection: the state is complete
        }
        state.extend_from_slice(&buf[..n]);
    }
    Ok((fd.ok_or("no SCM_RIGHTS fd received")?, state))
}

/// Waits for one notification and answers it with `answer(&notif) = (value, errno)`: the
/// syscall returns `value`, or fails with `errno` when it is non-zero.
pub(crate) fn answer_one(
    notify: &OwnedFd,
    answer: impl FnOnce(&libc::seccomp_notif) -> (i64, i32),
) -> Result<libc::seccomp_notif, String> {
    let mut pfd = libc::pollfd {
        fd: notify.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd (nix's poll needs a feature the workspace does not enable).
    let n = unsafe { libc::poll(&mut pfd, 1, TIMEOUT_SECS as i32 * 1000) };
    if n != 1 {
        return Err(format!("no notification: poll returned {n}"));
    }
    // SAFETY: all-zero is a valid seccomp_notif, and the kernel requires it zeroed.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif into `notif`.
    let rc = unsafe {
        libc::ioctl(
            notify.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut notif,
        )
    };
    if rc != 0 {
        return Err(format!("NOTIF_RECV: {}", std::io::Error::last_os_error()));
    }
    let (val, error) = answer(&notif);
    let mut resp = libc::seccomp_notif_resp {
        id: notif.id,
        val,
        error: -error,
        flags: 0,
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp.
    let rc = unsafe {
        libc::ioctl(
            notify.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
    if rc != 0 {
        return Err(format!("NOTIF_SEND: {}", std::io::Error::last_os_error()));
    }
    Ok(notif)
}
