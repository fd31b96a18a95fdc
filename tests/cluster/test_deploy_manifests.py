"""The shipped deployment files: Kubernetes manifests (base and the air-gap overlay)
rendered the way Kustomize applies ``images:``, validated against the Kubernetes schemas
that the kubernetes-validate package ships (helm and kustomize cannot be installed here),
and checked for what air-gapped installs need: every image a value, ``IfNotPresent``,
probes on routes the app really serves. Plus the Containerfile's offline build.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from sovra.api.routers import health, metrics

DEPLOY = Path(__file__).parents[2] / "deploy"
K8S_VERSION = "1.30"
OVERLAYS = ["base", "overlays/airgap"]


def _render(directory: Path) -> list[dict[str, Any]]:
    """Resources of a kustomization, with its ``images:`` applied (a Kustomize subset:
    resources, nested bases, images)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    resources: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(_render(path))
        else:
            resources.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for image in kustomization.get("images", []):
        for resource in resources:
            for container in _containers(resource):
                if _image_name(container["image"]) == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    return [copy.deepcopy(r) for r in resources]


def _image_name(reference: str) -> str:
    """The reference without its tag (a registry's ``host:port`` keeps its colon)."""
    head, _, last = reference.rpartition("/")
    return f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = resource.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_validate_against_the_kubernetes_schemas(overlay: str) -> None:
    rendered = _render(DEPLOY / "k8s" / overlay)
    assert {r["kind"] for r in rendered} == {"Deployment", "Service"}
    for resource in rendered:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


def test_a_broken_manifest_is_refused_by_the_schema_check() -> None:
    deployment = next(r for r in _render(DEPLOY / "k8s" / "base")
                      if r["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_a_value_and_never_pulled_when_present(overlay: str) -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / overlay / "kustomization.yaml")
                                   .read_text())
    registry = kustomization["images"][0]["newName"]
    for resource in _render(DEPLOY / "k8s" / overlay):
        for container in _containers(resource):
            assert container["imagePullPolicy"] == "IfNotPresent", container["name"]
            assert container["image"].startswith(registry + ":"), container["image"]


def test_probes_use_routes_the_app_serves() -> None:
    served = {route.path for router in (health.router, metrics.router)  # type: ignore[attr-defined]
              for route in router.routes}
    deployment = next(r for r in _render(DEPLOY / "k8s" / "base")
                      if r["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert {"/readyz", "/livez", annotations["prometheus.io/path"]} <= served
    assert "/readyz" in (DEPLOY / "haproxy" / "sovra.cfg").read_text()


def test_the_containerfile_builds_offline_from_an_overridable_base() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert "ARG BASE_IMAGE=" in text and "FROM ${BASE_IMAGE}" in text
    assert "--no-index" in text
    assert "USER 10001" in text
