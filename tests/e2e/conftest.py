"""One real ``sovra up`` process for the end-to-end tests, with FakeUpstream models approved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.fake_upstream import FakeUpstream, running_fake_upstream
from tests.e2e.server import Server, approve_upstream_models, sovra_up

UPSTREAM_MODELS = ("fake-instant", "fake-hang", "fake-garbage")


@pytest.fixture(scope="session")
def e2e_upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as fake:
        yield fake


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, e2e_upstream: FakeUpstream
           ) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("e2e") / "data"
    # A hung upstream must be reported within a second, not the default minute.
    with sovra_up(data_dir, extra_env={"SOVRA_AI_UPSTREAM_READ_TIMEOUT_S": "1.0",
                                       "SOVRA_AI_MAX_PROMPT_CHARS": "20000"}) as running:
        approve_upstream_models(running, e2e_upstream.port, UPSTREAM_MODELS)
        yield running


@pytest.fixture
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key=server.admin_key, max_retries=0,
                         timeout=60)
