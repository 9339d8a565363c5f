"""Children that never outlive their parent and stop on SIGINT (`fixtures.child_processes`), and the driver's
independence from the local backend's internals: it starts its pytest runs with the backend-neutral helper
(issue 11)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from fixtures.wait import wait_until

REPO = Path(__file__).resolve().parents[1]

# A parent that starts a long `sleep` with the parent-death signal asked for, prints the child's pid, and waits.
PARENT = """
import subprocess, sys
from fixtures.child_processes import die_with_parent
child = subprocess.Popen(["sleep", "300"], preexec_fn=die_with_parent)
print(child.pid, flush=True)
child.wait()
"""


def dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaps (a container's pid 1 may not): either way no longer running."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_a_child_dies_with_its_parent_even_after_kill_9() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert not dead(child), "the child did not start"
        parent.send_signal(signal.SIGKILL)  # nothing of the parent runs: only the kernel can stop the child
        parent.wait(10)
        wait_until(f"child {child} stopped after its parent's kill -9", lambda: (dead(child), "running"), 10)
    finally:
        if not dead(child):
            os.kill(child, signal.SIGKILL)
        parent.stdout.close()


def test_the_driver_imports_no_backend_internals() -> None:
    """What importing the driver loads: backend-neutral modules, and of the local backend only its version pins
    (data every backend shares), never its process management or anything else of `fixtures/local/`."""
    code = "import json, sys, scripts.run_conformance; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                       check=True).stdout)
    internals = [m for m in loaded if m.startswith("fixtures.local")
                 or m.startswith("fixtures.backends.") and m != "fixtures.backends.registry"]
    assert internals == [], internals
    assert "fixtures.child_processes" in loaded


# A parent started as a shell's background job is: SIGINT ignored (inherited by its children). It starts a Python
# child with the given preexec_fn, sends it SIGINT once it is up, and prints how the child ended.
IGNORING_PARENT = """
import signal, subprocess, sys
from fixtures import child_processes
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"],
                         stdout=subprocess.PIPE, text=True, preexec_fn=getattr(child_processes, sys.argv[1]))
child.stdout.readline()
child.send_signal(signal.SIGINT)
try:
    print(child.wait(10))
except subprocess.TimeoutExpired:
    child.kill()
    print("ignored")
"""


def ended_on_sigint(preexec: str) -> str:
    return subprocess.run([sys.executable, "-c", IGNORING_PARENT, preexec], cwd=REPO, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_a_child_stops_on_sigint_even_when_its_parent_ignores_it() -> None:
    """`./run-tests &` or nohup starts everything with SIGINT ignored: the SIGINT a test or the driver sends to
    stop a run must still stop it (CI rehearsal: three teardown tests saw their runs finish instead)."""
    assert ended_on_sigint("die_with_parent") == "ignored"  # what is inherited without the reset
    assert ended_on_sigint("stoppable_child") == str(-signal.SIGINT)  # KeyboardInterrupt: Python dies of SIGINT
