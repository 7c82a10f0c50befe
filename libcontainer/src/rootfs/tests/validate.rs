use super::super::options::{parse, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
use super::super::{validate_mounts, RootfsError};
use super::spec;
use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

fn with_mounts(mounts: &str) -> Spec {
    spec(&format!(
        r#"{{"ociVersion": "1.0.2", "mounts": {mounts}, "linux": {{"namespaces": [{{"type": "mount"}}]}}}}"#
    ))
}

fn invalid_mount(result: Result<(), RootfsError>) -> (usize, String, String) {
    match result {
        Err(RootfsError::InvalidMount {
            index,
            destination,
            reason,
        }) => (index, destination, reason),
        other => panic!("expected InvalidMount, got {other:?}"),
    }
}

#[test]
fn default_spec_is_valid() {
    validate_mounts(&Spec::default()).unwrap();
}

#[test]
fn relative_destination_is_rejected_naming_the_entry() {
    let s = with_mounts(
        r#"[{"destination": "/proc", "type": "proc"}, {"destination": "tmp", "type": "tmpfs"}]"#,
    );
    let (index, destination, reason) = invalid_mount(validate_mounts(&s));
    assert_eq!((index, destination.as_str()), (1, "tmp"));
    assert!(reason.contains("absolute"), "{reason}");
    let message = validate_mounts(&s).unwrap_err().to_string();
    assert!(message.starts_with("mounts[1] (tmp):"), "{message}");
}

#[test]
fn unknown_type_is_rejected() {
    let s = with_mounts(r#"[{"destination": "/x", "type": "nosuchfs", "source": "x"}]"#);
    let (index, _, reason) = invalid_mount(validate_mounts(&s));
    assert_eq!(index, 0);
    assert!(reason.contains("nosuchfs"), "{reason}");
}

#[test]
fn none_type_without_bind_and_bind_without_source_are_rejected() {
    let s = with_mounts(r#"[{"destination": "/x", "type": "none", "source": "/tmp"}]"#);
    assert!(invalid_mount(validate_mounts(&s)).2.contains("bind"));
    let s = with_mounts(r#"[{"destination": "/x", "options": ["rbind"]}]"#);
    assert!(invalid_mount(validate_mounts(&s)).2.contains("source"));
    let s = with_mounts(r#"[{"destination": "/x"}]"#);
    invalid_mount(validate_mounts(&s));
}

#[test]
fn bind_forms_are_accepted() {
    let s = with_mounts(
        r#"[{"destination": "/a", "type": "bind", "source": "/tmp"},
            {"destination": "/b", "type": "none", "source": "/tmp", "options": ["rbind", "ro"]},
            {"destination": "/c", "source": "/tmp", "options": ["bind"]},
            {"destination": "/d", "type": "bind", "source": "/tmp", "options": ["bind", "mode=755", "size=1k"]}]"#,
    );
    validate_mounts(&s).unwrap();
}

const UID: &str = r#""uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]"#;
const GID: &str = r#""gidMappings": [{"containerID": 0, "hostID": 2000, "size": 1}]"#;

fn idmapped(typ_options: &str, maps: &str) -> Spec {
    with_mounts(&format!(
        r#"[{{"destination": "/ok", "type": "tmpfs", "source": "tmpfs"}},
            {{"destination": "/a", "source": "/tmp", {typ_options} {maps}}}]"#
    ))
}

#[test]
fn idmap_and_ridmap_with_both_mappings_are_accepted_and_parsed() {
    for (option, recursive) in [("idmap", false), ("ridmap", true)] {
        let s = idmapped(
            &format!(r#""options": ["rbind", "{option}"],"#),
            &format!("{UID}, {GID}"),
        );
        validate_mounts(&s).unwrap();
        let parsed = parse(&s.mounts().as_ref().unwrap()[1]).unwrap();
        assert_eq!(parsed.idmap, Some(recursive), "{option}");
    }
    // Mappings alone imply a plain idmap, as with runc.
    let s = idmapped(r#""type": "bind","#, &format!("{UID}, {GID}"));
    validate_mounts(&s).unwrap();
    assert_eq!(
        parse(&s.mounts().as_ref().unwrap()[1]).unwrap().idmap,
        Some(false)
    );
}

#[test]
fn idmapped_mounts_are_only_bind_mounts() {
    let s = with_mounts(&format!(
        r#"[{{"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"], {UID}, {GID}}}]"#
    ));
    let (index, _, reason) = invalid_mount(validate_mounts(&s));
    assert_eq!(index, 0);
    assert!(reason.contains("only for bind mounts"), "{reason}");
}

#[test]
fn an_idmapped_mount_needs_both_maps_naming_the_missing_field() {
    for (maps, missing) in [(UID, "gidMappings"), (GID, "uidMappings")] {
        let s = idmapped(r#""options": ["bind", "idmap"],"#, maps);
        let (index, _, reason) = invalid_mount(validate_mounts(&s));
        assert_eq!(index, 1);
        assert!(
            reason.starts_with(&format!("{missing}: missing")),
            "{reason}"
        );
    }
}

#[test]
fn idmap_without_mappings_takes_the_container_user_namespace_or_is_refused() {
    let s = idmapped(r#""options": ["bind", "idmap"]"#, "");
    let (index, _, reason) = invalid_mount(validate_mounts(&s));
    assert_eq!(index, 1);
    assert!(reason.contains("linux.uidMappings"), "{reason}");
    let s = spec(
        r#"{"ociVersion": "1.0.2",
            "mounts": [{"destination": "/a", "source": "/tmp", "options": ["rbind", "ridmap"]}],
            "linux": {"namespaces": [{"type": "mount"}, {"type": "user"}],
                      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}}"#,
    );
    validate_mounts(&s).unwrap();
}

#[test]
fn bad_mount_mappings_are_refused_naming_the_line() {
    let zero = r#""uidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}]"#;
    let s = idmapped(
        r#""options": ["bind", "idmap"],"#,
        &format!("{zero}, {GID}"),
    );
    let reason = invalid_mount(validate_mounts(&s)).2;
    assert_eq!(reason, "uidMappings[0]: size is 0");
    let overlap = r#""gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10},
                                      {"containerID": 10, "hostID": 1005, "size": 1}]"#;
    let s = idmapped(
        r#""options": ["bind", "idmap"],"#,
        &format!("{UID}, {overlap}"),
    );
    let message = validate_mounts(&s).unwrap_err().to_string();
    assert_eq!(
        message,
        "mounts[1] (/a): gidMappings[1]: overlaps gidMappings[0]"
    );
}

#[test]
fn bad_rootfs_propagation_is_rejected() {
    let s = spec(
        r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}], "rootfsPropagation": "sideways"}}"#,
    );
    match validate_mounts(&s) {
        Err(RootfsError::InvalidPropagation(v)) => assert_eq!(v, "sideways"),
        other => panic!("{other:?}"),
    }
    let s = spec(
        r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}], "rootfsPropagation": "rshared"}}"#,
    );
    validate_mounts(&s).unwrap();
}

