"""The in-process llama.cpp backend (llama-cpp-python).

One model instance per backend. llama.cpp contexts are not thread-safe, so every
generation runs on one dedicated worker thread (a single-thread executor is the queue
that serialises access); tokens cross to the event loop through an ``asyncio.Queue`` so
the loop never blocks while the model thinks. A stop flag checked between tokens ends
generation promptly when the client disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sovra.ai.backends.base import Completion, estimate_tokens
from sovra.ai.models import ChatMessage, Delta, GenerationParams, Usage
from sovra.errors import AIError, ModelIntegrityError

_END = object()

# llama.cpp's CPU threads meet at an OpenMP barrier after every operation. By default
# GNU OpenMP spins there, so on a busy machine (the event loop, other processes) a
# thread burns its time slice waiting for one that is not running: an 850-token prompt
# took 18 s of CPU instead of 5.5 and 198 s instead of 47 on this 2-core machine under
# load (ADR 0610, benchmarks/prompt_processing.py). Passive waiting sleeps instead. Set
# before llama_cpp (and with it libgomp, which reads it once) is loaded: the backend
# imports llama_cpp lazily, after this module. An operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# llama.cpp context settings beyond threads and context size (ADR 0610): flash
# attention does the prompt's attention in tiles, without the n x n score matrix.
LLAMA_SETTINGS: dict[str, Any] = {"flash_attn": True}


def thread_counts(n_threads: int | None = None) -> tuple[int, int]:
    """(threads generating, threads processing the prompt).

    Generating a token runs hundreds of small operations, each ending at a barrier of
    all threads: one thread fewer than the cores leaves one to the event loop (and on 2
    cores needs no barrier at all). Processing the prompt is a few large matrix
    products: every core, up to 4 (ADR 0610). ``SOVRA_AI_LLAMA_THREADS`` sets both."""
    if n_threads:
        return n_threads, n_threads
    cpus = os.cpu_count() or 1
    return max(1, min(4, cpus - 1)), max(1, min(4, cpus))


class LlamaCppBackend:
    """Serve one GGUF file. The caller has verified the file's SHA-256 before this."""

    def __init__(self, weights_path: str, *, n_ctx: int = 2048, n_threads: int | None = None,
                 seed: int = 0) -> None:
        self.weights_path = weights_path
        self._n_ctx = n_ctx
        self._n_threads, self._n_threads_batch = thread_counts(n_threads)
        self._seed = seed
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._llm: Any = None

    def _model(self) -> Any:
        # Runs on the worker thread only, so loading is serialised with generation.
        if self._llm is None:
            try:
                from llama_cpp import Llama

                self._llm = Llama(model_path=self.weights_path, n_ctx=self._n_ctx,
                                  n_threads=self._n_threads,
                                  n_threads_batch=self._n_threads_batch, seed=self._seed,
                                  verbose=False, **LLAMA_SETTINGS)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelIntegrityError(
                    f"llama.cpp cannot load {self.weights_path}: {exc}") from exc
        return self._llm

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._model)

    @staticmethod
    def _kwargs(messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": params.max_tokens, "temperature": params.temperature,
            "top_p": params.top_p, "stop": list(params.stop) or None,
        }
        if params.seed is not None:
            kwargs["seed"] = params.seed
        return kwargs

    def _complete_sync(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        try:
            out = self._model().create_chat_completion(**self._kwargs(messages, params))
        except (ValueError, RuntimeError) as exc:
            raise AIError(f"llama.cpp generation failed: {exc}") from exc
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        text = choice["message"].get("content") or ""
        return Completion(text, choice.get("finish_reason") or "stop", Usage(
            int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))))

    async def complete(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._complete_sync, messages, params)

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        text = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
        try:
            return len(self._model().tokenize(text.encode(), add_bos=False, special=True))
        except (ValueError, RuntimeError, TypeError):
            return estimate_tokens(text)

    def _generate(self, messages: Sequence[ChatMessage], params: GenerationParams,
                  emit: Any, stop: threading.Event) -> None:
        """Worker-thread body: push deltas through ``emit`` until done or stopped."""
        try:
            chunks: Iterator[dict[str, Any]] = self._model().create_chat_completion(
                stream=True, **self._kwargs(messages, params))
            produced = 0
            finish = "stop"
            for chunk in chunks:
                if stop.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                content = choice.get("delta", {}).get("content")
                if content:
                    produced += 1
                    emit(Delta(text=content))
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            emit(Delta(finish_reason=finish, prompt_tokens=self._prompt_tokens(messages),
                       completion_tokens=produced))
        except Exception as exc:  # noqa: BLE001 - crosses the thread; re-raised in the loop
            emit(exc)
        finally:
            emit(_END)

    async def stream(self, messages: Sequence[ChatMessage],
                     params: GenerationParams) -> AsyncGenerator[Delta, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        future = loop.run_in_executor(self._executor, self._generate, messages, params,
                                      emit, stop)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, ModelIntegrityError | AIError):
                    raise item
                if isinstance(item, BaseException):
                    raise AIError(f"llama.cpp generation failed: {item}") from item
                if isinstance(item, Delta):
                    yield item
        finally:
            # The client went away or we are done: stop the worker between tokens. The
            # future finishes on its own; nothing waits for it here (no leaked waits).
            stop.set()
            future.add_done_callback(_consume)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _consume(future: asyncio.Future[None]) -> None:
    with contextlib.suppress(BaseException):
        future.result()
