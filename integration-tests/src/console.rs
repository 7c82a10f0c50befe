//! The engine's side of `--console-socket`: what containerd's shim and podman's conmon do.

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixListener;

/// Accepts one connection on `listener` and takes the fd sent with it.
pub fn receive_fd(listener: &UnixListener) -> File {
    let (stream, _) = listener
        .accept()
        .expect("the runtime connects to the console socket");
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg on the console socket");
    for c in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is owned by nobody else.
            return unsafe { File::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd was sent over the console socket");
}
