"""The mutation self-test's variants: the reference controller, each with one deliberate defect.

Each variant is `tests/mutants/<name>.patch`, applied on top of the reference patch
(`reference/enable-canary-status-labels.patch`) and built like the reference
(`fixtures.artifacts.build.build_controller_variant`). This table is the one place that says what each
variant breaks, and the smallest set of conformance tests (short names, as `--run-test` takes them) that
must catch it, each with the requirement ID of the check in it that must fail (together, the IDs that
reject the variant). `tests/test_mutants.py` runs the suite against every variant and checks the report;
the README's mutation table is rendered from this table (`markdown_table`) and checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MUTANTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Catch:
    """A conformance test that must fail against a variant, and the requirement of the check in it that must
    fail: the suite's label checks name theirs in their message, `(LBL-3)` or `(LBL-9: why)`."""
    test: str  # short name, as `--run-test` takes it
    requirement: str


@dataclass(frozen=True)
class Mutant:
    name: str
    defect: str
    catches: tuple[Catch, ...]

    @property
    def patch(self) -> Path:
        return MUTANTS_DIR / f"{self.name}.patch"

    @property
    def tests(self) -> tuple[str, ...]:
        """The conformance tests run against the variant (each must fail)."""
        return tuple(c.test for c in self.catches)

    @property
    def rejected_by(self) -> tuple[str, ...]:
        """The requirement IDs whose checks must fail against the variant."""
        return tuple(dict.fromkeys(c.requirement for c in self.catches))


# A test that fails only at a precondition of another requirement does not count for its own: MET-1's test
# (`series_carry_status_label`) waits for the pod labels (LBL-2) before it reads a series, so against
# `swapped-values` it fails on LBL-2, as `labels_without_metadata` does, and is not run.
MUTANTS: tuple[Mutant, ...] = (
    Mutant("swapped-values", "the two values swapped: canary sets say `stable`, stable sets `canary`",
           (Catch("labels_without_metadata", "LBL-2"),)),
    Mutant("no-relabel-on-promotion", "a promoted canary set keeps `canary` after it became stable",
           (Catch("promotion_relabels_in_place", "LBL-3"),)),
    Mutant("label-in-template-hash", "the label is part of the pod-template hash: enabling the flag rolls a new "
           "revision, and so does promotion (the role in the hash changes from `canary` to `stable`)",
           (Catch("enabling_flag_keeps_revision_and_pods", "LBL-6"), Catch("promotion_relabels_in_place", "LBL-3"))),
    Mutant("canary-left-after-abort", "after an abort the stable set is labelled `canary`",
           (Catch("abort_leaves_stable_labels", "LBL-4"), Catch("faulty_canary_aborted_within_budget", "RBK-2"))),
    Mutant("bluegreen-labelled", "BlueGreen Rollouts are labelled too (preview `canary`, active `stable`)",
           (Catch("bluegreen_untouched", "LBL-9"),)),
    Mutant("experiment-pods-labelled", "Experiment pods copy the set's label (the reference before its "
           "LBL-11 fix)", (Catch("experiment_pods_unlabelled", "LBL-11"),)),
    Mutant("undo-bakes-label", "an undo bakes the label into spec.template (the reference before its LBL-10 fix)",
           (Catch("undo_keeps_label_out_of_rollout", "LBL-10"),)),
    Mutant("every-other-set-stable", "every set but the canary is labelled `stable`, a superseded canary too",
           (Catch("superseded_canary_unlabelled", "LBL-12"),)),
)


def markdown_table() -> str:
    """The README's mutation table."""
    rows = ["| variant (`tests/mutants/`) | defect | rejected by | caught by (the failed check's requirement) |",
            "|---|---|---|---|"]
    for m in MUTANTS:
        rows.append(f"| `{m.name}` | {m.defect} | {', '.join(m.rejected_by)} | "
                    f"{'; '.join(f'`{c.test}` ({c.requirement})' for c in m.catches)} |")
    return "\n".join(rows)
