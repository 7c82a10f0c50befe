"""Bundle configs for the benchmark: basic, + seccomp, podman-like, podman-like + seccomp.

One busybox rootfs (made by scripts/mkbundle.sh) is shared by every bundle through an absolute
root.path, so each runtime and variant gets its own small bundle dir (own cgroupsPath, own
bind-mount sources) without copying the rootfs.
"""

import copy
import json
import os
import resource

# What podman 4 (rootful, cgroupfs manager, cgroup v1 so cgroupns=host) writes for
# `podman run busybox CMD`. Sources under userdata/ are made in the bundle dir instead.
PODMAN_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
    "CAP_SYS_CHROOT",
]
PODMAN_MASKED = [
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/fs/selinux", "/sys/dev/block",
]
PODMAN_READONLY = [
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
]


def _podman_rlimits():
    # podman asks for nofile/nproc 1048576 but falls back to the current hard limits when it
    # cannot raise them; this machine has no CAP_SYS_RESOURCE, so that fallback is the truth.
    out = []
    for name, res in (("RLIMIT_NOFILE", resource.RLIMIT_NOFILE),
                      ("RLIMIT_NPROC", resource.RLIMIT_NPROC)):
        _, hard = resource.getrlimit(res)
        hard = min(hard if hard != resource.RLIM_INFINITY else 1048576, 1048576)
        out.append({"type": name, "hard": hard, "soft": hard})
    return out


def _podman_config(base, bundle_dir, cgroup_path):
    userdata = os.path.join(bundle_dir, "userdata")
    os.makedirs(os.path.join(userdata, "shm"), exist_ok=True)
    files = {
        "hostname": "bench\n",
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "resolv.conf": "nameserver 10.0.2.3\n",
        ".containerenv": 'engine="podman-4.3.1"\nname="bench"\n',
    }
    for name, text in files.items():
        with open(os.path.join(userdata, name), "w") as f:
            f.write(text)
    cfg = copy.deepcopy(base)
    proc = cfg["process"]
    proc["user"] = {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 10]}
    proc["env"] = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm", "container=podman", "HOSTNAME=bench", "HOME=/root",
    ] + [e for e in proc["env"] if e.startswith("BENCH_TAG=")]
    proc["capabilities"] = {k: list(PODMAN_CAPS) for k in ("bounding", "effective", "permitted")}
    proc["rlimits"] = _podman_rlimits()
    proc["noNewPrivileges"] = False
    cfg["root"] = {"path": base["root"]["path"], "readonly": False}
    cfg["hostname"] = "bench"

    def bind(dest, src, extra=()):
        return {"destination": dest, "type": "bind", "source": os.path.join(userdata, src),
                "options": ["bind", "rprivate", *extra]}

    cfg["mounts"] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        bind("/etc/hostname", "hostname"),
        bind("/etc/resolv.conf", "resolv.conf"),
        bind("/etc/hosts", "hosts"),
        bind("/dev/shm", "shm", ("nosuid", "noexec", "nodev")),
        bind("/run/.containerenv", ".containerenv"),
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    cfg["annotations"] = {
        "io.container.manager": "libpod", "io.podman.annotations.autoremove": "FALSE",
        "io.podman.annotations.init": "FALSE", "io.podman.annotations.privileged": "FALSE",
        "io.podman.annotations.publish-all": "FALSE", "org.opencontainers.image.stopSignal": "15",
    }
    linux = cfg["linux"]
    linux["cgroupsPath"] = cgroup_path
    linux["sysctl"] = {"net.ipv4.ping_group_range": "0 0"}
    linux["resources"] = {"pids": {"limit": 2048},
                          "devices": [{"allow": False, "access": "rwm"}]}
    linux["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    linux["maskedPaths"] = list(PODMAN_MASKED)
    linux["readonlyPaths"] = list(PODMAN_READONLY)
    return cfg


def make_bundles(base_config_path, rootfs, seccomp_path, out_dir, runtimes, tag):
    """Writes out_dir/<runtime>/<variant>/config.json; returns {(runtime, variant): dir}."""
    with open(base_config_path) as f:
        base = json.load(f)
    base["root"]["path"] = os.path.abspath(rootfs)
    # Lets cleanup find and kill our container processes whatever a failing runtime left.
    base["process"]["env"].append(f"BENCH_TAG={tag}")
    seccomp = None
    if seccomp_path and os.path.exists(seccomp_path):
        with open(seccomp_path) as f:
            seccomp = json.load(f)
    dirs = {}
    for rt in runtimes:
        variants = {}
        for args_name, args in (("", ["/bin/true"]), ("-sleep", ["/bin/sleep", "1000"])):
            cfg = copy.deepcopy(base)
            cfg["process"]["args"] = args
            variants["basic" + args_name] = cfg
        if seccomp is not None:
            variants["seccomp"] = copy.deepcopy(variants["basic"])
            variants["seccomp"]["linux"]["seccomp"] = seccomp
        for v in ("podman", "podman-seccomp"):
            if v == "podman-seccomp" and seccomp is None:
                continue
            d = os.path.join(out_dir, rt, v)
            os.makedirs(d, exist_ok=True)
            cfg = _podman_config(variants["basic"], d, f"/{tag}_libpod_parent/libpod-{rt}-{v}")
            if v == "podman-seccomp":
                cfg["linux"]["seccomp"] = seccomp
            variants[v] = cfg
        for v, cfg in variants.items():
            d = os.path.join(out_dir, rt, v)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f, indent=1)
            dirs[(rt, v)] = d
    return dirs
