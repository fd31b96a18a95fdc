"""Key custody fixtures: a dealt ceremony, and a real SoftHSM2 token in a private dir."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sovra.config import Settings
from sovra.instance import Instance
from sovra.keys import Share
from tests.support.lockbox import lockbox_off

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "sovra-test"
USER_PIN = "4711-test-pin"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The lockbox off, as in development mode: these tests are about key custody, not
    who may rotate or destroy keys (tests/support/lockbox.py says why)."""
    return lockbox_off(settings)


def deal(instance: Instance, threshold: int = 3, shares: int = 5) -> list[Share]:
    """Hold a ceremony on ``instance`` and return the dealt shares (the custodians')."""
    dealt: list[Share] = []
    instance.keys.init(threshold=threshold, shares=shares, deliver=dealt.extend,
                       actor="test-operator")
    return dealt


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token_label: str
    pin: str
    conf: Path


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A fresh SoftHSM2 token store; the library reads SOFTHSM2_CONF once per process,
    so one store serves the session and tokens are made before the module is loaded."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        message = ("SoftHSM2 is not installed (scripts/install-system-deps.sh installs it: "
                   f"{SOFTHSM_MODULE} and softhsm2-util)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run([util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", USER_PIN,
                    "--so-pin", "so-" + USER_PIN], check=True, capture_output=True)
    yield SoftHsm(SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, conf)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
