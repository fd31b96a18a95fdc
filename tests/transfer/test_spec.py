"""The SPEC file: YAML or TOML, paths relative to the file, models need a manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovra.errors import InvalidInputError
from sovra.transfer import load_spec

TOML = """
name = "t"
[[targets]]
kind = "model"
path = "m/model.gguf"
component = "m"
version = "1"
manifest = { source = "s", licence = "MIT", intended_use = "tests" }
"""


def test_toml_spec_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text(TOML)
    spec = load_spec(tmp_path / "spec.toml")
    assert spec.targets[0].path == (tmp_path / "m" / "model.gguf").resolve()
    assert spec.targets[0].manifest is not None
    assert spec.targets[0].manifest.licence == "MIT"


def test_model_without_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "name: t\ntargets:\n  - {kind: model, path: m.gguf, component: m, version: '1'}\n")
    with pytest.raises(InvalidInputError, match="needs a manifest"):
        load_spec(tmp_path / "spec.yaml")


@pytest.mark.parametrize("text", ["name: [", "name: t\ntargets: []\n",
                                  ("name: t\ntargets:\n  - {kind: rootkit, path: x, "
                                  "component: c, version: '1'}\n")])
def test_bad_specs_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "spec.yaml").write_text(text)
    with pytest.raises(InvalidInputError):
        load_spec(tmp_path / "spec.yaml")
