//! Handing the SCMP_ACT_NOTIFY listener to the seccomp agent (runtime-spec "seccomp state").

use super::SeccompError;
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Sends the listener fd and the container state (with `listenerMetadata`) to the agent at
/// `listener_path`, as runtime-spec's "seccomp state" says.
pub fn send_listener(
    listener_path: &Path,
    listener: OwnedFd,
    state_json: &[u8],
) -> Result<(), SeccompError> {
    let err = |op, source| SeccompError::Listener {
        path: listener_path.to_path_buf(),
        op,
        source,
    };
    let addr = UnixAddr::new(listener_path).map_err(|e| err("socket address", e))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| err("socket", e))?;
    connect(sock.as_raw_fd(), &addr).map_err(|e| err("connect", e))?;
    let fds = [listener.as_raw_fd()];
    let mut sent = 0;
    // The fd travels with the first bytes; a stream socket may take the JSON in several parts.
    while sent < state_json.len() || sent == 0 {
        let cmsgs: &[ControlMessage] = if sent == 0 {
            &[ControlMessage::ScmRights(&fds)]
        } else {
            &[]
        };
        let iov = [IoSlice::new(&state_json[sent..])];
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(0) if sent == 0 && state_json.is_empty() => break,
            Ok(n) => sent += n,
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(err("sendmsg", e)),
        }
    }
    // Our copy of the listener is closed here; the agent holds its own.
    drop(listener);
    Ok(())
}
