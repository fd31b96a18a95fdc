"""Everything the server serves works offline (issue 15): the API documentation pages
load every script, style and icon from the server itself, and ``/`` says what this is
and where to go."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.config import Settings
from sovra.instance import open_instance

BASE = "http://testserver"


class _Assets(HTMLParser):
    """Every URL a page makes the browser load (not the links a person may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("script", "img", "iframe") and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))


def assets_of(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[TestClient]:
    opened = open_instance(sqlite_settings)
    try:
        with TestClient(create_app(opened), base_url=BASE) as test_client:
            yield test_client
    finally:
        opened.close()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_page_loads_only_what_this_server_serves(client: TestClient,
                                                              page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    urls = assets_of(response.text)
    assert any(u.endswith(".js") for u in urls), urls  # the check is not vacuous
    for url in urls:
        absolute = urljoin(f"{BASE}{page}", url)
        assert urlsplit(absolute).netloc == "testserver", f"{page} loads {url} from elsewhere"
        asset = client.get(absolute)
        assert asset.status_code == 200 and len(asset.content) > 0, url
    assert "googleapis" not in response.text and "cdn.jsdelivr" not in response.text


def test_swagger_ui_does_not_call_the_public_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_openapi_document_the_pages_read_is_served(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        assert "/openapi.json" in client.get(page).text
    assert client.get("/openapi.json").json()["info"]["title"] == "Sovra"


def test_home_page_says_what_this_is_and_where_to_go(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Sovra" in page and "sovereign AI cloud" in page
    for link in ('href="/docs"', 'href="/redoc"', 'href="/healthz"'):
        assert link in page
    assert "sovra up" in page and "Authorization: Bearer" in page  # the quick start
    assert assets_of(page) == []  # nothing to load: works offline as it is
    assert client.get("/healthz").status_code == 200
