//! Tests on this host's real cgroups (they run as root). Every cgroup they make is named
//! /berth-test-<pid>-<n>..., and Drop guards kill the children and remove the cgroups even when
//! an assertion fails.

use super::*;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, read, write, ForkResult};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    LinuxThrottleDeviceBuilder,
};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

mod kill;
mod resources;
mod stats;
mod v2;
mod v2host;

fn unique_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    PathBuf::from(format!("/berth-test-{}-{n}", std::process::id()))
}

/// A forked child that waits for "go", then runs `action` and exits with its result.
/// `action` runs in a fork of a multi-threaded test binary: raw libc calls only.
struct Child {
    pid: Pid,
    go: Option<OwnedFd>,
    out: OwnedFd,
}

fn spawn(action: fn(out: i32) -> i32) -> Child {
    let (go_r, go_w) = pipe().unwrap();
    let (out_r, out_w) = pipe().unwrap();
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let mut b = [0u8; 1];
            let code = match read(&go_r, &mut b) {
                Ok(1) => action(out_w.as_raw_fd()),
                _ => 100,
            };
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Child {
            pid: child,
            go: Some(go_w),
            out: out_r,
        },
    }
}

impl Child {
    fn go(&mut self) {
        write(self.go.take().unwrap(), b"g").unwrap();
    }

    fn exit_code(&mut self) -> i32 {
        self.go();
        match waitpid(self.pid, None).unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("child ended with {other:?}"),
        }
    }
}

/// Owns a cgroup under test: kills what runs in it and removes it on drop.
struct Guard {
    paths: CgroupPaths,
    children: Vec<Pid>,
    /// Directories the test made itself (pre-existing cgroups), removed last.
    own_dirs: Vec<PathBuf>,
}

impl Guard {
    fn new(cgroups_path: &Path) -> Guard {
        Guard::with(resolve(Some(cgroups_path), "unused").unwrap())
    }

