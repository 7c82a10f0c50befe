"""Statistics, the markdown table, and issue 6's targets read off it (shown, never asserted)."""

import statistics


class Row:
    def __init__(self, key, label, unit="s", ratio=True):
        self.ratio = ratio  # False where a ratio to crun means nothing
        self.key = key
        self.label = label
        self.unit = unit  # "s" (seconds), "B" (bytes) or "KiB"
        self.results = {}  # runtime -> dict(status, values, note)

    def ok(self, rt, values, note=""):
        self.results[rt] = {"status": "ok", "values": list(values), "note": note}

    def fail(self, rt, note, status="failed"):
        self.results[rt] = {"status": status, "values": [], "note": note}

    def stats(self, rt):
        r = self.results.get(rt)
        if not r or r["status"] != "ok" or not r["values"]:
            return None
        v = r["values"]
        return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}

    def to_json(self):
        out = {"key": self.key, "label": self.label, "unit": self.unit, "results": {}}
        for rt, r in self.results.items():
            out["results"][rt] = {**r, **(self.stats(rt) or {})}
        return out


def fmt(value, unit):
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "KiB":
        return f"{value / 1024:.1f} MiB"
    if value >= 1 << 20:
        return f"{value / (1 << 20):.1f} MiB"
    return f"{value / 1024:.0f} KiB"


def table(rows, runtimes, reference="crun"):
    lines = [f"| measure | runtime | median | min | max | median / {reference} |",
             "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        ref = row.stats(reference)
        first = True
        for rt in (r for r in runtimes if r in row.results):
            label = row.label if first else ""
            first = False
            s = row.stats(rt)
            r = row.results.get(rt)
            if s is None:
                why = (r or {}).get("note") or "not measured"
                status = (r or {}).get("status", "n/a")
                why = why.replace("|", "/").replace("\n", " ")[:100]
                lines.append(f"| {label} | {rt} | {status}: {why} | | | |")
                continue
            ratio = f"{s['median'] / ref['median']:.2f}×" if ref and ref["median"] else "–"
            if rt == reference:
                ratio = "1.00×"
            if not row.ratio:
                ratio = "–"
            lines.append(f"| {label} | {rt} | {fmt(s['median'], row.unit)} | "
                         f"{fmt(s['min'], row.unit)} | {fmt(s['max'], row.unit)} | {ratio} |")
    return "\n".join(lines)


# Issue 6's targets: (label, how berth's figure is computed, the goal, unit of the figure).
# Each figure comes from the rows above; a ratio is a median over a median of the same run.
TARGETS = [
    ("run ≤ 0.8 × crun's", ("ratio", "run-basic", "crun"), 0.8, "×"),
    ("run with podman's config ≤ 0.8 × crun's", ("ratio", "run-podman", "crun"), 0.8, "×"),
    ("run ≤ 0.35 × runc's", ("ratio", "run-basic", "runc"), 0.35, "×"),
    # Two pairs, averaged: one pair's difference of medians swings by ±2 ms on this VM.
    ("realistic seccomp profile adds ≤ 2 ms (mean of the basic and podman-like pairs)",
     ("added", ("run-seccomp", "run-basic"), ("run-podman-seccomp", "run-podman")), 0.002, "s"),
    ("create ≤ crun's", ("ratio", "create", "crun"), 1.0, "×"),
    ("start ≤ crun's", ("ratio", "start", "crun"), 1.0, "×"),
    ("delete ≤ crun's", ("ratio", "delete", "crun"), 1.0, "×"),
    ("state ≤ 2 ms", ("value", "state"), 0.002, "s"),
    ("peak RSS ≤ crun's", ("ratio", "rss", "crun"), 1.0, "×"),
    ("exec ≤ crun's", ("ratio", "exec", "crun"), 1.0, "×"),
    ("100 detached containers ≤ crun's time", ("ratio", "many", "crun"), 1.0, "×"),
    ("list of 100 ≤ 20 ms", ("value", "many-list"), 0.020, "s"),
]


def _median(rows, key, rt):
    row = rows.get(key)
    s = row.stats(rt) if row else None
    return s["median"] if s else None


def _figure(rows, how, subject):
    if how[0] == "added":
        diffs = []
        for with_it, without in how[1:]:
            a, b = _median(rows, with_it, subject), _median(rows, without, subject)
            if a is not None and b is not None:
                diffs.append(a - b)
        return sum(diffs) / len(diffs) if diffs else None
    kind, key = how[0], how[1]
    mine = _median(rows, key, subject)
    if mine is None:
        return None
    if kind == "value":
        return mine
    other = _median(rows, key, how[2])  # "ratio": the same measure of another runtime
    if not other:
        return None
    return mine / other


def _show(value, unit):
    return f"{value:.2f}×" if unit == "×" else fmt(value, "s")


def targets(rows, subject="berth"):
    """One line per target: berth's figure, the goal, and met or by how much it is missed."""
    by_key = {r.key: r for r in rows}
    lines = ["| target | berth | goal | verdict |", "|---|---:|---:|---|"]
    for label, how, goal, unit in TARGETS:
        value = _figure(by_key, how, subject)
        if value is None:
            lines.append(f"| {label} | – | {_show(goal, unit)} | not measured in this run |")
            continue
        if value <= goal:
            verdict = "met"
        else:
            over = value - goal
            verdict = f"missed by {_show(over, unit)} ({over / goal * 100:.0f} % over)"
        lines.append(f"| {label} | {_show(value, unit)} | {_show(goal, unit)} | {verdict} |")
    return "\n".join(lines)
