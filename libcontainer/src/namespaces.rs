//! `linux.namespaces`: which namespaces are new, which are joined by path, and the id maps and
//! time offsets that must be written before anything runs inside them.

use crate::idmap::Kind;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// `linux.namespaces` is invalid, or joining or configuring a namespace failed.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// An entry of `linux.namespaces` is invalid.
    #[error("linux.namespaces[{index}]: {reason}")]
    Invalid {
        /// Its position in the config's list.
        index: usize,
        /// What is wrong, in words.
        reason: String,
    },
    /// An entry's `path` cannot be joined (missing, or not a namespace of that type).
    #[error("linux.namespaces[{index}].path {path}: {reason}")]
    Path {
        /// Its position in the config's list.
        index: usize,
        /// The path at fault.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A field that needs a namespace the config does not give.
    #[error("{field}: {reason}")]
    Config {
        /// The config field at fault (JSON path).
        field: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// setns(2) into a namespace failed.
    #[error("joining {kind} namespace: {reason}")]
    Join {
        /// The namespace type.
        kind: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// Writing an id map or a time-namespace offset failed.
    #[error("{what}: {reason}")]
    Write {
        /// What was being done, to what.
        what: String,
        /// What is wrong, in words.
        reason: String,
    },
}

/// A namespace to join: its type and an fd of the path (opened in the parent, where the path
/// resolves on the host, and checked to be of that type).
#[derive(Debug)]
pub struct Join {
    pub kind: LinuxNamespaceType,
    pub fd: OwnedFd,
}

/// What the config asks for, checked.
#[derive(Debug)]
pub struct NamespacePlan {
    /// Namespaces to create.
    pub new: CloneFlags,
    /// Namespaces to join, user first (it decides the privileges for joining the others).
    pub joins: Vec<Join>,
    /// berth itself runs in a user namespace that is not the host's (rootless podman): it
    /// cannot mknod devices either, whatever the config's namespaces.
    pub runtime_in_user_ns: bool,
    /// berth runs with an effective uid other than 0 (read before any clone: a child in a new
    /// user namespace sees its uid change once the parent writes the map).
    pub unprivileged: bool,
}

impl NamespacePlan {
    pub fn has_new(&self, kind: LinuxNamespaceType) -> bool {
        self.new.contains(clone_flag(kind))
    }
    pub fn joins_kind(&self, kind: LinuxNamespaceType) -> bool {
        self.joins.iter().any(|j| j.kind == kind)
    }
    /// The container has this namespace of its own, new or joined (not the host's).
    pub fn has(&self, kind: LinuxNamespaceType) -> bool {
        self.has_new(kind) || self.joins_kind(kind)
    }
    /// A new user namespace whose maps an unprivileged berth writes: the child must stay
    /// dumpable until they are written (its /proc files are then the caller's).
    pub fn unprivileged_user_ns(&self) -> bool {
        self.unprivileged && self.has_new(LinuxNamespaceType::User)
    }
    /// The container's processes are in a user namespace other than the host's, theirs or
    /// berth's own: device nodes are bind-mounted from the host rather than made (as runc).
    pub fn in_user_ns(&self) -> bool {
        self.has(LinuxNamespaceType::User) || self.runtime_in_user_ns
    }
}

pub fn clone_flag(kind: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(kind as i32)
}

/// The name `/proc/<pid>/ns/` uses for a type.
pub fn proc_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// The config's name for a type (`network`, not `net`).
pub fn oci_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Network => "network",
        other => proc_name(other),
    }
}

const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// This process runs in a user namespace other than the host's (rootless podman, a rootless
/// Docker daemon): the initial one maps every id, `0 0 4294967295`. Unreadable counts as in
/// one, where less is allowed.
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(text) => text.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => true,
    }
}

/// Checks the namespaces (no duplicates, joined paths of the right type) and the settings that
/// depend on them, before any process exists.
pub fn plan_namespaces(spec: &Spec) -> Result<NamespacePlan, NamespaceError> {
    let linux = spec.linux().as_ref();
    let list = linux
        .and_then(|l| l.namespaces().as_ref())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut plan = NamespacePlan {
        new: CloneFlags::empty(),
        joins: Vec::new(),
        runtime_in_user_ns: in_user_namespace(),
        unprivileged: !nix::unistd::geteuid().is_root(),
    };
    let mut seen = HashMap::new();
    for (index, ns) in list.iter().enumerate() {
        let kind = ns.typ();
        if let Some(first) = seen.insert(kind, index) {
            return Err(NamespaceError::Invalid {
                index,
                reason: format!("{} namespace already listed at [{first}]", oci_name(kind)),
            });
        }
        match ns.path() {
            None => plan.new |= clone_flag(kind),
            Some(path) => plan.joins.push(Join {
                kind,
                fd: open_ns_path(index, path, kind)?,
            }),
        }
    }
    // Joining the runtime's own mount namespace by path is inheriting it: the rootfs must be
    // set up as for an inherited one, never pivoted there (which would move the root of every
    // process sharing the namespace).
    plan.joins
        .retain(|j| !(j.kind == LinuxNamespaceType::Mount && is_own_ns(&j.fd, "mnt")));
    plan.joins
        .sort_by_key(|j| j.kind != LinuxNamespaceType::User);
    check_mappings(spec, &plan)?;
    check_time_offsets(spec, &plan)?;
    Ok(plan)
}

