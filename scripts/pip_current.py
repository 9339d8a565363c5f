"""Whether `pip install -e .[dev]` has anything to do for this checkout (scripts/setup asks before running it).

`python3 -I scripts/pip_current.py check|record CHECKOUT STAMP_DIR`; `check` exits 0 when all of these hold:
- the installed `rollouts-conformance` is the editable install of CHECKOUT (not of another clone);
- every requirement its metadata lists (the `dev` extra included) is installed at a version it accepts;
- pyproject.toml, the checkout's path and the interpreter are those of the last install `record`ed.
Otherwise 1, and setup runs pip. A warm pip run costs ~7 s even with nothing to do (it builds the editable
wheel again), which was 4 % of a warm `./run-conformance`.

Run isolated (-I): from the checkout, its `*.egg-info` folder would shadow the installed metadata.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import sys
from pathlib import Path

DIST = "rollouts-conformance"


def install_key(checkout: Path) -> str:
    digest = hashlib.sha256()
    for part in ((checkout / "pyproject.toml").read_bytes(), str(checkout).encode(), sys.executable.encode(),
                 sys.version.encode()):
        digest.update(part + b"\0")
    return digest.hexdigest()


def stamp_file(checkout: Path, stamp_dir: Path) -> Path:
    return stamp_dir / f"pip-install-{hashlib.sha256(str(checkout).encode()).hexdigest()[:16]}.stamp"


def requirements_met(dist: metadata.Distribution) -> bool:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a fresh machine: pip will bring it
        return False
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": "dev"}):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            return False
        if not req.specifier.contains(version, prereleases=True):
            return False
    return True


def current(checkout: Path, stamp_dir: Path) -> bool:
    try:
        dist = metadata.distribution(DIST)
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
        stamp = stamp_file(checkout, stamp_dir).read_text()
    except (metadata.PackageNotFoundError, OSError, ValueError):
        return False
    editable_here = direct.get("url") == checkout.as_uri() and direct.get("dir_info", {}).get("editable") is True
    return editable_here and requirements_met(dist) and stamp == install_key(checkout)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("check", "record"):
        print("usage: python3 -I scripts/pip_current.py check|record CHECKOUT STAMP_DIR", file=sys.stderr)
        return 2
    action, checkout, stamp_dir = argv[0], Path(argv[1]).resolve(), Path(argv[2])
    if action == "check":
        return 0 if current(checkout, stamp_dir) else 1
    stamp_dir.mkdir(parents=True, exist_ok=True)
    stamp_file(checkout, stamp_dir).write_text(install_key(checkout))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
