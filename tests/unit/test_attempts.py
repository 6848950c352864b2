"""The guess hash on its own: keyed by the current API key, stable across releases."""

from __future__ import annotations

import hashlib
import hmac

from telephone_status.attempts import GuessHasher

KEY = "098f6bcd4621d373cade4e832627b4f6"
ROTATED = "rotated-key-0123456789abcdef"
REFERENCE = "97A677DD3E0A42B8EA58D93D05BAC89F"


def test_a_stored_guess_hash_stays_valid_across_releases() -> None:
    # A changed label or construction would re-key every record: a locked reference id
    # would get its guesses back. This value was computed once and must never change.
    expected = "cf2b6febb23ca3ed59da119bb65f46bc29637531765c3acdd0dc42e88e84a021"
    assert GuessHasher().digest(KEY, REFERENCE, "16322") == expected


def test_after_a_rotation_guesses_are_keyed_with_the_new_key() -> None:
    hasher = GuessHasher()
    before = hasher.digest(KEY, REFERENCE, "16322")
    after = hasher.digest(ROTATED, REFERENCE, "16322")
    assert after != before
    assert after == GuessHasher().digest(ROTATED, REFERENCE, "16322")
    # The label keys the HMAC: the API key alone (or with an empty label) gives other hashes.
    message = f"{REFERENCE}:16322".encode()
    for unlabelled in (ROTATED.encode(), hmac.new(ROTATED.encode(), b"", hashlib.sha256).digest()):
        assert after != hmac.new(unlabelled, message, hashlib.sha256).hexdigest()
    assert hasher.digest(KEY, REFERENCE, "16322") == before
