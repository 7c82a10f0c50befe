//! What a container leaves on the host, read from the kernel: mounts, cgroups, processes and
//! state dirs. Used after each bad-input case and by the final leak check.

use std::path::{Path, PathBuf};

/// Lines of our /proc/self/mountinfo whose root or mount point lies under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy();
    mountinfo_lines()
        .into_iter()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 4 && (f[3].starts_with(&*dir) || f[4].starts_with(&*dir))
        })
        .collect()
}

pub fn mountinfo_lines() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("reading /proc/self/mountinfo")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Names in a directory; empty if it does not exist.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(d) => d
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every cgroup directory (v1 hierarchies and the unified one) whose name satisfies `pred`.
pub fn cgroups_matching(pred: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for hierarchy in dir_entries(Path::new("/sys/fs/cgroup")) {
        walk_cgroups(
            &Path::new("/sys/fs/cgroup").join(hierarchy),
            0,
            pred,
            &mut found,
        );
    }
    found
}

fn walk_cgroups(dir: &Path, depth: u32, pred: &dyn Fn(&str) -> bool, found: &mut Vec<PathBuf>) {
    // Runtimes nest a container's cgroup a few levels deep at most (cgroupsPath or /<id>).
    if depth > 4 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if pred(&name) {
            found.push(e.path());
        }
        walk_cgroups(&e.path(), depth + 1, pred, found);
    }
}

/// Where a process's root directory comes from: after pivot_root its /proc/<pid>/root reads
/// "/", but the root mount's line in its own mountinfo still names the host directory.
fn root_mount_source(proc: &Path) -> String {
    let text = std::fs::read_to_string(proc.join("mountinfo")).unwrap_or_default();
    text.lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[4] == "/")
        .map(|f| f[3].to_owned())
        .unwrap_or_default()
}

/// Processes whose root (or its mount's source), cwd or command line mentions `needle`
/// (as "pid: what").
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for pid in dir_entries(Path::new("/proc")) {
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let proc = Path::new("/proc").join(&pid);
        let links = ["root", "cwd"].map(|l| std::fs::read_link(proc.join(l)).unwrap_or_default());
        let cmdline = std::fs::read(proc.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let root_source = root_mount_source(&proc);
        if links.iter().any(|l| l.to_string_lossy().contains(needle))
            || cmdline.contains(needle)
            || root_source.contains(needle)
        {
            found.push(format!("{pid}: {cmdline} (root {root_source})"));
        }
    }
    found
}

/// Asserts that a failed command left nothing behind for container `id` of `bundle`: no state
/// dir in the root, no mount mentioning the bundle, no cgroup named after the id, no process.
#[track_caller]
pub fn assert_nothing_left(root: &Path, id: &str, bundle: &Path) {
    assert!(
        !root.join(id).exists(),
        "state dir {} left behind",
        root.join(id).display()
    );
    let mounts = mounts_under(bundle);
    assert!(mounts.is_empty(), "mounts left behind: {mounts:#?}");
    let cgroups = cgroups_matching(&|name| name.contains(id));
    assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:#?}");
    let procs = processes_mentioning(&bundle.to_string_lossy());
    assert!(procs.is_empty(), "processes left behind: {procs:#?}");
}

/// The test-process pid a suite artifact name starts with (`<pid>-...`), if any.
pub fn owner_pid(name: &str) -> Option<u32> {
    name.split('-').next()?.parse().ok()
}

pub fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// A tmpfs mounted on the host (for tests of what bind mounts carry), unmounted on drop.
pub struct HostMount {
    path: PathBuf,
}

impl HostMount {
    pub fn tmpfs(path: &Path) -> Self {
        use nix::mount::{mount, MsFlags};
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("mounting a tmpfs at {}: {e}", path.display()));
        Self {
            path: path.to_owned(),
        }
    }
}

impl HostMount {
    /// Makes the mount a shared peer group (host mounts are private on this machine).
    pub fn make_shared(self) -> Self {
        use nix::mount::{mount, MsFlags};
        mount(
            None::<&str>,
            &self.path,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("making {} shared: {e}", self.path.display()));
        self
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}
