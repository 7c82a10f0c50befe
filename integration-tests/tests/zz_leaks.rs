//! Runs last (cargo runs test binaries in name order; `make test` also runs it as its own
//! step): nothing the suite made may remain once its test processes have exited — no temp dir
//! (which holds each test's state root), mount, cgroup or process. Artifacts are named after the
//! test process's pid, so those of a suite still running elsewhere on the machine are ignored.

use integration_tests::{host, ID_PREFIX, TEST_TMP};
use std::path::Path;

/// The pid in a name `<pid>-...`, when that test process has exited.
fn finished_owner(name: &str) -> Option<u32> {
    host::owner_pid(name).filter(|pid| !host::pid_alive(*pid))
}

/// The names under TEST_TMP a mountinfo line, process or cgroup mentions.
fn suite_dirs_in(text: &str) -> Vec<&str> {
    let marker = format!("{TEST_TMP}/");
    text.match_indices(&marker)
        .map(|(i, _)| &text[i + marker.len()..])
        .map(|rest| rest.split(['/', ' ', '\0']).next().unwrap_or_default())
        .collect()
}

/// What follows each `it` in a cgroup name: the runtime may decorate the id (`berth-<id>`,
/// `<id>.scope`), so the id is looked for anywhere in the name.
fn ids_in(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(ID_PREFIX)
        .map(move |(i, _)| &name[i + ID_PREFIX.len()..])
}

#[test]
fn nothing_the_suite_made_is_left() {
    let dirs: Vec<String> = host::dir_entries(Path::new(TEST_TMP))
        .into_iter()
        .filter(|d| finished_owner(d).is_some())
        .collect();
    let mounts: Vec<String> = host::mountinfo_lines()
        .into_iter()
        .filter(|l| suite_dirs_in(l).iter().any(|d| finished_owner(d).is_some()))
        .collect();
    let cgroups = host::cgroups_matching(&|name| ids_in(name).any(|d| finished_owner(d).is_some()));
    // A runtime that ignored --root would leave its state in its default root instead.
    let stray_states: Vec<String> = ["/run/berth", "/run/runc"]
        .iter()
        .flat_map(|root| host::dir_entries(Path::new(root)))
        .filter(|name| ids_in(name).any(|d| finished_owner(d).is_some()))
        .collect();
    let procs: Vec<String> = host::processes_mentioning(&format!("{TEST_TMP}/"))
        .into_iter()
        .filter(|p| suite_dirs_in(p).iter().any(|d| finished_owner(d).is_some()))
        .collect();
    assert!(
        dirs.is_empty()
            && mounts.is_empty()
            && cgroups.is_empty()
            && procs.is_empty()
            && stray_states.is_empty(),
        "left behind by finished test runs:\ntemp dirs (state roots inside): {dirs:#?}\n\
         mounts: {mounts:#?}\ncgroups: {cgroups:#?}\nprocesses: {procs:#?}\n\
         states outside --root: {stray_states:#?}"
    );
}

#[test]
fn the_leak_check_sees_a_leak() {
    // No real leak is staged: the check above runs in parallel and would report it.
    // A pid above the kernel's pid_max limit cannot be alive; this process is.
    assert_eq!(finished_owner("4194305-0-fake-leak"), Some(4_194_305));
    assert_eq!(
        finished_owner(&format!("{}-0-me", std::process::id())),
        None
    );
    assert_eq!(finished_owner("not-a-suite-dir"), None);
    assert_eq!(suite_dirs_in("x /tmp/berth-it/12-3-a/bundle y"), ["12-3-a"]);
    for cgroup in ["it4194305-1-t-0", "berth-it4194305-1-t-0.scope"] {
        assert!(
            ids_in(cgroup).any(|d| finished_owner(d).is_some()),
            "{cgroup}"
        );
    }
    assert!(!ids_in("system.slice").any(|d| finished_owner(d).is_some()));
}
