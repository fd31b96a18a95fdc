"""llama.cpp's OpenMP threads sleep at barriers instead of spinning (ADR 0610): set by
the backend module before llama.cpp loads, an operator's own setting kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("import os\n"
         "def gomp(): return any('libgomp' in line for line in open('/proc/self/maps'))\n"
         "import sovra.ai.backends.llama\n"
         "print(os.environ['OMP_WAIT_POLICY'], gomp())\n"
         "import llama_cpp\n"
         "print(gomp())\n")


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_waits_passively_unless_the_operator_says_otherwise(
        given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    policy, before, after = done.stdout.split()
    assert policy == expected
    # libgomp is loaded by llama.cpp, after the policy was set: it reads it at load.
    assert (before, after) == ("False", "True")


def test_generation_leaves_a_core_to_the_event_loop_and_the_prompt_uses_all() -> None:
    from sovra.ai.backends.llama import thread_counts

    generating, prompt = thread_counts()
    cpus = os.cpu_count() or 1
    assert prompt == max(1, min(4, cpus))
    assert generating == max(1, prompt - 1) if cpus <= 4 else generating == 4
    assert thread_counts(3) == (3, 3)  # SOVRA_AI_LLAMA_THREADS sets both
