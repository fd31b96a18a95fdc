"""Principals made with the CLI on a running server's machine, and their API keys."""

from __future__ import annotations

import os
import subprocess

from tests.e2e.server import Server, sovra_command


def cli_principal(server: Server, principal_id: str, role: str,
                  clearance: str = "secret") -> dict[str, str]:
    """A principal in the EU made with the CLI on the instance's machine, and its key as
    request headers.

    The CLI, not the API: granting the approver role over the API needs a second
    approver (segregation of duties), which a fresh instance does not have yet."""
    env = {**os.environ, "SOVRA_API_KEY": server.admin_key, "COLUMNS": "200"}
    base = [*sovra_command(), "--data-dir", str(server.data_dir)]
    subprocess.run([*base, "principal", "create", principal_id, "--role", role,
                    "--clearance", clearance, "--jurisdiction", "EU"],
                   env=env, check=True, capture_output=True)
    made = subprocess.run([*base, "apikey", "create", principal_id], env=env, check=True,
                          capture_output=True, text=True)
    key = next(line.strip() for line in made.stdout.splitlines()
               if line.strip().startswith("sk-sovra-") and "_" in line)
    return server.headers(key)
