"""Threshold signing with a key on a real PKCS#11 token (SoftHSM2).

SoftHSM reads SOFTHSM2_CONF once per process and other rooms' tests load it with their
own token store, so the token work (create the token and an EC P-256 key, describe it
with ``hsm_import``, rotate the root to include it, build a bundle it signs) runs in a
child process; the site imports the bundle here.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sovra.transfer import BundleSpec
from tests.transfer.conftest import NOW, Site, Workshop
from tests.transfer.tartools import data_of

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
LABEL = "sovra-release"
PIN = "1234-release"


def _on_token(folder: Path, repo: Path, key_dir: Path, spec: BundleSpec, out: Path) -> None:
    import pkcs11
    from pkcs11.util.ec import encode_named_curve_parameters

    from sovra.transfer import build_bundle, hsm_import, load_public_key, load_signer
    from sovra.transfer import rotate_root as rotate

    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    os.environ.update(SOFTHSM2_CONF=str(conf), PYKCS11LIB=SOFTHSM_MODULE, SOVRA_HSM_PIN=PIN)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                    "--so-pin", "so-" + PIN], check=True, capture_output=True)
    token = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label=LABEL)
    with token.open(rw=True, user_pin=PIN) as session:
        params = session.create_domain_parameters(pkcs11.KeyType.EC, {
            pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True)
        params.generate_keypair(store=True, label="release", id=b"\x02")
    described = hsm_import("hsm", key_dir, hsm_keyid=2, token_label=LABEL)
    hsm_key = load_public_key(described.public_path)
    hsm_signer = load_signer(described.public_path)
    file_signer = load_signer(key_dir / "a.key")
    # Root v2: a, b and the token key, 2 of 3; signed by a+b (old) and a+token (new).
    rotate(repo, [load_public_key(key_dir / "a.pub.json"),
                  load_public_key(key_dir / "b.pub.json"), hsm_key], 2,
           [file_signer, load_signer(key_dir / "b.key"), hsm_signer], NOW)
    build_bundle(spec, repo, [file_signer, hsm_signer], out, NOW)


def test_bundle_signed_on_a_pkcs11_token(site: Site, workshop: Workshop,
                                         tmp_path: Path) -> None:
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).exists():
        message = "SoftHSM2 is not installed (scripts/install-system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    key_dir = tmp_path / "keys"
    shutil.copytree(workshop.key_dir, key_dir)
    out = tmp_path / "hsm-bundle.tar"
    child = multiprocessing.get_context("spawn").Process(
        target=_on_token, args=(tmp_path / "hsm", workshop.repo, key_dir, workshop.spec(), out))
    (tmp_path / "hsm").mkdir()
    child.start()
    child.join(120)
    assert child.exitcode == 0
    result = site.service.import_bundle(out, site.admin)
    assert result.state == "activated"
    assert result.versions["root"] == 2
    root = (workshop.repo / "roots" / "2.root.json").read_text()
    assert '"ecdsa-sha2-nistp256"' in root  # the token's key is a root and signing key
    hsm_keyid = json.loads((key_dir / "hsm.pub.json").read_text())["keyid"]
    timestamp = json.loads(data_of(out, "metadata/timestamp.json"))
    assert hsm_keyid in {sig["keyid"] for sig in timestamp["signatures"]}