    fn with(paths: CgroupPaths) -> Guard {
        Guard {
            paths,
            children: Vec::new(),
            own_dirs: Vec::new(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A frozen task takes SIGKILL only once thawed.
        let _ = thaw(&self.paths);
        for pid in pids(&self.paths).unwrap_or_default() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        for &pid in &self.children {
            // Only a child still running: a reaped one's pid may belong to someone else now.
            let flags = Some(nix::sys::wait::WaitPidFlag::WNOHANG);
            if waitpid(pid, flags) == Ok(WaitStatus::StillAlive) {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
            }
        }
        let _ = destroy(&self.paths);
        for dir in self.own_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn read_file(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The cgroup `pid` is in on hierarchy `h`, from /proc/<pid>/cgroup.
fn cgroup_of(pid: Pid, h: &Hierarchy) -> String {
    let text = read_file(&PathBuf::from(format!("/proc/{pid}/cgroup")));
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        let mut list: Vec<&str> = ctrls.split(',').filter(|c| !c.is_empty()).collect();
        list.sort();
        if list == h.controllers && h.unified == ctrls.is_empty() {
            return path.to_string();
        }
    }
    panic!("pid {pid} has no line for {h:?}");
}

fn in_cgroup(h: &Hierarchy) -> String {
    format!(
        "/{}",
        h.path.strip_prefix(&h.mount_point).unwrap().display()
    )
}

#[test]
fn places_the_pid_on_every_hierarchy_and_removes_only_what_it_created() {
    let top = unique_path();
    let mut g = Guard::new(&top.join("inner"));
    assert!(g.paths.unified().is_some(), "this host is hybrid");
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, None).unwrap();
    for h in &g.paths.hierarchies {
        assert_eq!(
            h.created,
            vec![
                h.mount_point.join(top.strip_prefix("/").unwrap()),
                h.path.clone()
            ]
        );
        assert_eq!(cgroup_of(child.pid, h), in_cgroup(h), "{h:?}");
    }
    assert_eq!(pids(&g.paths).unwrap(), vec![child.pid]);
    let stored: CgroupPaths =
        serde_json::from_str(&serde_json::to_string(&g.paths).unwrap()).unwrap();
    assert_eq!(stored, g.paths, "state.json keeps what destroy needs");
    assert_eq!(child.exit_code(), 0);
    destroy(&g.paths).unwrap();
    for h in &g.paths.hierarchies {
        assert!(
            !h.created[0].exists(),
            "{} left behind",
            h.created[0].display()
        );
    }
}

#[test]
fn keeps_a_pre_existing_cgroup_and_parent() {
    let top = unique_path();
    let mut g = Guard::new(&top);
    for h in &g.paths.hierarchies {
        std::fs::create_dir(&h.path).unwrap();
        g.own_dirs.push(h.path.clone());
    }
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, None).unwrap();
    assert!(g.paths.hierarchies.iter().all(|h| h.created.is_empty()));
    assert_eq!(child.exit_code(), 0);
    destroy(&g.paths).unwrap();
    assert!(g.paths.hierarchies.iter().all(|h| h.path.exists()));

    // A new cgroup below the existing one: only the new one goes.
    let mut inner = Guard::new(&top.join("new"));
    let mut child = spawn(|_| 0);
    inner.children.push(child.pid);
    create_and_enter(&mut inner.paths, child.pid, None).unwrap();
    assert_eq!(child.exit_code(), 0);
    destroy(&inner.paths).unwrap();
    for h in &inner.paths.hierarchies {
        assert!(!h.path.exists() && h.path.parent().unwrap().exists());
    }
}

#[test]
fn a_relative_path_is_under_our_own_cgroup() {
    let paths = resolve(Some(Path::new("berth-test-rel")), "x").unwrap();
    let own = read_file(Path::new("/proc/self/cgroup"));
    let memory_own = own
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .unwrap();
    let expected = Path::new("/sys/fs/cgroup/memory")
        .join(memory_own.trim_start_matches('/'))
        .join("berth-test-rel");
    assert_eq!(paths.v1_dir("memory").unwrap(), expected);
    let default = resolve(None, "ctr").unwrap();
    assert_eq!(
        default.v1_dir("pids").unwrap(),
        Path::new("/sys/fs/cgroup/pids/berth-ctr")
    );
}

/// This host's cgroup2 mount alone, as a pure v2 host would show it.
fn v2_only(cgroups_path: &Path) -> CgroupPaths {
    let mut layout = hierarchy::Layout::detect().unwrap();
    layout.mounts.retain(|m| m.unified);
    layout.mode = hierarchy::Mode::V2;
    let proc_cgroup = read_file(Path::new("/proc/self/cgroup"));
    CgroupPaths {
        hierarchies: hierarchy::resolve(&layout, Some(cgroups_path), "x", &proc_cgroup).unwrap(),
        ..Default::default()
    }
}

#[test]
fn placement_and_hugepages_on_a_cgroup2_only_layout() {
    let mut g = Guard::with(v2_only(&unique_path().join("inner")));
    let limit = LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(2 << 20)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![limit])
        .build()
        .unwrap();
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let h = &g.paths.hierarchies[0];
    assert_eq!(cgroup_of(child.pid, h), in_cgroup(h));
    assert_eq!(
        read_file(&h.path.join("hugetlb.2MB.max")),
        (2u64 << 20).to_string()
    );
    // The reservation limit too, where this kernel counts reservations.
    let rsvd = h.path.join("hugetlb.2MB.rsvd.max");
    if rsvd.exists() {
        assert_eq!(read_file(&rsvd), (2u64 << 20).to_string());
    }
    assert_eq!(pids(&g.paths).unwrap(), vec![child.pid]);
    assert_eq!(child.exit_code(), 0);
    destroy(&g.paths).unwrap();
    assert!(!h.created[0].exists());
}

#[test]
fn a_v2_controller_the_host_lacks_is_an_error_and_leaves_nothing() {
    let mut g = Guard::with(v2_only(&unique_path()));
    let memory = LinuxMemoryBuilder::default()
        .limit(1 << 20)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(memory)
        .build()
        .unwrap();
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    let err = create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap_err();
    assert!(err.to_string().contains("linux.resources.memory"), "{err}");
    assert!(!g.paths.hierarchies[0].path.exists());
    assert_eq!(child.exit_code(), 0);
}

#[test]
fn a_failed_join_takes_the_pid_back_out_and_removes_the_cgroups() {
    let top = unique_path();
    let mut paths = resolve(Some(&top), "x").unwrap();
    paths.hierarchies.retain(|h| h.controllers == ["memory"]);
    // A second "hierarchy" whose cgroup.procs cannot be written (it is a directory).
    let fake = std::env::temp_dir().join(top.strip_prefix("/").unwrap());
    let mut g = Guard::with(paths);
    std::fs::create_dir_all(fake.join("c/cgroup.procs")).unwrap();
    g.own_dirs
        .extend([fake.clone(), fake.join("c"), fake.join("c/cgroup.procs")]);
    g.paths.hierarchies.push(Hierarchy {
        controllers: vec!["fake".into()],
        unified: false,
        mount_point: fake.clone(),
        path: fake.join("c"),
        created: Vec::new(),
    });
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    assert!(create_and_enter(&mut g.paths, child.pid, None).is_err());
    let memory = &g.paths.hierarchies[0];
    assert!(
        !memory.path.exists(),
        "{} left behind",
        memory.path.display()
    );
    assert_eq!(child.exit_code(), 0);
}

#[test]
fn the_default_cgroup_is_one_flat_directory_removed_at_delete() {
    let id = unique_path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let mut g = Guard::with(resolve(None, &id).unwrap());
    for h in &mut g.paths.hierarchies {
        fs::create(h).unwrap();
        assert_eq!(
            h.created,
            vec![h.path.clone()],
            "one directory, nothing shared"
        );
        assert_eq!(h.path.parent(), Some(h.mount_point.as_path()));
    }
    fs::remove_created(&g.paths).unwrap();
    for h in &g.paths.hierarchies {
        assert!(!h.path.exists(), "{:?} left", h.path);
    }
}

#[test]
fn containers_sharing_a_created_parent_do_not_break_each_other() {
    let shared = unique_path();
    let mut g = Guard::new(&shared);
    // Whichever container created the shared parent may find it still in use at its delete and
    // leave it (never removing what another container stands in); the guard removes it.
    g.own_dirs = g.paths.hierarchies.iter().map(|h| h.path.clone()).collect();
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let mut paths = resolve(Some(&shared.join(format!("{t}-{i}"))), "x").unwrap();
                    for h in &mut paths.hierarchies {
                        fs::create(h).unwrap();
                    }
                    assert!(paths.hierarchies.iter().all(|h| h.path.is_dir()));
                    fs::remove_created(&paths).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    for h in &g.paths.hierarchies {
        let children = std::fs::read_dir(&h.path).into_iter().flatten().flatten();
        let left: Vec<_> = children.filter(|e| e.path().is_dir()).collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn the_v2_device_program_denies_what_is_not_allowed() {
    let deny_all = vec![resources::device_rule(false, None, None, "rwm")];
    let res = LinuxResourcesBuilder::default()
        .devices(deny_all.clone())
        .build()
        .unwrap();
    let mut g = Guard::with(v2_only(&unique_path()));
    let mut child = spawn(resources::kmsg_denied);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    assert_eq!(child.exit_code(), 0, "kmsg must be denied, null allowed");

    let mut allow = deny_all;
    allow.push(resources::device_rule(true, Some(1), Some(11), "r"));
    let res = LinuxResourcesBuilder::default()
        .devices(allow)
        .build()
        .unwrap();
    let mut g2 = Guard::with(v2_only(&unique_path()));
    let mut child = spawn(resources::kmsg_allowed);
    g2.children.push(child.pid);
    create_and_enter(&mut g2.paths, child.pid, Some(&res)).unwrap();
    assert_eq!(child.exit_code(), 0, "kmsg allowed by a rule must open");
}

#[test]
fn without_a_v1_devices_controller_the_cgroup2_program_enforces_the_list() {
    let mut paths = resolve(Some(&unique_path()), "x").unwrap();
    paths.hierarchies.retain(|h| h.controllers != ["devices"]);
    let mut g = Guard::with(paths);
    let deny_all = vec![resources::device_rule(false, None, None, "rwm")];
    let res = LinuxResourcesBuilder::default()
        .devices(deny_all)
        .build()
        .unwrap();
    let mut child = spawn(resources::kmsg_denied);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    assert_eq!(child.exit_code(), 0, "kmsg must be denied, null allowed");
}
