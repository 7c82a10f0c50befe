//! The state store: one directory per container under the state root, holding `state.json`
//! and `config.json` (each written by [`write_atomic`], berth's one way of creating a file)
//! and guarded by an flock on the directory itself, so concurrent changes to one id serialise
//! while different ids never contend (commands that only read or signal take no lock).
//!
//! What is stored is what cannot be read back from the kernel: the init's pid *and its start
//! time* (so a reused pid is never taken for the container), the bundle and the cgroup paths in
//! `state.json`; the config as it was at create (later edits of the bundle's config.json have no
//! effect, as the spec asks) in `config.json`. The config is most of the bytes and costs most of
//! the parsing, yet only start, delete, exec and update need it: kept apart, `state` and `list`
//! parse ~2 KiB of paths per container. `config.json` is written before `state.json`, so a
//! container whose state can be read always has its config.
//! The status is never stored: `process`/`container` derive it from the kernel on every read.

use crate::cgroups::CgroupPaths;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "state.json";
const CONFIG_FILE: &str = "config.json";

/// The container's record in the state root could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No container of this id exists.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A container of this id exists already.
    #[error("container {0} already exists")]
    AlreadyExists(String),
    /// A file or directory of the state root could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// state.json holds something that is not a container record.
    #[error("{path}: corrupt state: {reason}")]
    Corrupt {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// The state root is not this user's alone (see `check_root`).
    #[error("{path}: {reason}")]
    Root {
        /// The state root (or its symlink's target).
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// What berth records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// The init's pid in berth's pid namespace.
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat` when the init was created: pid + start time name one process.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    /// Whether the config has annotations: `state` reads them from config.json only then.
    #[serde(default)]
    pub has_annotations: bool,
    /// Where the cgroup directories are; for a record written before the init exists
    /// (`pid` 0), the ones `create` is about to make.
    pub cgroup: CgroupPaths,
    /// `/proc/<pid>/ns/*` of the namespaces the container has, by OCI type name.
    pub namespace_paths: BTreeMap<String, PathBuf>,
    /// Mount id of the rootfs bind `create` made in the runtime's own mount namespace for a
    /// container that inherits it; detached at delete (see `rootfs::bind_rootfs_in_place`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs_bind: Option<u64>,
}

#[cfg(test)]
impl State {
    /// A minimal record of process `pid` (started at `start`) for tests that signal or poll it.
    pub(crate) fn for_test(id: &str, pid: i32, start: u64) -> Self {
        Self {
            oci_version: "1.2.0".into(),
            id: id.into(),
            pid,
            init_start_time: start,
            bundle: "/".into(),
            rootfs: "/".into(),
            created: String::new(),
            has_annotations: false,
            cgroup: Default::default(),
            namespace_paths: Default::default(),
            rootfs_bind: None,
        }
    }
}

/// A container's directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    lock: Flock<File>,
}

/// The OCI id rules runc applies: letters, digits and `_ + - .`, not `.`/`..`, at most 1024.
pub fn validate_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("must not be empty");
    }
    if id == "." || id == ".." {
        return Err("must not be . or ..");
    }
    if id.len() > 1024 {
        return Err("longer than 1024 bytes");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return Err("may only contain letters, digits, and _ + - . (no /)");
    }
    Ok(())
}

/// The state root, made 0700 whatever the caller's umask (a umask of 0 would otherwise give
/// every user a view of the containers' state and their start sockets, as runc's 0700 does
/// not). A root that exists is the administrator's: its mode is left as it is.
/// The state root must be this user's alone: whoever else could write in it could plant a
/// container directory or replace a state.json, and make this user's `kill` or `delete`
/// signal a process of their choosing, or `exec` join one (a symlink at the root is followed:
/// it is the directory it leads to that counts). A root that does not exist yet passes (it is
/// made 0700 by `create`).
fn check_root(root: &Path) -> Result<(), StateError> {
    let st = match nix::sys::stat::stat(root) {
        Ok(st) => st,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => {
            return Err(StateError::Root {
                path: root.to_path_buf(),
                reason: format!("state root: {}", e.desc()),
            })
        }
    };
    let me = nix::unistd::geteuid().as_raw();
    let reason = if st.st_uid != me {
        format!(
            "state root owned by uid {}, not by this user (uid {me}): refusing to act on state \
             another user controls",
            st.st_uid
        )
    } else if st.st_mode & 0o022 != 0 {
        format!(
            "state root writable by group or others (mode {:o}): refusing to act on state \
             another user could change",
            st.st_mode & 0o7777
        )
    } else {
        return Ok(());
    };
    Err(StateError::Root {
        path: root.to_path_buf(),
        reason,
    })
}

fn create_root(root: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    check_root(root)?;
    if root.is_dir() {
        return Ok(());
    }
    match std::fs::DirBuilder::new()
        .recursive(false)
        .mode(0o700)
        .create(root)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Parents missing: made like `mkdir -p -m 0700`, then the root itself.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(|e| io_err(root, e))?;
        }
        Err(e) => return Err(io_err(root, e)),
    }
    // The umask may have taken bits away (0o700 & !umask); set exactly 0700.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io_err(root, e))
}

fn lock_dir(path: &Path) -> Result<Flock<File>, StateError> {
    let dir = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ENOENT => StateError::NotFound(dir_id(path)),
        e => io_err(path, e),
    })?;
    Flock::lock(File::from(dir), FlockArg::LockExclusive).map_err(|(_, e)| io_err(path, e))
}

/// Does a command hold the lock of the container directory `path` right now? (Asked without
/// waiting: `list` and `state` must not wait behind a create.)
pub fn is_locked(path: &Path) -> bool {
    let Ok(dir) = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    Flock::lock(File::from(dir), FlockArg::LockSharedNonblock).is_err()
}

fn dir_id(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl StateDir {
    /// Makes the directory of a new container (failing if the id is taken) and locks it.
    pub fn create(root: &Path, id: &str) -> Result<Self, StateError> {
        create_root(root)?;
        let path = root.join(id);
        match nix::unistd::mkdir(&path, Mode::from_bits_truncate(0o700)) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST) => return Err(StateError::AlreadyExists(id.into())),
            Err(e) => return Err(io_err(&path, e)),
        }
        let lock = lock_dir(&path)?;
        Ok(Self { path, lock })
    }

    /// Locks the directory of an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Self, StateError> {
        check_root(root)?;
        let path = root.join(id);
        let lock = lock_dir(&path)?;
        // Lost a race with delete: the directory we locked is gone.
        if !path.join(STATE_FILE).exists() && !path.exists() {
            return Err(StateError::NotFound(id.into()));
        }
        Ok(Self { path, lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An fd of the directory, for paths too long for a unix socket address
    /// (`/proc/self/fd/N/start.sock`).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.lock.as_fd()
    }

    pub fn raw_fd(&self) -> i32 {
        self.lock.as_raw_fd()
    }

    pub fn load(&self) -> Result<State, StateError> {
        read_json(&self.path, STATE_FILE)
    }

    /// The config as it was at create (as changed by `update` since).
    pub fn load_config(&self) -> Result<Spec, StateError> {
        let path = self.path.join(CONFIG_FILE);
        // The container exists (its state was read): a missing config is damage, not absence.
        let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        crate::spec::parse_spec(&bytes, &path).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            reason: match e {
                crate::spec::SpecError::Invalid { field, reason, .. } => {
                    format!("{field}: {reason}")
                }
                crate::spec::SpecError::Read { reason, .. } => reason,
            },
        })
    }

    pub fn save(&self, state: &State) -> Result<(), StateError> {
        write_json(self, STATE_FILE, state)
    }

    pub fn save_config(&self, config: &Spec) -> Result<(), StateError> {
        write_json(self, CONFIG_FILE, config)
    }

    /// Removes the directory and everything in it; the lock goes with it.
    pub fn remove(self) -> Result<(), StateError> {
        std::fs::remove_dir_all(&self.path).map_err(|e| io_err(&self.path, e))
    }
}

/// The state of container `id` read without its lock, for the commands that only read or signal
/// it (`list`, `state`, `kill`, `ps`, `events`): a writer replaces
/// `state.json` by rename, so this sees the old state or the new one, and a container being
/// created (no `state.json` yet) or deleted meanwhile is `NotFound` rather than a wait for
/// whatever hooks its create or delete runs.
pub fn read_unlocked(root: &Path, id: &str) -> Result<State, StateError> {
    check_root(root)?;
    read_json(&root.join(id), STATE_FILE)
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, StateError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => StateError::NotFound(dir_id(dir)),
        _ => io_err(&path, e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        path,
        reason: e.to_string(),
    })
}

/// The config's `annotations` of container `id`, read without its lock and without building
/// the rest of the config (`state` prints them; state.json does not repeat them, so it stays
/// small whatever the config's size).
pub fn read_annotations(root: &Path, id: &str) -> Result<BTreeMap<String, String>, StateError> {
    #[derive(Deserialize)]
    struct Annotations {
        #[serde(default)]
        annotations: Option<BTreeMap<String, String>>,
    }
    let a: Annotations = read_json(&root.join(id), CONFIG_FILE)?;
    Ok(a.annotations.unwrap_or_default())
}

fn write_json(dir: &StateDir, name: &str, value: &impl Serialize) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(value).map_err(|e| io_err(&dir.path.join(name), e))?;
    // state.json and config.json must survive a host crash whole: the file and the rename
    // (issue 14 item 7), so `list` and `delete` still know the container after a reboot.
    write_atomic(dir.fd(), &dir.path, name.as_ref(), &bytes, 0o600, true)
}

/// Writes `bytes` to `path` the way [`write_atomic`] does, in `path`'s directory (which may
/// be reached through symlinks: it is the caller's choice, e.g. `--pid-file`; only the file
/// itself is never followed). Mode `mode`; not fsync'd: what such files say (a pid) does not
/// outlive a host crash, and engines read them right away.
pub fn write_file_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StateError> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            },
            n,
        ),
        _ => return Err(io_err(path, "not a file path")),
    };
    let dirfd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(dir, e))?;
    write_atomic(dirfd.as_fd(), dir, name, bytes, mode, false)
}

/// The one way berth creates a file: a new temp file in `dir` (O_CREAT|O_EXCL|O_NOFOLLOW, an
/// unpredictable name: a planted file or symlink there makes it fail, never redirects the
/// write), written, then renamed over `name` (rename replaces a symlink planted at `name`
/// instead of following it). A reader sees the old file or the new one, never half of one.
/// `durable` fsyncs the file before the rename and the directory after, so that after a host
/// crash the name holds the whole new file or the old one, never an empty one. `dir_path` is
/// only used in errors.
pub fn write_atomic(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &OsStr,
    bytes: &[u8],
    mode: u32,
    durable: bool,
) -> Result<(), StateError> {
    let (tmp, mut file) = create_temp(dir, dir_path, name, mode)?;
    let tmp_path = dir_path.join(&tmp);
    let result = file
        .write_all(bytes)
        .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
        .map_err(|e| io_err(&tmp_path, e))
        .and_then(|()| {
            nix::fcntl::renameat(dir, tmp.as_os_str(), dir, name)
                .map_err(|e| io_err(&dir_path.join(name), e))
        });
    if let Err(e) = result {
        let _ = nix::unistd::unlinkat(
            dir,
            tmp.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        return Err(e);
    }
    if durable {
        nix::unistd::fsync(dir).map_err(|e| io_err(dir_path, e))?;
    }
    Ok(())
}

/// `.<name>.<random>.tmp`, created exclusively in `dir`. A name that is taken (planted or
/// left by a crash) is skipped for another; a few misses in a row mean someone is guessing.
fn create_temp(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &OsStr,
    mode: u32,
) -> Result<(std::ffi::OsString, File), StateError> {
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
    let mut last = nix::errno::Errno::EEXIST;
    for _ in 0..8 {
        let mut tmp = std::ffi::OsString::from(".");
        tmp.push(name);
        tmp.push(format!(".{:016x}.tmp", random_u64()));
        match nix::fcntl::openat(
            dir,
            tmp.as_os_str(),
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        ) {
            Ok(fd) => return Ok((tmp, File::from(fd))),
            Err(nix::errno::Errno::EEXIST) => last = nix::errno::Errno::EEXIST,
            Err(e) => return Err(io_err(&dir_path.join(&tmp), e)),
        }
    }
    Err(io_err(
        &dir_path.join(name),
        format!("no free temp name: {last}"),
    ))
}

/// Unpredictable bits for temp names (getrandom never blocks once the pool is initialised,
/// and falls back to the clock and pid if it fails).
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), libc::GRND_NONBLOCK) };
    if n == buf.len() as isize {
        return u64::from_ne_bytes(buf);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Ids of every container directory under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    check_root(root)?;
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(root, e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| validate_id(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Now, as RFC 3339 in UTC with nanoseconds (the shape runc prints).
pub fn now_rfc3339() -> String {
    format_rfc3339(std::time::SystemTime::now(), true)
}

/// `time` as RFC 3339 in UTC, with nanoseconds (runc's `created`) or whole seconds (the
/// timestamps of logrus's log lines, which containerd's shim reads).
pub fn format_rfc3339(time: std::time::SystemTime, nanos: bool) -> String {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let frac = if nanos {
        format!(".{:09}", since.subsec_nanos())
    } else {
        String::new()
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_root_must_be_this_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("berth-root-check-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let mode = |m| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m));
        mode(0o700).unwrap();
        assert!(check_root(&dir).is_ok());
        assert!(check_root(&dir.join("missing")).is_ok());
        mode(0o770).unwrap();
        let e = check_root(&dir).unwrap_err().to_string();
        assert!(e.contains("writable by group or others (mode 770)"), "{e}");
        mode(0o700).unwrap();
        // The unit tests run as root: a root nobody owns is someone else's.
        std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
        let e = check_root(&dir).unwrap_err().to_string();
        assert!(e.contains("owned by uid 65534, not by this user"), "{e}");
        let list = list_ids(&dir).unwrap_err();
        assert!(matches!(list, StateError::Root { .. }), "{list:?}");
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "abc-1_2.3+4", "x".repeat(1024).as_str()] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(951_782_400 + 3661, 5);
        assert_eq!(format_rfc3339(t, false), "2000-02-29T01:01:01Z");
        assert_eq!(format_rfc3339(t, true), "2000-02-29T01:01:01.000000005Z");
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("berth-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn atomic_write_replaces_a_planted_symlink_instead_of_following_it() {
        let dir = temp_dir("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, "victim").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("pid")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(".pid.tmp")).unwrap();
        write_file_atomic(&dir.join("pid"), b"42", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim");
        let meta = std::fs::symlink_metadata(dir.join("pid")).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(std::fs::read_to_string(dir.join("pid")).unwrap(), "42");
        // Only the planted .pid.tmp, the file and the victim: no temp file left behind.
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".pid.tmp", "pid", "victim"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_failure_leaves_no_temp_file() {
        let dir = temp_dir("fail");
        // A directory at the name: the rename fails, the temp file must go.
        std::fs::create_dir(dir.join("state.json")).unwrap();
        std::fs::write(dir.join("state.json/x"), "").unwrap();
        let fd =
            nix::fcntl::open(&dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let e =
            write_atomic(fd.as_fd(), &dir, "state.json".as_ref(), b"{}", 0o600, true).unwrap_err();
        assert!(e.to_string().contains("state.json"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_state_root_is_made_0700_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("root");
        let root = dir.join("a/b/root");
        // In a child: the umask is the whole test process's.
        crate::identity::test_fork::in_child(|| {
            nix::sys::stat::umask(Mode::empty());
            create_root(&root).map_err(|e| e.to_string())
        });
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
