"""The export key made and used on a real PKCS#11 token (SoftHSM2): no private key on
disk, bundles signed on the token, verified by the receiver as any other.

SoftHSM reads SOFTHSM2_CONF once per process and other rooms' tests load it with their
own token store, so the token work runs in a child process (as tests/transfer does).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sovra.analytics.export import verify_export
from sovra.errors import HsmError

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
LABEL = "sovra-site"
PIN = "1234-export"
NOW = datetime.now(UTC)


def _on_token(folder: Path, site: Path, out: Path) -> None:
    from sovra.analytics.export.bundle import ExportSigner
    from sovra.keys.hsm import HsmConfig

    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    os.environ.update(SOFTHSM2_CONF=str(conf), SOVRA_EXPORT_TEST_PIN=PIN)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                    "--so-pin", "so-" + PIN], check=True, capture_output=True)
    config = HsmConfig(SOFTHSM_MODULE, LABEL, pin_env="SOVRA_EXPORT_TEST_PIN")
    signer = ExportSigner(site, token=lambda: config)
    signer.pack(out, {"manifest.json": b'{"kind": "test"}', "report.json": b'{"ok": true}\n'},
                NOW)
    (folder / "root.json").write_bytes(signer.root(NOW))
    # A second bundle reuses the key on the token (found, not made again).
    signer.pack(out.with_name("second.tar"), {"manifest.json": b"{}", "b.txt": b"b\n"}, NOW)
    # Without the token named by the keys room, nothing is signed (fail closed).
    try:
        ExportSigner(site).pack(out.with_name("never.tar"), {"c.txt": b"c\n"}, NOW)
    except HsmError as exc:
        (folder / "refused.txt").write_text(str(exc))


def test_the_export_key_lives_and_signs_on_the_token(tmp_path: Path) -> None:
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).exists():
        message = "SoftHSM2 is not installed (scripts/install-system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    hsm, site, out = tmp_path / "hsm", tmp_path / "site-export", tmp_path / "bundle.tar"
    hsm.mkdir()
    child = multiprocessing.get_context("spawn").Process(target=_on_token,
                                                        args=(hsm, site, out))
    child.start()
    child.join(120)
    assert child.exitcode == 0
    root = (hsm / "root.json").read_bytes()
    assert b'"ecdsa-sha2-nistp256"' in root  # the pinned key is the token's
    verified = verify_export(out, root, NOW)
    assert verified.files["report.json"] == b'{"ok": true}\n'
    assert verify_export(tmp_path / "second.tar", root, NOW).files["b.txt"] == b"b\n"
    described = json.loads((site / "keys" / "export.token.json").read_text())
    assert described["token_label"] == LABEL and "private" not in json.dumps(described)
    assert not (site / "keys" / "export.key").exists()  # no private key on disk
    assert "keys room names no such token" in (hsm / "refused.txt").read_text()
    assert not (tmp_path / "never.tar").exists()
