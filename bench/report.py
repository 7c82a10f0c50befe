"""Statistics and the markdown table; never judges a figure, only shows it."""

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