fn open_ns_path(
    index: usize,
    path: &std::path::Path,
    kind: LinuxNamespaceType,
) -> Result<OwnedFd, NamespaceError> {
    let err = |reason: String| NamespaceError::Path {
        index,
        path: path.to_path_buf(),
        reason,
    };
    let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| err(e.desc().into()))?;
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
    let got = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if got < 0 {
        return Err(err("not a namespace file".into()));
    }
    if got != kind as i32 {
        let actual = ALL_KINDS
            .iter()
            .find(|k| **k as i32 == got)
            .map_or("unknown", |k| oci_name(*k));
        return Err(err(format!(
            "is a {actual} namespace, not {}",
            oci_name(kind)
        )));
    }
    Ok(fd)
}

/// `fd` is the namespace this process is in (`name` as in /proc/self/ns/).
fn is_own_ns(fd: &OwnedFd, name: &str) -> bool {
    let own = nix::sys::stat::stat(format!("/proc/self/ns/{name}").as_str());
    match (nix::sys::stat::fstat(fd), own) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

pub const ALL_KINDS: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Time,
];

fn mappings(spec: &Spec) -> (&[LinuxIdMapping], &[LinuxIdMapping]) {
    let linux = spec.linux().as_ref();
    let u = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let g = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    (u, g)
}

