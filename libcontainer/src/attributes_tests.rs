use super::*;
use crate::identity::test_fork;
use serde_json::{json, Value};

fn spec(process: Value, linux: Value) -> Spec {
    let mut p = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
    p.as_object_mut()
        .unwrap()
        .extend(process.as_object().unwrap().clone());
    serde_json::from_value(json!({"ociVersion": "1.2.0", "process": p, "linux": linux})).unwrap()
}

fn proc_spec(process: Value) -> Spec {
    spec(process, json!({}))
}

fn validate_err(s: &Spec) -> String {
    validate_attributes(s).unwrap_err().to_string()
}

#[test]
fn validation() {
    validate_attributes(&proc_spec(json!({"oomScoreAdj": -1000}))).unwrap();
    let e = validate_err(&proc_spec(json!({"oomScoreAdj": 1001})));
    assert_eq!(e, "process.oomScoreAdj: 1001 is outside -1000..=1000");

    let e = validate_err(&proc_spec(
        json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}),
    ));
    assert_eq!(e, "process.ioPriority: priority 8 is outside 0..=7");

    let e = validate_err(&spec(
        json!({}),
        json!({"personality": {"domain": "LINUX", "flags": ["X"]}}),
    ));
    assert!(
        e.starts_with("linux.personality: flag \"X\" is not supported"),
        "{e}"
    );
    validate_attributes(&spec(
        json!({}),
        json!({"personality": {"domain": "LINUX32"}}),
    ))
    .unwrap();
}

#[test]
fn scheduler_validation() {
    let ok = [
        json!({"policy": "SCHED_BATCH", "nice": 19}),
        json!({"policy": "SCHED_FIFO", "priority": 10}),
        json!({"policy": "SCHED_DEADLINE", "runtime": 42000, "deadline": 100000, "period": 1000000}),
    ];
    for s in ok {
        validate_attributes(&proc_spec(json!({"scheduler": s}))).unwrap();
    }
    let bad = [
        (
            json!({"policy": "SCHED_OTHER", "nice": 20}),
            "nice 20 is outside -20..=19",
        ),
        (
            json!({"policy": "SCHED_RR"}),
            "priority 0 is outside 1..=99 for SCHED_RR",
        ),
        (
            json!({"policy": "SCHED_OTHER", "priority": 3}),
            "priority can only be set for SCHED_FIFO",
        ),
        (
            json!({"policy": "SCHED_OTHER", "runtime": 3}),
            "can only be set for SCHED_DEADLINE",
        ),
        (
            json!({"policy": "SCHED_ISO"}),
            "SCHED_ISO is not implemented",
        ),
        (
            json!({"policy": "SCHED_DEADLINE", "runtime": 5, "deadline": 4}),
            "runtime (5) <= deadline (4)",
        ),
    ];
    for (s, want) in bad {
        let e = validate_err(&proc_spec(json!({"scheduler": s.clone()})));
        assert!(
            e.starts_with("process.scheduler: ") && e.contains(want),
            "{s}: {e}"
        );
    }
}

#[test]
fn applies_oom_personality_scheduler_ioprio() {
    test_fork::in_child(|| {
        let s = spec(
            json!({
                "oomScoreAdj": 567,
                "scheduler": {"policy": "SCHED_BATCH", "nice": 7},
                "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
            }),
            json!({"personality": {"domain": "LINUX32"}}),
        );
        validate_attributes(&s).map_err(|e| e.to_string())?;
        apply_attributes(&s).map_err(|e| e.to_string())?;
        let oom = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        if oom.trim() != "567" {
            return Err(format!("oom_score_adj {oom:?}"));
        }
        // SAFETY: 0xffffffff queries without changing the persona.
        let persona = unsafe { libc::personality(0xffff_ffff) };
        if persona & 0xff != 0x0008 {
            return Err(format!("personality {persona:#x}"));
        }
        // SAFETY: sched_getscheduler and getpriority take integers only.
        let policy = unsafe { libc::sched_getscheduler(0) };
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        if policy != libc::SCHED_BATCH || nice != 7 {
            return Err(format!("policy {policy}, nice {nice}"));
        }
        let ioprio = crate::sys::sched::ioprio_get_self().map_err(|e| e.to_string())?;
        if ioprio != 3 << IOPRIO_CLASS_SHIFT {
            return Err(format!("ioprio {ioprio:#x}"));
        }
        Ok(())
    });
}

#[test]
fn applies_a_realtime_policy() {
    test_fork::in_child(|| {
        let s = proc_spec(json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 3,
                                                "flags": ["SCHED_RESET_ON_FORK"]}}));
        apply_attributes(&s).map_err(|e| e.to_string())?;
        // SAFETY: integer-only syscalls; sched_param is plain data.
        let policy = unsafe { libc::sched_getscheduler(0) };
        let mut param = libc::sched_param { sched_priority: 0 };
        unsafe { libc::sched_getparam(0, &mut param) };
        if policy != libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK || param.sched_priority != 3 {
            return Err(format!(
                "policy {policy:#x}, priority {}",
                param.sched_priority
            ));
        }
        Ok(())
    });
}

#[test]
fn no_new_privileges() {
    test_fork::in_child(|| {
        apply_no_new_privileges(&proc_spec(json!({"noNewPrivileges": false})))
            .map_err(|e| e.to_string())?;
        if nix::sys::prctl::get_no_new_privs().unwrap() {
            return Err("set although false".into());
        }
        apply_no_new_privileges(&proc_spec(json!({"noNewPrivileges": true})))
            .map_err(|e| e.to_string())?;
        if !nix::sys::prctl::get_no_new_privs().unwrap() {
            return Err("not set".into());
        }
        Ok(())
    });
}
