"""Property-based fuzzing of the OpenAI-compatible surface from its OpenAPI document.

schemathesis generates requests from the app's own OpenAPI schema (valid and invalid
bodies, odd strings, boundary numbers) and sends them to the real server; whatever it
sends, the answer must never be a 5xx. Bounded to a few examples per operation so the
suite stays fast.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

# Operations on the gateway's surface. The bundled model is excluded from generated
# bodies by construction (its id is never generated), so no example waits for llama.cpp.
PATHS = r"^/v1/"


def test_no_5xx_for_generated_requests(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(
        path_regex=PATHS)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:
        @settings(max_examples=12, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, headers=server.headers(), timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path} -> {response.status_code}: "
                                f"{response.text[:300]}")

        check()
    assert not failures, "\n".join(failures)
    assert sum(statuses.values()) >= 3 * len(operations)  # it really sent requests
    print(statuses)
    assert httpx.get(server.url + "/healthz").status_code == 200
