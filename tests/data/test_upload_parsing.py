"""The streaming upload reader: the encrypted spool, and bad bodies as clear 4xx answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.data.uploads import EncryptedSpool
from sovra.errors import DecryptionError
from sovra.identity import ensure_first_admin
from sovra.instance import Instance

SEGMENT = 1024
DOCUMENTS = "/data/collections/notes/documents"
COLLECTION = {
    "id": "notes", "owner": "Ops", "purpose": "notes", "subject_categories": ["staff"],
    "data_categories": ["notes"], "retention_days": 30, "jurisdiction": "EU-DE",
    "ceiling": "secret",
}


# -- the spool -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT,
                                  5 * SEGMENT + 17])
def test_spool_round_trip(tmp_path: Path, size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256 + 1)
    plaintext = plaintext[:size]
    spool = EncryptedSpool(tmp_path / "uploads", segment_bytes=SEGMENT)
    for start in range(0, size, 333):  # writes that straddle segment boundaries
        spool.write(plaintext[start:start + 333])
        spool.flush()
    spool.finish()
    assert spool.read() == plaintext
    spool.close()


def test_spool_has_no_name_and_holds_no_plaintext(tmp_path: Path) -> None:
    directory = tmp_path / "uploads"
    spool = EncryptedSpool(directory, segment_bytes=SEGMENT)
    secret = b"IBAN DE89 3704 0044 0532 0130 00 " * 200
    spool.write(secret)
    spool.finish()
    assert list(directory.iterdir()) == []  # unnamed: nothing to open, nothing left behind
    raw = Path(f"/proc/self/fd/{spool._file.fileno()}").read_bytes()
    assert len(raw) >= len(secret) and b"IBAN" not in raw
    spool.close()


def test_spool_refuses_a_changed_segment(tmp_path: Path) -> None:
    spool = EncryptedSpool(tmp_path, segment_bytes=SEGMENT)
    spool.write(b"x" * (3 * SEGMENT))
    spool.finish()
    spool._file.seek(SEGMENT + 16 + 5)  # inside the second sealed segment
    spool._file.write(b"\x00")
    with pytest.raises(DecryptionError, match="segment 1"):
        spool.read()
    spool.close()


def test_spool_refuses_a_cut_stream(tmp_path: Path) -> None:
    spool = EncryptedSpool(tmp_path, segment_bytes=SEGMENT)
    spool.write(b"y" * (2 * SEGMENT + 10))
    spool.finish()
    spool._file.truncate(2 * (SEGMENT + 16))  # drop the final segment
    with pytest.raises(DecryptionError):
        spool.read()
    spool.close()


# -- bad bodies over HTTP ---------------------------------------------------------------


@pytest.fixture
def client(data: Instance) -> Iterator[TestClient]:
    with TestClient(create_app(data)) as test_client:
        yield test_client


@pytest.fixture
def admin(data: Instance, client: TestClient) -> dict[str, str]:
    token = ensure_first_admin(data)
    assert token is not None
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/data/collections", json=COLLECTION, headers=headers).status_code == 201
    return headers


def _multipart(*parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    out = b""
    for name, filename, body in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--b0undary\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += body + b"\r\n"
    return out + (b"--b0undary--\r\n" if close else b"")


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b0undary"}


@pytest.mark.parametrize(("headers", "body", "status", "says"), [
    ({"Content-Type": "application/json"}, b'{"file": "x"}', 400, "multipart/form-data"),
    ({"Content-Type": "multipart/form-data"}, b"--x--", 400, "boundary"),
    (MULTIPART, _multipart(("classification", None, b"internal")), 400, "no file"),
    (MULTIPART, _multipart(("file", "a.txt", b"one"), ("file", "b.txt", b"two")), 400,
     "exactly one file"),
    (MULTIPART, _multipart(("attachment", "a.txt", b"one")), 400, "exactly one file"),
    (MULTIPART, _multipart(("file", "a.txt", b"Some notes."), close=False), 400,
     "closing boundary"),
    (MULTIPART, _multipart(("file", "a.txt", b"Some notes."),
                           ("classification", None, b"top")), 400, "classification"),
    (MULTIPART, _multipart(("file", "a.txt", b"Some notes."),
                           ("classification", None, b"x" * 5000)), 400, "longer than"),
    (MULTIPART, b"garbage without any boundary at all", 400, ""),
])
def test_bad_upload_bodies_are_clear_4xx(client: TestClient, admin: dict[str, str],
                                         headers: dict[str, str], body: bytes, status: int,
                                         says: str) -> None:
    response = client.post(DOCUMENTS, headers={**admin, **headers}, content=body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]["message"]


def test_file_above_the_limit_is_413_while_streaming(data: Instance, client: TestClient,
                                                     admin: dict[str, str]) -> None:
    limit = data.data.core.config.limits.max_bytes

    def body() -> Iterator[bytes]:  # no Content-Length: chunked, so the stream must count
        yield b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.txt"'
        yield b"\r\n\r\n"
        sent = 0
        while sent <= limit:
            yield b"a" * (1 << 20)
            sent += 1 << 20
        yield b"\r\n--b0undary--\r\n"

    response = client.post(DOCUMENTS, headers={**admin, **MULTIPART}, content=body())
    assert response.status_code == 413, response.text
    assert "data_max_file_bytes" in response.json()["error"]["message"]
    assert list((data.settings.data_dir / "uploads").iterdir()) == []


def test_upload_arrives_whole_across_segments(client: TestClient,
                                              admin: dict[str, str]) -> None:
    """Bytes crossing many spool segments reach the parser exactly as sent: an IBAN at the
    very end (its checksum must survive) lifts the file above a public ceiling. The
    refusal comes before embedding, which keeps the test fast."""
    assert client.post("/data/collections", headers=admin, json={
        **COLLECTION, "id": "open", "ceiling": "public"}).status_code == 201
    text = "".join(f"Line {n}: the canteen opens at noon.\n" for n in range(40_000))
    text += "Refunds go to DE89 3704 0044 0532 0130 00.\n"
    response = client.post("/data/collections/open/documents", headers=admin,
                           files={"file": ("notes.txt", text.encode())})
    assert response.status_code == 400, response.text
    assert "classified confidential, above the ceiling public" in response.json()[
        "error"]["message"]


def test_openapi_still_describes_the_upload(client: TestClient) -> None:
    """The route reads its own body; the schema must still say what to send."""
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/data/collections/{collection_id}/documents"]["post"][
        "requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"]
    assert body["properties"]["file"]["format"] == "binary"
    assert "public" in body["properties"]["classification"]["enum"]
