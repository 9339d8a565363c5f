"""`rollouts-conformance`: run the suite, list what it checks, validate a report, show versions.

    rollouts-conformance run [--runs IMPL:MODE,...] [--claim PROFILE,...] [suite/pytest options...]
    rollouts-conformance list [--format text|yaml|markdown] [--update FILE]
    rollouts-conformance validate-report FILE [--schema-only]
    rollouts-conformance verdict FILE [--claim PROFILE,...]
    rollouts-conformance version

`list`, `validate-report`, `verdict` and `version` need no cluster. Exit codes
of `run` and `verdict`: docs/report.md (0 claims met, 1 a claim not met, 2
usage error, 3 infrastructure or interrupted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

import yaml

from fixtures import __version__
from fixtures.declared_tests import suite_tests
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_OK, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]


class CliUsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliUsageError(message)


def catalogue() -> list[dict[str, Any]]:
    """Profiles -> requirements -> tests (fixtures/spec.py and the suites' markers)."""
    from fixtures.spec import PROFILES, REQUIREMENTS

    tests = suite_tests()
    out = []
    for p in PROFILES.values():
        reqs = []
        for rid in p.requirements:
            r = REQUIREMENTS[rid]
            reqs.append({"id": rid, "summary": r.summary, "informative": r.informative,
                         "tests": [t.name for t in tests if t.profile == p.name and rid in t.requirements]})
        out.append({"profile": p.name, "description": p.description,
                    "labellingModes": list(p.modes), "requirements": reqs})
    return out


# The generated part of a document (docs/requirements.md) stands between these two lines.
GENERATED_BEGIN = ("<!-- generated from fixtures/spec.py and the suites' markers by `python -m scripts.cli list "
                   "--format markdown --update docs/requirements.md`: edit those, not this table -->")
GENERATED_END = "<!-- end of the generated part -->"


def catalogue_markdown() -> str:
    """The requirements (what must hold, in which profiles, checked by which tests) and the profiles (their
    requirements and labelling modes) as two Markdown tables."""
    from fixtures.spec import REQUIREMENTS

    data = catalogue()
    rows = ["| ID | what must hold | profiles | tests |", "|---|---|---|---|"]
    for rid, req in REQUIREMENTS.items():
        profiles = [p["profile"] for p in data if any(r["id"] == rid for r in p["requirements"])]
        tests = [t for p in data for r in p["requirements"] if r["id"] == rid for t in r["tests"]]
        summary = ("(informative) " if req.informative else "") + req.summary
        rows.append(f"| {rid} | {summary} | {', '.join(f'`{p}`' for p in profiles)} | "
                    f"{', '.join(f'`{t}`' for t in dict.fromkeys(tests)) or '(no test)'} |")
    rows += ["", "| profile | requirements | labelling modes | what |", "|---|---|---|---|"]
    for p in data:
        rows.append(f"| `{p['profile']}` | {', '.join(r['id'] for r in p['requirements'])} | "
                    f"{', '.join(f'`{m}`' for m in p['labellingModes'])} | {p['description']} |")
    return "\n".join(rows) + "\n"


def generated_part(text: str) -> str | None:
    """What stands between the generated part's markers in a document, None without both markers."""
    if GENERATED_BEGIN not in text or GENERATED_END not in text:
        return None
    return text.split(GENERATED_BEGIN, 1)[1].split(GENERATED_END, 1)[0].strip("\n") + "\n"


def update_document(path: Path) -> None:
    """Rewrite the generated part of `path` (between its markers) with `catalogue_markdown()`."""
    if not path.is_file():
        raise CliUsageError(f"{path} does not exist")
    text = path.read_text()
    if generated_part(text) is None:
        raise CliUsageError(f"{path} has no generated part: put the lines {GENERATED_BEGIN!r} and "
                            f"{GENERATED_END!r} where the tables go")
    head, rest = text.split(GENERATED_BEGIN, 1)
    tail = rest.split(GENERATED_END, 1)[1]
    path.write_text(f"{head}{GENERATED_BEGIN}\n{catalogue_markdown()}{GENERATED_END}{tail}")


def cmd_list(fmt: str, update: Path | None = None) -> int:
    if update is not None:
        if fmt != "markdown":
            raise CliUsageError("--update goes with --format markdown")
        update_document(update)
        print(f"{update}: generated part updated")
        return EXIT_OK
    if fmt == "markdown":
        print(catalogue_markdown(), end="")
        return EXIT_OK
    data = catalogue()
    if fmt == "yaml":
        print(yaml.safe_dump(data, sort_keys=False, width=120), end="")
        return EXIT_OK
    for p in data:
        print(f"{p['profile']}  ({', '.join(p['labellingModes'])}): {p['description']}")
        for r in p["requirements"]:
            tag = " (informative)" if r["informative"] else ""
            print(f"  {r['id']:<7}{r['summary']}{tag}")
            for t in r["tests"] or ["(no test)"]:
                print(f"           {t}")
    return EXIT_OK


def cmd_version() -> int:
    from fixtures.artifacts import versions

    print(f"rollouts-conformance {__version__} ({ROOT})")
    print(f"Argo Rollouts {versions.ARGO_ROLLOUTS}")
    print(f"Kubernetes {versions.KUBERNETES}")
    print(f"Prometheus {versions.PROMETHEUS}")
    print(f"etcd {versions.ETCD}")
    return EXIT_OK


def load_report(path: Path) -> Any:
    if not path.is_file():
        raise CliUsageError(f"{path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CliUsageError(f"{path} is not YAML: {str(exc).splitlines()[0]}") from exc


def cmd_validate(path: Path, schema_only: bool) -> int:
    from fixtures.report.schema import check_report

    problems = check_report(load_report(path), submission=not schema_only)
    if problems:
        print(f"{path}: NOT valid" + ("" if schema_only else " as a submission"))
        for p in problems:
            print(f"  - {p}")
        return EXIT_CLAIM_NOT_MET
    print(f"{path}: valid" + ("" if schema_only else " submission"))
    return EXIT_OK


def cmd_verdict(path: Path, claims: list[str] | None) -> int:
    from fixtures.report.aggregate import verdict

    doc = load_report(path)
    if not isinstance(doc, dict):
        raise CliUsageError(f"{path} holds no report")
    code, lines = verdict(doc, claims)
    for line in lines:
        print(line)
    print(f"exit {code}")
    return code


def parser() -> Parser:
    p = Parser(prog="rollouts-conformance", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("run", help="run the suite (every other option goes to pytest; see `run --help`)",
                   add_help=False)
    ls = sub.add_parser("list", help="profiles, their requirements and the tests that check them (no cluster)")
    ls.add_argument("--format", choices=("text", "yaml", "markdown"), default="text")
    ls.add_argument("--update", type=Path, metavar="FILE",
                    help="with --format markdown: rewrite FILE's generated part (docs/requirements.md) instead of printing")
    vr = sub.add_parser("validate-report", help="check a report's schema and the submission rules")
    vr.add_argument("file", type=Path)
    vr.add_argument("--schema-only", action="store_true", help="only the schema, not the submission rules")
    vd = sub.add_parser("verdict", help="the exit code a report earns for claims (default: the claims it records)")
    vd.add_argument("file", type=Path)
    vd.add_argument("--claim", action="append", help="claimed profiles (repeatable or comma-separated)")
    sub.add_parser("version", help="suite version and the pinned Kubernetes, Argo Rollouts, Prometheus versions")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["run"]:
        from scripts.run_conformance import main as run_main

        return run_main(args_list[1:])
    try:
        args = parser().parse_args(args_list)
        if args.command == "list":
            return cmd_list(args.format, args.update)
        if args.command == "version":
            return cmd_version()
        if args.command == "validate-report":
            return cmd_validate(args.file, args.schema_only)
        if args.command == "verdict":
            claims = None if args.claim is None else [c.strip() for v in args.claim for c in v.split(",") if c.strip()]
            return cmd_verdict(args.file, claims)
    except CliUsageError as exc:
        print(f"rollouts-conformance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
