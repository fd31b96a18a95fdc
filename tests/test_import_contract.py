"""The import contract (issue 14, ADR 0003): layers, a leaf vocabulary, room surfaces.

``.importlinter`` states the layers (edges -> workflows -> instance -> room services ->
ledger, keys, policy -> store, never back up); ``lint-imports`` checks it here so a
broken layer fails the suite with the offending import chain. Imports that reach past a
room's surface are counted against ``tests/import_surface_baseline.txt``: a new one fails
naming its file and line, and one that was fixed must leave the baseline, so the list only
shrinks (target: empty).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.support.surface import bypasses

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tests" / "import_surface_baseline.txt"


def _baseline() -> Counter[tuple[str, str]]:
    entries: Counter[tuple[str, str]] = Counter()
    for line in BASELINE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, module = line.split()
            entries[(path, module)] += 1
    return entries


def test_layers_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_reaches_past_a_room_surface_beyond_the_baseline() -> None:
    found = bypasses()
    allowed = _baseline()
    seen: Counter[tuple[str, str]] = Counter()
    new = []
    for bypass in found:
        key = (bypass.path, bypass.module)
        seen[key] += 1
        if seen[key] > allowed[key]:
            new.append(str(bypass))
    assert not new, ("imports past a room's surface; import the name from the room "
                     "(sovra.<room>, exported lazily in its __init__):\n" + "\n".join(new))
    fixed = sorted(f"{path} {module}" for (path, module), n in (allowed - seen).items()
                   for _ in range(n))
    assert not fixed, ("fixed, so remove from tests/import_surface_baseline.txt:\n"
                       + "\n".join(fixed))


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
