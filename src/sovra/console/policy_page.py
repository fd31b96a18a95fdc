"""The policy page's pure parts: a diff between two versions and ``policy test`` cases
run against a chosen version (``sovra.policy.testing``, as ``sovra policy test`` does).
Running cases changes nothing, so it is decided as ``policy.read`` on that version."""

from __future__ import annotations

import difflib

import yaml

from sovra.errors import InvalidInputError
from sovra.policy import CompiledPolicies, PolicyVersion, TestReport, run_cases

MAX_CASES_BYTES = 64 * 1024

EXAMPLE_CASES = """cases:
  - name: an auditor reads the ledger
    principal: {id: aude, roles: [auditor], clearance: secret}
    action: ledger.read
    resource: {type: Ledger, id: "*"}
    expected: allow
"""


def diff(old: PolicyVersion, new: PolicyVersion) -> str:
    return "".join(difflib.unified_diff(
        old.text.splitlines(keepends=True), new.text.splitlines(keepends=True),
        f"version {old.version}", f"version {new.version}"))


def run(version: PolicyVersion, cases_text: str) -> TestReport:
    """Run the YAML (or JSON) cases against ``version``; ``InvalidInputError`` names
    what is wrong with them."""
    if len(cases_text.encode()) > MAX_CASES_BYTES:
        raise InvalidInputError(f"the cases are larger than {MAX_CASES_BYTES} bytes")
    try:
        loaded = yaml.safe_load(cases_text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"the cases are not valid YAML: {exc}") from exc
    cases = loaded.get("cases") if isinstance(loaded, dict) else loaded
    if not isinstance(cases, list) or not cases:
        raise InvalidInputError("give a list of cases, or a mapping with a 'cases' list "
                                "(the format of `sovra policy test`)")
    compiled = CompiledPolicies(version.text, version=version.version,
                                source=f"policy version {version.version}")
    return run_cases(compiled, cases)


__all__ = ["EXAMPLE_CASES", "MAX_CASES_BYTES", "diff", "run"]
