"""Instances to assess: a fresh development-mode one and one configured for production
(M-of-N custody, lockbox notifications, a witness, a passed restore drill)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sovra.config import load_settings
from sovra.identity import Caller
from sovra.instance import Instance, open_instance
from sovra.keys import Share, start_for_up
from sovra.ledger import note as notes
from sovra.ledger import witness

ASSESSOR = Caller("auditor-ann", "user", frozenset({"auditor"}), "secret")
# What configuring custody, the lockbox, a witness and a drill makes true.
CONFIGURED = {"data.custody", "operation.lockbox", "infrastructure.witness",
              "continuity.backup", "continuity.drill"}

FILLED = """\
physical_access:
  answer: yes
  evidence: badge logs of room B2
staff_vetting:
  answer: partial
operator_location:
  answer: yes
supplier_contracts:
  answer: no
extraterritorial_exposure:
  answer: yes
hardware_supply:
  answer: yes
exit_plan:
  answer: no
energy_reporting:
  answer: no
"""


@dataclass
class Made:
    instance: Instance
    shares: list[Share]


def dev_instance(data_dir: Path) -> Instance:
    inst = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
    start_for_up(inst.keys)  # what `sovra up` does to a fresh data directory
    return inst


def configured_instance(data_dir: Path) -> Made:
    settings = load_settings(data_dir=data_dir, checkpoint_interval_s=0.0,
                             lockbox_webhook_url="http://127.0.0.1:9/lockbox")
    inst = open_instance(settings)
    dealt: list[Share] = []
    inst.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="ceremony-officer")
    signer = notes.Signer.generate("witness.example.eu/w1", notes.COSIGNATURE_V1)
    signed = inst.ledger.sign_checkpoint()
    cosigned = witness.cosign(signer, inst.ledger.checkpoints.verifier, None, signed, [],
                              now=1_700_000_000).note
    inst.ledger.add_cosignature(cosigned, signer.verifier.vkey)
    return Made(inst, dealt)
