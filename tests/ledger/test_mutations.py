"""Randomized tampering of an export archive: every mutation must be detected.

The attacker here is strong: after each mutation the manifest's SHA-256 digests are
recomputed, and in half the cases the recorded leaf hashes too, so only the Merkle tree,
the sequence numbers and the signed checkpoints stand in the way. Dropping a checkpoint
from the middle is not in the set: it removes evidence but leaves the history provable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pytest

from sovra.ledger import entry as entries
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchiveContents, ArchivedCheckpoint
from sovra.ledger.parallel import _part_bounds, can_fork
from sovra.ledger.tree import HashTree
from sovra.ledger.verify import VerificationResult, verify_contents

N, CHECKPOINT_SIZES = 80, (16, 33, 50, 80)
MUTATIONS = 400


def build_contents(n: int = N, sizes: tuple[int, ...] = CHECKPOINT_SIZES,
                   signer: notes.Signer | None = None) -> tuple[ArchiveContents, notes.Signer]:
    """A valid archive built from the pure parts (no database needed)."""
    signer = signer or notes.Signer.generate("sovra.local/ledger/test")
    bodies = [entries.seal(entries.prepare(f"user:u{i % 5}", "policy.decision", f"doc:{i}",
                                           "allowed", {"i": i, "why": ["r1", "r2"][: i % 3]}),
                           i, entries.format_time(1_700_000_000 + i)) for i in range(n)]
    tree = HashTree()
    tree.extend_joined(merkle.leaf_hashes(bodies))
    checkpoints = tuple(ArchivedCheckpoint(size, notes.sign_checkpoint(
        notes.Checkpoint(signer.name, size, tree.root(size)), signer)) for size in sizes)
    return _reseal(ArchiveContents(
        log_vkey=signer.verifier.vkey, origin=signer.name, entries=b"".join(
            b + b"\n" for b in bodies), leaf_hashes=merkle.leaf_hashes(bodies),
        checkpoints=checkpoints, cosignatures=(), member_digests={}, declared_digests={},
        declared_entries=n), rehash_leaves=False), signer


def _reseal(c: ArchiveContents, *, rehash_leaves: bool) -> ArchiveContents:
    """What a careful attacker does after editing: make the manifest agree again."""
    lines = c.entries.split(b"\n")[:-1]
    leaves = merkle.leaf_hashes(lines) if rehash_leaves else c.leaf_hashes
    digests = {"entries.jsonl": hashlib.sha256(c.entries).hexdigest(),
               "leaf_hashes.bin": hashlib.sha256(leaves).hexdigest()}
    return dataclasses.replace(c, leaf_hashes=leaves, member_digests=digests,
                               declared_digests=dict(digests), declared_entries=len(lines))


Mutation = Callable[[ArchiveContents, random.Random], ArchiveContents]


def _with_lines(c: ArchiveContents, lines: list[bytes]) -> ArchiveContents:
    return dataclasses.replace(c, entries=b"".join(x + b"\n" for x in lines))


def flip_byte(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    data = bytearray(c.entries)
    at = rng.randrange(len(data))
    data[at] ^= rng.randrange(1, 256)
    return dataclasses.replace(c, entries=bytes(data))


def delete_entry(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    lines = c.entries.split(b"\n")[:-1]
    del lines[rng.randrange(len(lines))]
    return _with_lines(c, lines)


def swap_entries(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    lines = c.entries.split(b"\n")[:-1]
    i, j = rng.sample(range(len(lines)), 2)
    lines[i], lines[j] = lines[j], lines[i]
    return _with_lines(c, lines)


def truncate_tail(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    lines = c.entries.split(b"\n")[:-1]
    return _with_lines(c, lines[:len(lines) - rng.randrange(1, 10)])


def insert_copy(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    lines = c.entries.split(b"\n")[:-1]
    lines.insert(rng.randrange(len(lines)), lines[rng.randrange(len(lines))])
    return _with_lines(c, lines)


def insert_forged(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    lines = c.entries.split(b"\n")[:-1]
    at = rng.randrange(len(lines) + 1)
    forged = entries.seal(entries.prepare("user:mallory", "keys.unseal", "keyring:k",
                                          "success", None), at, entries.format_time(0))
    lines.insert(at, forged)
    return _with_lines(c, lines)


def renumber_after_insert(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    """Insert, then rewrite every later seq so the numbering looks right again."""
    lines = c.entries.split(b"\n")[:-1]
    at = rng.randrange(len(lines))
    lines.insert(at, lines[at])
    fixed = [entries.TAIL.sub(b',"seq":%d,"time":"\\2"}' % i, line) for i, line in
             enumerate(lines)]
    return _with_lines(c, fixed)


def edit_field(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    lines = c.entries.split(b"\n")[:-1]
    i = rng.randrange(len(lines))
    lines[i] = lines[i].replace(b'"outcome":"allowed"', b'"outcome":"denied"')
    return _with_lines(c, lines)


def flip_checkpoint_byte(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    k = rng.randrange(len(c.checkpoints))
    note = bytearray(c.checkpoints[k].note.encode())
    while True:
        at, mask = rng.randrange(len(note)), rng.randrange(1, 256)
        changed = bytearray(note)
        changed[at] ^= mask
        if changed != note:
            break
    text = changed.decode("utf-8", errors="replace")
    cps = list(c.checkpoints)
    cps[k] = ArchivedCheckpoint(cps[k].tree_size, text)
    return dataclasses.replace(c, checkpoints=tuple(cps))


def drop_last_checkpoint(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    return dataclasses.replace(c, checkpoints=c.checkpoints[:-1])


def refile_checkpoint(c: ArchiveContents, rng: random.Random) -> ArchiveContents:
    cps = list(c.checkpoints)
    k = rng.randrange(len(cps))
    cps[k] = ArchivedCheckpoint(cps[k].tree_size + rng.choice((-1, 1)), cps[k].note)
    return dataclasses.replace(c, checkpoints=tuple(cps))


MUTATORS: list[Mutation] = [flip_byte, delete_entry, swap_entries, truncate_tail, insert_copy,
                            insert_forged, renumber_after_insert, edit_field,
                            flip_checkpoint_byte, drop_last_checkpoint, refile_checkpoint]


def test_unmutated_archive_verifies() -> None:
    contents, signer = build_contents()
    result = verify_contents(contents, log_key=signer.verifier.vkey)
    assert result.valid, result.problems
    assert result.checkpoints_verified == len(CHECKPOINT_SIZES)


def test_randomized_mutations_are_all_detected() -> None:
    contents, signer = build_contents()
    rng = random.Random(20_261_122)
    missed: list[str] = []
    counts: dict[str, int] = {}
    for n in range(MUTATIONS):
        mutate = MUTATORS[n % len(MUTATORS)]
        mutated = _reseal(mutate(contents, rng), rehash_leaves=rng.random() < 0.5)
        if mutated.entries == contents.entries and mutated.checkpoints == contents.checkpoints:
            continue  # pragma: no cover - every mutator changes something
        counts[mutate.__name__] = counts.get(mutate.__name__, 0) + 1
        result = verify_contents(mutated, log_key=signer.verifier.vkey)
        if result.valid:
            missed.append(f"{mutate.__name__} #{n}")
    assert sum(counts.values()) >= MUTATIONS * 0.95
    assert missed == []


def _edit_lines(edit: Callable[[list[bytes]], object]) -> Callable[[ArchiveContents],
                                                                     ArchiveContents]:
    def mutate(c: ArchiveContents) -> ArchiveContents:
        lines = c.entries.split(b"\n")[:-1]
        edit(lines)
        return _with_lines(c, lines)
    return mutate


def _forged(at: int) -> bytes:
    return entries.seal(entries.prepare("user:mallory", "keys.unseal", "keyring:k", "success",
                                        None), at, entries.format_time(0))


def _checkpoints(edit: Callable[[list[ArchivedCheckpoint]], object]) -> Callable[
        [ArchiveContents], ArchiveContents]:
    def mutate(c: ArchiveContents) -> ArchiveContents:
        cps = list(c.checkpoints)
        edit(cps)
        return dataclasses.replace(c, checkpoints=tuple(cps))
    return mutate


def _flip_root_digit(cps: list[ArchivedCheckpoint]) -> None:
    note = cps[2].note  # the checkpoint of size 50; its second line is the size
    at = note.index("\n") + 1
    cps[2] = ArchivedCheckpoint(50, note[:at] + "9" + note[at + 1:])


# Each mutation at a known place, with the (where, position) the verifier must name first.
# The attacker is careful: the leaf hashes and the manifest are recomputed to agree.
# Where a signed checkpoint is the only witness (an edited entry with recomputed hashes),
# the position is the first checkpoint whose root no longer matches.
TARGETED: dict[str, tuple[Callable[[ArchiveContents], ArchiveContents], tuple[str, int]]] = {
    "delete entry 37": (_edit_lines(lambda ls: ls.pop(37)), ("entry", 37)),
    "swap entries 20 and 40": (_edit_lines(lambda ls: ls.__setitem__(
        slice(20, 41, 20), [ls[40], ls[20]])), ("entry", 20)),
    "copy entry 37 after itself": (_edit_lines(lambda ls: ls.insert(37, ls[37])),
                                   ("entry", 37)),
    "forge an entry at 37": (_edit_lines(lambda ls: ls.insert(37, _forged(37))),
                             ("entry", 37)),
    "edit entry 37's outcome": (_edit_lines(lambda ls: ls.__setitem__(37, ls[37].replace(
        b'"outcome":"allowed"', b'"outcome":"denied"'))), ("checkpoint", 50)),
    "drop entries 75..79": (_edit_lines(lambda ls: ls.__delitem__(slice(75, None))),
                            ("checkpoint", 80)),
    "refile checkpoint 33 as 34": (_checkpoints(lambda cps: cps.__setitem__(
        1, ArchivedCheckpoint(34, cps[1].note))), ("checkpoint", 34)),
    "flip checkpoint 50's size": (_checkpoints(_flip_root_digit), ("checkpoint", 50)),
    "drop the last checkpoint": (_checkpoints(lambda cps: cps.pop()), ("entry", 50)),
}


@pytest.mark.parametrize("name", sorted(TARGETED))
def test_each_mutation_names_the_position_it_touched(name: str) -> None:
    mutate, expected = TARGETED[name]
    contents, signer = build_contents()
    result = verify_contents(_reseal(mutate(contents), rehash_leaves=True),
                             log_key=signer.verifier.vkey)
    assert not result.valid
    first = result.first_problem
    assert first is not None
    assert (first.where, first.position) == expected, first


def _serial_and_parallel(mutator: int | None, workers: int
                         ) -> tuple[VerificationResult, VerificationResult]:
    """Run in a fresh single-threaded process (see ``forkable``): the serial and the
    forked verification of one archive, mutated by ``MUTATORS[mutator]`` if given."""
    assert can_fork(), "the fresh process must be allowed to fork its workers"
    contents, signer = build_contents(n=3000, sizes=(1000, 2047, 3000))
    if mutator is not None:
        contents = _reseal(MUTATORS[mutator](contents, random.Random(11)), rehash_leaves=True)
    assert len(_part_bounds(contents.entries, workers)) == workers + 1  # really split
    serial = verify_contents(contents, log_key=signer.verifier.vkey, workers=1)
    parallel = verify_contents(contents, log_key=signer.verifier.vkey, workers=workers)
    return serial, parallel


@pytest.mark.parametrize("mutate", MUTATORS, ids=lambda m: m.__name__)
def test_parallel_verification_reports_exactly_what_serial_does(
        mutate: Mutation, forkable: ProcessPoolExecutor) -> None:
    serial, parallel = forkable.submit(
        _serial_and_parallel, MUTATORS.index(mutate), 3).result(timeout=300)
    assert not serial.valid
    assert (serial.processes, parallel.processes) == (1, 3)  # the parallel path ran
    assert parallel == serial


def test_parallel_verification_accepts_a_valid_archive(forkable: ProcessPoolExecutor) -> None:
    serial, parallel = forkable.submit(_serial_and_parallel, None, 2).result(timeout=300)
    assert (serial.processes, parallel.processes) == (1, 2)  # the parallel path ran
    assert parallel.valid, parallel.problems
    assert parallel == serial
