"""The bundle SPEC file (YAML or TOML): what goes into a bundle, and what each file is.

Example (YAML)::

    name: site-update-2026-11
    expires: {timestamp_days: 14, snapshot_days: 30, targets_days: 90}
    targets:
      - kind: model
        path: models/mistral-7b.Q4_K_M.gguf      # relative to the SPEC file
        component: mistral-7b
        version: "0.3"
        manifest: {source: "https://huggingface.co/...", licence: Apache-2.0,
                   intended_use: "internal drafting assistant"}
      - {kind: policy, path: policies/baseline.cedar, component: baseline, version: "7"}
      - {kind: threat-intel, path: ti/feed.json, component: cert-feed, version: "2026.11"}
      - {kind: wheel, path: dist/sovra-0.2.0-py3-none-any.whl, component: sovra,
         version: "0.2.0"}

pydantic validates it because it is a file from outside (house style 7).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sovra.errors import InvalidInputError


class ModelManifest(BaseModel):
    """Provenance of a model: where it came from, under which licence, for what use."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str = Field(min_length=1)
    licence: str = Field(min_length=1)
    intended_use: str = Field(min_length=1)


class SbomComponent(BaseModel):
    """A dependency listed in a model's CycloneDX SBOM (tokenizer, runtime, dataset)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    type: Literal["library", "data", "framework", "machine-learning-model", "file"] = "library"
    licence: str | None = None


class TargetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["model", "policy", "threat-intel", "wheel", "sigma", "stix", "misp", "yara"]
    path: Path
    name: str | None = None
    component: str = Field(min_length=1, max_length=256)
    version: str = Field(min_length=1, max_length=128)
    manifest: ModelManifest | None = None
    sbom: list[SbomComponent] = Field(default_factory=list)


class ExpirySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timestamp_days: float = Field(default=14, gt=0)
    snapshot_days: float = Field(default=30, gt=0)
    targets_days: float = Field(default=90, gt=0)


class BundleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    expires: ExpirySpec = Field(default_factory=ExpirySpec)
    targets: list[TargetSpec] = Field(min_length=1)


def load_spec(path: Path) -> BundleSpec:
    """Parse a SPEC file; target paths come back resolved relative to the file."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        spec = BundleSpec.model_validate(raw)
    except OSError as exc:
        raise InvalidInputError(f"cannot read SPEC {path}: {exc}") from exc
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"SPEC {path} does not parse: {exc}") from exc
    except ValidationError as exc:
        raise InvalidInputError(f"SPEC {path} is invalid: {exc}") from exc
    for target in spec.targets:
        if target.kind == "model" and target.manifest is None:
            raise InvalidInputError(
                f"SPEC {path}: model {target.component} needs a manifest "
                "(source, licence, intended_use)")
    base = path.parent
    resolved = [t.model_copy(update={"path": (base / t.path).resolve()}) for t in spec.targets]
    return spec.model_copy(update={"targets": resolved})
