"""py-spy profiles of a retrain run, per step: `bench/retrain_overhead.py --flame DIR`.

A `Profiler` thread watches `/proc` for the processes that do a step's work on one
platform (the one whose `MODELFLEET_HOME` it is given) and attaches py-spy to each as it
appears, wall-clock (`--idle`: waiting counts, as it does in a step's duration):
- an Airflow task process: the child of a LocalExecutor worker, whose process title
  names the task (`airflow worker -- LocalExecutor: ...`);
- a warm runner child: one forked per `dvc`, `gto` or stage command (`modelfleet.warm`),
  with whatever it starts (`--subprocesses`: a DVC stage's own `python -m ...`).

`report()` then gives each warm child to the task process that was running when it
started (one workflow at a time, so that is its step), prints a table of where each
step's process-seconds went, and writes a flame graph (SVG, `flamegraph_svg`) of one
run of each of the slowest steps. The flame graphs count process-seconds: while a task
waits for a warm child, both are sampled, the wait under the task and the work under the
child.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from flamegraph_svg import write_svg

PY_SPY = Path(sys.executable).parent / "py-spy"
RATE = 100  # samples a second per process
EXECUTOR_WORKER = "airflow worker -- LocalExecutor:"
WARM_RUNNER = "warm-runner"
STEPS = ("snapshot", "validate", "train", "evaluate", "gate", "register", "deploy", "smoke")
# the TaskFlow function of a step, in the DAG factory
STEP_FRAME = re.compile(r"^(?:\S+\.)?(\w+) \(modelfleet/orchestration/dag_factory\.py:\d+\)$")
# a warm command waiting for another process that is sampled itself
NESTED_WAITS = ("cmd_run (dvc/stage/run.py", "delegate_stage (modelfleet/host/warm_client.py")
FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


@dataclass
class Profiled:
    pid: int
    kind: str  # "task" or "warm"
    began: float  # when it was found, monotonic seconds
    raw: Path  # <kind>-<began, ms>-<pid>.txt: `load` reads a profile back from its name
    spy: subprocess.Popen[bytes] | None = None
    stacks: Counter[str] = field(default_factory=Counter)

    def read(self) -> None:
        """Its samples, wall time once: not an idle helper thread's (tqdm's monitor, a log
        reader), nor a warm command's wait for another process that is sampled itself
        (`dvc repro` for its stage command, that command for the warm runner). A process
        frame (`--subprocesses`) loses its pid and paths, so runs merge."""
        for line in self.raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue  # py-spy leaves a truncated last line when its target dies
            frames = stack.split(";")
            if any(f.startswith("Thread._bootstrap ") for f in frames[:2]):
                continue
            if self.kind == "warm" and any(f.startswith(NESTED_WAITS) for f in frames):
                continue
            if frames[0].startswith("process "):
                frames[0] = "process " + " ".join(
                    Path(word).name for word in frames[0].split(":", 1)[1].strip('"').split()
                )
            self.stacks[";".join(frames)] += int(count)


def load(raw_dir: Path) -> list[Profiled]:
    """The profiles a `Profiler` left in `raw_dir`, to report on again."""
    profiled = []
    for raw in sorted(raw_dir.glob("*-*-*.txt")):
        kind, began_ms, pid = raw.stem.split("-")
        profiled.append(Profiled(int(pid), kind, int(began_ms) / 1000, raw))
        profiled[-1].read()
    return profiled


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:  # gone, or not ours to read
        return ""


def _parent(pid: int) -> int:
    stat = _read(Path(f"/proc/{pid}/stat"))
    # the second field, the name, is in parentheses and may hold spaces
    return int(stat.rsplit(")", 1)[1].split()[1]) if ")" in stat else 0


class Profiler(threading.Thread):
    def __init__(self, home: Path, out: Path) -> None:
        super().__init__(daemon=True)
        self.home_env = f"MODELFLEET_HOME={home}".encode()
        self.out = out
        self.profiled: dict[int, Profiled] = {}
        self.seen: set[int] = set()  # a process's parent is set at its birth: one look each
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.02):
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and int(entry.name) not in self.seen:
                    self.seen.add(int(entry.name))
                    self._consider(int(entry.name))

    def _consider(self, pid: int) -> None:
        parent = _read(Path(f"/proc/{_parent(pid)}/cmdline"))
        if parent.startswith(EXECUTOR_WORKER):
            kind = "task"
        elif WARM_RUNNER in parent and WARM_RUNNER in _read(Path(f"/proc/{pid}/cmdline")):
            kind = "warm"
        else:
            return
        if not self._ours(pid):
            return  # another platform's
        began = time.monotonic()
        raw = self.out / f"{kind}-{int(began * 1000)}-{pid}.txt"
        command = [str(PY_SPY), "record", "--idle", "--nonblocking", "--format", "raw"]
        command += ["--rate", str(RATE), "--pid", str(pid), "--output", str(raw)]
        if kind == "warm":
            command.append("--subprocesses")  # dvc's stage command: its own process
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.profiled[pid] = Profiled(pid, kind, began, raw, spy)

    def _ours(self, pid: int) -> bool:
        """Whether the process or an ancestor has this platform's home in its environment.
        (setproctitle, as Airflow's workers use it, overwrites what /proc shows of theirs.)"""
        for _ in range(4):
            try:
                if self.home_env in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    return True
            except OSError:
                return False
            pid = _parent(pid)
        return False

    def stop(self) -> list[Profiled]:
        self.stopping.set()
        self.join()
        for p in self.profiled.values():
            if p.spy is not None:
                p.spy.wait()  # each ends with its process; the platform is stopped by now
            if p.raw.exists():
                p.read()
        return [p for p in self.profiled.values() if p.stacks]


def _step_of(task: Profiled) -> str | None:
    for stack in task.stacks:
        for frame in stack.split(";"):
            match = STEP_FRAME.match(frame)
            if match and match[1] in STEPS:
                return match[1]
    return None


FIT = re.compile(r"\bfit \(keras/")


def _bucket(stack: str, kind: str) -> str:
    """What a sample was doing, at the grain of the overhead table."""
    frames = stack.split(";")
    names = [FRAME.sub(r"\1", f) for f in frames]
    files = [FRAME.sub(r"\2", f) for f in frames]
    if kind == "warm":
        if any(FIT.search(f) for f in frames):
            return "model.fit"
        if any("mirror" in f for f in files):
            return "stage mirror"
        if "_dispatch" not in " ".join(names):
            # dvc's stage command, a new process: Python, its imports, the hand-over
            return "stage command's own process"
        for i, (name, file) in enumerate(zip(names, files, strict=True)):
            if name.startswith("Cmd") and ".run" in name:
                return f"dvc {name.split('.')[0][3:].lower()}"
            if file.startswith("gto/"):
                return "gto"
            if file == "modelfleet/training/stage.py" and name == "main":
                return f"stage {names[i + 1]}" if i + 1 < len(names) else "stage start"
        return "warm runner: fork and hand-over"
    for i, frame in enumerate(frames):
        if STEP_FRAME.match(frame):
            # below the pipeline's step function: what it called (commit, push, a query)
            inner = [
                n
                for n, f in zip(names[i + 1 :], files[i + 1 :], strict=True)
                if f.startswith("modelfleet/") and not f.startswith("modelfleet/orchestration")
            ]
            waits = " (waits for the warm runner)" if "_run_warm" in names else ""
            return f"task {inner[1] if len(inner) > 1 else 'step, outside modelfleet'}{waits}"
    return "task: Airflow's start and end"


@dataclass
class StepRun:
    step: str
    task: Profiled
    children: list[Profiled]

    def parts(self) -> tuple[Counter[str], Counter[str]]:
        """(task wall by part, warm runner children's wall by part), in samples."""
        wall = Counter(_bucket(s, "task") for s, n in self.task.stacks.items() for _ in range(n))
        cpu: Counter[str] = Counter()
        for child in self.children:
            for stack, n in child.stacks.items():
                cpu[_bucket(stack, "warm")] += n
        del cpu["stage mirror"]  # the platform's, not the step's
        return wall, cpu

    @property
    def overhead_s(self) -> float:
        """The task's wall time less `model.fit` (the year report's overhead)."""
        wall, cpu = self.parts()
        return (sum(wall.values()) - cpu["model.fit"]) / RATE


def step_runs(profiled: list[Profiled]) -> list[StepRun]:
    tasks = sorted((p for p in profiled if p.kind == "task"), key=lambda p: p.began)
    runs = [StepRun(step, t, []) for t in tasks if (step := _step_of(t))]
    for child in (p for p in profiled if p.kind == "warm"):
        owners = [r for r in runs if r.task.began <= child.began]
        if owners:
            owners[-1].children.append(child)
    return runs


def _mean_parts(counters: list[Counter[str]], most: int = 6) -> str:
    total: Counter[str] = sum(counters, Counter())
    return ", ".join(
        f"{part} {n / RATE / len(counters):.2f}" for part, n in total.most_common(most)
    )


# where a process's own work starts: what lies below is how it came to be (Airflow's
# fork of its task runner, the warm runner's loop and fork)
OWN_WORK = (
    "main (airflow/sdk/execution_time/task_runner.py",
    "execute (modelfleet/warm/command.py",
)


def _rooted(root: str, stacks: Counter[str]) -> Counter[str]:
    """`stacks` under `root`, each from where its process's own work starts."""
    rooted: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if f.startswith(OWN_WORK)), 0)
        rooted[";".join([root, *frames[start:]])] += n
    return rooted


