"""The mutation self-test's variants: the reference controller, each with one deliberate defect.

Each variant is `tests/mutants/<name>.patch`, applied on top of the reference patch
(`reference/enable-canary-status-labels.patch`) and built like the reference
(`fixtures.artifacts.build.build_controller_variant`). This table is the one place that says what each
variant breaks, which requirement IDs must reject it, and the smallest set of conformance tests
(short names, as `--run-test` takes them) that must catch it. `tests/test_mutants.py` runs the
suite against every variant and checks the report; the README's mutation table is rendered from
this table (`markdown_table`) and checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MUTANTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mutant:
    name: str
    defect: str
    rejected_by: tuple[str, ...]  # requirement IDs whose tests must fail against this variant
    tests: tuple[str, ...]  # the conformance tests run against it (each must fail)

    @property
    def patch(self) -> Path:
        return MUTANTS_DIR / f"{self.name}.patch"


MUTANTS: tuple[Mutant, ...] = (
    Mutant("swapped-values", "the two values swapped: canary sets say `stable`, stable sets `canary`",
           ("LBL-1", "LBL-2", "MET-1"), ("labels_without_metadata", "series_carry_status_label")),
    Mutant("no-relabel-on-promotion", "a promoted canary set keeps `canary` after it became stable",
           ("LBL-3",), ("promotion_relabels_in_place",)),
    Mutant("label-in-template-hash", "the label is part of the pod-template hash: enabling the flag rolls a "
           "new revision", ("LBL-6",), ("enabling_flag_keeps_revision_and_pods",)),
    Mutant("canary-left-after-abort", "after an abort the stable set is labelled `canary`",
           ("LBL-4", "RBK-2"), ("abort_leaves_stable_labels", "faulty_canary_aborted_within_budget")),
    Mutant("bluegreen-labelled", "BlueGreen Rollouts are labelled too (preview `canary`, active `stable`)",
           ("LBL-9",), ("bluegreen_untouched",)),
    Mutant("experiment-pods-labelled", "Experiment pods copy the set's label (the reference before its "
           "LBL-11 fix)", ("LBL-11",), ("experiment_pods_unlabelled",)),
    Mutant("undo-bakes-label", "an undo bakes the label into spec.template (the reference before its LBL-10 fix)",
           ("LBL-10",), ("undo_keeps_label_out_of_rollout",)),
    Mutant("every-other-set-stable", "every set but the canary is labelled `stable`, a superseded canary too",
           ("LBL-12",), ("superseded_canary_unlabelled",)),
)


def markdown_table() -> str:
    """The README's mutation table."""
    rows = ["| variant (`tests/mutants/`) | defect | rejected by | caught by |", "|---|---|---|---|"]
    for m in MUTANTS:
        rows.append(f"| `{m.name}` | {m.defect} | {', '.join(m.rejected_by)} | "
                    f"{', '.join(f'`{t}`' for t in m.tests)} |")
    return "\n".join(rows)