fn check_mappings(spec: &Spec, plan: &NamespacePlan) -> Result<(), NamespaceError> {
    let (u, g) = mappings(spec);
    let new_user = plan.has_new(LinuxNamespaceType::User);
    let cfg = |field, reason: &str| NamespaceError::Config {
        field,
        reason: reason.into(),
    };
    if new_user && (u.is_empty() || g.is_empty()) {
        return Err(cfg(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    let has_maps = !u.is_empty() || !g.is_empty();
    let joined = plan
        .joins
        .iter()
        .find(|j| j.kind == LinuxNamespaceType::User);
    match (new_user, has_maps, joined) {
        (false, true, Some(j)) => check_joined_maps(j, u, g)?,
        (false, true, None) => {
            return Err(cfg(
                "linux.uidMappings",
                "id mappings given without a user namespace",
            ))
        }
        _ => {}
    }
    check_ranges("linux.uidMappings", u)?;
    check_ranges("linux.gidMappings", g)?;
    if new_user {
        check_writable_maps(spec, u, g)?;
        check_mapped_ids(spec, u, g)?;
    }
    Ok(())
}

/// Maps given with a joined user namespace (runc 1.1 requires them there, and podman's pods
/// repeat them) are not written: they must be that namespace's own, else the config says
/// something about the container's ids that is not so.
fn check_joined_maps(
    join: &Join,
    u: &[LinuxIdMapping],
    g: &[LinuxIdMapping],
) -> Result<(), NamespaceError> {
    use std::os::fd::AsFd;
    let [have_u, have_g] =
        crate::idmap::maps_of(join.fd.as_fd()).map_err(|reason| NamespaceError::Config {
            field: "linux.uidMappings",
            reason: format!("reading the joined user namespace's maps: {reason}"),
        })?;
    let sorted = |maps: &[LinuxIdMapping]| {
        let mut v: Vec<_> = maps
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        v.sort_unstable();
        v
    };
    let same = |given: &[LinuxIdMapping], mut have: Vec<crate::idmap::Range>| {
        have.sort_unstable();
        given.is_empty() || sorted(given) == have
    };
    for (field, given, have) in [
        ("linux.uidMappings", u, have_u),
        ("linux.gidMappings", g, have_g),
    ] {
        if !same(given, have.clone()) {
            return Err(NamespaceError::Config {
                field,
                reason: format!(
                    "differ from the maps of the user namespace joined by path ({have:?} as \
                     (container id, host id, size))"
                ),
            });
        }
    }
    Ok(())
}

/// Before anything exists: the maps can be written by this caller (an unprivileged one needs
/// newuidmap/newgidmap for anything but its own id), and a container whose gid map the caller
/// writes itself (setgroups "deny") is not asked for supplementary groups.
fn check_writable_maps(
    spec: &Spec,
    u: &[LinuxIdMapping],
    g: &[LinuxIdMapping],
) -> Result<(), NamespaceError> {
    let cfg = |e: crate::idmap::IdMapError| NamespaceError::Config {
        field: e.field,
        reason: e.reason,
    };
    crate::idmap::way(Kind::Uid, u).map_err(cfg)?;
    crate::idmap::way(Kind::Gid, g).map_err(cfg)?;
    let extra = spec
        .process()
        .as_ref()
        .and_then(|p| p.user().additional_gids().as_ref())
        .is_some_and(|v| !v.is_empty());
    if extra && crate::idmap::denies_setgroups(g) {
        return Err(NamespaceError::Config {
            field: "process.user.additionalGids",
            reason: "the gid map is the caller's own gid alone, written with setgroups \"deny\" \
                     (as the kernel requires of an unprivileged user): the container can have \
                     no supplementary groups"
                .into(),
        });
    }
    Ok(())
}

fn is_mapped(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter().any(|m| {
        id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size())
    })
}

/// The ids the container is to use exist in its user namespace: `process.user` (which
/// setresuid would refuse with EINVAL) and the `uid=`/`gid=` options of the mounts made in it
/// (which the kernel refuses with EINVAL; runc refuses them for a rootless container, and
/// `spec --rootless` leaves them out).
fn check_mapped_ids(
    spec: &Spec,
    u: &[LinuxIdMapping],
    g: &[LinuxIdMapping],
) -> Result<(), NamespaceError> {
    let cfg = |field, reason: String| NamespaceError::Config { field, reason };
    if let Some(user) = spec.process().as_ref().map(|p| p.user()) {
        if !is_mapped(u, user.uid()) {
            let r = format!("{} is not mapped by linux.uidMappings", user.uid());
            return Err(cfg("process.user.uid", r));
        }
        if !is_mapped(g, user.gid()) {
            let r = format!("{} is not mapped by linux.gidMappings", user.gid());
            return Err(cfg("process.user.gid", r));
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        for opt in m.options().iter().flatten() {
            let (maps, which) = match opt.split_once('=') {
                Some(("uid", v)) => (u, (v, "linux.uidMappings")),
                Some(("gid", v)) => (g, (v, "linux.gidMappings")),
                _ => continue,
            };
            let (value, field) = which;
            let mapped = value.parse::<u32>().is_ok_and(|id| is_mapped(maps, id));
            if !mapped {
                return Err(NamespaceError::Config {
                    field: "mounts",
                    reason: format!(
                        "[{i}] ({}) option {opt}: not an id mapped by {field}; a mount in the \
                         container's user namespace can only name its ids",
                        m.destination().display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Every containerID and hostID range stays inside the ids berth accepts (see
/// `spec::MAX_ID`): a map reaching 4294967295 would make "unchanged" a valid id.
fn check_ranges(field: &'static str, maps: &[LinuxIdMapping]) -> Result<(), NamespaceError> {
    for (i, m) in maps.iter().enumerate() {
        for (what, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            crate::spec::check_id_range(start, m.size()).map_err(|reason| {
                NamespaceError::Config {
                    field,
                    reason: format!("[{i}].{what}: {reason}"),
                }
            })?;
        }
    }
    Ok(())
}

fn check_time_offsets(spec: &Spec, plan: &NamespacePlan) -> Result<(), NamespaceError> {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let Some(offsets) = offsets.filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    if !plan.has_new(LinuxNamespaceType::Time) {
        return Err(NamespaceError::Config {
            field: "linux.timeOffsets",
            reason: "needs a new time namespace".into(),
        });
    }
    for clock in offsets.keys() {
        if clock != "monotonic" && clock != "boottime" {
            return Err(NamespaceError::Config {
                field: "linux.timeOffsets",
                reason: format!("unknown clock {clock:?} (monotonic or boottime)"),
            });
        }
    }
    Ok(())
}

/// Writes the uid and gid maps of `pid`'s new user namespace, from the parent (which holds
/// whatever right over the host ids the caller has): see `idmap` for how.
pub fn write_id_maps(spec: &Spec, pid: i32) -> Result<(), NamespaceError> {
    let (u, g) = mappings(spec);
    for (kind, maps) in [(Kind::Uid, u), (Kind::Gid, g)] {
        crate::idmap::write(kind, maps, pid).map_err(|e| NamespaceError::Config {
            field: e.field,
            reason: e.reason,
        })?;
    }
    Ok(())
}

/// Joins every namespace given by path, user first.
pub fn join_namespaces(joins: &[Join]) -> Result<(), NamespaceError> {
    for j in joins {
        setns(&j.fd, clone_flag(j.kind)).map_err(|e| NamespaceError::Join {
            kind: oci_name(j.kind),
            reason: e.desc().into(),
        })?;
    }
    Ok(())
}

/// Writes linux.timeOffsets for the time namespace the caller just unshared; they apply to
/// the caller's children, which is why a time namespace costs a second fork.
pub fn write_time_offsets(spec: &Spec) -> Result<(), NamespaceError> {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let Some(offsets) = offsets else {
        return Ok(());
    };
    let text: String = offsets
        .iter()
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect();
    // Through berth's own procfs (proc_root), not whatever /proc is in this mount namespace.
    let proc = crate::proc_root::ProcRoot::new().map_err(|e| NamespaceError::Write {
        what: "linux.timeOffsets".into(),
        reason: format!("opening a private procfs: {}", e.desc()),
    })?;
    let file = proc.own("timens_offsets").map_err(std::io::Error::from);
    file.and_then(|f| proc.write(&f, &text))
        .map_err(|e| NamespaceError::Write {
            what: "linux.timeOffsets".into(),
            reason: e.to_string(),
        })
}

nix::ioctl_readwrite_bad!(get_if_flags, libc::SIOCGIFFLAGS, libc::ifreq);
nix::ioctl_write_ptr_bad!(set_if_flags, libc::SIOCSIFFLAGS, libc::ifreq);

/// Sets `lo` up in the caller's (new) network namespace, as runc's `loopback` network does: a
/// new namespace starts with it down, and what gives a container no other network (podman
/// pods with `--network none`, `ctr run` without CNI) relies on 127.0.0.1 working.
///
/// Runs in the init: a socket and two ioctls, no allocation unless it fails.
pub fn bring_up_loopback() -> Result<(), NamespaceError> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let err = |step: &str, e: nix::errno::Errno| NamespaceError::Write {
        what: "loopback device lo of the new network namespace".into(),
        reason: format!("{step}: {}", e.desc()),
    };
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| err("socket", e))?;
    // SAFETY: ifreq is plain old data, for which all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name[0] = b'l' as libc::c_char;
    req.ifr_name[1] = b'o' as libc::c_char;
    // SAFETY: `req` is a valid ifreq naming "lo" (NUL-terminated by the zeroing) for both
    // calls; SIOCGIFFLAGS fills ifru_flags, which is what is then read.
    unsafe {
        get_if_flags(sock.as_raw_fd(), &mut req).map_err(|e| err("SIOCGIFFLAGS", e))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        set_if_flags(sock.as_raw_fd(), &req).map_err(|e| err("SIOCSIFFLAGS", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// `spec --rootless`'s config (ids mapped one to one: container 0 is this uid), patched.
    fn spec_with(patch: impl FnOnce(&mut Value)) -> Spec {
        let mut v = serde_json::to_value(crate::spec::default_spec(true)).unwrap();
        patch(&mut v);
        serde_json::from_value(v).unwrap()
    }

    fn mapped_ids_error(spec: &Spec) -> Option<String> {
        let (u, g) = mappings(spec);
        check_mapped_ids(spec, u, g).err().map(|e| e.to_string())
    }

    #[test]
    fn the_rootless_default_uses_only_mapped_ids() {
        assert_eq!(mapped_ids_error(&spec_with(|_| {})), None);
    }

    #[test]
    fn an_unmapped_mount_option_id_is_refused_naming_the_mount() {
        let spec = spec_with(|v| {
            let mounts = v["mounts"].as_array_mut().unwrap();
            let devpts = mounts
                .iter_mut()
                .find(|m| m["destination"] == "/dev/pts")
                .unwrap();
            devpts["options"]
                .as_array_mut()
                .unwrap()
                .push("gid=5".into());
        });
        let e = mapped_ids_error(&spec).expect("gid 5 is not mapped");
        assert!(e.starts_with("mounts: ["), "{e}");
        assert!(e.contains("(/dev/pts) option gid=5"), "{e}");
        assert!(e.contains("linux.gidMappings"), "{e}");
    }

    #[test]
    fn an_unmapped_process_user_is_refused() {
        let spec = spec_with(|v| v["process"]["user"] = json!({"uid": 1000, "gid": 0}));
        let e = mapped_ids_error(&spec).expect("uid 1000 is not mapped");
        assert!(e.starts_with("process.user.uid: 1000"), "{e}");
    }
}
