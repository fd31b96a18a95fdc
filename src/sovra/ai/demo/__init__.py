"""``sovra demo``: a small sample collection so a new user can ask a question at once.

The documents ship inside the package (an internal staff handbook, an incident report and
a retention schedule of a fictitious logistics company); nothing is fetched.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sovra.data import CollectionSpec, DataService, IngestSummary
from sovra.errors import ConflictError
from sovra.identity import Caller, ensure_first_admin
from sovra.policy import Classification

if TYPE_CHECKING:
    from sovra.instance import Instance

DEMO_COLLECTION = "demo"
DEMO_SPEC = CollectionSpec(
    id=DEMO_COLLECTION, owner="Sovra demo", purpose="show governed answers over documents",
    subject_categories=("employees",), data_categories=("internal policies",
                                                        "incident records"),
    retention_days=365, jurisdiction="EU", ceiling=Classification.CONFIDENTIAL)


def demo_documents() -> list[Path]:
    folder = resources.files("sovra.ai.demo") / "documents"
    return sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith(".md"))


def load_demo(data: DataService, caller: Caller) -> IngestSummary:
    """Create the demo collection (once) and ingest the sample documents as internal."""
    with contextlib.suppress(ConflictError):  # loaded before: unchanged files are skipped
        data.create_collection(caller, DEMO_SPEC)
    return data.ingest_paths(caller, DEMO_COLLECTION, demo_documents(),
                             declared=Classification.INTERNAL)


def demo_caller(instance: Instance) -> Caller:
    """The first administrator, who loads the demo (created now on a fresh instance)."""
    admins = [p.principal_id for p in instance.identity.list_principals()
              if "admin" in p.roles and not p.disabled]
    if not admins:
        ensure_first_admin(instance)
        return demo_caller(instance)
    return instance.identity.caller_for(sorted(admins)[0], via="sovra demo")


EXAMPLE = """from openai import OpenAI
client = OpenAI(base_url="{url}/v1", api_key="<your sk-sovra-... key>")
answer = client.chat.completions.create(
    model="SmolLM2-135M-Instruct",
    messages=[{{"role": "user", "content": "How many days of annual leave do staff get?"}}],
    extra_body={{"sovra": {{"collections": ["demo"], "citations": True}}}},
)
print(answer.choices[0].message.content)
print(answer.model_extra["sovra"]["citations"])"""
