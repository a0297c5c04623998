"""Property tests of the key life cycle through the real keyring: random sequences of
transitions (with compromise times, destruction windows and a moving clock).

Properties: a change succeeds exactly when it is an edge of TRANSITIONS (or re-enabling a
disabled key back to the state it had, the keyring's one addition) that does not turn a
disabled revoked or compromised key into something better, and whose destruction window
has passed; the index never holds an impossible state (checked on the raw SQLite rows);
and what the key may do (check_use) is what the keyring lets it do.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqml.keys import key_files
from pqml.keys.errors import KeyringError, KeyStateError
from pqml.keys.keyring import Keyring
from pqml.keys.states import HAS_PRIVATE_KEY, OPENS, PROTECTS, TRANSITIONS, KeyState, check_use

S = KeyState
USES = ("encrypt", "sign", "decrypt", "verify")
_KEYS: dict[str, bytes] = {}


def key_pem() -> bytes:
    """One X-Wing private key for every example (importing is cheaper than generating)."""
    if "pem" not in _KEYS:
        _KEYS["pem"] = key_files.private_bytes(key_files.generate("X-Wing"))
    return _KEYS["pem"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def expected_ok(old: KeyState, new: KeyState, before: KeyState | None,
                destroy_after: float | None, now: float) -> bool:
    """The rule, written from the docs rather than from the keyring's code."""
    if old is S.DISABLED and new is before:
        return True  # re-enabling: back to what it was
    if new not in TRANSITIONS[old]:
        return False
    if old is S.DISABLED and new in (S.RETIRED, S.REVOKED) and new not in TRANSITIONS[before]:  # type: ignore[index]
        return False  # disabling never launders a revoked or compromised key
    return not (new is S.DESTROYED and destroy_after is not None and now < destroy_after)


def raw_row(kr: Keyring) -> dict[str, object]:
    con = sqlite3.connect(kr.index)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM keys").fetchone())
    finally:
        con.close()


def check_invariants(kr: Keyring, ever_destroyed: bool) -> None:
    row = raw_row(kr)
    state = S(row["state"])  # a known state, or this raises
    assert (state is S.DESTROY_SCHEDULED) == (row["destroy_after"] is not None)
    assert (state in (S.DISABLED, S.DESTROY_SCHEDULED)) == \
        (row["state_before_disabled"] is not None)
    if row["state_before_disabled"] is not None:
        assert S(row["state_before_disabled"]) not in (S.DISABLED, S.DESTROY_SCHEDULED)
    if state is S.COMPROMISED:
        assert row["compromised_at"] is not None
    private = kr.keys_dir / f"{row['id']}.pem"
    if ever_destroyed:
        assert row["private_file"] is None and not private.exists()
    else:
        assert row["private_file"] is not None and private.exists()
        assert state in HAS_PRIVATE_KEY
    assert not kr.verify_files(str(row["id"]))


def check_uses(kr: Keyring, state: KeyState, has_private: bool) -> None:
    for use in USES:
        allowed = state in (PROTECTS if use in ("encrypt", "sign") else OPENS)
        try:
            check_use("k", state, use)
        except KeyStateError:
            assert not allowed
        else:
            assert allowed
        try:
            kr.private_key("k", use=use)
        except KeyStateError:
            assert not allowed, (state, use)
        except KeyringError as exc:  # allowed, but the private key was destroyed
            assert allowed and not has_private and "no private key" in str(exc)
        else:
            assert allowed and has_private


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from([S.ACTIVE, S.PENDING]), data=st.data())
def test_random_transition_sequences(start: KeyState, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        kr = Keyring(Path(tmp) / "home", clock=clock)
        pem = Path(tmp) / "k.pem"
        pem.write_bytes(key_pem())
        kr.import_key(pem, label="k", state=start)
        destroyed = False
        check_invariants(kr, destroyed)
        for _ in range(data.draw(st.integers(min_value=0, max_value=16), label="steps")):
            rec = kr.get("k")
            # mostly a move the docs allow (so long sequences reach deep states), and
            # sometimes any state at all
            edges = sorted(TRANSITIONS[rec.state] | ({rec.state_before_disabled}
                                                     if rec.state_before_disabled else set()))
            new = data.draw(st.one_of(st.sampled_from(edges), st.sampled_from(list(S)))
                            if edges else st.sampled_from(list(S)), label="to")
            when = data.draw(st.sampled_from(["default", "past", "future"]), label="at")
            clock.now += data.draw(st.sampled_from([0, 60, 86400, 8 * 86400]), label="wait")
            at = {"default": None, "past": clock.now - 3600, "future": clock.now + 86400}[when]
            if new is S.COMPROMISED and when == "future":
                at = None  # a compromise in the future is refused for another reason
            ok = expected_ok(rec.state, new, rec.state_before_disabled, rec.destroy_after,
                             clock.now)
            try:
                after = kr.set_state("k", new, at=at)
            except KeyStateError:
                assert not ok, (rec.state, new)
                assert kr.get("k") == rec  # a refused change changes nothing
            else:
                assert ok, (rec.state, new)
                assert after.state is new and after.state_since == clock.now
                # the edge taken is one the docs allow
                assert new in TRANSITIONS[rec.state] or (
                    rec.state is S.DISABLED and new is rec.state_before_disabled)
                if new is S.DESTROY_SCHEDULED:
                    expected = clock.now + 7 * 86400 if at is None else at
                    assert after.destroy_after == expected
                if new is S.COMPROMISED:  # the earliest compromise time is kept
                    when = clock.now if at is None else at
                    earlier = rec.compromised_at
                    assert after.compromised_at == (
                        when if earlier is None else min(earlier, when))
                destroyed = destroyed or new is S.DESTROYED
            check_invariants(kr, destroyed)
        final = kr.get("k")
        check_uses(kr, final.state, not destroyed)
        history = kr.history("k")
        assert history[-1].to_state is final.state
        assert all(h.from_state is None or h.to_state in TRANSITIONS[h.from_state]
                   or h.from_state is S.DISABLED for h in history)
        kr.close()


@pytest.mark.parametrize("column,value", [
    ("state", "'sleeping'"), ("state_before_disabled", "'nap'"), ("purpose", "'mining'"),
    ("operations", "-1"), ("destroy_after", "1.0"),
])
def test_the_index_refuses_impossible_rows(tmp_path: Path, column: str, value: str) -> None:
    """Even a program writing the index directly cannot store an impossible state."""
    kr = Keyring(tmp_path / "h")
    kr.new(label="k")
    con = sqlite3.connect(kr.index)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(f"UPDATE keys SET {column} = {value}")
    con.close()
