"""Faults during a canary, each with the behaviour it expects (issue 11, section 1).

On the local backend, reference controller with `--enable-canary-status-labels`:
every fault goes through `fixtures.faults` (the local backend's own processes,
stopped and started for real), and each test states what SPEC.md or Argo
Rollouts' documented semantics expect afterwards. The same file checks that the
in-cluster backends refuse what they cannot do, and that a failure whose cause
is Prometheus is reported as an infrastructure fault, not a label failure.
"""

from __future__ import annotations

import functools
import secrets
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
import yaml

from fixtures.backends.local import LocalBackend
from fixtures.controller import STATUS_LABELS_FLAG
from fixtures.diagnosis import infrastructure_cause
from fixtures.evidence import Evidence
from fixtures.faults import FaultNotSupported, Faults, faults_for
from fixtures.local.faults import LocalFaults
from fixtures.labels import RUN_LABEL, STATUS_KEY
from fixtures.scenario import HEALTHY_V1, HEALTHY_V2, Scenario, canary_rollout
from fixtures.wait import wait_until
from suites.checks import paused_canary
from tests.test_plugin import CONFTEST

pytest_plugins = ["pytester"]
ROLES = {"canary": "canary", "stable": "stable"}


# ---- the local backend, flag on ---------------------------------------------------------------
@pytest.fixture
def flagged(local_backend: LocalBackend) -> LocalBackend:
    local_backend.controller.ensure([STATUS_LABELS_FLAG])
    return local_backend


@pytest.fixture
def faults(flagged: LocalBackend) -> Faults:
    return faults_for(flagged)


@pytest.fixture
def sc(flagged: LocalBackend, request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """A Scenario in a namespace of its own, deleted afterwards."""
    ns = f"fault-{request.node.name.removeprefix('test_')[:30].replace('_', '-')}-{secrets.token_hex(2)}"
    labels = {RUN_LABEL: "faults"}
    flagged.kube.create_namespace(ns, labels)
    try:
        yield Scenario(flagged.kube, flagged.prometheus, ns, flagged.timeouts, Evidence(), labels,
                       flagged.prometheus_url_for_cluster)
    finally:
        flagged.kube.delete_namespace(ns)


def converged_canary(sc: Scenario, name: str) -> dict[str, str]:
    """Given a healthy 4-replica Rollout updated to a paused canary (1 canary, 3 stable), labels converged."""
    roles = paused_canary(sc, name, 4, {})
    sc.wait_pods_ready(name, roles["canary"], 1)
    sc.wait_pods_ready(name, roles["stable"], 3)
    sc.wait_role_labels(name, ROLES, "status labels while paused", hold=sc.t.label_hold)
    return roles


def pod_uids(sc: Scenario, name: str) -> dict[str, tuple[str, int]]:
    """pod name -> (UID, restarts) of every live pod of the Rollout."""
    return {pod: (p["uid"], p["restarts"]) for rs in sc.label_view(name).values() for pod, p in rs["pods"].items()}


def assert_promotes_in_place(sc: Scenario, name: str, roles: dict[str, str]) -> None:
    """LBL-3 / LBL-8: a full promotion relabels the former canary pods stable within the budget, same UIDs."""
    before = {p: uid for p, uid in pod_uids(sc, name).items() if p in sc.label_view(name)[roles["canary"]]["pods"]}
    sc.promote(name, full=True)
    sc.wait_role_change(name, "stable", roles["canary"])
    sc.wait_labels(name, {roles["canary"]: "stable"}, "former canary set relabelled stable", hold=sc.t.label_hold)
    sc.wait_healthy(name)
    after = pod_uids(sc, name)
    assert {p: after.get(p) for p in before} == before, f"former canary pods replaced or restarted: {before} -> {after}"


@pytest.mark.local_backend
def test_controller_restart_mid_canary(faults: Faults, sc: Scenario) -> None:
    """Controller restarted mid-canary: the labels hold again within the budget (LBL-8), no pod is replaced, and
    the Rollout promotes as usual afterwards."""
    name = "ctlrestart"
    roles = converged_canary(sc, name)
    before = pod_uids(sc, name)
    faults.restart_controller()
    sc.evidence.mark("controller restarted")
    sc.wait_role_labels(name, ROLES, "status labels after the controller restart", hold=sc.t.label_hold)
    assert sc.roles(name) == roles, f"the restart changed the roles: {roles} -> {sc.roles(name)}"
    assert pod_uids(sc, name) == before, f"pods replaced or restarted by a controller restart: {before} -> {pod_uids(sc, name)}"
    assert_promotes_in_place(sc, name, roles)


@pytest.mark.local_backend
def test_canary_pod_killed(faults: Faults, sc: Scenario) -> None:
    """A canary pod killed (force-deleted): its replacement carries `canary` from creation (LBL-5), and the
    labels converge again (LBL-8)."""
    name = "podkill"
    roles = converged_canary(sc, name)
    view = sc.label_view(name)
    victim = sorted(view[roles["canary"]]["pods"])[0]
    known = {n for rs in view.values() for n in rs["pods"]}
    created = sc.first_pod_labels_after(functools.partial(faults.kill_pod, sc.ns, victim), name, known)
    assert created["hash"] == roles["canary"], f"replacement {created} is not of the canary ReplicaSet {roles['canary']}"
    assert created["labels"].get(STATUS_KEY) == "canary", (
        f"replacement of killed canary pod {victim} was created with labels {created['labels']}")
    sc.wait_pods_ready(name, roles["canary"], 1)
    sc.wait_role_labels(name, ROLES, "status labels after the canary pod was killed", hold=sc.t.label_hold)


# A step analysis that errors as soon as Prometheus is unreachable. consecutiveErrorLimit 1 (Argo's default is
# 4) keeps the test short: an errored measurement is retried after a fixed 10 s (DefaultErrorRetryInterval).
# `count` is high so that the analysis cannot complete before the errors decide it.
ERROR_LIMIT = 1
ANALYSIS_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: canary-up}
spec:
  args: [{name: namespace}, {name: app}, {name: prometheus-url}, {name: threshold}]
  metrics:
    - name: canary-up
      initialDelay: 5s
      interval: 5s
      count: 20
      consecutiveErrorLimit: %d
      successCondition: "len(result) > 0"
      failureCondition: "len(result) == 0"
      provider:
        prometheus:
          address: "{{args.prometheus-url}}"
          query: 'up{namespace="{{args.namespace}}",app="{{args.app}}",argo_rollouts_status="canary"}'