def report(profiled: list[Profiled], out: Path, slowest: int = 3) -> str:
    """The table of where each step's time went, and the slowest steps' flame graphs."""
    by_step: dict[str, list[StepRun]] = defaultdict(list)
    for run in step_runs(profiled):
        by_step[run.step].append(run)
    overhead = {s: statistics.median(r.overhead_s for r in rs) for s, rs in by_step.items()}
    ranked = sorted(overhead, key=overhead.__getitem__, reverse=True)
    lines = [
        "| step | runs | overhead, median s | task process, wall s by part | "
        "warm runner children, wall s by part |",
        "|---|---|---|---|---|",
    ]
    for step in ranked:
        parts = [run.parts() for run in by_step[step]]
        lines.append(
            f"| {step} | {len(parts)} | {overhead[step]:.2f} | "
            f"{_mean_parts([w for w, _ in parts])} | {_mean_parts([c for _, c in parts])} |"
        )
    for step in ranked[:slowest]:
        runs = sorted(by_step[step], key=lambda r: r.overhead_s)
        run = runs[len(runs) // 2]  # the median run
        children: Counter[str] = Counter()
        for child in run.children:
            for stack, n in child.stacks.items():
                if _bucket(stack, "warm") != "stage mirror":
                    children[stack] += n
        merged = _rooted("Airflow task process", run.task.stacks)
        merged.update(_rooted("warm runner children", children))
        svg = out / f"{step}.svg"
        title = f"{step}: one run, {run.overhead_s:.1f} s overhead; {RATE} samples a second"
        write_svg(merged, svg, title)
        lines.append(f"\nflame graph of {step}: {svg}")
    return "\n".join(lines)
