//! The launch plan an exec'd init reads (process/reexec.rs): what a clone would have found in
//! memory, as compact bytes. berth's own data is binary (flags, fd numbers, paths as bytes,
//! the compiled seccomp BPF); the OCI config travels as its JSON, the document's own format,
//! so the init code that reads it stays the one the fast path runs.
//!
//! The bytes come from a sealed memfd the parent wrote, but a process in a container can exec
//! the sealed executable with a plan of its own: decoding never panics, and every fd number
//! must name an open fd before it is adopted.

use super::executor::ExecutorPlan;
use super::join::JoinConfig;
use super::stdio::PreparedStdio;
use super::LaunchConfig;
use crate::namespaces::{clone_flag, Join, NamespacePlan, ALL_KINDS};
use crate::rootfs::IdmappedMounts;
use crate::seccomp::SeccompProgram;
use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;
use std::ffi::{CString, OsStr};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub(super) const CREATE: u8 = 1;
pub(super) const JOIN: u8 = 2;

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn fd(&mut self, fd: RawFd) {
        self.u32(fd as u32);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn opt_bytes(&mut self, b: Option<&[u8]>) {
        self.u8(u8::from(b.is_some()));
        if let Some(b) = b {
            self.bytes(b);
        }
    }
    fn fds(&mut self, fds: &[RawFd]) {
        self.u32(fds.len() as u32);
        fds.iter().for_each(|&fd| self.fd(fd));
    }
    fn spec(&mut self, spec: &Spec) -> Result<(), String> {
        let json = serde_json::to_vec(spec).map_err(|e| format!("launch plan: config: {e}"))?;
        self.bytes(&json);
        Ok(())
    }
    fn stdio(&mut self, stdio: &PreparedStdio) {
        for fd in stdio.raw_fds() {
            self.u8(u8::from(fd.is_some()));
            fd.into_iter().for_each(|fd| self.fd(fd));
        }
    }
    fn executor(&mut self, e: &ExecutorPlan) {
        use std::os::fd::AsRawFd;
        match e {
            ExecutorPlan::Program => self.u8(0),
            ExecutorPlan::Loader { exe, argv } => {
                self.u8(1);
                self.fd(exe.as_raw_fd());
                self.u32(argv.len() as u32);
                argv.iter().for_each(|a| self.bytes(a.as_bytes()));
            }
            ExecutorPlan::Function { offset, payload } => {
                self.u8(2);
                self.0.extend_from_slice(&offset.to_le_bytes());
                self.bytes(payload);
            }
        }
    }
    fn idmapped(&mut self, mounts: &IdmappedMounts) {
        let fds = mounts.raw_fds();
        self.u32(fds.len() as u32);
        for (index, fd) in fds {
            self.u32(index as u32);
            self.fd(fd);
        }
    }
    fn joins(&mut self, joins: &[Join]) {
        use std::os::fd::AsRawFd;
        self.u32(joins.len() as u32);
        for j in joins {
            self.u32(clone_flag(j.kind).bits() as u32);
            self.fd(j.fd.as_raw_fd());
        }
    }
}

struct Reader<'a>(&'a [u8]);