#[test]
fn bad_devices_are_rejected() {
    let s = spec(
        r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}], "devices": [
            {"path": "/dev/ok", "type": "c", "major": 1, "minor": 3},
            {"path": "/dev/all", "type": "a", "major": 1, "minor": 3}]}}"#,
    );
    match validate_mounts(&s) {
        Err(RootfsError::InvalidDevice { index, path, .. }) => {
            assert_eq!((index, path.as_str()), (1, "/dev/all"))
        }
        other => panic!("{other:?}"),
    }
    let s = spec(
        r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}], "devices": [{"path": "dev/x", "type": "c", "major": 1, "minor": 3}]}}"#,
    );
    assert!(matches!(
        validate_mounts(&s),
        Err(RootfsError::InvalidDevice { index: 0, .. })
    ));
}

#[test]
fn options_become_flags_attributes_and_data() {
    let s = with_mounts(
        r#"[{"destination": "/a", "type": "tmpfs", "source": "tmpfs",
             "options": ["ro", "nosuid", "noexec", "exec", "mode=755", "size=64k", "rprivate", "rro", "rnosuid", "rnoatime", "strictatime"]}]"#,
    );
    let parsed = parse(&s.mounts().as_ref().unwrap()[0]).unwrap();
    assert_eq!(
        parsed.flags,
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME
    );
    assert_eq!(parsed.data, ["mode=755", "size=64k"]);
    assert_eq!(
        parsed.propagation,
        vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]
    );
    assert_eq!(parsed.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
    assert_eq!(parsed.attr_atime, Some(0x10));
    assert!(!parsed.is_bind());
}

