from __future__ import annotations

from types import SimpleNamespace

import pytest

from fixtures.local.node_agent import IPAllocator, _expand, field_ref_value, image_repository


@pytest.mark.parametrize(("image", "repo"), [
    ("rollouts-conformance/demo-app:v2", "rollouts-conformance/demo-app"),
    ("rollouts-conformance/demo-app", "rollouts-conformance/demo-app"),
    ("localhost:5000/demo-app:v1", "localhost:5000/demo-app"),
    ("reg.example:5000/a/b@sha256:abc", "reg.example:5000/a/b"),
])
def test_image_repository(image: str, repo: str) -> None:
    assert image_repository(image) == repo


def pod() -> SimpleNamespace:
    meta = SimpleNamespace(name="p", namespace="ns", uid="u1", labels={"app": "x"}, annotations={})
    return SimpleNamespace(metadata=meta, spec=SimpleNamespace(node_name="n", service_account_name=None))


def test_field_refs() -> None:
    assert field_ref_value(pod(), "status.podIP", "127.20.0.5") == "127.20.0.5"
    assert field_ref_value(pod(), "metadata.labels['app']", "") == "x"
    assert field_ref_value(pod(), "metadata.namespace", "") == "ns"
    with pytest.raises(ValueError, match="not supported"):
        field_ref_value(pod(), "spec.bogus", "")


def test_env_expansion() -> None:
    assert _expand("$(A)-$(B)-$$(A)", {"A": "1"}) == "1-$(B)-$(A)"


def test_ip_allocator_stays_on_loopback_and_reuses() -> None:
    ips = IPAllocator("127.20.0.0/30")
    first = ips.allocate()
    assert first.startswith("127.20.0.")
    second = ips.allocate()
    assert second != first
    ips.release(first)
    assert ips.allocate() == first
    with pytest.raises(SystemExit, match="not inside 127.0.0.0/8"):
        IPAllocator("10.0.0.0/24")
