"""A governed result as an Arrow IPC stream (``application/vnd.apache.arrow.stream``).

Columnar tools (pandas, Polars, DuckDB on the analyst's own side) read it without a
parse step. The stream carries what governed the result as schema metadata, so a copy
of it says what it is: ``sovra.classification``, ``sovra.result_sha256`` (the same hash
as in the ledger entry, over the JSON form), ``sovra.query_sha256``, ``sovra.ledger_seq``,
``sovra.masked`` and ``sovra.truncated``. Pure: a result in, bytes out.

Types come from the values: a column whose values Arrow cannot put in one type (a
column mixing numbers and text after a ``UNION``) is sent as text rather than refused.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sovra.analytics.service import QueryResult

if TYPE_CHECKING:
    import pyarrow as pa

MEDIA_TYPE = "application/vnd.apache.arrow.stream"


def _column(values: list[Any]) -> pa.Array:
    import pyarrow as pa  # here, not at import: the server starts without loading Arrow

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def result_arrow(result: QueryResult) -> bytes:
    """The result's rows as one Arrow record batch in an IPC stream."""
    import pyarrow as pa
    columns = [_column([row[i] for row in result.rows]) for i in range(len(result.columns))]
    names = _unique(result.columns)
    metadata = {
        "sovra.classification": result.classification.label,
        "sovra.result_sha256": result.result_sha256,
        "sovra.query_sha256": result.query_sha256,
        "sovra.ledger_seq": str(result.ledger_seq),
        "sovra.masked": json.dumps(list(result.masked)),
        "sovra.truncated": "true" if result.truncated else "false",
    }
    table = pa.Table.from_arrays(columns, names=names).replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _unique(names: tuple[str, ...]) -> list[str]:
    # SQL allows two result columns of one name (``SELECT a, a``); Arrow readers that
    # turn a batch into a frame do not, so the second becomes ``a_2``.
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate in out:
            candidate, n = f"{name}_{n}", n + 1
        out.append(candidate)
    return out


__all__ = ["MEDIA_TYPE", "result_arrow"]
