#!/usr/bin/env python3
"""berth vs runc vs crun, side by side: every measure is one hyperfine invocation holding all
runtimes, interleaved in rounds so they share the machine's noise. Prints a markdown table and
writes raw figures under target/bench/. It never asserts a time: a runtime that fails a
measure is shown as failed and the run goes on. Called by bench/run.sh (make bench)."""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SECCOMP = "seccomp-default-like.json"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bundles  # noqa: E402
import report  # noqa: E402
import runtimes as rtmod  # noqa: E402


def children(pid):
    """Direct children of pid, from /proc."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as st:
                    if int(st.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(p))
            except (OSError, ValueError, IndexError):
                pass
    return out


def evict_from_page_cache(path):
    """Drops one file's clean pages from the page cache (only that file: no global drop_caches)."""
    if not path or not os.path.exists(path):
        return
    fd = os.open(os.path.realpath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def last_line(text):
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no message)"


class Bench:
    def __init__(self, args, rts):
        self.args = args
        self.rts = rts
        self.names = [rt.name for rt in rts]
        self.tag = f"bench{os.getpid()}"
        self.tmp = tempfile.mkdtemp(prefix=f"berth-{self.tag}-")
        self.out = args.out
        self.logs = os.path.join(self.out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.roots = []  # (runtime, root) for cleanup
        # State roots live on a tmpfs, as /run does on the hosts engines run on: berth fsyncs
        # its state files (runc and crun do not), which tmpfs makes free; on this VM's ext4
        # each fsync costs 1-13 ms and would be measured as the runtime's time.
        self.roots_dir = os.path.join(self.tmp, "roots")
        os.makedirs(self.roots_dir, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "bench-roots",
                        self.roots_dir], check=True)
        self.rows = []
        self.meta = {}
        q = args.quick
        # (rounds, runs per round, warmup): rounds interleave the runtimes.
        self.fast = (1, 5, 0) if q else (10, 5, 1)
        self.slow = (1, 1, 0) if q else (3, 1, 0)
        self.rss_iterations = 3 if q else 15

    # ---- plumbing ----

    def root(self, rt, measure):
        r = os.path.join(self.roots_dir, rt.name, measure)
        os.makedirs(r, exist_ok=True)
        self.roots.append((rt, r))
        return r

    def cid(self, rt, measure, rnd):
        return f"{self.tag}-{rt.name}-{measure}-{rnd}"

    def row(self, key, label, unit="s", ratio=True):
        row = report.Row(key, label, unit, ratio)
        self.rows.append(row)
        return row

    def progress(self, msg):
        print(f"bench: {msg}", file=sys.stderr, flush=True)

    def shell(self, script, timeout=None):
        """Runs script, returns (exit code, its stderr). Output goes to a file, not a pipe:
        a container the script creates inherits it and would hold a pipe open for good."""
        timeout = timeout or self.args.call_timeout
        errf = os.path.join(self.tmp, "stderr")
        with open(errf, "w+") as err:
            try:
                rc = subprocess.run(["sh", "-c", script], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err,
                                    timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = 124
            err.seek(0)
            text = err.read().strip()
        return rc, text or (f"timed out after {timeout}s" if rc == 124 else "")

    def cleanup_measure(self, measure):
        for rt, r in self.roots:
            if r.endswith(os.sep + measure):
                rtmod.clean_root(rt, r)

    # ---- one hyperfine invocation for several rows x runtimes ----

    def hyperfine(self, name, entries, shape, limit=None):
        """entries: (row, rt, cmd(rnd) -> argv, prepare(rnd) -> shell script or None).
        A preflight run drops failing (row, rt) pairs first, so one broken runtime cannot
        abort the invocation the others share."""
        rounds, runs, warmup = shape
        live = []
        for row, rt, cmd, prep in entries:
            if rt.missing:
                row.fail(rt.name, rt.missing, "n/a")
                continue
            if prep:
                rc, err = self.shell(prep(0))
                if rc != 0:
                    row.fail(rt.name, f"setup failed, exit {rc}: {last_line(err)}")
                    continue
            rc, err = self.shell(shlex.join(cmd(0)) + " </dev/null >/dev/null")
            if rc != 0:
                row.fail(rt.name, f"exit {rc}: {last_line(err)}")
                continue
            live.append((row, rt, cmd, prep))
        if not live:
            return
        argv = ["hyperfine", "-N", "-i", "--style", "basic", "--runs", str(runs),
                "--warmup", str(warmup), "--export-json", os.path.join(self.out, f"{name}.json")]
        order = []
        for rnd in range(1, rounds + 1):
            for row, rt, cmd, prep in live:
                order.append((row, rt))
                argv.append(shlex.join(cmd(rnd)))
                # hyperfine aborts the whole invocation when a prepare fails; swallowing it
                # makes the timed command fail instead, which -i records against that runtime.
                argv += ["--prepare", shlex.join(["sh", "-c", f"{{ {prep(rnd)}\n}} || true"])
                         if prep else "true"]
        self.run_hyperfine(name, argv, order, limit)

    def watch(self, proc, limit):
        """Waits for hyperfine, SIGKILLing any command of its that runs past `limit` seconds:
        that run then counts as failed for its runtime alone (hyperfine -i goes on), where a
        hung runtime would otherwise stall the invocation the others share."""
        deadline = time.monotonic() + self.args.timeout
        hz = os.sysconf("SC_CLK_TCK")
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    return "timeout"
                time.sleep(1)
                with open("/proc/uptime") as u:
                    now = float(u.read().split()[0])
                for pid in children(proc.pid):
                    try:
                        with open(f"/proc/{pid}/stat") as st:
                            started = int(st.read().rsplit(")", 1)[1].split()[19]) / hz
                        if now - started > limit:
                            os.kill(pid, signal.SIGKILL)
                            self.progress(f"killed a command stuck for {limit}s (pid {pid})")
                    except (OSError, ValueError, IndexError):
                        pass
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode

    def run_hyperfine(self, name, argv, order, limit=None):
        limit = limit or self.args.call_timeout
        log = os.path.join(self.logs, f"{name}.log")
        jpath = os.path.join(self.out, f"{name}.json")
        if os.path.exists(jpath):
            os.remove(jpath)  # a stale file from an earlier run must not pass for this one
        with open(log, "w") as f:
            f.write(shlex.join(argv) + "\n\n")
            f.flush()
            rc = self.watch(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                                             stderr=f), limit)
        try:
            with open(jpath) as f:
                results = json.load(f)["results"]
        except (OSError, ValueError, KeyError):
            results = None
        if rc != 0 or results is None or len(results) != len(order):
            for row, rt in order:
                row.fail(rt.name, f"hyperfine failed ({rc}), see {log}")
            return
        times, bad = {}, {}
        for (row, rt), res in zip(order, results):
            key = (row.key, rt.name)
            times.setdefault(key, (row, rt, []))[2].extend(res["times"])
            bad[key] = bad.get(key, 0) + sum(1 for c in res.get("exit_codes", []) if c)
        for key, (row, rt, ts) in times.items():
            if bad[key]:
                row.fail(rt.name, f"{bad[key]} of {len(ts)} runs exited non-zero")
            else:
                row.ok(rt.name, ts)

    # ---- measures ----

    def measure_wrapper(self):
        crun = next((rt for rt in self.rts if rt.name == "crun"), None)
        if not crun or crun.prefix == ["crun"] or crun.missing:
            return
        self.progress("crun wrapper overhead")
        row = self.row("crun-wrapper", "crun wrapper alone (unshare -m + umount, runs /bin/true)",
                       ratio=False)
        bare = report.Row("bare", "")
        w = rtmod.Runtime("crun", rtmod.wrapper_for(["/bin/true"]), None)
        b = rtmod.Runtime("bare", ["/bin/true"], None)
        self.hyperfine("crun-wrapper", [(row, w, lambda r: w.prefix, None),
                                        (bare, b, lambda r: b.prefix, None)], self.fast)
        ws, bs = row.stats("crun"), bare.stats("bare")
        if ws and bs:
            self.meta["crun_wrapper_overhead_s"] = ws["median"] - bs["median"]
            row.results["crun"]["note"] = f"bare /bin/true: {bs['median'] * 1000:.2f} ms"

    def measure_run(self, bundle):
        variants = [("basic", "run /bin/true (basic bundle)"),
                    ("seccomp", "run, + realistic seccomp profile"),
                    ("podman", "run, podman-like config"),
                    ("podman-seccomp", "run, podman-like + seccomp")]
        for v, label in variants:
            if (self.rts[0].name, v) not in bundle:
                continue
            self.progress(label)
            row = self.row(f"run-{v}", label)
            entries = []
            for rt in self.rts:
                root, b = self.root(rt, f"run-{v}"), bundle[(rt.name, v)]

                def cmd(rnd, rt=rt, root=root, b=b, v=v):
                    return rt.cmd(root, "run", "--bundle", b, self.cid(rt, v, rnd))

                def prep(rnd, rt=rt, root=root, v=v):
                    return rt.sh(root, "delete", "-f", self.cid(rt, v, rnd)) + "; true"
                entries.append((row, rt, cmd, prep))
            self.hyperfine(f"run-{v}", entries, self.fast)
            self.cleanup_measure(f"run-{v}")

    def measure_steps(self, bundle):
        def wait_stopped(rt, root, c):
            st = shlex.join(rt.cmd(root, "state", c))
            return (f'i=0; while [ $i -lt 300 ]; do case "$({st} 2>/dev/null)" in '
                    f'*\'"stopped"\'*) break;; esac; i=$((i+1)); sleep 0.01; done')

        steps = {
            "create": (lambda rt, root, b, c: rt.cmd(root, "create", "--bundle", b, c),
                       lambda rt, root, b, c: [rt.sh(root, "delete", "-f", c) + "; true"]),
            "start": (lambda rt, root, b, c: rt.cmd(root, "start", c),
                      lambda rt, root, b, c: [rt.sh(root, "delete", "-f", c) + "; true",
                                              rt.sh(root, "create", "--bundle", b, c)]),
            "delete": (lambda rt, root, b, c: rt.cmd(root, "delete", c),
                       lambda rt, root, b, c: [rt.sh(root, "delete", "-f", c) + "; true",
                                               rt.sh(root, "create", "--bundle", b, c),
                                               rt.sh(root, "start", c), wait_stopped(rt, root, c)]),
        }
        for step, (cmdf, prepf) in steps.items():
            self.progress(f"{step} alone")
            label = {"create": "create alone", "start": "start alone (/bin/true)",
                     "delete": "delete alone (stopped container)"}[step]
            row = self.row(step, label)
            entries = []
            for rt in self.rts:
                root, b = self.root(rt, step), bundle[(rt.name, "basic")]
                cmd = (lambda rnd, rt=rt, root=root, b=b, step=step, cmdf=cmdf:
                       cmdf(rt, root, b, self.cid(rt, step, rnd)))
                prep = (lambda rnd, rt=rt, root=root, b=b, step=step, prepf=prepf:
                        " && ".join(f"{{ {p}; }}" for p in prepf(rt, root, b,
                                                                  self.cid(rt, step, rnd))))
                entries.append((row, rt, cmd, prep))
            self.hyperfine(step, entries, self.fast)
            self.cleanup_measure(step)

    def setup_containers(self, rt, root, bundle_dir, ids, detached):
        """Creates (or runs detached) ids; returns an error string or None."""
        for c in ids:
            args = ["run", "-d"] if detached else ["create"]
            rc, err = self.shell(shlex.join(rt.cmd(root, *args, "--bundle", bundle_dir, c))
                                 + " </dev/null >/dev/null")
            if rc != 0:
                return f"setup {' '.join(args)} failed (exit {rc}): {last_line(err)}"
        return None

    def measure_state_list_exec(self, bundle):
        self.progress("state, list, exec")
        rows = {k: self.row(k, label) for k, label in
                (("state", "state (created container)"), ("list", "list (1 created container)"),
                 ("exec", "exec /bin/true (running container)"))}
        entries = []
        for rt in self.rts:
            if rt.missing:
                for row in rows.values():
                    row.fail(rt.name, rt.missing, "n/a")
                continue
            root, c = self.root(rt, "query"), self.cid(rt, "query", 0)
            err = self.setup_containers(rt, root, bundle[(rt.name, "basic")], [c], False)
            if err:
                rows["state"].fail(rt.name, err)
                rows["list"].fail(rt.name, err)
            else:
                entries.append((rows["state"], rt, lambda r, rt=rt, root=root, c=c:
                                rt.cmd(root, "state", c), None))
                entries.append((rows["list"], rt, lambda r, rt=rt, root=root:
                                rt.cmd(root, "list"), None))
            eroot, e = self.root(rt, "exec"), self.cid(rt, "exec", 0)
            err = self.setup_containers(rt, eroot, bundle[(rt.name, "basic-sleep")], [e], True)
            if err:
                rows["exec"].fail(rt.name, err)
            else:
                entries.append((rows["exec"], rt, lambda r, rt=rt, root=eroot, e=e:
                                rt.cmd(root, "exec", e, "/bin/true"), None))
        self.hyperfine("state-list-exec", entries, self.fast)
        self.cleanup_measure("query")
        self.cleanup_measure("exec")

    def measure_list_growth(self, bundle):
        counts = [1, 10, 100] if not self.args.quick else [1, 10, self.args.many]
        counts = sorted(set(counts))
        self.progress(f"list with {counts} running containers (setting up)")
        rows = {n: self.row(f"list-{n}", f"list, {n} running") for n in counts}
        entries = []
        for n in counts:
            for rt in self.rts:
                if rt.missing:
                    rows[n].fail(rt.name, rt.missing, "n/a")
                    continue
                root = self.root(rt, f"list{n}")
                ids = [self.cid(rt, f"l{n}", i) for i in range(1, n + 1)]
                err = self.setup_containers(rt, root, bundle[(rt.name, "basic-sleep")], ids, True)
                if err:
                    rows[n].fail(rt.name, err)
                    continue
                entries.append((rows[n], rt, lambda r, rt=rt, root=root: rt.cmd(root, "list"),
                                None))
        self.progress("list growth")
        self.hyperfine("list-growth", entries, self.fast)
        for n in counts:
            self.cleanup_measure(f"list{n}")

    def measure_many(self, bundle):
        n = self.args.many
        self.progress(f"{n} containers detached, list, delete")
        total = self.row("many", f"{n} × run -d sleep, list, kill, delete -f: total")
        phases = [self.row(f"many-{p}", f"… of which {p}")
                  for p in ("run -d", "list", "kill KILL", "delete -f")]
        script = os.path.join(HERE, "many.sh")
        entries, files = [], {}
        for rt in self.rts:
            root, b = self.root(rt, "many"), bundle[(rt.name, "basic-sleep")]
            files[rt.name] = os.path.join(self.tmp, f"phases-{rt.name}")

            def cmd(rnd, rt=rt, root=root, b=b):
                count = n if rnd else 2  # the preflight run (round 0) checks with two
                out = files[rt.name] if rnd else "/dev/null"
                return ["sh", script, out, str(count), b, self.cid(rt, "m", rnd),
                        *rt.cmd(root)]
            entries.append((total, rt, cmd, None))
        self.hyperfine("many", entries, self.slow, 10 * self.args.call_timeout)
        self.cleanup_measure("many")
        for rt in self.rts:
            if total.stats(rt.name) is None:
                for p in phases:
                    p.results[rt.name] = dict(total.results.get(rt.name) or
                                              {"status": "n/a", "values": [], "note": ""})
                continue
            with open(files[rt.name]) as f:
                vals = [list(map(int, line.split())) for line in f if line.strip()]
            for i, p in enumerate(phases):
                p.ok(rt.name, [v[i] / 1e9 for v in vals])

    def measure_rss(self, bundle):
        """Peak RSS of the runtime's process(es) during `run`, via /usr/bin/time.

        Each binary is first evicted from the page cache, so every runtime's pages come back
        from disk as an installed binary's do. A file just written (berth's, by the build) sits
        in the cache as large folios, and a fault maps more of it at once: berth measured
        3.8 MiB freshly built and 2.4 MiB once read back from disk."""
        self.progress("peak RSS during run")
        row = self.row("rss", "peak RSS of one process during run", "B")
        samples = {rt.name: [] for rt in self.rts}
        failed = {}
        for rt in self.rts:
            evict_from_page_cache(rt.binary)
        for i in range(1, self.rss_iterations + 1):
            for rt in self.rts:
                if rt.missing or rt.name in failed:
                    continue
                root = self.root(rt, "rss") if i == 1 else os.path.join(self.tmp, "roots", rt.name, "rss")
                c = self.cid(rt, "rss", i)
                outf = os.path.join(self.tmp, "rss")
                rc, err = self.shell(shlex.join(["/usr/bin/time", "-f", "%M", "-o", outf,
                                                 *rt.cmd(root, "run", "--bundle",
                                                         bundle[(rt.name, "basic")], c)])
                                     + " </dev/null >/dev/null")
                if rc != 0:
                    failed[rt.name] = f"exit {rc}: {last_line(err)}"
                    continue
                with open(outf) as f:
                    samples[rt.name].append(int(f.read().split()[-1]) * 1024)
        for rt in self.rts:
            if rt.missing:
                row.fail(rt.name, rt.missing, "n/a")
            elif rt.name in failed:
                row.fail(rt.name, failed[rt.name])
            else:
                row.ok(rt.name, samples[rt.name])
        self.cleanup_measure("rss")

    def measure_sizes(self):
        size = self.row("size", "binary size", "B")
        libs = self.row("size-libs", "binary + its shared libraries", "B")
        for rt in self.rts:
            if not rt.binary or not os.path.exists(rt.binary):
                size.fail(rt.name, rt.missing or "no binary", "n/a")
                libs.fail(rt.name, rt.missing or "no binary", "n/a")
                continue
            real = os.path.realpath(rt.binary)
            size.ok(rt.name, [os.path.getsize(real)])
            total = os.path.getsize(real)
            out = subprocess.run(["ldd", real], capture_output=True, text=True)
            for line in out.stdout.splitlines():
                parts = line.split("=>")
                path = (parts[1] if len(parts) > 1 else parts[0]).split("(")[0].strip()
                if path.startswith("/") and os.path.exists(path):
                    total += os.path.getsize(os.path.realpath(path))
            libs.ok(rt.name, [total])

    # ---- whole run ----

    def run(self, seccomp):
        base = os.path.join(self.tmp, "base")
        rc, err = self.shell(shlex.join(["sh", os.path.join(REPO, "scripts", "mkbundle.sh"),
                                         base, "/bin/true"]))
        if rc != 0:
            sys.exit(f"bench: mkbundle.sh failed: {err}")
        bundle = bundles.make_bundles(os.path.join(base, "config.json"),
                                      os.path.join(base, "rootfs"), seccomp,
                                      os.path.join(self.tmp, "bundles"), self.names, self.tag)
        self.sanity(base, bundle)
        only = set(self.args.only.split(",")) if self.args.only else None
        for name, fn in (("wrapper", self.measure_wrapper),
                         ("run", lambda: self.measure_run(bundle)),
                         ("steps", lambda: self.measure_steps(bundle)),
                         ("query", lambda: self.measure_state_list_exec(bundle)),
                         ("rss", lambda: self.measure_rss(bundle)),
                         ("size", self.measure_sizes),
                         ("many", lambda: self.measure_many(bundle)),
                         ("listgrowth", lambda: self.measure_list_growth(bundle))):
            if only is None or name in only:
                fn()

    def sanity(self, base, bundle):
        """A runtime whose `run` exits 0 without running the container (a stub) would post
        perfect times: check once that the process really ran, else mark the runtime n/a."""
        rootfs = os.path.join(base, "rootfs")
        for rt in self.rts:
            if rt.missing:
                continue
            d = os.path.join(self.tmp, "sanity", rt.name)
            os.makedirs(d)
            with open(os.path.join(bundle[(rt.name, "basic")], "config.json")) as f:
                cfg = json.load(f)
            marker = f"sanity-{self.tag}-{rt.name}"
            cfg["process"]["args"] = ["/bin/sh", "-c", f"echo ok > /{marker}"]
            cfg["root"]["readonly"] = False
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f)
            root = self.root(rt, "sanity")
            rc, err = self.shell(shlex.join(rt.cmd(root, "run", "--bundle", d,
                                                   self.cid(rt, "sanity", 0))))
            path = os.path.join(rootfs, marker)
            if rc != 0:
                rt.missing = f"run of a test container fails (exit {rc}: {last_line(err)})"
            elif not os.path.exists(path):
                rt.missing = "run exits 0 but the container's process never ran"
            if os.path.exists(path):
                os.remove(path)
            self.cleanup_measure("sanity")
            if rt.missing:
                self.progress(f"{rt.name}: {rt.missing}; its rows will show n/a")

    def cleanup(self):
        for rt, r in self.roots:
            rtmod.clean_root(rt, r)
        if rtmod.kill_tagged(self.tag):
            for rt, r in self.roots:
                rtmod.clean_root(rt, r)
        rtmod.remove_tagged_cgroups(self.tag)
        subprocess.run(["umount", "-l", self.roots_dir], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, started):
        self.meta.update({
            "loadavg_end": os.getloadavg(),
            "date": started.isoformat(timespec="seconds"), "host": platform.node(),
            "kernel": platform.release(), "shared_ns": self.args.shared_ns, "nproc": os.cpu_count(), "quick": self.args.quick,
            "shape_fast": self.fast, "shape_slow": self.slow,
            "versions": {rt.name: rt.version() for rt in self.rts},
            "crun_prefix": next((rt.prefix for rt in self.rts if rt.name == "crun"), None),
            "elapsed_s": (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(),
        })
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump({"meta": self.meta, "rows": [r.to_json() for r in self.rows]}, f, indent=1)
        print(f"## berth benchmark ({'quick' if self.args.quick else 'full'}), "
              f"{self.meta['date']}, {self.meta['nproc']} cpus, kernel {self.meta['kernel']}\n")
        print(report.table(self.rows, self.names))
        print()
        print("### Issue 6's targets, read off this run\n")
        print(report.targets(self.rows))
        print()
        for rt in self.rts:
            print(f"- {rt.name}: {self.meta['versions'].get(rt.name) or rt.missing or '?'}"
                  f" — `{shlex.join(rt.prefix)}`")
        ov = self.meta.get("crun_wrapper_overhead_s")
        if ov is not None:
            print(f"- every crun figure includes its wrapper: about {ov * 1000:.1f} ms per call "
                  f"(median wrapper minus bare /bin/true)")
        print(f"- load average (1, 5, 15 min) at start {tuple(round(x, 2) for x in self.meta['loadavg_start'])}, "
              f"at end {tuple(round(x, 2) for x in self.meta['loadavg_end'])}")
        print(f"- rounds × runs per time measure: {self.fast[0]} × {self.fast[1]}; "
              f"raw hyperfine JSON and summary.json in {self.out}; "
              f"elapsed {self.meta['elapsed_s']:.0f} s")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="few runs, for smoke testing")
    # Where scripts/build-berth.sh puts it, whatever CARGO_TARGET_DIR says.
    p.add_argument("--berth", default=os.path.join(REPO, "target", "release", "berth"))
    p.add_argument("--runtimes", default="berth,runc,crun")
    p.add_argument("--seccomp", default=next(
        (c for c in (os.path.join(os.path.dirname(REPO), "shared", "data", SECCOMP),
                     os.path.join("/work/shared/data", SECCOMP)) if os.path.exists(c)), None),
        help="the realistic profile (default: ../shared/data/" + SECCOMP + ")")
    p.add_argument("--many", type=int, default=100, help="containers in the detached measure")
    p.add_argument("--only", help="comma list of: wrapper,run,steps,query,rss,size,many,listgrowth")
    p.add_argument("--out", default=os.path.join(REPO, "target", "bench"))
    p.add_argument("--shared-ns", action="store_true",
                   help="run everything in one private mount namespace without the cgroup2 "
                        "mount, so crun needs no per-call wrapper (all runtimes see v1 only)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per hyperfine invocation")
    p.add_argument("--call-timeout", type=int, default=60,
                   help="seconds after which one timed command is killed and counted failed "
                        "(the 100-container script gets 10 times that)")
    return p.parse_args()


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (runtimes create namespaces and cgroups)")
    for tool in ("hyperfine", "unshare", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} missing (bench/run.sh installs it unless --no-install)")
    if args.shared_ns and rtmod.is_mountpoint(rtmod.UNIFIED):
        if os.environ.get("BENCH_IN_NS") == "1":
            sys.exit(f"bench: {rtmod.UNIFIED} still mounted inside the private namespace")
        os.environ["BENCH_IN_NS"] = "1"
        os.execvp("unshare", rtmod.wrapper_for([sys.executable, *sys.argv]))
    os.makedirs(args.out, exist_ok=True)
    rts = rtmod.discover(args.berth, args.runtimes.split(","))
    started = datetime.datetime.now(datetime.timezone.utc)
    bench = Bench(args, rts)
    bench.meta["loadavg_start"] = os.getloadavg()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    # Explicitly, also SIGINT: a shell's background job inherits it ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    interrupted = False
    try:
        if not args.seccomp or not os.path.exists(args.seccomp):
            bench.progress(f"no seccomp profile ({args.seccomp}): seccomp rows skipped")
        bench.run(args.seccomp)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        bench.progress("cleaning up")
        bench.cleanup()
    if interrupted:
        sys.exit("bench: interrupted; cleaned up")
    bench.write(started)


if __name__ == "__main__":
    main()
