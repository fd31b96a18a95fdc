"""Read YAML and CSV records together with the line each starts on.

Errors in an inventory or a rules file must name the line to fix, so records are
read with their position: YAML through PyYAML's composed node tree (the node of each
sequence item carries its start mark), CSV through the reader's line counter.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from sovra.errors import InvalidInputError


@dataclass(frozen=True)
class Record:
    """One mapping from a file, and where it starts (``name:line``)."""

    where: str
    fields: dict[str, Any]


def yaml_document(text: str, name: str, *, fix: str = "") -> tuple[Any, yaml.Node | None]:
    """The document's value and its node tree (to find lines), or a clear error naming
    the line; ``fix`` is appended to say what to start from (shared by every YAML file
    of the assessment room: inventories, rules, questionnaires)."""
    try:
        # The loader reads the stream as soon as it is built: a character YAML does not
        # allow (C1 controls, say) fails there, and must be the caller's error too.
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{name}:1: not valid YAML ({exc}){fix}") from exc
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInputError(f"{name}{line}: not valid YAML ({exc}){fix}") from exc
    except RecursionError as exc:  # nesting deeper than any of these files needs
        raise InvalidInputError(f"{name}: nested too deeply{fix}") from exc
    finally:
        loader.dispose()
    return value, node


def yaml_records(values: Any, node: yaml.Node | None, name: str, key: str) -> Iterator[Record]:
    """The mappings of the sequence ``values`` (found under ``key``), each with its line."""
    if not isinstance(values, list) or not isinstance(node, yaml.SequenceNode):
        raise InvalidInputError(f"{name}: '{key}' must be a list of mappings")
    for item, item_node in zip(values, node.value, strict=True):
        where = f"{name}:{item_node.start_mark.line + 1}"
        if not isinstance(item, dict):
            raise InvalidInputError(f"{where}: each entry of '{key}' must be a mapping")
        yield Record(where, {str(k): v for k, v in item.items()})


def mapping_child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node stored under ``key`` in a mapping node (None if absent)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.Node):
            return value_node
    return None


def csv_records(text: str, name: str) -> Iterator[Record]:
    """CSV rows with a header line; empty cells are left out (the field is absent)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InvalidInputError(f"{name}: the CSV file has no header line")
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if None in row:
            raise InvalidInputError(f"{where}: more cells than the header has columns")
        yield Record(where, {k.strip(): v.strip() for k, v in row.items()
                             if v is not None and v.strip() != ""})


__all__ = ["Record", "csv_records", "mapping_child", "yaml_document", "yaml_records"]
