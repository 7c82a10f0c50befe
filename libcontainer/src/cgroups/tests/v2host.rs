//! On a real cgroup v2 host. Ignored here (this host is hybrid); `scripts/v2-tests.sh` runs
//! them with `--ignored` inside the v2 VM of scripts/v2vm.sh.

use super::*;

fn v2_resources() -> LinuxResources {
    let memory = LinuxMemoryBuilder::default()
        .limit(64 << 20)
        .swap(128 << 20)
        .reservation(16 << 20)
        .build()
        .unwrap();
    let cpu = LinuxCpuBuilder::default()
        .shares(1024u64)
        .quota(50_000)
        .period(100_000u64)
        .cpus("0")
        .mems("0")
        .build()
        .unwrap();
    let deny_all = vec![resources::device_rule(false, None, None, "rwm")];
    LinuxResourcesBuilder::default()
        .memory(memory)
        .cpu(cpu)
        .pids(LinuxPidsBuilder::default().limit(10).build().unwrap())
        .devices(deny_all)
        .build()
        .unwrap()
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn resources_devices_and_placement_on_v2() {
    let top = unique_path();
    let mut g = Guard::new(&top.join("inner"));
    assert!(g.paths.is_pure_v2(), "{:?}", g.paths);
    let res = v2_resources();
    validate(Some(&res)).unwrap();
    let mut child = spawn(resources::kmsg_denied);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let h = g.paths.hierarchies[0].clone();
    let file = |name: &str| read_file(&h.path.join(name));
    assert_eq!(file("memory.max"), (64u64 << 20).to_string());
    assert_eq!(file("memory.low"), (16u64 << 20).to_string());
    assert_eq!(file("memory.swap.max"), (64u64 << 20).to_string());
    assert_eq!(file("cpu.weight"), "100");
    assert_eq!(file("cpu.max"), "50000 100000");
    assert_eq!(file("cpuset.cpus"), "0");
    assert_eq!(file("pids.max"), "10");
    assert_eq!(cgroup_of(child.pid, &h), in_cgroup(&h));
    assert_eq!(pids(&g.paths).unwrap(), vec![child.pid]);
    assert_eq!(child.exit_code(), 0, "kmsg must be denied, null allowed");
    destroy(&g.paths).unwrap();
    assert!(
        !h.created[0].exists(),
        "{} left behind",
        h.created[0].display()
    );
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn pids_max_stops_forks_on_v2() {
    let res = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(3).build().unwrap())
        .build()
        .unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(resources::fork_until_refused);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    child.go();
    let mut made = [0u8; 1];
    assert_eq!(read(&child.out, &mut made).unwrap(), 1);
    assert_eq!(made[0], 2);
    assert_eq!(pids(&g.paths).unwrap().len(), 3);
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn unified_keys_and_hugepages_on_v2() {
    let mut map = HashMap::new();
    map.insert("memory.high".to_string(), "33554432".to_string());
    let limit = LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(2 << 20)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .unified(map)
        .hugepage_limits(vec![limit])
        .build()
        .unwrap();
    validate(Some(&res)).unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let dir = &g.paths.hierarchies[0].path;
    assert_eq!(read_file(&dir.join("memory.high")), "33554432");
    assert_eq!(read_file(&dir.join("hugetlb.2MB.max")), "2097152");
    assert_eq!(child.exit_code(), 0);
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn what_v2_lacks_is_refused_before_anything_exists() {
    let net = oci_spec::runtime::LinuxNetworkBuilder::default()
        .class_id(1u32)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .network(net)
        .build()
        .unwrap();
    let err = validate(Some(&res)).unwrap_err();
    assert!(err.to_string().contains("network"), "{err}");
    let cpu = LinuxCpuBuilder::default()
        .realtime_runtime(100)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default().cpu(cpu).build().unwrap();
    let err = validate(Some(&res)).unwrap_err();
    assert!(err.to_string().contains("cpu.realtimeRuntime"), "{err}");
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn a_process_over_its_memory_limit_is_oom_killed_on_v2() {
    resources::oom_kills(&mut Guard::new(&unique_path()));
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn stats_and_oom_kills_on_v2() {
    super::stats::stats_show_usage(&mut Guard::new(&unique_path()));
    super::stats::oom_kills_are_counted(&mut Guard::new(&unique_path()));
}

#[test]
#[ignore = "needs a cgroup v2 host: scripts/v2-tests.sh runs it"]
fn update_on_v2() {
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&v2_resources())).unwrap();
    let memory = LinuxMemoryBuilder::default()
        .limit(128 << 20)
        .swap(192 << 20)
        .build()
        .unwrap();
    let cpu = LinuxCpuBuilder::default().shares(2048u64).build().unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(memory)
        .cpu(cpu)
        .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    update(&g.paths, &res).unwrap();
    let dir = &g.paths.hierarchies[0].path;
    assert_eq!(
        read_file(&dir.join("memory.max")),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        read_file(&dir.join("memory.swap.max")),
        (64u64 << 20).to_string()
    );
    assert_eq!(read_file(&dir.join("pids.max")), "max");
    let weight: u64 = read_file(&dir.join("cpu.weight")).parse().unwrap();
    assert!(
        weight > 100,
        "2048 shares weigh more than the default: {weight}"
    );
    assert_eq!(child.exit_code(), 0);
}