#[test]
fn later_options_override_earlier_ones() {
    let s = with_mounts(
        r#"[{"destination": "/a", "type": "bind", "source": "/tmp", "options": ["ro", "rw", "rro", "rrw"]}]"#,
    );
    let parsed = parse(&s.mounts().as_ref().unwrap()[0]).unwrap();
    assert_eq!(parsed.flags, MsFlags::MS_BIND);
    assert_eq!((parsed.attr_set, parsed.attr_clr), (0, MOUNT_ATTR_RDONLY));
}

#[test]
fn superblock_flags_on_a_bind_and_misplaced_tmpcopyup_are_rejected() {
    let s = with_mounts(
        r#"[{"destination": "/a", "type": "bind", "source": "/tmp", "options": ["rbind", "ro", "sync"]}]"#,
    );
    assert!(invalid_mount(validate_mounts(&s)).2.contains("\"sync\""));
    let s = with_mounts(
        r#"[{"destination": "/a", "type": "proc", "source": "proc", "options": ["tmpcopyup"]}]"#,
    );
    assert!(invalid_mount(validate_mounts(&s)).2.contains("tmpcopyup"));
    let s = with_mounts(
        r#"[{"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}]"#,
    );
    validate_mounts(&s).unwrap();
}

#[test]
fn mount_label_is_rejected_as_unsupported() {
    let s = spec(
        r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}], "mountLabel": "system_u:object_r:container_file_t:s0"}}"#,
    );
    let message = validate_mounts(&s).unwrap_err().to_string();
    assert!(message.starts_with("linux.mountLabel:"), "{message}");
}

/// Without a mount namespace the runtime's is inherited (the spec's rule): the mounts are
/// still valid, and where they are made is `process`'s business.
#[test]
fn mounts_without_a_mount_namespace_are_valid() {
    let s = spec(r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}]}}"#);
    validate_mounts(&s).unwrap();
    let s = spec(r#"{"ociVersion": "1.0.2"}"#);
    validate_mounts(&s).unwrap();
}

/// runc's checkProcMount: /proc takes only proc; inside it only the allow-listed files.
#[test]
fn proc_destinations_table() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            r#"{"destination": "/proc", "type": "proc", "source": "proc"}"#,
            None,
        ),
        (r#"{"destination": "/proc/", "type": "proc"}"#, None),
        (
            r#"{"destination": "/proc/cpuinfo", "type": "bind", "source": "/tmp"}"#,
            None,
        ),
        (
            r#"{"destination": "/proc/sys/kernel/ns_last_pid", "options": ["bind"], "source": "/x"}"#,
            None,
        ),
        (r#"{"destination": "/procfoo", "type": "tmpfs"}"#, None),
        (
            r#"{"destination": "/proc", "type": "tmpfs"}"#,
            Some("only a mount of type \"proc\""),
        ),
        (
            r#"{"destination": "/proc", "type": "bind", "source": "/tmp"}"#,
            Some("not a bind mount"),
        ),
        (
            r#"{"destination": "/x/../proc", "options": ["rbind"], "source": "/tmp"}"#,
            Some("not a bind mount"),
        ),
        (
            r#"{"destination": "/proc/sys/kernel", "type": "tmpfs"}"#,
            Some("inside /proc"),
        ),
        (
            r#"{"destination": "/proc/./sys/../sys", "type": "tmpfs"}"#,
            Some("inside /proc"),
        ),
        (
            r#"{"destination": "/proc/self", "type": "bind", "source": "/tmp"}"#,
            Some("inside /proc"),
        ),
    ];
    for (mount, want) in cases {
        let got = validate_mounts(&with_mounts(&format!("[{mount}]")));
        match (want, got) {
            (None, Ok(())) => {}
            (Some(w), Err(e @ RootfsError::InvalidMount { .. })) => {
                let text = e.to_string();
                assert!(
                    text.starts_with("mounts[0] (") && text.contains(w),
                    "{mount}: {text}"
                );
            }
            (_, other) => panic!("{mount}: got {other:?}, want {want:?}"),
        }
    }
}
