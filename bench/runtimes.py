"""The runtimes under test, how to call them, and how to leave nothing of theirs behind."""

import os
import shlex
import shutil
import signal
import subprocess

UNIFIED = "/sys/fs/cgroup/unified"
# crun 1.8 refuses a hybrid host; hiding the cgroup2 mount in a private mount namespace is the
# least it takes. The wrapper costs a fork+exec of unshare and sh plus an umount per call; the
# report measures that cost on its own.
CRUN_WRAPPER = ["unshare", "-m", "sh", "-c", f'umount {UNIFIED} && exec crun "$@"', "crun"]


def wrapper_for(argv):
    """The crun wrapper around any other command, to measure the wrapper's own cost."""
    return ["unshare", "-m", "sh", "-c", f'umount {UNIFIED} && exec "$@"', "sh", *argv]


def is_mountpoint(path):
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == path for line in f)
    except OSError:
        return False


class Runtime:
    def __init__(self, name, prefix, binary, missing=None):
        self.name = name
        self.prefix = prefix  # argv before the global options
        self.binary = binary  # the file whose size is reported
        self.missing = missing  # why it cannot run at all, or None

    def cmd(self, root, *args):
        return [*self.prefix, "--root", root, *args]

    def sh(self, root, *args):
        """One shell command line calling the runtime, stdin and stdout detached; stderr is
        kept so a failing setup step can say why."""
        return shlex.join(self.cmd(root, *args)) + " </dev/null >/dev/null"

    def version(self):
        if self.missing:
            return None
        try:
            out = subprocess.run([*self.prefix, "--version"], capture_output=True, text=True,
                                 timeout=20, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = out.stdout.strip().splitlines()
        return lines[0] if out.returncode == 0 and lines else None


def discover(berth_path, names):
    rts = []
    for name in names:
        if name == "berth":
            ok = berth_path and os.access(berth_path, os.X_OK)
            rts.append(Runtime("berth", [berth_path or "berth"], berth_path,
                               None if ok else f"not built ({berth_path or 'no path'})"))
        elif name == "crun":
            path = shutil.which("crun")
            prefix = CRUN_WRAPPER if is_mountpoint(UNIFIED) else ["crun"]
            rts.append(Runtime("crun", prefix, path, None if path else "crun not installed"))
        else:
            path = shutil.which(name)
            rts.append(Runtime(name, [path or name], path,
                               None if path else f"{name} not installed"))
    return rts


def _quiet(argv, timeout=30):
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def clean_root(rt, root):
    """Force-deletes every container in root: those `list -q` knows and every state dir."""
    if not os.path.isdir(root) or rt.missing:
        return
    ids = {e for e in os.listdir(root) if os.path.isdir(os.path.join(root, e))}
    out = _quiet(rt.cmd(root, "list", "-q"))
    if out is not None and out.returncode == 0:
        ids.update(line.strip() for line in out.stdout.splitlines() if line.strip())
    for cid in sorted(ids):
        _quiet(rt.cmd(root, "delete", "-f", cid))


def kill_tagged(tag):
    """SIGKILLs processes whose environment carries BENCH_TAG=tag: our containers' processes."""
    marker = f"BENCH_TAG={tag}".encode()
    killed = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
                    killed += 1
        except OSError:
            pass
    return killed


def remove_tagged_cgroups(tag):
    """rmdirs cgroups named after our ids, at each controller's root and under our own cgroup."""
    base = "/sys/fs/cgroup"
    own = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in ctrls.split(","):
                    own[c.replace("name=", "")] = path
    except OSError:
        pass
    try:
        ctrls = os.listdir(base)
    except OSError:
        return
    for ctrl in ctrls:
        parents = {os.path.join(base, ctrl)}
        if ctrl in own:
            parents.add(os.path.join(base, ctrl) + own[ctrl].rstrip("/"))
        for parent in parents:
            try:
                entries = os.listdir(parent)
            except OSError:
                continue
            for e in entries:
                if tag not in e:
                    continue
                for dirpath, _, _ in sorted(os.walk(os.path.join(parent, e)),
                                            key=lambda w: -w[0].count("/")):
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        pass
