//! `linux.resources` applied on this (hybrid, v1) host, checked in the cgroup files and from
//! inside the child.

use super::*;

fn first_block_device() -> (i64, i64) {
    // Throttling needs a real disk's numbers; prefer one that is not a loop or ram device.
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| n.starts_with("loop") || n.starts_with("ram") || n.starts_with("zram"));
    let dev = read_file(&Path::new("/sys/block").join(&names[0]).join("dev"));
    let (a, b) = dev.split_once(':').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

fn many_resources(major: i64, minor: i64) -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .reservation(32 << 20)
                .swap(128 << 20)
                .swappiness(10u64)
                .disable_oom_killer(true)
                .kernel_tcp(16 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .period(100_000u64)
                .quota(50_000)
                .burst(1000u64)
                .cpus("0")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(10).build().unwrap())
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(500u16)
                .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .rate(1_048_576u64)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
        )
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4 << 20)
            .build()
            .unwrap()])
        .build()
        .unwrap()
}

#[test]
fn v1_resources_land_in_the_cgroup_files() {
    let mut g = Guard::new(&unique_path());
    let (major, minor) = first_block_device();
    let res = many_resources(major, minor);
    validate(Some(&res)).unwrap();
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let file = |ctrl: &str, name: &str| read_file(&g.paths.v1_dir(ctrl).unwrap().join(name));
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        file("memory", "memory.soft_limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    assert_eq!(
        file("memory", "memory.memsw.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(file("memory", "memory.swappiness"), "10");
    assert!(file("memory", "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(
        file("memory", "memory.kmem.tcp.limit_in_bytes"),
        (16u64 << 20).to_string()
    );
    assert_eq!(file("cpu", "cpu.shares"), "512");
    assert_eq!(file("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(file("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(file("cpu", "cpu.cfs_burst_us"), "1000");
    assert_eq!(file("cpuset", "cpuset.cpus"), "0");
    assert_eq!(file("cpuset", "cpuset.mems"), "0");
    assert_eq!(file("pids", "pids.max"), "10");
    assert_eq!(
        file("blkio", "blkio.throttle.read_bps_device"),
        format!("{major}:{minor} 1048576")
    );
    let blkio = g.paths.v1_dir("blkio").unwrap();
    let weight = ["blkio.weight", "blkio.bfq.weight"].map(|f| blkio.join(f));
    let weight = weight.iter().find(|f| f.exists()).expect("a weight file");
    assert_eq!(read_file(weight), "500");
    let unified = g.paths.unified().unwrap();
    assert_eq!(
        read_file(&unified.path.join("hugetlb.2MB.max")),
        (4u64 << 20).to_string()
    );
    // The reservation limit too, where this kernel counts reservations.
    let rsvd = unified.path.join("hugetlb.2MB.rsvd.max");
    if rsvd.exists() {
        assert_eq!(read_file(&rsvd), (4u64 << 20).to_string());
    }
    for h in &g.paths.hierarchies {
        assert_eq!(cgroup_of(child.pid, h), in_cgroup(h));
    }
    assert_eq!(child.exit_code(), 0);
}

#[test]
fn kernel_memory_is_written_or_warned_about() {
    let mut warnings = Vec::new();
    let missing = Path::new("/sys/fs/cgroup/memory/no-such-dir/memory.kmem.limit_in_bytes");
    super::v1::kernel_limit("memory.kernel", missing, 1 << 20, &mut warnings).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("linux.resources.memory.kernel"),
        "{warnings:?}"
    );

    let mut g = Guard::new(&unique_path());
    let memory = LinuxMemoryBuilder::default()
        .kernel(8 << 20)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(memory)
        .build()
        .unwrap();
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let file = g
        .paths
        .v1_dir("memory")
        .unwrap()
        .join("memory.kmem.limit_in_bytes");
    let written = file.exists() && read_file(&file) == (8u64 << 20).to_string();
    assert!(written || !g.paths.warnings.is_empty());
    assert_eq!(child.exit_code(), 0);
}

pub(super) fn device_rule(
    allow: bool,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> oci_spec::runtime::LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access(access);
    if let (Some(a), Some(i)) = (major, minor) {
        b = b.typ(LinuxDeviceType::C).major(a).minor(i);
    }
    b.build().unwrap()
}

/// Exit 0 when /dev/kmsg cannot be opened (EPERM) and /dev/null can.
pub(super) fn kmsg_denied(_: i32) -> i32 {
    unsafe {
        let kmsg = libc::open(c"/dev/kmsg".as_ptr(), libc::O_RDONLY);
        let errno = *libc::__errno_location();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        match (kmsg, errno, null) {
            (-1, libc::EPERM, n) if n >= 0 => 0,
            (-1, _, _) => 2,
            _ => 1,
        }
    }
}

pub(super) fn kmsg_allowed(_: i32) -> i32 {
    unsafe {
        if libc::open(c"/dev/kmsg".as_ptr(), libc::O_RDONLY) >= 0 {
            0
        } else {
            1
        }
    }
}

#[test]
fn a_device_not_allowed_cannot_be_opened() {
    let deny_all = vec![device_rule(false, None, None, "rwm")];
    let res = LinuxResourcesBuilder::default()
        .devices(deny_all.clone())
        .build()
        .unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(kmsg_denied);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let list = read_file(&g.paths.v1_dir("devices").unwrap().join("devices.list"));
    assert!(
        !list.contains("a *:* rwm") && list.contains("c 1:3 rwm"),
        "{list}"
    );
    assert_eq!(child.exit_code(), 0, "kmsg must be denied, null allowed");

    let mut allow = deny_all;
    allow.push(device_rule(true, Some(1), Some(11), "r"));
    let res = LinuxResourcesBuilder::default()
        .devices(allow)
        .build()
        .unwrap();
    let mut g2 = Guard::new(&unique_path());
    let mut child = spawn(kmsg_allowed);
    g2.children.push(child.pid);
    create_and_enter(&mut g2.paths, child.pid, Some(&res)).unwrap();
    assert_eq!(child.exit_code(), 0, "kmsg allowed by a rule must open");
}

/// Forks until the kernel refuses, reports how many forks worked, then waits to be killed.
pub(super) fn fork_until_refused(out: i32) -> i32 {
    let mut made: u8 = 0;
    while made < 20 {
        match unsafe { libc::fork() } {
            0 => loop {
                unsafe { libc::pause() };
            },
            -1 => break,
            _ => made += 1,
        }
    }
    unsafe {
        libc::write(out, (&made as *const u8).cast(), 1);
        loop {
            libc::pause();
        }
    }
}

#[test]
fn pids_limit_stops_forks_and_pids_lists_them_all() {
    let res = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(3).build().unwrap())
        .build()
        .unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(fork_until_refused);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    child.go();
    let mut made = [0u8; 1];
    assert_eq!(read(&child.out, &mut made).unwrap(), 1);
    assert_eq!(
        made[0], 2,
        "the limit of 3 counts the forking process itself"
    );
    let listed = pids(&g.paths).unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.contains(&child.pid));
}

#[test]
fn a_missing_controller_file_is_an_error_naming_the_field_and_leaves_nothing() {
    let top = unique_path();
    let mut g = Guard::new(&top);
    let res = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .leaf_weight(500u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    let err = create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap_err();
    assert!(err.to_string().contains("blockIO.leafWeight"), "{err}");
    for h in &g.paths.hierarchies {
        assert!(!h.path.exists(), "{} left behind", h.path.display());
    }
    assert_eq!(child.exit_code(), 0);
}

#[test]
fn unified_keys_on_a_hybrid_host() {
    let mut map = HashMap::new();
    map.insert("hugetlb.2MB.max".to_string(), "2097152".to_string());
    let res = LinuxResourcesBuilder::default()
        .unified(map)
        .build()
        .unwrap();
    validate(Some(&res)).unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    let dir = &g.paths.unified().unwrap().path;
    assert_eq!(read_file(&dir.join("hugetlb.2MB.max")), "2097152");
    assert_eq!(child.exit_code(), 0);

    let mut map = HashMap::new();
    map.insert("memory.max".to_string(), "1000000".to_string());
    let res = LinuxResourcesBuilder::default()
        .unified(map)
        .build()
        .unwrap();
    let err = validate(Some(&res)).unwrap_err();
    assert!(err.to_string().contains("unified.memory.max"), "{err}");
}

#[test]
fn cpu_idle_and_realtime() {
    let cpu = LinuxCpuBuilder::default()
        .idle(1)
        .realtime_period(1_000_000u64)
        .realtime_runtime(10_000)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default().cpu(cpu).build().unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    let result = create_and_enter(&mut g.paths, child.pid, Some(&res));
    if !Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        // A kernel without CONFIG_RT_GROUP_SCHED: the field is named in the error.
        let err = result.unwrap_err();
        assert!(err.to_string().contains("cpu.realtimePeriod"), "{err}");
        return;
    }
    result.unwrap();
    let dir = g.paths.v1_dir("cpu").unwrap();
    assert_eq!(read_file(&dir.join("cpu.idle")), "1");
    assert_eq!(read_file(&dir.join("cpu.rt_period_us")), "1000000");
    assert_eq!(read_file(&dir.join("cpu.rt_runtime_us")), "10000");
    assert_eq!(child.exit_code(), 0);
}

#[test]
fn out_of_range_cpu_shares_are_refused() {
    let cpu = LinuxCpuBuilder::default().shares(1u64).build().unwrap();
    let res = LinuxResourcesBuilder::default().cpu(cpu).build().unwrap();
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    let err = create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap_err();
    assert!(err.to_string().contains("cpu.shares"), "{err}");
    assert_eq!(child.exit_code(), 0);
}

/// Writes a byte every millisecond until killed.
fn tick(out: i32) -> i32 {
    loop {
        unsafe {
            libc::write(out, b"x".as_ptr().cast(), 1);
            libc::usleep(1000);
        }
    }
}

/// Pauses and resumes `g`'s running child, checking from its output that it stops and goes on.
fn pause_and_resume(g: &mut Guard) {
    let mut child = spawn(tick);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, None).unwrap();
    child.go();
    let mut buf = [0u8; 4096];
    assert_eq!(read(&child.out, &mut buf[..1]).unwrap(), 1, "ticking");
    assert!(!is_frozen(&g.paths));
    freeze(&g.paths).unwrap();
    assert!(is_frozen(&g.paths));
    nix::fcntl::fcntl(
        &child.out,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    while read(&child.out, &mut buf).is_ok_and(|n| n > 0) {}
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(
        read(&child.out, &mut buf),
        Err(nix::errno::Errno::EAGAIN),
        "no progress"
    );
    thaw(&g.paths).unwrap();
    assert!(!is_frozen(&g.paths));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while read(&child.out, &mut buf).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress after resume"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_paused_container_makes_no_progress_and_resumes() {
    pause_and_resume(&mut Guard::new(&unique_path()));
}

#[test]
fn pause_through_cgroup_freeze_on_a_cgroup2_only_layout() {
    pause_and_resume(&mut Guard::with(super::v2_only(&unique_path())));
}

fn memory_and_swap(limit: i64, swap: i64) -> LinuxResources {
    let memory = LinuxMemoryBuilder::default()
        .limit(limit)
        .swap(swap)
        .build()
        .unwrap();
    LinuxResourcesBuilder::default()
        .memory(memory)
        .build()
        .unwrap()
}

#[test]
fn update_changes_a_running_containers_limits() {
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(|_| 0);
    g.children.push(child.pid);
    create_and_enter(
        &mut g.paths,
        child.pid,
        Some(&memory_and_swap(64 << 20, 64 << 20)),
    )
    .unwrap();
    // Both above the current memory+swap limit: swap has to be raised first.
    let mut res = memory_and_swap(128 << 20, 256 << 20);
    res.set_pids(Some(LinuxPidsBuilder::default().limit(20).build().unwrap()));
    res.set_cpu(Some(
        LinuxCpuBuilder::default().shares(256u64).build().unwrap(),
    ));
    res.set_devices(Some(vec![device_rule(true, None, None, "rwm")]));
    let warnings = update(&g.paths, &res).unwrap();
    let file = |ctrl: &str, name: &str| read_file(&g.paths.v1_dir(ctrl).unwrap().join(name));
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        file("memory", "memory.memsw.limit_in_bytes"),
        (256u64 << 20).to_string()
    );
    assert_eq!(file("pids", "pids.max"), "20");
    assert_eq!(file("cpu", "cpu.shares"), "256");
    assert!(
        warnings.iter().any(|w| w.contains("devices")),
        "{warnings:?}"
    );
    assert!(
        !file("devices", "devices.list").contains("a *:* rwm"),
        "devices unchanged"
    );
    // And back down: the memory limit has to go first.
    update(&g.paths, &memory_and_swap(32 << 20, 48 << 20)).unwrap();
    assert_eq!(
        file("memory", "memory.memsw.limit_in_bytes"),
        (48u64 << 20).to_string()
    );

    assert_eq!(child.exit_code(), 0);
}

/// Touches 8 MiB of fresh memory (charged to its cgroup), reports, waits to be killed.
pub(super) fn use_memory(out: i32) -> i32 {
    const SIZE: usize = 8 << 20;
    unsafe {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let p = libc::mmap(std::ptr::null_mut(), SIZE, prot, flags, -1, 0);
        if p == libc::MAP_FAILED {
            return 1;
        }
        libc::memset(p, 1, SIZE);
        libc::write(out, b"x".as_ptr().cast(), 1);
        loop {
            libc::pause();
        }
    }
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    let mut g = Guard::new(&unique_path());
    let mut child = spawn(use_memory);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, None).unwrap();
    child.go();
    assert_eq!(read(&child.out, &mut [0u8; 1]).unwrap(), 1);
    let mut res = memory_and_swap(1 << 20, -1);
    res.memory_mut()
        .as_mut()
        .unwrap()
        .set_check_before_update(Some(true));
    let err = update(&g.paths, &res).unwrap_err();
    assert!(err.to_string().contains("memory.limit"), "{err}");
    let limit = read_file(
        &g.paths
            .v1_dir("memory")
            .unwrap()
            .join("memory.limit_in_bytes"),
    );
    assert_ne!(
        limit,
        (1u64 << 20).to_string(),
        "the limit must be left as it was"
    );
}

/// Touches 64 MiB, far above the limit the tests set.
fn exceed_memory(_: i32) -> i32 {
    const SIZE: usize = 64 << 20;
    unsafe {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let p = libc::mmap(std::ptr::null_mut(), SIZE, prot, flags, -1, 0);
        if p == libc::MAP_FAILED {
            return 1;
        }
        libc::memset(p, 1, SIZE);
    }
    0
}

/// A process above its memory limit is OOM-killed (SIGKILL), not let through.
pub(super) fn oom_kills(g: &mut Guard) {
    let memory = LinuxMemoryBuilder::default()
        .limit(16 << 20)
        .swap(16 << 20)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(memory)
        .build()
        .unwrap();
    let mut child = spawn(exceed_memory);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    child.go();
    match waitpid(child.pid, None).unwrap() {
        WaitStatus::Signaled(_, Signal::SIGKILL, _) => {}
        other => panic!("expected an OOM kill, got {other:?}"),
    }
}

#[test]
fn a_process_over_its_memory_limit_is_oom_killed() {
    oom_kills(&mut Guard::new(&unique_path()));
}
