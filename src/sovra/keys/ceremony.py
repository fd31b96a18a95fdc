"""The ceremony record: what an instance remembers about how its root was made.

It holds what is needed to *recognise* the root and its shares (ceremony id, threshold,
share fingerprints, a verifier) and, in HSM mode, where the root lives. It never holds
a share or the root.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import ConflictError, StorageError
from sovra.keys.hsm import HsmConfig
from sovra.store.tables.keys import keys_ceremony

Mode = Literal["shamir", "dev", "hsm"]
_SLOT = 1


@dataclass(frozen=True)
class Ceremony:
    ceremony_id: str
    mode: Mode
    threshold: int
    share_count: int
    fingerprints: tuple[str, ...]
    verifier: bytes
    hsm: HsmConfig | None
    created_at: float

    @property
    def dev_mode(self) -> bool:
        return self.mode == "dev"


def load_ceremony(engine: Engine) -> Ceremony | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(select(keys_ceremony).where(keys_ceremony.c.slot == _SLOT)).first()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read the key ceremony record: {exc}") from exc
    if row is None:
        return None
    hsm = HsmConfig(**json.loads(row.hsm_config)) if row.hsm_config else None
    return Ceremony(row.ceremony_id, row.mode, row.threshold, row.share_count,
                    tuple(json.loads(row.fingerprints)), bytes(row.verifier), hsm,
                    row.created_at)


def store_ceremony(engine: Engine, ceremony: Ceremony) -> None:
    hsm = None
    if ceremony.hsm is not None:
        hsm = json.dumps({"module": ceremony.hsm.module, "token_label": ceremony.hsm.token_label,
                          "pin_file": ceremony.hsm.pin_file, "pin_env": ceremony.hsm.pin_env})
    try:
        with engine.begin() as conn:
            conn.execute(insert(keys_ceremony).values(
                slot=_SLOT, ceremony_id=ceremony.ceremony_id, mode=ceremony.mode,
                threshold=ceremony.threshold, share_count=ceremony.share_count,
                fingerprints=json.dumps(list(ceremony.fingerprints)),
                verifier=ceremony.verifier, hsm_config=hsm, created_at=ceremony.created_at))
    except IntegrityError as exc:
        raise ConflictError("this instance is already initialised: a key ceremony was held "
                            "before (a new ceremony needs a fresh data directory/database)"
                            ) from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot store the key ceremony record: {exc}") from exc
