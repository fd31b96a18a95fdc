"""Where things live inside a bundle archive, and the kinds of target a bundle carries.

A bundle is one tar archive (uncompressed or gzip)::

    metadata/1.root.json ... metadata/N.root.json   every root version, oldest first
    metadata/timestamp.json
    metadata/snapshot.json
    metadata/targets.json
    targets/<kind dir>/<name>                       the target files

The metadata members come first so the importer can verify every signature before it
reads a single target byte. The layout is also what python-tuf's ``ngclient`` expects
from a repository without consistent snapshots (TUF §5.3.3 versioned root names).
"""

from __future__ import annotations

import re
from typing import Final, Literal

METADATA_DIR: Final = "metadata"
TARGETS_DIR: Final = "targets"
TOP_LEVEL_ROLES: Final = ("root", "timestamp", "snapshot", "targets")

# sigma, stix, misp and yara are threat packs (sovra.threat reads them once activated).
Kind = Literal["model", "policy", "threat-intel", "wheel", "sbom", "sigma", "stix", "misp",
               "yara"]
KIND_DIRS: Final[dict[str, str]] = {
    "model": "models",
    "policy": "policies",
    "threat-intel": "threat-intel",
    "wheel": "wheels",
    "sbom": "sboms",
    "sigma": "sigma",
    "stix": "stix",
    "misp": "misp",
    "yara": "yara",
}
# Fields every model manifest must carry (issue 6: source, licence, intended use).
MODEL_MANIFEST_FIELDS: Final = ("source", "licence", "intended_use")

_ROOT_NAME = re.compile(r"^([1-9][0-9]{0,8})\.root\.json$")
# Target names: a kind directory and one plain file name, nothing that a filesystem or
# a shell could reinterpret.
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def root_member(version: int) -> str:
    return f"{METADATA_DIR}/{version}.root.json"


def role_member(role: str) -> str:
    return f"{METADATA_DIR}/{role}.json"


def target_member(target_path: str) -> str:
    return f"{TARGETS_DIR}/{target_path}"


def root_version_of(file_name: str) -> int | None:
    """The version encoded in ``N.root.json``, or None for any other name."""
    match = _ROOT_NAME.match(file_name)
    return int(match.group(1)) if match else None


def target_path_for(kind: str, name: str) -> str:
    """The TUF target path of a file of ``kind`` called ``name``; raises ValueError."""
    if kind not in KIND_DIRS:
        raise ValueError(f"unknown target kind {kind!r}; one of {sorted(KIND_DIRS)}")
    if not _TARGET_NAME.match(name) or ".." in name:
        raise ValueError(f"target name {name!r} must be a plain file name")
    return f"{KIND_DIRS[kind]}/{name}"


def is_valid_target_path(path: str, kind: str) -> bool:
    """True when ``path`` is exactly ``<dir of kind>/<plain name>``."""
    head, sep, name = path.partition("/")
    return (bool(sep) and KIND_DIRS.get(kind) == head and bool(_TARGET_NAME.match(name))
            and ".." not in name)