""" % ERROR_LIMIT


@pytest.mark.local_backend
def test_prometheus_down_during_analysis(faults: Faults, sc: Scenario) -> None:
    """Prometheus down during a step analysis: the measurements error, the AnalysisRun ends `Error` after
    consecutiveErrorLimit, the Rollout aborts (Argo Rollouts' documented semantics), and the suite's diagnosis
    names it an infrastructure fault (Prometheus unreachable), not a label failure."""
    name = "promdown"
    template = yaml.safe_load(ANALYSIS_TEMPLATE)
    template["metadata"]["labels"] = sc.labels
    sc.kube.create_custom(sc.ns, template)
    steps = [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "canary-up"}],
                                              "args": sc.analysis_args(name, 0.1)}}, {"pause": {}}]
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 2, steps, sc.labels))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    sc.wait_analysis_run(("Running",))
    with faults.prometheus_down():
        sc.evidence.mark("Prometheus stopped")
        run = sc.wait_analysis_run(("Error", "Failed", "Successful", "Inconclusive"))
        ro = sc.wait_aborted(name)
    st = run["status"]
    assert st["phase"] == "Error", f"AnalysisRun {run['metadata']['name']} ended {st['phase']}, not Error: {st}"
    metric = st["metricResults"][0]
    errors = [m for m in metric.get("measurements", []) if m.get("phase") == "Error"]
    assert len(errors) == ERROR_LIMIT + 1 and metric.get("consecutiveError") == ERROR_LIMIT + 1, (
        f"want {ERROR_LIMIT + 1} consecutive errored measurements (consecutiveErrorLimit {ERROR_LIMIT}): {metric}")
    assert all("connection refused" in str(m.get("message")) for m in errors), errors
    aborted = [c for c in ro["status"].get("conditions", []) if c.get("reason") == "RolloutAborted"]
    assert aborted, f"no RolloutAborted condition: {ro['status'].get('conditions')}"
    cause = infrastructure_cause(sc.analysis_runs())
    assert cause is not None and "Prometheus at " in cause and "unreachable" in cause, cause
    # The abort itself is the controller's usual one (LBL-4): the stable set keeps `stable`.
    sc.wait_role_labels(name, {"stable": "stable"}, "stable label after the abort", hold=sc.t.label_hold)


@pytest.mark.local_backend
def test_apiserver_restart_mid_canary(faults: Faults, flagged: LocalBackend, sc: Scenario) -> None:
    """kube-apiserver restarted mid-canary: the controller and the suite both recover (labels still converged,
    the controller process alive), and the canary still promotes with its pods relabelled in place."""
    name = "apirestart"
    roles = converged_canary(sc, name)
    before = pod_uids(sc, name)
    faults.restart_apiserver()
    sc.evidence.mark("kube-apiserver restarted")
    assert flagged.controller.running(), f"the controller died with the apiserver: {flagged.controller.log_tail(20)}"
    sc.wait_role_labels(name, ROLES, "status labels after the apiserver restart", hold=sc.t.label_hold)
    assert pod_uids(sc, name) == before, f"pods replaced by an apiserver restart: {before} -> {pod_uids(sc, name)}"
    assert_promotes_in_place(sc, name, roles)


@pytest.mark.local_backend
def test_node_agent_restart_mid_canary(faults: Faults, flagged: LocalBackend, sc: Scenario) -> None:
    """The node agent restarted mid-canary: the running pods are adopted (same pod objects, started again by the
    new agent) or replaced and relabelled; every pod is Ready and labelled by its role again; no container
    process outlives its pod, and every pod has its process."""
    name = "agentrestart"
    roles = converged_canary(sc, name)
    before = pod_uids(sc, name)
    faults.restart_node_agent()
    sc.evidence.mark("node agent restarted")
    sc.wait_pods_ready(name, roles["canary"], 1)
    sc.wait_pods_ready(name, roles["stable"], 3)
    sc.wait_role_labels(name, ROLES, "status labels after the node agent restart", hold=sc.t.label_hold)
    after = pod_uids(sc, name)
    adopted = {p for p in before if p in after and after[p][0] == before[p][0]}
    replaced = set(after) - set(before)
    assert len(adopted) + len(replaced) == 4, f"pods neither adopted nor replaced: {before} -> {after}"

    def one_process_per_pod() -> tuple[bool, Any]:
        live = {p.metadata.name for p in sc.kube.core.list_pod_for_all_namespaces().items
                if p.metadata.deletion_timestamp is None and p.status.phase == "Running"}
        procs = faults.pod_processes()
        orphans = {pid: pod for pid, pod in procs.items() if pod not in live}
        per_pod = {pod: sorted(pid for pid, p in procs.items() if p == pod) for pod in after}
        missing = [pod for pod, pids in per_pod.items() if len(pids) != 1]
        return not orphans and not missing, {"orphans (pid: pod)": orphans, "pods without exactly one process": {
            p: per_pod[p] for p in missing}}

    # Terminated processes may take the agent a moment to reap; what must hold is the end state.
    wait_until("one container process per pod, none without a pod", one_process_per_pod, sc.t.pods_ready)


# ---- no cluster: what the backends refuse, how a Prometheus fault is reported --------------------
def test_in_cluster_backends_refuse_process_faults() -> None:
    kind = faults_for(SimpleNamespace(name="kind"))  # type: ignore[arg-type]
    assert type(kind) is Faults
    for fault in (kind.restart_controller, kind.restart_apiserver, kind.restart_node_agent, kind.stop_prometheus,
                  kind.pod_processes):
        with pytest.raises(FaultNotSupported, match="not supported on the kind backend"):
            fault()
    assert isinstance(faults_for(SimpleNamespace(name="local")), LocalFaults)  # type: ignore[arg-type]


def analysis_run(phase: str, *measurements: tuple[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "run-1"},
            "spec": {"metrics": [{"name": "m", "provider": {"prometheus": {"address": "http://127.0.0.1:9"}}}]},
            "status": {"phase": phase, "metricResults": [{
                "name": "m", "phase": phase, "consecutiveError": sum(p == "Error" for p, _ in measurements),
                "measurements": [{"phase": p, "message": msg} for p, msg in measurements]}]}}


REFUSED = 'Post "http://127.0.0.1:9/api/v1/query": dial tcp 127.0.0.1:9: connect: connection refused'


def test_diagnosis_names_prometheus_unreachable_only() -> None:
    cause = infrastructure_cause([analysis_run("Error", ("Error", REFUSED), ("Error", REFUSED))])
    assert cause is not None and "Prometheus at http://127.0.0.1:9 unreachable" in cause and "run Error" in cause
    # A query the template could not evaluate (no data indexed) is not the infrastructure's.
    assert infrastructure_cause([analysis_run("Error", ("Error", "reflect: slice index out of range"))]) is None
    # A blip the analysis got over did not decide anything.
    assert infrastructure_cause([analysis_run("Successful", ("Error", REFUSED), ("Successful", ""))]) is None
    # Still unreachable when the test gave up, before the run ended.
    assert infrastructure_cause([analysis_run("Running", ("Error", REFUSED))]) is not None


FAILING_TEST = '''
import pytest
from fixtures.outcome import mark_infrastructure

@pytest.fixture
def diagnosed(request):
    yield
    mark_infrastructure(request.node, "AnalysisRun run-1 metric m: Prometheus at http://127.0.0.1:9 unreachable")

@pytest.mark.conformance("ANA-3", profile="analysis")
def test_healthy(diagnosed):
    assert False, "Rollout never Healthy"

@pytest.mark.conformance("ANA-4", profile="analysis")
def test_fine(diagnosed):
    pass
'''


def test_report_files_a_diagnosed_failure_as_infrastructure(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=FAILING_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 3, result.stdout.str()  # the exit code of an infrastructure failure
    doc = yaml.safe_load((pytester.path / "reports" / "reference-flag" / "conformance-report.yaml").read_text())
    tests = {t["name"]: t for p in doc["profiles"] for t in p["tests"]}
    assert tests["healthy"]["category"] == "infrastructure", tests["healthy"]
    assert tests["healthy"]["message"].startswith("infrastructure fault: AnalysisRun run-1 metric m: Prometheus"), tests
    assert "Rollout never Healthy" in tests["healthy"]["message"]
    assert "category" not in tests["fine"]
