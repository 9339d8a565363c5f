"""What a run of the suite leaves behind, seen from outside: its processes, its listening sockets, its files.

A run is started with an environment variable holding a mark (`MARK_VAR`); every program the local
backend starts inherits the environment, except the pods' containers, which get the pod's own
environment (Kubernetes' rules). Those are found through the cluster's folder instead: their output
goes to its `pod-logs/`. So a process is the run's when its environment holds the mark, or its
command line, working folder or an open file lies in one of the run's cluster folders. That holds
after the run's processes are orphaned too (the parent-death case), when no process tree is left to
follow. Linux /proc only; the processes must be readable (same user).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MARK_VAR = "ROLLOUTS_CONFORMANCE_RUN_MARK"
# A local cluster's folder: tempfile.TemporaryDirectory(prefix="rollouts-conformance-") (fixtures/local/cluster.py);
# the machine-wide lock and registry folders beside it have hyphenated names and never match.
CLUSTER_DIR = re.compile(re.escape(tempfile.gettempdir()) + r"/rollouts-conformance-[a-z0-9_]{8}(?=/|$|\s|\x00)")
TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int  # clock ticks after boot: with the pid, names one process even if the pid is reused
    argv: str

    @property
    def program(self) -> str:
        return Path(self.argv.split(" ", 1)[0]).name


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int


@dataclass
class Seen:
    """Everything of the run's seen so far (accumulated over several looks)."""

    mark: str
    cluster_dirs: set[str] = field(default_factory=set)
    processes: dict[tuple[int, int], Proc] = field(default_factory=dict)
    listeners: dict[tuple[str, int], Proc] = field(default_factory=dict)

    def look(self) -> list[Proc]:
        """The run's processes now, remembering them, their cluster folders and their listening sockets."""
        procs = run_processes(self.mark, self.cluster_dirs)
        for p in procs:
            self.processes[(p.pid, p.start)] = p
            self.cluster_dirs.update(CLUSTER_DIR.findall(p.argv))
        by_inode = listening_sockets()
        for p in procs:
            for inode in socket_inodes(p.pid):
                if inode in by_inode:
                    lst = by_inode[inode]
                    self.listeners[(lst.address, lst.port)] = p
        return procs


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _links(pid: int) -> list[str]:
    out = []
    for sub in ("cwd",):
        try:
            out.append(os.readlink(f"/proc/{pid}/{sub}"))
        except OSError:
            pass
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def _start_time(pid: int) -> int:
    stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return 0


def run_processes(mark: str, cluster_dirs: set[str]) -> list[Proc]:
    """Processes (not zombies) whose environment holds `mark`, or that use one of `cluster_dirs`."""
    needle = f"{MARK_VAR}={mark}".encode()
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
        if not stat or stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
            continue
        argv = _read(f"/proc/{pid}/cmdline").replace(b"\x00", b" ").decode(errors="replace").strip()
        ours = needle in _read(f"/proc/{pid}/environ").split(b"\x00")
        if not ours and cluster_dirs:
            ours = any(d in argv for d in cluster_dirs) or any(
                link == d or link.startswith(d + "/") for link in _links(pid) for d in cluster_dirs)
        if ours:
            found.append(Proc(pid, _start_time(pid), argv))
    return found


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return str(addr.ipv4_mapped or addr)


def listening_sockets() -> dict[int, Listener]:
    """Every listening TCP socket of the machine (this network namespace), by inode."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _read(table).decode().splitlines()[1:]:
            cols = line.split()
            if len(cols) < 10 or cols[3] != TCP_LISTEN:
                continue
            addr, port = cols[1].split(":")
            out[int(cols[9])] = Listener(_address(addr), int(port, 16), int(cols[9]))
    return out


def socket_inodes(pid: int) -> set[int]:
    out = set()
    for link in _links(pid):
        m = re.fullmatch(r"socket:\[(\d+)\]", link)
        if m:
            out.add(int(m.group(1)))
    return out


def still_listening(addresses: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of these (address, port) pairs some process still listens on."""
    now = {(lst.address, lst.port) for lst in listening_sockets().values()}
    return addresses & now


def loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


# ---- secrets in what a run wrote --------------------------------------------------------------
SECRET_PATTERNS = {
    "private key": re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "JSON web token (ServiceAccount token)": re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "bearer token": re.compile(rb"[Bb]earer\s+[A-Za-z0-9._~+/=-]{16,}"),
    "kubeconfig credential": re.compile(rb"\b(client-key-data|token|password)\s*:\s*[\"']?[A-Za-z0-9._~+/=-]{16,}"),
}


def secrets_in(folder: Path, literals: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """Every file under `folder` that holds a private key, a token or a kubeconfig credential (or one of
    `literals`, e.g. the run's own admin token), as 'path: what'. Binary files are searched too."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for what, pattern in SECRET_PATTERNS.items():
            m = pattern.search(data)
            if m:
                found.append(f"{path.relative_to(folder)}: {what} ({m.group(0)[:40]!r}...)")
        for lit in literals:
            if lit and lit.encode() in data:
                found.append(f"{path.relative_to(folder)}: the run's own credential {lit[:6]}...")
    return found
