"""A new user's first hour (issue 15), as printed: the quick start's `sovra up --demo`, the
README's example run exactly as written (only the key and port filled in), an unknown
collection refused, and `sovra status`, `sovra keys status` and `sovra demo` finding the
server on the port it really uses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.server import Server, sovra_command, sovra_up

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
README_PORT = "http://127.0.0.1:8470"


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    quickstart = (ROOT / "scripts" / "quickstart.sh").read_text()
    args = re.search(r"exec \.venv/bin/sovra up (.*) \"\$@\"", quickstart)
    assert args is not None, "scripts/quickstart.sh no longer ends in `sovra up ...`"
    data_dir = tmp_path_factory.mktemp("first-hour") / "data"
    with sovra_up(data_dir, args=tuple(args.group(1).split())) as server:
        yield server
    assert not (data_dir / "server.url").exists()  # removed when the server stopped


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "README.md has no Python example"
    return str(blocks[0])


def _sovra(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOVRA_DATA_DIR": str(server.data_dir), "COLUMNS": "80"}
    env.pop("SOVRA_API_KEY", None)
    return subprocess.run([*sovra_command(), *args], env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def test_the_readme_example_answers_from_the_demo_documents(quick_start: Server) -> None:
    example = readme_example()
    assert README_PORT in example and '"sk-sovra-..."' in example
    filled = (example.replace(README_PORT, quick_start.url)
              .replace('"sk-sovra-..."', json.dumps(quick_start.admin_key)))
    probe = filled + "\nimport json\nprint(json.dumps(answer.model_extra['sovra']))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    sovra = json.loads(done.stdout.strip().splitlines()[-1])
    assert sovra["citations"], "the answer cites no document"
    assert {c["collection"] for c in sovra["citations"]} == {"demo"}


def test_an_unknown_collection_is_a_404_not_an_invented_answer(quick_start: Server) -> None:
    client = openai.OpenAI(base_url=quick_start.v1, api_key=quick_start.admin_key,
                           max_retries=0, timeout=120)
    with pytest.raises(openai.NotFoundError, match="dmeo"):
        client.chat.completions.create(
            model="SmolLM2-135M-Instruct", max_tokens=8,
            messages=[{"role": "user", "content": "How many days of annual leave?"}],
            extra_body={"sovra": {"collections": ["dmeo"]}})


def test_status_finds_the_server_on_its_real_port(quick_start: Server) -> None:
    bare = _sovra(quick_start, "status")
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert f"{quick_start.url} answers" in bare.stdout and "unsealed" in bare.stdout
    full = _sovra(quick_start, "status", "--api-key", quick_start.admin_key)
    assert full.returncode == 0, full.stdout + full.stderr
    rows = {line.split()[0]: line for line in full.stdout.splitlines() if line.strip()}
    assert re.search(r"ledger +(\d+ entries, root |no signed checkpoint yet)",
                     rows["ledger"]), full.stdout
    assert "SmolLM2-135M-Instruct (chat)" in rows["models"]
    assert rows["patch"].startswith("patch lag")


def test_keys_status_shows_the_servers_state(quick_start: Server) -> None:
    shown = _sovra(quick_start, "keys", "status", "--api-key", quick_start.admin_key)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"server at {quick_start.url}" in shown.stdout and "unsealed" in shown.stdout
    assert "keyring " in shown.stdout


def test_demo_prints_valid_python_for_the_real_port(quick_start: Server) -> None:
    shown = _sovra(quick_start, "demo")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    example = shown.stdout[shown.stdout.index("from openai import OpenAI"):]
    compile(example, "<sovra demo>", "exec")  # no line wrapped inside a string literal
    assert f'base_url="{quick_start.url}/v1"' in example
