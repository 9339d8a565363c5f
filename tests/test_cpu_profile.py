"""scripts/cpu_profile.py: a command's CPU, by kind of program (no cluster)."""

from __future__ import annotations

import subprocess
import sys

from scripts.cpu_profile import kind

# 1.5 s of CPU, then a second asleep, so the last samples see all of it however slow a busy machine makes them.
SPIN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass\ntime.sleep(1)\n"


def test_a_spinning_child_is_counted_and_its_status_returned() -> None:
    res = subprocess.run([sys.executable, "-m", "scripts.cpu_profile", "--every", "0.2", "--",
                          sys.executable, "-c", SPIN + "raise SystemExit(7)"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 7, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0].startswith("wall "), res.stderr
    python = [ln for ln in lines[1:] if ln.split()[-1].startswith("python")]
    assert python and float(python[0].split()[0]) >= 1.4, res.stderr


def test_kinds_are_read_from_the_first_arguments_only() -> None:
    assert kind("/cache/bin/kubernetes-v1.34.5/kube-apiserver --etcd-servers=x") == "kube-apiserver"
    assert kind("python -m pytest suites --controller-binary /x/rollouts-controller") == "pytest"
    assert kind("") == "(kernel)"


def test_no_command_is_a_usage_error() -> None:
    res = subprocess.run([sys.executable, "-m", "scripts.cpu_profile"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "no command" in res.stderr