const BAD: &str = "launch plan: truncated or malformed";

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(BAD.into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn bool(&mut self) -> Result<bool, String> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(BAD.into()),
        }
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn opt_bytes(&mut self) -> Result<Option<&'a [u8]>, String> {
        self.bool()?.then(|| self.bytes()).transpose()
    }
    fn path(&mut self) -> Result<PathBuf, String> {
        Ok(Path::new(OsStr::from_bytes(self.bytes()?)).to_path_buf())
    }
    /// A number the plan says is open in this process: adopted only if it is, and made
    /// close-on-exec again (the clone cleared that to keep it across execve).
    fn fd(&mut self) -> Result<OwnedFd, String> {
        let fd = self.raw_fd()?;
        // SAFETY: F_SETFD only sets the flags of the number (EBADF when it is free).
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
            return Err(format!("launch plan: fd {fd} is not open"));
        }
        // SAFETY: the parent kept this fd open across execve for us alone; nothing else in
        // this fresh image owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    fn raw_fd(&mut self) -> Result<RawFd, String> {
        let fd = self.u32()? as i32;
        if fd < 0 {
            return Err(BAD.into());
        }
        Ok(fd)
    }
    fn raw_fds(&mut self) -> Result<Vec<RawFd>, String> {
        let n = self.u32()? as usize;
        // Bounded by the bytes present, so a hostile count allocates nothing big.
        if n > self.0.len() / 4 {
            return Err(BAD.into());
        }
        (0..n).map(|_| self.raw_fd()).collect()
    }
    fn spec(&mut self) -> Result<Spec, String> {
        serde_json::from_slice(self.bytes()?).map_err(|e| format!("launch plan: config: {e}"))
    }
    fn seccomp(&mut self) -> Result<Option<SeccompProgram>, String> {
        self.opt_bytes()?
            .map(|b| SeccompProgram::from_bytes(b).ok_or_else(|| BAD.to_string()))
            .transpose()
    }
    fn stdio(&mut self) -> Result<PreparedStdio, String> {
        let mut fds: [Option<OwnedFd>; 3] = Default::default();
        for slot in &mut fds {
            *slot = self.bool()?.then(|| self.fd()).transpose()?;
        }
        Ok(PreparedStdio::from_fds(fds))
    }
    fn executor(&mut self) -> Result<ExecutorPlan, String> {
        match self.u8()? {
            0 => Ok(ExecutorPlan::Program),
            1 => Ok(ExecutorPlan::Loader {
                exe: self.fd()?,
                argv: read_argv(self)?,
            }),
            2 => {
                let b = self.take(8)?;
                let offset = u64::from_le_bytes(b.try_into().map_err(|_| BAD)?);
                let payload = self.bytes()?.to_vec();
                Ok(ExecutorPlan::Function { offset, payload })
            }
            _ => Err(BAD.into()),
        }
    }
    fn joins(&mut self) -> Result<Vec<Join>, String> {
        let n = self.u32()? as usize;
        if n > ALL_KINDS.len() {
            return Err(BAD.into());
        }
        (0..n)
            .map(|_| {
                let bits = self.u32()? as i32;
                let kind = *ALL_KINDS
                    .iter()
                    .find(|k| clone_flag(**k).bits() == bits)
                    .ok_or(BAD)?;
                Ok(Join {
                    kind,
                    fd: self.fd()?,
                })
            })
            .collect()
    }
    fn idmapped(&mut self) -> Result<IdmappedMounts, String> {
        let n = self.u32()? as usize;
        // Bounded by the bytes present, so a hostile count allocates nothing big.
        if n > self.0.len() / 8 {
            return Err(BAD.into());
        }
        let mounts = (0..n)
            .map(|_| Ok((self.u32()? as usize, self.fd()?)))
            .collect::<Result<_, String>>()?;
        Ok(IdmappedMounts::from_fds(mounts))
    }
    fn end(&self) -> Result<(), String> {
        self.0.is_empty().then_some(()).ok_or_else(|| BAD.into())
    }
}

/// `create`'s plan, owned by the exec'd init.
pub(super) struct Launch {
    direct: bool,
    spec: Spec,
    bundle: PathBuf,
    rootfs: PathBuf,
    ns: NamespacePlan,
    no_pivot: bool,
    new_keyring: Option<String>,
    console_socket: Option<OwnedFd>,
    preserve_fds: u32,
    preserve_holes: Vec<RawFd>,
    seccomp: Option<SeccompProgram>,
    start_listener: OwnedFd,
    stdio: PreparedStdio,
    executor: ExecutorPlan,
    premade_mount: Option<(usize, OwnedFd)>,
    idmapped: IdmappedMounts,
}

