"""Run a command and say which programs used the machine's CPU while it ran (issue 10's "where a run's time goes").

    python -m scripts.cpu_profile [--every S] -- COMMAND...

Every process on the machine is sampled each S seconds (default 1) from /proc: its CPU time (user + system)
since the command started, less what it had used before. At the end, the CPU of each kind of program (the
control plane, the controller, Prometheus, demo-app pods, the node agent, pytest, Allure, Chromium, ...) goes
to standard error, largest first, with the wall time. The command's exit status is returned.

It is a sample: a process that lives less than S seconds may be missed, and one's last second before it exits
is; with S = 1 a suite run's figures come within a few percent of the run's `time` (user + sys).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
# The first of these found in a process' first four arguments names its kind (order matters: pytest's own
# arguments name the controller binary, Prometheus, Allure's folder, ...; so only the first four are read).
KINDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "prometheus", "rollouts-controller",
         "apps/demo/app.py", "node_agent", "pod_exec", "pytest", "run_conformance", "allure", "java", "chrom",
         "kubectl", "go")


def processes() -> dict[int, tuple[str, float]]:
    """pid -> (kind, CPU seconds so far) of every process readable now."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone between the listing and the read
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (kind(b" ".join(argv).decode(errors="replace")), (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def kind(command: str) -> str:
    first = " ".join(command.split()[:4])
    if not first:
        return "(kernel)"
    return next((k for k in KINDS if k in first), Path(first.split(" ")[0]).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cpu_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command: python -m scripts.cpu_profile -- COMMAND...")
    if not Path("/proc/stat").exists():
        print("error: no /proc here; this profile reads Linux's /proc", file=sys.stderr)
        return 2
    before = {pid: cpu for pid, (_, cpu) in processes().items()}
    last: dict[int, tuple[str, float]] = {}
    start = time.monotonic()
    child = subprocess.Popen(command)
    try:
        while child.poll() is None:
            last.update(processes())
            time.sleep(args.every)  # a sampling period, not a wait for a condition
    except KeyboardInterrupt:
        child.wait()
    wall = time.monotonic() - start
    by_kind: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    for pid, (name, cpu) in last.items():
        if pid == os.getpid():
            continue
        by_kind[name] += cpu - before.get(pid, 0.0)
        count[name] += 1
    print(f"wall {wall:.0f} s, CPU {sum(by_kind.values()):.0f} s sampled every {args.every:g} s "
          f"({sum(by_kind.values()) / wall:.2f} cores on average)", file=sys.stderr)
    for name, cpu in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        if cpu >= 0.05:
            print(f"{cpu:8.1f} s  {count[name]:4d} processes  {name}", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
