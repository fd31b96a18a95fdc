"""Check Cedar policy text against the schema and report problems with their position.

cedarpy reports parse errors without a position ("unexpected token `}`") and schema
errors by positional policy id ("policy3"). Operators need ``file:line:column``, so
this module splits the text into statements itself (Cedar statements end with ``;``
outside strings and comments), finds the failing statement and, for parse errors, the
offending token by parsing growing prefixes of that statement. Pure: text in, values
or ``PolicyValidationError`` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cedarpy

from sovra.errors import PolicyValidationError

_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"?|//[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\d+|::|==|!=|<=|>=|&&|\|\||\S')
_EOF = "unexpected end of input"
_NAMED_TOKEN = re.compile(r"unexpected token `([^`]*)`")
_ID_ANNOTATION = re.compile(r'@id\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\)')


@dataclass(frozen=True)
class Position:
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


@dataclass(frozen=True)
class Statement:
    """One policy statement: its text (through the ``;``) and where it starts."""

    start: int
    text: str

    @property
    def annotation_id(self) -> str | None:
        found = _ID_ANNOTATION.search(self.text)
        return found.group(1) if found else None


def position_of(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def split_statements(text: str) -> list[Statement]:
    """Split policy text at ``;`` outside strings and comments; keep trailing junk."""
    statements: list[Statement] = []
    start: int | None = None
    for match in _TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme.startswith("//"):
            continue
        if start is None:
            start = match.start()
        if lexeme == ";":
            statements.append(Statement(start, text[start:match.end()]))
            start = None
    if start is not None:
        statements.append(Statement(start, text[start:]))
    return statements


def _tokens(statement: str) -> list[re.Match[str]]:
    return [m for m in _TOKEN.finditer(statement) if not m.group().startswith("//")]


def _parse_error(text: str) -> str | None:
    try:
        cedarpy.PolicySet.from_str(text)
    except ValueError as exc:
        return str(exc)
    return None


def _mentioned(statement: str, message: str) -> int | None:
    """Offset of the snippet an error message quotes (`x.y`, or a trailing word)."""
    quoted = re.search(r"`([^`]+)`|: (\S+)$", message)
    if quoted:
        found = statement.find(quoted.group(1) or quoted.group(2))
        if found >= 0:
            return found
    return None


def _offending_offset(statement: str, message: str) -> int:
    """Offset (in the statement) of the token where parsing fails."""
    if message == _EOF:
        return len(statement.rstrip())
    tokens = _tokens(statement)
    for index, token in enumerate(tokens):
        error = _parse_error(statement[:token.end()])
        if error is None or error == _EOF:
            continue
        named = _NAMED_TOKEN.search(error)
        if named:
            for earlier in reversed(tokens[:index + 1]):
                if earlier.group() == named.group(1):
                    return earlier.start()
        mentioned = _mentioned(statement[:token.end()], error)
        return token.start() if mentioned is None else mentioned
    mentioned = _mentioned(statement, message)
    return 0 if mentioned is None else mentioned


def _snippet_offset(statement: str, message: str) -> int:
    """Where the first snippet a schema error quotes (other than the policy id) is."""
    for snippet in re.findall(r"`([^`]+)`", message):
        if re.fullmatch(r"policy\d+", snippet):
            continue
        found = statement.find(snippet)
        if found >= 0:
            return found
    return 0


def _problem(source: str, text: str, offset: int, message: str) -> str:
    return f"{source}:{position_of(text, offset)}: {message}"


def check_syntax(text: str, source: str = "<policy>") -> list[Statement]:
    """Parse every statement; raise with ``source:line:column`` on the first error."""
    statements = split_statements(text)
    seen: dict[str, Statement] = {}
    for statement in statements:
        error = _parse_error(statement.text)
        if error is not None:
            offset = statement.start + _offending_offset(statement.text, error)
            raise PolicyValidationError(_problem(source, text, offset, error))
        annotation = statement.annotation_id
        if annotation is not None:
            if annotation in seen:
                raise PolicyValidationError(_problem(
                    source, text, statement.start,
                    f'duplicate @id("{annotation}") (first at '
                    f"{position_of(text, seen[annotation].start)}); policy ids must be unique"))
            seen[annotation] = statement
    return statements


def validate(text: str, schema: cedarpy.Schema, source: str = "<policy>") -> None:
    """Raise ``PolicyValidationError`` unless ``text`` parses and type-checks."""
    statements = check_syntax(text, source)
    result = cedarpy.validate_policies(text, schema)
    if result.validation_passed:
        return
    problems: list[str] = []
    for error in result.errors:
        offset = 0
        index = re.fullmatch(r"policy(\d+)", error.policy_id)
        if index and int(index.group(1)) < len(statements):
            statement = statements[int(index.group(1))]
            offset = statement.start + _snippet_offset(statement.text, error.error)
        problems.append(_problem(source, text, offset, error.error))
    raise PolicyValidationError("; ".join(problems))


__all__ = ["Position", "Statement", "check_syntax", "position_of", "split_statements",
           "validate"]
