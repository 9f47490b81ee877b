"""Progress a person can read, for `vdi run --executor slurm --wait` and `vdi status --watch`.

On a terminal: one live bar for the plan (done / running / queued / failed, ETA from the measured
wall times of the runs already done) and one bar per running run (its epoch, read from the run's
log). Not a terminal (CI logs, Slurm logs): one plain line whenever a count changes.
"""

from __future__ import annotations

import re
import statistics
import sys

EPOCH = re.compile(r"\bepoch (\d+)/(\d+)")


def eta_seconds(states) -> float | None:
    """Mean measured wall time of done runs x runs left / runs in flight (at least 1)."""
    walls = [s.wall_s for s in states.values() if s.state == "done" and s.wall_s]
    left = sum(s.state in ("running", "queued", "missing") for s in states.values())
    if not walls or not left:
        return None if left else 0.0
    running = sum(s.state == "running" for s in states.values())
    return statistics.fmean(walls) * left / max(running, 1)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def summary(states) -> str:
    counts = {k: 0 for k in ("done", "running", "queued", "failed", "missing")}
    for s in states.values():
        counts[s.state] += 1
    text = ", ".join(f"{v} {k}" for k, v in counts.items() if v or k == "done")
    return f"{counts['done']}/{len(states)} done; {text}; ETA {fmt_duration(eta_seconds(states))}"


def epoch_of(log_path: str) -> tuple[int, int] | None:
    """The last "epoch k/n" a run logged (the runner logs one line per epoch)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            found = EPOCH.findall(f.read().decode("utf-8", "replace"))
    except (OSError, TypeError):
        return None
    return (int(found[-1][0]), int(found[-1][1])) if found else None


class PlanDisplay:
    def __init__(self, total: int, stream=None, labels: dict | None = None):
        self.stream = stream or sys.stdout
        self.total, self.labels = total, labels or {}
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = ""
        self.bar, self.run_bars = None, {}
        if self.tty:
            from tqdm import tqdm

            self.tqdm = tqdm
            self.bar = tqdm(total=total, desc="plan", file=self.stream, position=0)

    def update(self, states, logs: dict | None = None, epochs: dict | None = None) -> None:
        """states: key -> RunState; a running run's epoch from `epochs` (key -> (k, n)) or else
        from the last "epoch k/n" line of its log file (`logs`: key -> path)."""
        text = summary(states)
        if not self.tty:
            if text != self.last:
                print(text, file=self.stream, flush=True)
            self.last = text
            return
        done = sum(s.state == "done" for s in states.values())
        self.bar.n = done
        self.bar.set_postfix_str(text.split("; ", 1)[1], refresh=True)
        running = {k for k, s in states.items() if s.state == "running"}
        for key in list(self.run_bars):
            if key not in running:
                self.run_bars.pop(key).close()
        for key in sorted(running):
            epoch = (epochs or {}).get(key) or epoch_of((logs or {}).get(key, ""))
            if key not in self.run_bars:
                self.run_bars[key] = self.tqdm(total=epoch[1] if epoch else None, file=self.stream, leave=False,
                                               desc=self.labels.get(key, key[:10]), position=len(self.run_bars) + 1)
            if epoch:
                bar = self.run_bars[key]
                bar.total, bar.n = epoch[1], epoch[0]
                bar.refresh()

    def close(self) -> None:
        for bar in self.run_bars.values():
            bar.close()
        if self.bar is not None:
            self.bar.close()
