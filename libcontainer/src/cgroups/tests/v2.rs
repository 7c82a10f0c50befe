//! The v1→v2 conversions. This host's cgroup2 mount has only hugetlb, so the files are checked
//! in a directory laid out like a v2 cgroup; that the kernel takes them is for a v2 host.

use super::super::v2::{io_weight, shares_to_weight, swap_value};
use super::*;

struct FakeV2 {
    root: PathBuf,
    paths: CgroupPaths,
}

impl FakeV2 {
    fn new() -> FakeV2 {
        let root = std::env::temp_dir().join(unique_path().strip_prefix("/").unwrap());
        let dir = root.join("c");
        std::fs::create_dir_all(&dir).unwrap();
        let controllers = "cpuset cpu io memory hugetlb pids rdma";
        std::fs::write(root.join("cgroup.controllers"), controllers).unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let files = [
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
            "io.weight",
            "io.max",
        ];
        for f in files {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let paths = CgroupPaths {
            hierarchies: vec![Hierarchy {
                controllers: Vec::new(),
                unified: true,
                mount_point: root.clone(),
                path: dir,
                created: Vec::new(),
            }],
            ..Default::default()
        };
        FakeV2 { root, paths }
    }

    fn file(&self, name: &str) -> String {
        read_file(&self.paths.hierarchies[0].path.join(name))
    }
}

impl Drop for FakeV2 {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn conversions_match_runc() {
    assert_eq!(shares_to_weight(0), 0);
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(
        shares_to_weight(1024),
        100,
        "the v1 default maps to the v2 default"
    );
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(io_weight(10), 1);
    assert_eq!(io_weight(500), 4950);
    assert_eq!(io_weight(1000), 10_000);
    assert_eq!(swap_value(Some(300), Some(100)).unwrap(), 200);
    assert_eq!(swap_value(None, Some(-1)).unwrap(), -1);
    assert_eq!(swap_value(Some(-1), Some(100)).unwrap(), -1);
    assert_eq!(swap_value(None, Some(100)).unwrap(), 0);
    assert!(swap_value(Some(300), None).is_err());
    assert!(swap_value(Some(50), Some(100)).is_err());
}

#[test]
fn v1_terms_are_written_as_v2_files() {
    let fake = FakeV2::new();
    let (major, minor) = (254, 0);
    let memory = LinuxMemoryBuilder::default()
        .limit(64 << 20)
        .reservation(32 << 20)
        .swap(128 << 20)
        .swappiness(10u64)
        .build()
        .unwrap();
    let cpu = LinuxCpuBuilder::default()
        .shares(1024u64)
        .quota(50_000)
        .period(100_000u64)
        .burst(1000u64)
        .idle(0)
        .cpus("0")
        .mems("0")
        .build()
        .unwrap();
    let throttle = LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(1_048_576u64)
        .build()
        .unwrap();
    let blkio = LinuxBlockIoBuilder::default()
        .weight(500u16)
        .throttle_read_bps_device(vec![throttle])
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(memory)
        .cpu(cpu)
        .pids(LinuxPidsBuilder::default().limit(10).build().unwrap())
        .block_io(blkio)
        .build()
        .unwrap();
    let mut warnings = Vec::new();
    super::super::v2::apply(&fake.paths, &res, &mut warnings).unwrap();
    assert_eq!(fake.file("memory.max"), (64u64 << 20).to_string());
    assert_eq!(fake.file("memory.low"), (32u64 << 20).to_string());
    assert_eq!(fake.file("memory.swap.max"), (64u64 << 20).to_string());
    assert!(
        warnings.iter().any(|w| w.contains("memory.swappiness")),
        "{warnings:?}"
    );
    assert_eq!(fake.file("cpu.weight"), "100");
    assert_eq!(fake.file("cpu.max"), "50000 100000");
    assert_eq!(fake.file("cpu.max.burst"), "1000");
    assert_eq!(fake.file("cpu.idle"), "0");
    assert_eq!(fake.file("cpuset.cpus"), "0");
    assert_eq!(fake.file("pids.max"), "10");
    assert_eq!(fake.file("io.weight"), "4950");
    assert_eq!(fake.file("io.max"), format!("{major}:{minor} rbps=1048576"));
}

#[test]
fn what_v2_cannot_express_is_refused() {
    let fake = FakeV2::new();
    let cpu = LinuxCpuBuilder::default()
        .realtime_runtime(1000)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default().cpu(cpu).build().unwrap();
    let err = super::super::v2::apply(&fake.paths, &res, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("cpu.realtimeRuntime"), "{err}");
    let blkio = LinuxBlockIoBuilder::default()
        .leaf_weight(100u16)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .block_io(blkio)
        .build()
        .unwrap();
    let err = super::super::v2::apply(&fake.paths, &res, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("blockIO.leafWeight"), "{err}");
}
