"""The import contract (issue 14, ADR 0003): layers, a leaf vocabulary, room surfaces.

``.importlinter`` states the layers (edges -> workflows -> instance -> room services ->
ledger, keys, policy -> store, never back up); ``lint-imports`` checks it here so a
broken layer fails the suite with the offending import chain. An import that reaches past a
room's surface fails naming its file and line; there are none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.surface import bypasses

ROOT = Path(__file__).resolve().parent.parent


def test_layers_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_reaches_past_a_room_surface() -> None:
    found = [str(bypass) for bypass in bypasses()]
    assert not found, ("imports past a room's surface; import the name from the room "
                       "(sovra.<room>, exported lazily in its __init__ through "
                       "sovra._lazy) or declare a public module in tests/support/surface.py "
                       "with its reason:\n" + "\n".join(found))


def test_the_surface_check_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "src" / "sovra"
    for room in ("alpha", "beta"):
        (src / room).mkdir(parents=True)
        (src / room / "__init__.py").write_text("")
    (src / "beta" / "inner.py").write_text("X = 1\n")
    (src / "alpha" / "user.py").write_text(
        "from sovra.beta import X\n\ndef f():\n    from sovra.beta.inner import X\n")
    found = bypasses(src)
    assert [str(b) for b in found] == ["src/sovra/alpha/user.py:4: imports sovra.beta.inner"]


def test_policy_decides_without_importing_identity() -> None:
    # The former identity <-> policy cycle: policy reads Caller from sovra.vocabulary.
    script = ("import json, sys, sovra.policy.service, sovra.vocabulary\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.startswith("sovra.identity")] == []


def test_the_vocabulary_is_one_set_of_names() -> None:
    import sovra.identity
    import sovra.policy
    import sovra.vocabulary
    from sovra.identity.sink import LedgerSink

    assert sovra.identity.Caller is sovra.vocabulary.Caller
    assert sovra.policy.Classification is sovra.vocabulary.Classification
    assert LedgerSink is sovra.vocabulary.LedgerSink


def test_the_layers_check_reports_an_upward_import(tmp_path: Path) -> None:
    # The same tool and contract type on a two-layer package whose lower layer imports up:
    # the check must fail and name the import, or a kept contract above proves nothing.
    package = tmp_path / "housing"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "edge.py").write_text("X = 1\n")
    (package / "store.py").write_text("def f():\n    from housing.edge import X\n    return X\n")
    config = tmp_path / "contract.ini"
    config.write_text("[importlinter]\nroot_package = housing\n\n"
                      "[importlinter:contract:layers]\nname = layers\ntype = layers\n"
                      "layers =\n    housing.edge\n    housing.store\n")
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--config", str(config), "--no-cache"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "housing.store -> housing.edge (l.2)" in done.stdout