/// `direct`: whether the clone itself made the new namespaces (see `launch`).
pub(super) fn encode_launch(cfg: &LaunchConfig, direct: bool) -> Result<Vec<u8>, String> {
    use std::os::fd::AsRawFd;
    let mut w = Writer::default();
    w.u8(CREATE);
    w.u8(u8::from(direct));
    w.spec(cfg.spec)?;
    w.bytes(cfg.bundle.as_os_str().as_bytes());
    w.bytes(cfg.rootfs.as_os_str().as_bytes());
    w.u32(cfg.ns.new.bits() as u32);
    w.joins(&cfg.ns.joins);
    w.u8(u8::from(cfg.ns.runtime_in_user_ns));
    w.u8(u8::from(cfg.ns.unprivileged));
    w.u8(u8::from(cfg.no_pivot));
    w.opt_bytes(cfg.new_keyring.map(str::as_bytes));
    w.u8(u8::from(cfg.console_socket.is_some()));
    if let Some(fd) = cfg.console_socket {
        w.fd(fd.as_raw_fd());
    }
    w.u32(cfg.preserve_fds);
    w.fds(cfg.preserve_holes);
    w.opt_bytes(cfg.seccomp.map(SeccompProgram::to_bytes).as_deref());
    w.fd(cfg.start_listener.as_raw_fd());
    w.stdio(cfg.stdio);
    w.executor(cfg.executor);
    w.u8(u8::from(cfg.premade_mount.is_some()));
    if let Some((index, fd)) = cfg.premade_mount {
        w.u32(u32::try_from(index).map_err(|_| BAD.to_string())?);
        w.fd(fd.as_raw_fd());
    }
    w.idmapped(cfg.idmapped);
    Ok(w.0)
}

/// The plan after its kind byte.
pub(super) fn decode_launch(bytes: &[u8]) -> Result<Launch, String> {
    let mut r = Reader(bytes);
    let direct = r.bool()?;
    let spec = r.spec()?;
    let bundle = r.path()?;
    let rootfs = r.path()?;
    let new = CloneFlags::from_bits_retain(r.u32()? as i32);
    let joins = r.joins()?;
    let runtime_in_user_ns = r.bool()?;
    let unprivileged = r.bool()?;
    let no_pivot = r.bool()?;
    let new_keyring = r
        .opt_bytes()?
        .map(|b| String::from_utf8(b.to_vec()).map_err(|_| BAD.to_string()))
        .transpose()?;
    let console_socket = r.bool()?.then(|| r.fd()).transpose()?;
    let launch = Launch {
        direct,
        spec,
        bundle,
        rootfs,
        ns: NamespacePlan {
            new,
            joins,
            runtime_in_user_ns,
            unprivileged,
        },
        no_pivot,
        new_keyring,
        console_socket,
        preserve_fds: r.u32()?,
        preserve_holes: r.raw_fds()?,
        seccomp: r.seccomp()?,
        start_listener: r.fd()?,
        stdio: r.stdio()?,
        executor: r.executor()?,
        premade_mount: r
            .bool()?
            .then(|| Ok::<_, String>((r.u32()? as usize, r.fd()?)))
            .transpose()?,
        idmapped: r.idmapped()?,
    };
    r.end()?;
    Ok(launch)
}

impl Launch {
    /// The clone made the new namespaces; see `launch`.
    pub(super) fn direct(&self) -> bool {
        self.direct
    }

    pub(super) fn config(&self) -> LaunchConfig<'_> {
        LaunchConfig {
            spec: &self.spec,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            ns: &self.ns,
            no_pivot: self.no_pivot,
            new_keyring: self.new_keyring.as_deref(),
            console_socket: self.console_socket.as_ref(),
            preserve_fds: self.preserve_fds,
            preserve_holes: &self.preserve_holes,
            seccomp: self.seccomp.as_ref(),
            start_listener: &self.start_listener,
            stdio: &self.stdio,
            // The clone closed them before its execve.
            close_in_child: &[],
            executor: &self.executor,
            init_exe: None,
            premade_mount: self.premade_mount.as_ref().map(|(i, fd)| (*i, fd)),
            idmapped: &self.idmapped,
        }
    }
}

