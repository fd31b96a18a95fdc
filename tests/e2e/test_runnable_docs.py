"""The docs run as written (issue 15): every shell block in README.md and docs/ that is
marked ``<!-- runnable ... -->`` runs, line by line under ``set -e``, against a scratch
development-mode instance, with only the placeholder key ``sk-sovra-...`` replaced by the
scratch instance's first admin key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sovra.config import load_settings
from tests.support.admin import prepared_admin_key

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"<!-- runnable[^>]*-->\n```(?:bash|sh|shell)\n(.*?)```", re.DOTALL)


def runnable_blocks() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for index, match in enumerate(MARKED.finditer(path.read_text(encoding="utf-8"))):
            found.append((f"{path.relative_to(ROOT)}#{index + 1}", match.group(1)))
    return found


BLOCKS = runnable_blocks()


def test_some_blocks_are_marked_runnable() -> None:
    assert BLOCKS, "no <!-- runnable --> shell block found in README.md or docs/"


@pytest.mark.parametrize(("where", "script"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_marked_block_runs_as_written(where: str, script: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = prepared_admin_key(load_settings(data_dir=data_dir))
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("SOVRA_API_KEY", None)
    done = subprocess.run(["bash", "-euo", "pipefail", "-x", "-c",
                           script.replace("sk-sovra-...", key)],
                          env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"{where} failed:\n{done.stderr[-3000:]}"
