//! Handing the SCMP_ACT_NOTIFY listener to the seccomp agent (runtime-spec "seccomp state").

use super::SeccompError;
use nix::sys::socket::{
    connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
    // The fd travels with the first bytes; a stream socket may take the JSON in several parts.
    let mut sent = crate::fdpass::send_with_fd(sock.as_fd(), state_json, listener.as_fd())
        .map_err(|e| err("sendmsg", e))?;
    while sent < state_json.len() {
        match send(
            sock.as_raw_fd(),
            &state_json[sent..],
            MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(n) => sent += n,
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(err("sendmsg", e)),
        }
    }
    // Our copy of the listener is closed here; the agent holds its own.
    drop(listener);
    Ok(())
}
