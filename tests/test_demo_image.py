"""--demo-image: where an existing cluster's nodes pull the demo app from, and a pod that cannot pull it.

On kind and k3s the suite loads the demo app's image (built here) into the nodes, and the local backend maps it
to a command; an existing cluster's nodes can only pull it from a registry the vendor pushed it to.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fixtures.config import ConfigError, SuiteConfig
from fixtures.evidence import Evidence
from fixtures.image_names import DEMO_APP_IMAGE, demo_app_images
from fixtures.report.model import INFRASTRUCTURE, failure_category
from fixtures.scenario import HEALTHY_V1, HEALTHY_V2, Scenario, canary_rollout
from fixtures.scenario.manifests import pod_template, with_demo_repository
from fixtures.scenario.waits import ImagePullFailed
from fixtures.timeouts import Timeouts

REPOSITORY = "registry.example.com:5000/vendor/demo-app"


def test_demo_image_is_an_existing_backend_option_and_a_repository() -> None:
    SuiteConfig(backend="existing", demo_image=REPOSITORY).validate(["status-labels"])
    with pytest.raises(ConfigError, match="--demo-image is not used by the local backend; it is for --backend existing"):
        SuiteConfig(backend="local", demo_image=REPOSITORY).validate(["status-labels"])
    for bad in (f"{REPOSITORY}:v1", f"{REPOSITORY}@sha256:{'0' * 64}", " x/demo"):
        with pytest.raises(ConfigError, match="--demo-image .* must be an image repository without tag or digest"):
            SuiteConfig(backend="existing", demo_image=bad).validate(["status-labels"])
    assert demo_app_images(REPOSITORY) == [f"{REPOSITORY}:v1", f"{REPOSITORY}:v2"]


def test_rollouts_and_pods_pull_the_demo_app_from_the_repository() -> None:
    rollout = with_demo_repository(canary_rollout("app", HEALTHY_V2, 2, [{"pause": {}}], {}), REPOSITORY)
    assert rollout["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPOSITORY}:v2"
    pod = with_demo_repository(pod_template("preflight", HEALTHY_V1, {}), REPOSITORY)
    assert pod["spec"]["containers"][0]["image"] == f"{REPOSITORY}:v1"
    assert pod_template("x", HEALTHY_V1, {})["spec"]["containers"][0]["image"] == f"{DEMO_APP_IMAGE}:v1"


class FakeKube:
    """A Rollout that never becomes Healthy, its one pod in ImagePullBackOff (as a kubelet reports it)."""

    def __init__(self, reason: str) -> None:
        waiting = SimpleNamespace(reason=reason, message=f'Back-off pulling image "{REPOSITORY}:v1"\nsecond line')
        status = SimpleNamespace(container_statuses=[SimpleNamespace(image=f"{REPOSITORY}:v1",
                                                                     state=SimpleNamespace(waiting=waiting))])
        self.pod = SimpleNamespace(metadata=SimpleNamespace(name="app-6d4b9-x2x", deletion_timestamp=None),
                                   status=status)
        self.core = SimpleNamespace(list_namespaced_pod=lambda ns, **kw: SimpleNamespace(items=[self.pod]))
        self.created: list[dict[str, Any]] = []

    def get_custom(self, ns: str, kind: str, name: str) -> dict[str, Any]:
        return {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "phase": "Progressing"}}

    def create_custom(self, ns: str, obj: dict[str, Any]) -> None:
        self.created.append(obj)


def scenario(kube: FakeKube) -> Scenario:
    return Scenario(kube, None, "rc-test", Timeouts(), Evidence(), labels={},  # type: ignore[arg-type]
                    prometheus_url_for_cluster="", templates_dir=Path("."), demo_image=REPOSITORY)


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull"])
def test_a_pod_that_cannot_pull_its_image_fails_fast_as_infrastructure(reason: str) -> None:
    kube = FakeKube(reason)
    sc = scenario(kube)
    sc.given_rollout(canary_rollout("app", HEALTHY_V1, 1, [{"pause": {}}], {}))
    assert kube.created[0]["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPOSITORY}:v1"
    t0 = time.monotonic()
    with pytest.raises(ImagePullFailed) as caught:
        sc.wait_healthy("app")
    assert time.monotonic() - t0 < 5, "waited instead of failing fast"
    message = str(caught.value)
    assert "\n" not in message
    assert f"rc-test/app-6d4b9-x2x cannot pull image {REPOSITORY}:v1 ({reason}: Back-off pulling" in message
    assert "--demo-image REPOSITORY" in message
    assert failure_category(caught.value) == INFRASTRUCTURE


def test_a_pod_that_waits_for_other_reasons_is_left_to_the_wait() -> None:
    kube = FakeKube("ContainerCreating")
    sc = scenario(kube)
    sc.t = Timeouts().with_overrides({"rollout_phase": 1.5})
    with pytest.raises(AssertionError, match="timed out after 1.5s waiting for Rollout rc-test/app"):
        sc.wait_healthy("app")
