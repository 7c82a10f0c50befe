//! Passing an fd over a unix socket (SCM_RIGHTS), the one place berth does it: the create
//! channel, the pty master to a console socket (and `ConsoleSocket`'s side), a seccomp notify
//! listener to its agent. Received fds are close-on-exec and owned at once; any beyond the
//! first are closed, so a hostile sender cannot park fds in berth.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Sends `bytes` with a copy of `fd` attached (the receiver gets its own). Returns how many
/// bytes went (a stream socket may take fewer; the fd goes with the first). EINTR is retried;
/// a closed peer is EPIPE, not SIGPIPE.
pub fn send_with_fd(sock: BorrowedFd<'_>, bytes: &[u8], fd: BorrowedFd<'_>) -> nix::Result<usize> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(bytes)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Receives into `buf`; returns the byte count (0: EOF) and the first fd that came with it,
/// if any (close-on-exec). EINTR is retried.
pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r?,
        };
        let mut first = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for &f in &fds {
                    // SAFETY: the kernel just installed these fds in our table; nobody else
                    // owns them. Extra ones are dropped (closed) here.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    first.get_or_insert(owned);
                }
            }
        }
        return Ok((msg.bytes, first));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    #[test]
    fn an_fd_and_its_bytes_arrive_together() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        assert_eq!(send_with_fd(a.as_fd(), b"hi", file.as_fd()).unwrap(), 2);
        let mut buf = [0u8; 8];
        let (n, fd) = recv_with_fd(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
        let fd = fd.expect("the fd came along");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(link.ends_with("stat"), "{link:?}");
        let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0, "received close-on-exec");
        drop(a);
        assert_eq!(recv_with_fd(b.as_fd(), &mut buf).unwrap().0, 0, "EOF");
    }
}
