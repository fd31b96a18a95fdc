"""Shamir shares: the pure core (split, encode, parse, combine)."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import ShareError
from sovra.keys.shares import combine_shares, parse_share, split_root


@settings(max_examples=25, deadline=None)
@given(root=st.binary(min_size=32, max_size=32), threshold=st.integers(1, 5),
       extra=st.integers(0, 3))
def test_any_threshold_subset_rebuilds_the_root(root: bytes, threshold: int, extra: int) -> None:
    shares = split_root(root, "00112233aabbccdd", threshold, threshold + extra)
    for subset in itertools.combinations(shares, threshold):
        assert bytes(combine_shares(list(subset))) == root


def test_fewer_than_threshold_shares_rebuild_something_else() -> None:
    root = os.urandom(32)
    shares = split_root(root, "00112233aabbccdd", 3, 5)
    with pytest.raises(ShareError, match="exactly 3"):
        combine_shares(shares[:2])
    # Pretending the threshold were 2 yields a different secret, not the root.
    forged = [type(s)(s.ceremony_id, s.index, 2, s.value) for s in shares[:2]]
    assert bytes(combine_shares(forged)) != root


def test_token_round_trip_and_file_comments() -> None:
    share = split_root(os.urandom(32), "00112233aabbccdd", 2, 3)[1]
    assert parse_share(share.token()) == share
    assert parse_share(f"# a comment\n\n{share.token()}\n") == share


def test_corrupted_share_is_named_corrupted() -> None:
    token = split_root(os.urandom(32), "00112233aabbccdd", 2, 3)[0].token()
    value_at = token.rindex(":") - 5
    flipped = token[:value_at] + ("0" if token[value_at] != "0" else "1") + token[value_at + 1:]
    with pytest.raises(ShareError, match="corrupted"):
        parse_share(flipped)


def test_not_a_share_at_all() -> None:
    with pytest.raises(ShareError, match="not a Sovra key share"):
        parse_share("hello world")


def test_repr_never_shows_the_share_value() -> None:
    share = split_root(os.urandom(32), "00112233aabbccdd", 2, 3)[0]
    assert share.value.hex() not in repr(share)
    assert share.fingerprint in repr(share)


def test_bad_parameters() -> None:
    with pytest.raises(ShareError):
        split_root(os.urandom(32), "00112233aabbccdd", 4, 3)
