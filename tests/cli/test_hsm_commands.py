"""``sovra init --hsm`` and ``sovra bundle hsm-import`` against a real SoftHSM2 token.

SoftHSM reads SOFTHSM2_CONF once per process and other tests load it with their own token
store, so everything that touches the token runs in child processes (the real ``sovra``
console script, and a short python-pkcs11 script that makes the release signing key)
with a token store of this test's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import sovra_command

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
LABEL = "sovra-cli"
PIN = "1234-cli"

_MAKE_EC_KEY = """
import sys, pkcs11
from pkcs11.util.ec import encode_named_curve_parameters
token = pkcs11.lib(sys.argv[1]).get_token(token_label=sys.argv[2])
with token.open(rw=True, user_pin=sys.argv[3]) as session:
    params = session.create_domain_parameters(pkcs11.KeyType.EC, {
        pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    params.generate_keypair(store=True, label="release", id=b"\\x02")
"""

_SEAL_STATUS = """
from sovra.config import load_settings
from sovra.instance import open_instance
inst = open_instance(load_settings())
try:
    s = inst.keys.seal_status()
    print(s.mode, s.sealed, s.hsm_token)
finally:
    inst.close()
"""


@pytest.fixture
def token_env(tmp_path: Path) -> dict[str, str]:
    util = shutil.which("softhsm2-util")
    if util is None or not Path(MODULE).exists():
        message = "SoftHSM2 is not installed (scripts/install-system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf), "SOVRA_HSM_PIN": PIN,
           "PYKCS11LIB": MODULE, "SOVRA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "SOVRA_CHECKPOINT_INTERVAL_S": "0"}
    subprocess.run([util, "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                    "--so-pin", "so-" + PIN], env=env, check=True, capture_output=True)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_init_hsm_keeps_the_root_in_the_token_and_unseals_with_the_pin(
        token_env: dict[str, str]) -> None:
    done = _run(token_env, *sovra_command(), "init", "--hsm", "--token-label", LABEL,
                "--hsm-module", MODULE)
    assert done.returncode == 0, done.stderr
    assert f"root key created in token '{LABEL}'" in done.stdout
    assert "sk-sovra-" in done.stdout  # the first admin key, shown once
    # A new process finds the root in the token and unseals itself with the PIN.
    status = _run(token_env, sys.executable, "-c", _SEAL_STATUS)
    assert status.stdout.split() == ["hsm", "False", LABEL], status.stderr
    again = _run(token_env, *sovra_command(), "init", "--hsm", "--token-label", LABEL)
    assert again.returncode != 0 and "already initialised" in again.stderr
    wrong_pin = {**token_env, "SOVRA_HSM_PIN": "0000"}
    refused = _run(wrong_pin, sys.executable, "-c", _SEAL_STATUS)
    assert refused.stdout.split()[:2] == ["hsm", "True"], refused.stderr  # stays sealed


def test_bundle_hsm_import_describes_the_token_key(token_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    made = _run(token_env, sys.executable, "-c", _MAKE_EC_KEY, MODULE, LABEL, PIN)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "keys"
    done = _run(token_env, *sovra_command(), "bundle", "hsm-import", "release", "--key-id",
                "2", "--token", LABEL, "--out", str(out))
    assert done.returncode == 0, done.stderr
    described = json.loads((out / "release.pub.json").read_text())
    assert f"key id {described['keyid']}" in done.stdout
    assert described["key"]["scheme"] == "ecdsa-sha2-nistp256"
    assert "BEGIN PUBLIC KEY" in described["key"]["keyval"]["public"]
    assert "hsm:2" in described["uri"]  # the signer finds the key on the token by its id
    missing = _run(token_env, *sovra_command(), "bundle", "hsm-import", "absent", "--key-id",
                   "9", "--token", LABEL, "--out", str(out))
    assert missing.returncode == 2 and "cannot read key 9" in missing.stderr, missing.stderr