/// `exec`'s plan, owned by the exec'd helper.
pub(super) struct Joined {
    spec: Spec,
    joins: Vec<Join>,
    seccomp: Option<SeccompProgram>,
    console_socket: Option<PathBuf>,
    preserve_fds: u32,
    preserve_holes: Vec<RawFd>,
    argv: Option<Vec<CString>>,
    stdio: PreparedStdio,
    executor: ExecutorPlan,
}

pub(super) fn encode_join(cfg: &JoinConfig) -> Result<Vec<u8>, String> {
    let mut w = Writer::default();
    w.u8(JOIN);
    w.spec(cfg.spec)?;
    w.joins(cfg.joins);
    w.opt_bytes(cfg.seccomp.map(SeccompProgram::to_bytes).as_deref());
    w.opt_bytes(cfg.console_socket.map(|p| p.as_os_str().as_bytes()));
    w.u32(cfg.preserve_fds);
    w.fds(cfg.preserve_holes);
    w.u8(u8::from(cfg.argv.is_some()));
    if let Some(argv) = cfg.argv {
        w.u32(argv.len() as u32);
        argv.iter().for_each(|a| w.bytes(a.as_bytes()));
    }
    w.stdio(cfg.stdio);
    w.executor(cfg.executor);
    Ok(w.0)
}

pub(super) fn decode_join(bytes: &[u8]) -> Result<Joined, String> {
    let mut r = Reader(bytes);
    let joined = Joined {
        spec: r.spec()?,
        joins: r.joins()?,
        seccomp: r.seccomp()?,
        console_socket: r
            .opt_bytes()?
            .map(|b| Path::new(OsStr::from_bytes(b)).to_path_buf()),
        preserve_fds: r.u32()?,
        preserve_holes: r.raw_fds()?,
        argv: r.bool()?.then(|| read_argv(&mut r)).transpose()?,
        stdio: r.stdio()?,
        executor: r.executor()?,
    };
    r.end()?;
    Ok(joined)
}

fn read_argv(r: &mut Reader) -> Result<Vec<CString>, String> {
    let n = r.u32()? as usize;
    if n > r.0.len() / 4 {
        return Err(BAD.into());
    }
    (0..n)
        .map(|_| CString::new(r.bytes()?).map_err(|_| BAD.to_string()))
        .collect()
}

