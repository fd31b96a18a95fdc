"""One real ``sovra up`` process for the end-to-end tests, with FakeUpstream models approved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from sovra.store.local_postgres import LocalPostgres
from tests.e2e.fake_upstream import FakeUpstream, running_fake_upstream
from tests.e2e.server import Server, approve_upstream_models, sovra_up

UPSTREAM_MODELS = ("fake-instant", "fake-hang", "fake-garbage")


@pytest.fixture(scope="session")
def e2e_upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as fake:
        yield fake


# Modules whose tests run against both profiles (issue 14): the OpenAI surface end to end,
# from the client library through admission, policy, the ledger and the trace. The other
# modules keep the embedded profile, so the suite's time grows by one module, not doubles.
BOTH_PROFILES = frozenset({"test_openai_client"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("server" in metafunc.fixturenames
            and metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_PROFILES):
        metafunc.parametrize(
            "e2e_profile",
            ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
            indirect=True, scope="session")


@pytest.fixture(scope="session")
def e2e_profile(request: pytest.FixtureRequest) -> str:
    """``sqlite`` (a file in the data directory), or ``postgresql`` for BOTH_PROFILES."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, e2e_upstream: FakeUpstream,
           e2e_profile: str, request: pytest.FixtureRequest) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("e2e") / "data"
    # A hung upstream must be reported within a second, not the default minute.
    env = {"SOVRA_AI_UPSTREAM_READ_TIMEOUT_S": "1.0", "SOVRA_AI_MAX_PROMPT_CHARS": "20000"}
    if e2e_profile == "postgresql":  # a fresh database on the session's real PostgreSQL
        postgres: LocalPostgres = request.getfixturevalue("postgres_server")
        env["SOVRA_DATABASE_URL"] = postgres.create_database()
    with sovra_up(data_dir, extra_env=env) as running:
        approve_upstream_models(running, e2e_upstream.port, UPSTREAM_MODELS)
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def load_database(request: pytest.FixtureRequest) -> str | None:
    """The crowd tests' database (issue 14): None for the SQLite file in the data
    directory, or a fresh database on the session's real PostgreSQL."""
    if request.param == "sqlite":
        return None
    postgres: LocalPostgres = request.getfixturevalue("postgres_server")
    return postgres.create_database()


@pytest.fixture
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key=server.admin_key, max_retries=0,
                         timeout=60)
