//! Zeros that mean "not set": runc 1.1 (libcontainer/cgroups/fs and fs2) writes none of these
//! when they are 0, and engines rely on it. dockerd sends every limit of the container's
//! HostConfig on each `docker update`, with 0 for those never given (`memory.limit: 0` beside
//! `cpu.shares: 512`); containerd's CRI does the same for a pod's containers. Writing such a
//! 0 would set the limit to nothing (memory) or fail (EBUSY, EINVAL).
//!
//! Everything else keeps its 0 (swappiness, idle, burst, hugepage limits): runc writes those.
//! A swappiness of uint64(-1) is dockerd's "not set" and skipped as runc skips it.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources};

/// `res` with every 0 that runc reads as unset made absent, and sections left empty removed
/// (so that no controller is required for them).
pub fn without_unset_zeros(res: &LinuxResources) -> LinuxResources {
    let mut out = res.clone();
    out.set_memory(res.memory().as_ref().and_then(memory));
    out.set_cpu(res.cpu().as_ref().and_then(cpu));
    out.set_pids(res.pids().filter(|p| p.limit() != 0));
    out.set_block_io(res.block_io().as_ref().and_then(block_io));
    out.set_network(res.network().as_ref().and_then(network));
    out
}

fn nonzero_i64(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

fn nonzero_u64(v: Option<u64>) -> Option<u64> {
    v.filter(|v| *v != 0)
}

/// None when nothing is left to apply.
fn unless_default<T: Default + PartialEq>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

#[allow(deprecated)] // kernel and kernelTCP: deprecated in the spec, still sent by engines
fn memory(m: &LinuxMemory) -> Option<LinuxMemory> {
    let mut m = *m;
    m.set_limit(nonzero_i64(m.limit()));
    m.set_reservation(nonzero_i64(m.reservation()));
    m.set_swap(nonzero_i64(m.swap()));
    m.set_kernel(nonzero_i64(m.kernel()));
    m.set_kernel_tcp(nonzero_i64(m.kernel_tcp()));
    // dockerd sends its "-1, not set" as uint64(-1), which runc skips too.
    m.set_swappiness(m.swappiness().filter(|s| *s != u64::MAX));
    unless_default(m)
}

fn cpu(c: &LinuxCpu) -> Option<LinuxCpu> {
    let mut c = c.clone();
    c.set_shares(nonzero_u64(c.shares()));
    c.set_quota(nonzero_i64(c.quota()));
    c.set_period(nonzero_u64(c.period()));
    c.set_realtime_runtime(nonzero_i64(c.realtime_runtime()));
    c.set_realtime_period(nonzero_u64(c.realtime_period()));
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    c.set_cpus(non_empty(c.cpus()));
    c.set_mems(non_empty(c.mems()));
    unless_default(c)
}

fn block_io(b: &LinuxBlockIo) -> Option<LinuxBlockIo> {
    let mut b = b.clone();
    b.set_weight(b.weight().filter(|w| *w != 0));
    b.set_leaf_weight(b.leaf_weight().filter(|w| *w != 0));
    unless_default(b)
}

fn network(n: &LinuxNetwork) -> Option<LinuxNetwork> {
    let mut n = n.clone();
    n.set_class_id(n.class_id().filter(|id| *id != 0));
    unless_default(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn dockers_update_keeps_only_what_was_asked_for() {
        // `docker update --cpu-shares 512` on a container without other limits.
        let docker = parse(json!({
            "memory": {"limit": 0, "reservation": 0, "kernel": 0, "swappiness": u64::MAX},
            "cpu": {"shares": 512, "quota": 0, "period": 0, "cpus": "", "mems": ""},
            "blockIO": {"weight": 0},
            "pids": {"limit": 0},
            "network": {"classID": 0},
        }));
        let want = parse(json!({"cpu": {"shares": 512}}));
        assert_eq!(without_unset_zeros(&docker), want);
    }

    #[test]
    fn zeros_runc_writes_are_kept() {
        let res = parse(json!({
            "memory": {"limit": -1, "swappiness": 0},
            "cpu": {"idle": 0, "quota": -1},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
        }));
        assert_eq!(without_unset_zeros(&res), res);
    }
}
