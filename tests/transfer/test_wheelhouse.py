"""Offline carriage: the wheelhouse (scripts/wheelhouse.sh) crosses the air gap in a signed
bundle and installs Sovra with ``pip --no-index`` in a network namespace with loopback only.

Scope, said plainly: a full ``pip install --no-index --find-links WHEELHOUSE sovra`` of all
~115 wheels takes about two minutes on the 2-core CI machine, so by default the test
resolves every requirement from the wheelhouse alone (``pip install --dry-run --no-index``,
which reads each wheel's metadata as an install would) and installs ``sovra`` and the
built ``llama-cpp-python`` with ``--no-deps``. ``SOVRA_TEST_WHEELHOUSE_FULL=1`` runs the
full install and ``sovra --help`` from the new environment as well.

The wheelhouse comes from ``SOVRA_WHEELHOUSE`` (scripts/test.sh builds it before it enters
the network namespace) or, with a network, is built here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.transfer import load_spec
from tests.transfer.conftest import Site, Workshop

ROOT = Path(__file__).resolve().parents[2]
# Proves the namespace has no way out: no route at all (loopback lives in the local
# table), so no address beyond 127.0.0.0/8 is reachable, the package index included.
NO_ROUTE = ('if [ -n "$(ip route show)" ]; then echo "the namespace has a route out" >&2; '
            "exit 1; fi")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The carriage is what is under test, not the database: SQLite only (the bundle is
    hundreds of megabytes, and importing it twice would only repeat the same checks)."""
    return f"sqlite:///{tmp_path / 'sovra.db'}"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    given = os.environ.get("SOVRA_WHEELHOUSE")
    if given:
        path = Path(given)
        if not (path / "bundle.yaml").is_file():
            pytest.fail(f"SOVRA_WHEELHOUSE={given} has no bundle.yaml: run "
                        "scripts/wheelhouse.sh into it")
        yield path
        return
    if os.environ.get("SOVRA_TEST_OFFLINE"):
        pytest.skip("no SOVRA_WHEELHOUSE and no network to build one: scripts/test.sh "
                    "builds it with scripts/wheelhouse.sh before entering the namespace")
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([str(ROOT / "scripts" / "wheelhouse.sh"), str(out)], check=True,
                   timeout=900, cwd=ROOT)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def _loopback_only() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def _offline(script: str) -> subprocess.CompletedProcess[str]:
    """Run SCRIPT as the air-gapped host would: no pip configuration, no index, and (where
    this machine allows one) a network namespace with loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if _loopback_only():
        cmd = ["unshare", "-n", "--", "bash", "-ec",
               f"ip link set lo up\n{NO_ROUTE}\n{script}"]
    else:  # --no-index alone already keeps pip off the network
        cmd = ["bash", "-ec", script]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _install_check(wheels: Path, venv: Path, report: Path) -> dict[str, str]:
    pip = f"{venv}/bin/python -m pip"
    script = (f"{sys.executable} -m venv {venv}\n"
              f"{pip} install -q --no-index --find-links {wheels} --dry-run "
              f"--report {report} sovra\n")
    if os.environ.get("SOVRA_TEST_WHEELHOUSE_FULL") == "1":
        script += (f"{pip} install -q --no-index --find-links {wheels} sovra\n"
                   f"{venv}/bin/sovra --help >/dev/null\n")
    else:
        script += (f"{pip} install -q --no-index --find-links {wheels} --no-deps "
                   "sovra llama-cpp-python\n")
    _offline(script)
    resolved = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in resolved}


def test_wheelhouse_installs_sovra_offline(wheelhouse: Path, tmp_path: Path) -> None:
    resolved = _install_check(wheelhouse, tmp_path / "venv", tmp_path / "report.json")
    # Every requirement resolved from the wheelhouse alone, llama.cpp as the built wheel.
    assert "sovra" in resolved and "llama-cpp-python" in resolved
    assert any(p.name.startswith("llama_cpp_python-") and p.name.endswith(".whl")
               for p in wheelhouse.iterdir())
    installed = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c",
         ("import importlib.metadata as m; print(m.version('sovra'), "
          "m.version('llama-cpp-python'))")], capture_output=True, text=True, check=True)
    assert installed.stdout.split() == [resolved["sovra"], resolved["llama-cpp-python"]]


def test_wheelhouse_crosses_the_gap_in_a_signed_bundle(
        wheelhouse: Path, site: Site, workshop: Workshop, tmp_path: Path) -> None:
    spec = load_spec(wheelhouse / "bundle.yaml")  # what `sovra bundle create` reads
    wheels = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert sorted(t.path.name for t in spec.targets) == wheels
    assert {t.kind for t in spec.targets} == {"wheel"}
    bundle = workshop.build(spec)
    result = site.service.import_bundle(bundle, site.admin)
    assert result.state == "activated"
    assert {t.state for t in result.targets} == {"kept"}
    # The site keeps the wheels under their names: pip finds them there, offline.
    kept = {t.stored_path.parent for t in result.targets}
    assert len(kept) == 1
    carried = kept.pop()
    assert sorted(p.name for p in carried.glob("*.whl")) == wheels
    resolved = _install_check(carried, tmp_path / "venv", tmp_path / "report.json")
    assert "sovra" in resolved and "llama-cpp-python" in resolved