impl Joined {
    pub(super) fn config(&self) -> JoinConfig<'_> {
        JoinConfig {
            spec: &self.spec,
            joins: &self.joins,
            seccomp: self.seccomp.as_ref(),
            console_socket: self.console_socket.as_deref(),
            preserve_fds: self.preserve_fds,
            preserve_holes: &self.preserve_holes,
            close_in_child: &[],
            argv: self.argv.as_deref(),
            stdio: &self.stdio,
            executor: &self.executor,
            init_exe: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    fn eventfd() -> OwnedFd {
        // SAFETY: eventfd returns a new fd or -1, checked.
        let fd = unsafe { libc::eventfd(0, 0) };
        assert!(fd >= 0);
        // SAFETY: just made, owned by nobody else.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn a_launch_plan_round_trips_and_its_fds_close_on_exec_again() {
        let spec = Spec::default();
        let (listener, console, premade) = (eventfd(), eventfd(), eventfd());
        let ns = NamespacePlan {
            new: CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER,
            joins: vec![Join {
                kind: oci_spec::runtime::LinuxNamespaceType::Network,
                fd: eventfd(),
            }],
            runtime_in_user_ns: true,
            unprivileged: false,
        };
        let stdio = PreparedStdio::from_fds([None, Some(eventfd()), None]);
        let idmapped = IdmappedMounts::from_fds(vec![(3, eventfd())]);
        let cfg = LaunchConfig {
            spec: &spec,
            bundle: Path::new("/b\u{e9}"),
            rootfs: Path::new("/b/rootfs"),
            ns: &ns,
            no_pivot: true,
            new_keyring: Some("id"),
            console_socket: Some(&console),
            preserve_fds: 2,
            preserve_holes: &[4],
            seccomp: None,
            start_listener: &listener,
            stdio: &stdio,
            close_in_child: &[9],
            executor: &ExecutorPlan::Function {
                offset: 0x1234,
                payload: b"pay".to_vec(),
            },
            init_exe: None,
            premade_mount: Some((7, &premade)),
            idmapped: &idmapped,
        };
        let bytes = encode_launch(&cfg, false).expect("encode");
        let out = stdio.raw_fds()[1].expect("stdout");
        let mount_fd = idmapped.raw_fds()[0].1;
        let numbers = [
            listener.as_raw_fd(),
            console.as_raw_fd(),
            out,
            premade.as_raw_fd(),
            mount_fd,
        ];
        let new = ns.new;
        // The decoded plan owns these numbers now, as the exec'd image does.
        let _ = (
            listener.into_raw_fd(),
            console.into_raw_fd(),
            premade.into_raw_fd(),
        );
        std::mem::forget(ns);
        std::mem::forget(stdio);
        std::mem::forget(idmapped);
        let launch = decode_launch(&bytes[1..]).expect("decode");
        let got = launch.config();
        assert!(!launch.direct());
        assert_eq!(got.bundle, Path::new("/b\u{e9}"));
        assert_eq!(got.rootfs, Path::new("/b/rootfs"));
        assert_eq!(got.ns.new, new);
        assert_eq!(got.ns.joins.len(), 1);
        assert!(got.ns.runtime_in_user_ns && !got.ns.unprivileged);
        assert_eq!(got.stdio.raw_fds(), [None, Some(out), None]);
        assert!(got.no_pivot);
        assert_eq!(got.new_keyring, Some("id"));
        assert_eq!((got.preserve_fds, got.preserve_holes), (2, &[4][..]));
        assert!(got.close_in_child.is_empty());
        assert_eq!(got.idmapped.raw_fds(), [(3, mount_fd)]);
        match got.executor {
            ExecutorPlan::Function { offset, payload } => {
                assert_eq!((*offset, &payload[..]), (0x1234, &b"pay"[..]))
            }
            other => panic!("executor {other:?}"),
        }
        assert_eq!(got.start_listener.as_raw_fd(), numbers[0]);
        assert_eq!(got.console_socket.map(AsRawFd::as_raw_fd), Some(numbers[1]));
        let premade = got.premade_mount.map(|(i, fd)| (i, fd.as_raw_fd()));
        assert_eq!(premade, Some((7, numbers[3])));
        for fd in numbers {
            // SAFETY: F_GETFD only reads the flags.
            assert_eq!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, libc::FD_CLOEXEC);
        }
    }

    /// Every prefix of a valid plan, and a plan naming a closed fd, is an error, not a panic
    /// (a process in a container may exec the sealed executable with a plan of its own).
    #[test]
    fn a_truncated_or_lying_plan_is_refused() {
        let spec = Spec::default();
        let joins = [];
        let stdio = PreparedStdio::from_fds(Default::default());
        let cfg = JoinConfig {
            spec: &spec,
            joins: &joins,
            seccomp: None,
            console_socket: Some(Path::new("/run/c.sock")),
            preserve_fds: 0,
            preserve_holes: &[],
            close_in_child: &[],
            argv: Some(&[c"sh".to_owned()]),
            stdio: &stdio,
            executor: &ExecutorPlan::Program,
            init_exe: None,
        };
        let bytes = encode_join(&cfg).expect("encode");
        let joined = decode_join(&bytes[1..]).expect("decode");
        assert_eq!(joined.config().argv.map(<[CString]>::len), Some(1));
        for n in 1..bytes.len() - 1 {
            assert!(decode_join(&bytes[1..n]).is_err(), "prefix of {n} bytes");
        }
        let mut w = Writer::default();
        w.u8(1);
        w.fd(1_000_000);
        assert!(
            Reader(&w.0[1..]).fd().is_err(),
            "a closed fd number is adopted"
        );
    }
}
