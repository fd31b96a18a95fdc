"""The quick start as a user does it: `sovra demo` beside a running `sovra up`, then a
question over the sample documents with the openai client, cited and traceable."""

from __future__ import annotations

import subprocess

import openai
import pytest

from tests.e2e.server import Server, sovra_command

pytestmark = pytest.mark.e2e
SMOL = "SmolLM2-135M-Instruct"


@pytest.fixture(scope="module")
def demo_loaded(server: Server) -> Server:
    shown = subprocess.run([*sovra_command(), "--data-dir", str(server.data_dir), "demo"],
                           capture_output=True, text=True, timeout=180, check=True)
    assert "Collection demo is ready" in shown.stdout
    assert shown.stdout.count("ingested") == 3
    return server


def test_question_over_the_demo_collection_is_cited(demo_loaded: Server,
                                                    client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=SMOL, max_tokens=24, temperature=0,
        messages=[{"role": "user", "content": "How many days of annual leave do staff get?"}],
        extra_body={"sovra": {"collections": ["demo"], "citations": True, "top_k": 3}})
    sovra = (answer.model_extra or {})["sovra"]
    assert answer.choices[0].message.content
    # Only the passages the answer used are cited (ADR 0610): at least one of the three.
    assert 1 <= len(sovra["citations"]) <= 3
    first = sovra["citations"][0]
    assert first["collection"] == "demo" and first["version"] == 1
    assert {"document_id", "chunk_position", "chunk_id"} <= set(first)
    assert sovra["classification"] == "internal"


def test_embeddings_with_the_openai_client(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    embedding = next(i for i, m in models.items()
                     if (m.model_extra or {})["sovra"]["kind"] == "embedding")
    result = client.embeddings.create(model=embedding, input=["leave policy", "ransomware"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 384  # the client decoded base64 float32
    assert abs(sum(x * x for x in result.data[0].embedding) - 1.0) < 1e-3
    floats = client.embeddings.create(model=embedding, input="leave policy",
                                      encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(result.data[0].embedding, abs=1e-6)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model=SMOL, input="a chat model cannot embed")
