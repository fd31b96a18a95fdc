"""LangChain and LlamaIndex themselves against the real server (issue 15).

The two examples in docs/ai-gateway.md run exactly as written (only the URL and the key
replaced) against ``sovra up --demo``, and their answers are traced to the demo
documents; beside them, what a user meets first: embeddings equal to what the ``openai``
client gets for the same text, ``dimensions`` and unknown collections refused through
each library's own error, and streaming.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from llama_index.embeddings.openai_like import OpenAILikeEmbedding
from llama_index.llms.openai_like import OpenAILike

from tests.e2e.server import Server, sovra_up

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ai-gateway.md"
EXAMPLE = re.compile(r"<!-- runnable-python -->\n```python\n(.*?)```", re.DOTALL)
PLACEHOLDER = 'base, key = "http://127.0.0.1:8470/v1", "sk-sovra-..."'
SMOL = "SmolLM2-135M-Instruct"
EMBED = "all-MiniLM-L6-v2-onnx-int8"
QUESTION = "How many days of annual leave do staff get?"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sovra_up(tmp_path_factory.mktemp("clients") / "data", args=("--demo",)) as running:
        yield running


def _examples() -> dict[str, str]:
    found = EXAMPLE.findall(DOC.read_text(encoding="utf-8"))
    return {("langchain" if "langchain_openai" in code else "llamaindex"): code
            for code in found}


def _run_example(server: Server, name: str, tmp_path: Path) -> list[str]:
    code = _examples()[name]
    assert PLACEHOLDER in code, f"the {name} example no longer names its URL and key"
    code = code.replace(PLACEHOLDER, f'base, key = "{server.v1}", "{server.admin_key}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def _trace(server: Server, request_id: str) -> dict[str, object]:
    found = httpx.get(f"{server.v1}/sovra/trace/{request_id}", headers=server.headers(),
                      timeout=30)
    found.raise_for_status()
    return dict(found.json())


def test_both_documented_examples_are_found() -> None:
    assert set(_examples()) == {"langchain", "llamaindex"}


def test_langchain_example_runs_as_written(demo: Server, tmp_path: Path) -> None:
    lines = _run_example(demo, "langchain", tmp_path)
    assert "vectors: 2 384" in lines
    answer = next(x for x in lines if x.startswith("answer: ")).removeprefix("answer: ")
    assert answer.strip()
    request_id = next(x for x in lines if x.startswith("trace: ")).removeprefix("trace: ")
    details = _trace(demo, request_id)["request"]["entry"]["details"]  # type: ignore[index]
    assert details["collections"] == ["demo"]
    assert details["chunks"], "the answer was fed with demo passages"


def test_llamaindex_example_runs_as_written(demo: Server, tmp_path: Path) -> None:
    lines = _run_example(demo, "llamaindex", tmp_path)
    assert "vector: 384" in lines
    assert next(x for x in lines if x.startswith("answer: ")).removeprefix("answer: ").strip()
    cited = [x.split() for x in lines if x.startswith("cited: ")]
    assert cited and {c[1] for c in cited} == {"demo"}


def test_langchain_sends_text_and_gets_the_openai_clients_vectors(demo: Server) -> None:
    texts = ["Staff get annual leave.", "Backups run nightly."]
    embeddings = OpenAIEmbeddings(base_url=demo.v1, api_key=demo.admin_key, model=EMBED,
                                  check_embedding_ctx_length=False)
    theirs = embeddings.embed_documents(texts)
    direct = openai.OpenAI(base_url=demo.v1, api_key=demo.admin_key).embeddings.create(
        model=EMBED, input=texts)
    assert len(theirs) == 2
    for got, want in zip(theirs, direct.data, strict=True):
        assert got == pytest.approx(want.embedding, abs=1e-6)


def test_langchain_dimensions_are_refused_not_ignored(demo: Server) -> None:
    embeddings = OpenAIEmbeddings(base_url=demo.v1, api_key=demo.admin_key, model=EMBED,
                                  check_embedding_ctx_length=False, dimensions=256)
    with pytest.raises(openai.BadRequestError, match="384-dimensional"):
        embeddings.embed_query("annual leave")


def test_llamaindex_vectors_equal_langchains(demo: Server) -> None:
    llama = OpenAILikeEmbedding(model_name=EMBED, api_base=demo.v1, api_key=demo.admin_key)
    chain = OpenAIEmbeddings(base_url=demo.v1, api_key=demo.admin_key, model=EMBED,
                             check_embedding_ctx_length=False)
    assert llama.get_text_embedding("annual leave") == pytest.approx(
        chain.embed_query("annual leave"), abs=1e-6)


def test_llamaindex_unknown_collection_is_a_not_found_error(demo: Server) -> None:
    llm = OpenAILike(model=SMOL, api_base=demo.v1, api_key=demo.admin_key,
                     is_chat_model=True, max_tokens=8, max_retries=0, additional_kwargs={
                         "extra_body": {"sovra": {"collections": ["no-such"]}}})
    with pytest.raises(openai.NotFoundError, match="no collection 'no-such'"):
        llm.complete(QUESTION)


def test_langchain_streams_from_the_bundled_model(demo: Server) -> None:
    chat = ChatOpenAI(base_url=demo.v1, api_key=demo.admin_key, model=SMOL, max_tokens=8,
                      max_retries=0)
    pieces = [chunk.content for chunk in chat.stream("Say hello.")]
    assert len(pieces) > 1  # streamed, not one block
    assert "".join(str(p) for p in pieces).strip()
