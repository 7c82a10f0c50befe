//! `kill_all`: every process of a cgroup berth created is killed, with cgroup.kill where the
//! cgroup2 hierarchy has it and by freeze, SIGKILL, thaw on v1 alone; a cgroup berth did not
//! create is left alone.

use super::*;

fn pause_forever(_: i32) -> i32 {
    loop {
        // SAFETY: pause(2) only waits for a signal.
        unsafe { libc::pause() };
    }
}

fn killed(pid: Pid) -> bool {
    matches!(
        waitpid(pid, None),
        Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _))
    )
}

#[test]
fn kill_all_empties_the_cgroup_with_and_without_cgroup_kill() {
    for with_unified in [true, false] {
        let mut g = Guard::new(&unique_path());
        if !with_unified {
            g.paths.hierarchies.retain(|h| !h.unified);
        }
        let mut a = spawn(pause_forever);
        let mut b = spawn(pause_forever);
        g.children.extend([a.pid, b.pid]);
        create_and_enter(&mut g.paths, a.pid, None).unwrap();
        join(&g.paths, b.pid).unwrap();
        a.go();
        b.go();
        assert_eq!(pids(&g.paths).unwrap().len(), 2);
        kill_all(&g.paths).unwrap();
        assert!(
            pids(&g.paths).unwrap().is_empty(),
            "unified: {with_unified}"
        );
        assert!(killed(a.pid) && killed(b.pid), "unified: {with_unified}");
        g.children.clear();
        destroy(&g.paths).unwrap();
    }
}

#[test]
fn kill_all_leaves_a_cgroup_berth_did_not_create() {
    let top = unique_path();
    let mut g = Guard::new(&top);
    for h in &g.paths.hierarchies {
        std::fs::create_dir(&h.path).unwrap();
        g.own_dirs.push(h.path.clone());
    }
    let mut a = spawn(pause_forever);
    g.children.push(a.pid);
    create_and_enter(&mut g.paths, a.pid, None).unwrap();
    a.go();
    assert!(g.paths.hierarchies.iter().all(|h| h.created.is_empty()));
    kill_all(&g.paths).unwrap();
    assert_eq!(pids(&g.paths).unwrap(), vec![a.pid]);
}

/// A broken container's cgroup is taken by its name only when no process in it shares our
/// pid namespace: a config naming a host service's cgroup (`dbus.service` for id `db`) must
/// not get the service killed by `delete --force`. An empty one is taken.
#[test]
fn salvage_leaves_a_named_cgroup_holding_a_host_process() {
    let top = unique_path();
    let id = top.file_name().unwrap().to_str().unwrap().to_owned();
    let mut g = Guard::new(&top);
    for h in &g.paths.hierarchies {
        std::fs::create_dir(&h.path).unwrap();
        g.own_dirs.push(h.path.clone());
    }
    let taken = salvage(Some(&top), &id).unwrap();
    assert!(taken
        .hierarchies
        .iter()
        .all(|h| h.created == [h.path.clone()]));
    let mut a = spawn(pause_forever);
    g.children.push(a.pid);
    create_and_enter(&mut g.paths, a.pid, None).unwrap();
    a.go();
    let left = salvage(Some(&top), &id).unwrap();
    assert!(left.hierarchies.iter().all(|h| h.created.is_empty()));
    assert!(
        left.warnings.iter().any(|w| w.contains("pid namespace")),
        "{:?}",
        left.warnings
    );
    kill_all(&left).unwrap();
    assert_eq!(pids(&g.paths).unwrap(), vec![a.pid]);
}
