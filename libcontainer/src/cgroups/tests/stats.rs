//! `stats` and `oom_kills`, checked against what the test made the child do.

use super::*;

/// A child using 8 MiB under a pids limit: the stats show both, in runc's JSON shape.
pub(super) fn stats_show_usage(g: &mut Guard) {
    let res = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(10).build().unwrap())
        .build()
        .unwrap();
    let mut child = spawn(resources::use_memory);
    g.children.push(child.pid);
    create_and_enter(&mut g.paths, child.pid, Some(&res)).unwrap();
    child.go();
    assert_eq!(read(&child.out, &mut [0u8; 1]).unwrap(), 1);
    let s = stats(&g.paths).unwrap();
    assert!(s.memory.usage.usage >= 8 << 20, "{:?}", s.memory);
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 10);
    assert!(s.cpu.usage.total > 0, "{:?}", s.cpu);
    assert!(s.hugetlb.contains_key("2MB"), "{:?}", s.hugetlb);
    let json = serde_json::to_value(&s).unwrap();
    for key in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert!(json["memory"]["usage"]["usage"].as_u64().unwrap() >= 8 << 20);
    assert!(json["memory"]["usage"].get("limit").is_some());
}

#[test]
fn stats_show_what_the_container_uses() {
    stats_show_usage(&mut Guard::new(&unique_path()));
}

pub(super) fn oom_kills_are_counted(g: &mut Guard) {
    resources::oom_kills(g);
    assert_eq!(oom_kills(&g.paths).unwrap(), 1);
}

#[test]
fn an_oom_kill_is_counted() {
    oom_kills_are_counted(&mut Guard::new(&unique_path()));
}
