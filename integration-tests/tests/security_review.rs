//! Holes found by the attacker's review of the issue-12 work, each attack performed as a
//! hostile config, image or container process would, checking the host is untouched.

use integration_tests::{host, poll, skip_for_runc, TestEnv, STATE_TIMEOUT};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command};

/// A host service's cgroup: a pre-existing cgroup on the freezer, pids and cgroup2 hierarchies
/// (the ones berth lists and kills a cgroup's processes through; systemd puts a service on
/// every one) holding a host process (a `sleep`, standing for sshd or dbus). Removed, with
/// its process, on drop.
struct HostService {
    dirs: Vec<PathBuf>,
    process: Child,
}

impl HostService {
    fn new(name: &str) -> Self {
        let process = Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("starting the host service");
        let mut service = HostService {
            dirs: Vec::new(),
            process,
        };
        for hierarchy in ["freezer", "pids", "unified"] {
            let dir = PathBuf::from("/sys/fs/cgroup").join(hierarchy).join(name);
            std::fs::create_dir(&dir).expect("making the host service's cgroup");
            service.dirs.push(dir.clone());
            std::fs::write(dir.join("cgroup.procs"), service.process.id().to_string())
                .expect("moving the host service into its cgroup");
        }
        service
    }

    fn alive(&mut self) -> bool {
        self.process.try_wait().expect("waitpid").is_none()
    }
}

impl Drop for HostService {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A broken record (state.json lost) makes `delete --force` find the cgroup by the stored
/// config's `linux.cgroupsPath` and take it as the container's when its name holds the id.
/// A hostile config naming a host service's cgroup whose name happens to hold the id (id
/// `db` and `dbus.service`, id `sshd` and `sshd.service`) got every host process in it
/// killed and the cgroup removed. A cgroup holding a process of the runtime's own pid
/// namespace is not a container's: it is left alone, the container's processes still go.
#[test]
fn delete_force_of_a_broken_record_never_kills_a_host_service() {
    if skip_for_runc("runc refuses to load a broken state and acts on nothing") {
        return;
    }
    let env = TestEnv::new("review_broken_host_cgroup");
    let id = env.id();
    let mut service = HostService::new(&format!("{id}.service"));
    let mut b = env.bundle(&["sleep", "1000"]);
    b.linux()["cgroupsPath"] = json!(format!("/{id}.service"));
    b.save();
    env.rt
        .run_cmd(&["run", "-d", "-b", b.path_str(), &id])
        .assert_ok("run -d");
    // What a host crash or a create that died part-way leaves.
    std::fs::remove_file(env.rt.root.join(&id).join("state.json")).expect("losing state.json");

    let delete = env.rt.run_cmd(&["delete", "--force", &id]);
    assert!(
        service.alive(),
        "delete --force killed a host process in the cgroup the config named: {delete:#?}"
    );
    delete.assert_ok("delete --force of the broken container");
    for dir in &service.dirs {
        assert!(
            dir.is_dir(),
            "the host service's cgroup {} was removed",
            dir.display()
        );
    }
    poll(STATE_TIMEOUT, "the container's process to be gone", || {
        host::processes_mentioning(&b.rootfs().to_string_lossy())
            .is_empty()
            .then_some(())
    });
    assert!(!env.rt.root.join(&id).exists(), "state dir left behind");
}
