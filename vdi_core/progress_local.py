"""The live display for a local `vdi run` on a terminal.

Pool workers print their lines ("[3/12] table3:row seed 0  epoch 5/16") to the stdout they
inherit, interleaved. On a terminal, `LocalProgress` points file descriptor 1 at a log file for the
duration of the run (spawned workers inherit it), keeps the terminal for itself, and follows the log
to draw the plan bar (done / running / queued / failed, ETA) and one bar per running run. The log
keeps every line; its path is printed at the end. Stderr stays on the terminal.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

from .jobs import RunState
from .progress import PlanDisplay

LINE = re.compile(r"^\[(\d+)/(\d+)\] (.+?)  (start|epoch (\d+)/(\d+)|done in ([\d.]+)s|FAILED)")


class LogFollower:
    """The state of each run, from the runner's lines (labels as runner.execute writes them)."""

    def __init__(self):
        self.total = 0
        self.states: dict[str, RunState] = {}
        self.epochs: dict[str, tuple[int, int]] = {}

    def feed(self, line: str) -> None:
        m = LINE.match(line.strip())
        if not m:
            return
        self.total = int(m.group(2))
        label, what = m.group(3), m.group(4)
        if what == "start":
            self.states[label] = RunState(label, "running")
        elif what.startswith("epoch"):
            self.states.setdefault(label, RunState(label, "running"))
            self.epochs[label] = (int(m.group(5)), int(m.group(6)))
        elif what.startswith("done"):
            self.states[label] = RunState(label, "done", wall_s=float(m.group(7)))
        else:
            self.states[label] = RunState(label, "failed")

    def plan_states(self) -> dict[str, RunState]:
        queued = {f"#{i}": RunState(f"#{i}", "queued") for i in range(self.total - len(self.states))}
        return {**self.states, **queued}


class LocalProgress:
    def __init__(self, log_path: Path, interval: float = 0.5):
        self.log_path, self.interval = Path(log_path), interval
        self.follower = LogFollower()
        self.stop = threading.Event()

    def __enter__(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        self.saved = os.dup(1)
        self.term = os.fdopen(os.dup(self.saved), "w", buffering=1)
        self.log = open(self.log_path, "ab")
        os.dup2(self.log.fileno(), 1)  # this process's and every worker's stdout
        self.display = None
        self.thread = threading.Thread(target=self._follow, name="vdi-progress", daemon=True)
        self.thread.start()
        return self

    def _follow(self) -> None:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            pending = ""
            while True:
                stopping = self.stop.is_set()
                pending += f.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    self.follower.feed(line)
                if self.follower.total:
                    if self.display is None:
                        self.display = PlanDisplay(self.follower.total, self.term)
                    self.display.update(self.follower.plan_states(), epochs=self.follower.epochs)
                if stopping:
                    return
                self.stop.wait(self.interval)

    def __exit__(self, *exc):
        sys.stdout.flush()
        self.stop.set()
        self.thread.join(timeout=10)
        if self.display is not None:
            self.display.close()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        self.log.close()
        self.term.close()
        return False
