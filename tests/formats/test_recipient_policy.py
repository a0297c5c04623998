"""The recipient policy age v1 and pqml/v1 share (pqml.formats.recipient_policy), rule by
rule, each with an input it must refuse and one it must accept, on both formats; then
what each format describes differently (key types, quantum rule, passphrase stanza,
header-wide stanza checks)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pqml.encryption import encrypted_formats
from pqml.errors import KeyFormatError, PolicyError, WrongKeyTypeError
from pqml.formats import age_keys
from pqml.formats.age import recipients as age_recipients
from pqml.formats.age.errors import HeaderError, RecipientError
from pqml.formats.age.header import Stanza, b64encode
from pqml.formats.pqml_v1 import argon2id, header_area
from pqml.formats.pqml_v1 import recipients as pqml_recipients
from pqml.formats.recipient_policy import RecipientRules
from pqml.primitives import registry

AGE = age_recipients.RULES
PQML = pqml_recipients.RULES
BOTH = pytest.mark.parametrize("rules", [AGE, PQML], ids=["age", "pqml"])
KEYS = {alg: registry.scheme(alg).generate()
        for alg in ("X-Wing", "X25519", "ML-KEM-768", "ML-DSA-65")}
XWING, X25519, MLKEM768, MLDSA = (KEYS[a] for a in ("X-Wing", "X25519", "ML-KEM-768",
                                                    "ML-DSA-65"))
OTHER_XWING = registry.scheme("X-Wing").generate()
FILE_KEYS = {"age": bytes(range(16)), "pqml/v1": bytes(range(32))}  # each format's size
FAST = {"age": 10, "pqml/v1": argon2id.Argon2Params(1, 64, 1)}  # passphrase work factors
CLASSICAL_TYPE = {"age": "X25519", "pqml/v1": "x25519"}
XWING_TYPE = {"age": "mlkem768x25519", "pqml/v1": "xwing"}


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def passphrase(rules: RecipientRules, value: bytes = b"pw") -> Any:
    return rules.passphrase_recipient(value, FAST[rules.name])


def check(rules: RecipientRules, values: list[Any], *, allow_classical: bool = False,
          allow_mixed_pq: bool = False) -> list[Any]:
    return rules.recipients_for(values, allow_classical=allow_classical,
                                allow_mixed_pq=allow_mixed_pq)


class ThirdParty:
    """A recipient of a stanza type neither format defines (plugins look like this)."""

    def __init__(self, key_id: str | None = None, post_quantum: bool | None = None,
                 must_be_alone: bool = False) -> None:
        if key_id is not None:
            self.key_id = key_id
        if post_quantum is not None:  # None: the object says nothing about it
            self.post_quantum = post_quantum
        self.must_be_alone = must_be_alone

    def wrap(self, file_key: bytes) -> list[Stanza]:
        return [Stanza("example.com/plugin", ("x",), file_key)]


class ThirdPartyIdentity:
    def unwrap(self, stanzas: Any) -> bytes | None:
        return None


# ---- rule 1: every value converts ----------------------------------------------------------


@BOTH
def test_keys_strings_and_objects_convert(rules: RecipientRules) -> None:
    file_key = FILE_KEYS[rules.name]
    as_string = rules.recipient_for(age_keys.encode_recipient(XWING.public_key()))
    from_private = rules.recipient_for(XWING)  # a private key stands for its public half
    for recipient in (as_string, from_private, rules.recipient_for(XWING.public_key())):
        assert rules.describe_recipient(recipient)["type"] == XWING_TYPE[rules.name]
        assert rules.identity_for(XWING).unwrap(recipient.wrap(file_key)) == file_key
    plugin = ThirdParty()
    assert rules.recipient_for(plugin) is plugin
    identity = ThirdPartyIdentity()
    assert rules.identity_for(identity) is identity
    assert rules.identity_for(age_keys.encode_identity(XWING)).unwrap(
        from_private.wrap(file_key)) == file_key


@BOTH
def test_keys_of_types_without_a_stanza_are_refused_by_name(rules: RecipientRules) -> None:
    supported = ", ".join(rules.key_types)
    with pytest.raises(WrongKeyTypeError, match=exactly(
            f"{rules.name} has no recipient type for ML-DSA-65 keys (supported: {supported})")):
        rules.recipient_for(MLDSA.public_key())
    with pytest.raises(WrongKeyTypeError, match=exactly(
            f"{rules.name} has no identity type for ML-DSA-65 keys (supported: {supported})")):
        rules.identity_for(MLDSA)
    with pytest.raises(WrongKeyTypeError):
        check(rules, [XWING.public_key(), MLDSA.public_key()])


@BOTH
@pytest.mark.parametrize("value", [b"age1pq1...", 42, None, object(), ["age1..."]])
def test_objects_that_are_not_recipients_are_refused(rules: RecipientRules,
                                                     value: Any) -> None:
    article = "an" if rules.name == "age" else "a"
    with pytest.raises(TypeError, match=f"^not {article} {re.escape(rules.name)} recipient: "):
        rules.recipient_for(value)
    with pytest.raises(TypeError, match=f"^not {article} {re.escape(rules.name)} identity: "):
        rules.identity_for(value)


@BOTH
@pytest.mark.parametrize("text", ["", "age1", "age1qqqq", "AGE-SECRET-KEY-1QQQQ", "x" * 5000])
def test_malformed_key_strings_are_refused(rules: RecipientRules, text: str) -> None:
    with pytest.raises(KeyFormatError):
        rules.recipient_for(text)
    with pytest.raises(KeyFormatError):
        rules.identity_for(text)


@BOTH
@pytest.mark.parametrize("one", [age_keys.encode_recipient(XWING.public_key()), b"age1"])
def test_one_string_is_not_a_set(rules: RecipientRules, one: Any) -> None:
    """Iterating a string would try every character as a key."""
    with pytest.raises(TypeError, match=r"not one (str|bytes)$"):
        check(rules, one)
    with pytest.raises(TypeError, match=r"not one (str|bytes)$"):
        rules.identities_for(one)
    assert len(check(rules, [one] if isinstance(one, str) else [XWING])) == 1
    assert len(rules.identities_for([XWING])) == 1


# ---- rule 2: one key id, one recipient ------------------------------------------------------


@BOTH
def test_recipients_with_one_key_id_collapse(rules: RecipientRules) -> None:
    twice = check(rules, [ThirdParty("k1", True), ThirdParty("k1", True),
                          ThirdParty("k2", True)])
    assert [r.key_id for r in twice] == ["k1", "k2"]


def test_pqml_names_keys_so_duplicates_collapse() -> None:
    pk = XWING.public_key()
    kept = check(PQML, [pk, age_keys.encode_recipient(pk), XWING, OTHER_XWING.public_key()])
    assert [r.key_id for r in kept] == [PQML.recipient_for(pk).key_id,
                                        PQML.recipient_for(OTHER_XWING).key_id]


def test_age_names_no_keys_so_a_key_given_twice_gets_two_stanzas() -> None:
    pk = XWING.public_key()
    assert len(check(AGE, [pk, pk])) == 2


# ---- rule 3: at least one -------------------------------------------------------------------


@BOTH
def test_an_empty_set_is_refused(rules: RecipientRules) -> None:
    for empty in ([], (), iter(()), {}):
        with pytest.raises(RecipientError, match=exactly("at least one recipient is required")):
            check(rules, empty, allow_classical=True, allow_mixed_pq=True)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=exactly("at least one identity is required")):
            rules.identities_for(empty)  # type: ignore[arg-type]
    assert len(check(rules, iter([XWING.public_key()]))) == 1
    assert len(rules.identities_for(iter([XWING, passphrase_identity(rules)]))) == 2


def passphrase_identity(rules: RecipientRules) -> Any:
    return rules.passphrase_identity(b"pw")


# ---- rule 4: a passphrase is alone ----------------------------------------------------------


@BOTH
def test_a_passphrase_recipient_is_alone(rules: RecipientRules) -> None:
    message = exactly(f"a passphrase ({rules.passphrase_type}) recipient must be the only "
                      "recipient")
    for crowd in ([passphrase(rules), XWING.public_key()],
                  [XWING.public_key(), passphrase(rules)],
                  [passphrase(rules), passphrase(rules, b"other")],
                  [passphrase(rules), ThirdParty(post_quantum=True)],
                  [ThirdParty(post_quantum=True, must_be_alone=True), XWING.public_key()]):
        with pytest.raises(RecipientError, match=message):
            check(rules, crowd, allow_classical=True, allow_mixed_pq=True)
    (alone,) = check(rules, [passphrase(rules)])
    assert rules.describe_recipient(alone) == {
        "type": rules.passphrase_type, "kem": None, "passphrase": True, "post_quantum": True}


def test_a_passphrase_is_alone_before_the_quantum_rules() -> None:
    """The refusal no flag can lift comes first."""
    for rules in (AGE, PQML):
        with pytest.raises(RecipientError):
            check(rules, [passphrase(rules), X25519.public_key()])


# ---- rules 5 and 6: quantum-vulnerable recipients -------------------------------------------


@BOTH
def test_a_quantum_vulnerable_recipient_needs_allow_classical(rules: RecipientRules) -> None:
    kind = CLASSICAL_TYPE[rules.name]
    message = exactly(f"refusing the quantum-vulnerable {kind} recipient: a future quantum "
                      "attacker could decrypt the file (pass --allow-classical / "
                      "allow_classical=True to accept that)")
    for values in ([X25519.public_key()], [XWING.public_key(), X25519.public_key()],
                   [age_keys.encode_recipient(X25519.public_key())]):
        with pytest.raises(PolicyError, match=message):
            check(rules, values, allow_mixed_pq=True)
        assert len(check(rules, values, allow_classical=True, allow_mixed_pq=True)) == len(
            values)
    assert len(check(rules, [XWING.public_key(), OTHER_XWING.public_key()])) == 2


@BOTH
def test_a_recipient_that_does_not_say_it_is_post_quantum_counts_as_classical(
        rules: RecipientRules) -> None:
    for silent in (ThirdParty(), ThirdParty(post_quantum=False)):
        with pytest.raises(PolicyError, match="quantum-vulnerable ThirdParty recipient"):
            check(rules, [silent], allow_mixed_pq=True)
    (plugin,) = check(rules, [ThirdParty(post_quantum=True)])
    assert rules.describe_recipient(plugin) == {"type": "ThirdParty", "kem": None,
                                                "post_quantum": True}


@BOTH
def test_mixing_post_quantum_and_classical_needs_allow_mixed_pq(rules: RecipientRules
                                                                ) -> None:
    message = exactly("refusing to mix post-quantum and classical recipients: the classical "
                      "one would leave the file open to a quantum attacker (pass "
                      "allow_mixed_pq=True)")
    for mixed in ([XWING.public_key(), X25519.public_key()],
                  [X25519.public_key(), ThirdParty(post_quantum=True)]):
        with pytest.raises(PolicyError, match=message):
            check(rules, mixed, allow_classical=True)
        assert len(check(rules, mixed, allow_classical=True, allow_mixed_pq=True)) == 2
    other = registry.scheme("X25519").generate().public_key()
    assert len(check(rules, [X25519.public_key(), other], allow_classical=True)) == 2


def test_each_format_keeps_its_own_quantum_rule() -> None:
    """age (>= 1.3) refuses only the mix; pqml/v1 refuses any classical recipient."""
    x, pq = X25519.public_key(), XWING.public_key()
    assert len(age_recipients.recipients_for([x])) == 1  # plain age
    with pytest.raises(PolicyError, match="refusing to mix"):
        age_recipients.recipients_for([pq, x])
    assert len(age_recipients.recipients_for([pq, x], allow_mixed_pq=True)) == 2
    with pytest.raises(PolicyError, match="quantum-vulnerable x25519 recipient"):
        pqml_recipients.recipients_for([x])
    assert len(pqml_recipients.recipients_for([pq, x], allow_classical=True)) == 2


@pytest.mark.parametrize("fmt", ["age", "pqml"])
def test_encryption_applies_the_pqml_rule_to_both_formats(fmt: str) -> None:
    x, pq = X25519.public_key(), XWING.public_key()
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        encrypted_formats.prepare_recipients(fmt, [x])  # type: ignore[arg-type]
    objs, described = encrypted_formats.prepare_recipients(  # type: ignore[arg-type]
        fmt, [pq, x], allow_classical=True)
    assert len(objs) == 2 and [d["post_quantum"] for d in described] == [True, False]


# ---- what each format describes differently -------------------------------------------------


def test_each_format_has_its_own_key_types() -> None:
    with pytest.raises(WrongKeyTypeError, match="age has no recipient type for ML-KEM-768"):
        AGE.recipient_for(MLKEM768.public_key())
    with pytest.raises(WrongKeyTypeError, match="age has no identity type for ML-KEM-768"):
        AGE.identity_for(MLKEM768)
    recipient = PQML.recipient_for(MLKEM768.public_key())
    file_key = FILE_KEYS["pqml/v1"]
    assert PQML.identity_for(MLKEM768).unwrap(recipient.wrap(file_key)) == file_key
    assert PQML.describe_recipient(recipient)["type"] == "mlkem768"


@BOTH
def test_each_format_has_its_own_passphrase_stanza(rules: RecipientRules) -> None:
    file_key = FILE_KEYS[rules.name]
    stanzas = passphrase(rules).wrap(file_key)
    assert [s.type for s in stanzas] == [rules.passphrase_type]
    assert rules.passphrase_identity(b"pw").unwrap(stanzas) == file_key
    assert rules.passphrase_identity(b"wrong").unwrap(stanzas) is None


def test_passphrase_work_factors() -> None:
    assert AGE.passphrase_recipient(b"pw", None).work_factor == 18
    assert AGE.passphrase_recipient(b"pw", "12").work_factor == 12
    assert PQML.passphrase_recipient(b"pw", None).params == argon2id.DEFAULT_PARAMS
    assert PQML.passphrase_recipient(b"pw", ("2", 128, 1)).params == argon2id.Argon2Params(
        2, 128, 1)
    with pytest.raises(ValueError):
        AGE.passphrase_recipient(b"pw", 31)
    with pytest.raises(ValueError):
        PQML.passphrase_recipient(b"pw", (1, 8, 2))  # below 8 KiB per lane


# ---- header-wide stanza rules, before any identity ------------------------------------------


def wrapped(rules: RecipientRules, *values: Any) -> list[Stanza]:
    return [s for v in values for s in rules.recipient_for(v).wrap(FILE_KEYS[rules.name])]


UNKNOWN = Stanza("example.com/new-type", ("whatever",), b"\x00" * 7)


@BOTH
def test_a_passphrase_stanza_is_alone_in_the_header(rules: RecipientRules) -> None:
    message = {"age": "a scrypt stanza must be the only stanza in the header",
               "pqml/v1": "an argon2id (passphrase) stanza must be the only stanza in the "
                          "header"}[rules.name]
    alone = passphrase(rules).wrap(FILE_KEYS[rules.name])
    for crowd in ([*alone, *wrapped(rules, XWING.public_key())],
                  [*wrapped(rules, XWING.public_key()), *alone],
                  [*alone, *passphrase(rules, b"other").wrap(FILE_KEYS[rules.name])],
                  [*alone, UNKNOWN]):
        with pytest.raises(HeaderError, match=exactly(message)):
            rules.check_stanzas(crowd)
    assert rules.check_stanzas(alone) == tuple(alone)


@BOTH
def test_unknown_stanza_types_are_ignored(rules: RecipientRules) -> None:
    stanzas = [*wrapped(rules, XWING.public_key()), UNKNOWN]
    assert rules.check_stanzas(stanzas) == tuple(stanzas)
    assert rules.check_stanzas([UNKNOWN]) == (UNKNOWN,)


def test_pqml_validates_stanzas_of_its_types_header_wide_age_leaves_it_to_identities(
        ) -> None:
    (xwing,) = wrapped(PQML, XWING.public_key())
    (mlkem,) = wrapped(AGE, XWING.public_key())
    salt = b64encode(bytes(16))
    for bad in (Stanza("xwing", (), xwing.body), Stanza("xwing", ("ABC",), xwing.body),
                Stanza("xwing", xwing.args, xwing.body[:-1]),
                Stanza("argon2id", (salt, "1", "64"), bytes(48)),
                Stanza("argon2id", (salt, "1", "064", "1"), bytes(48))):
        with pytest.raises(HeaderError):
            PQML.check_stanzas([bad])
    assert PQML.check_stanzas([xwing]) == (xwing,)
    # age: a malformed stanza of its own type passes the header-wide rules; the identity
    # of that type refuses it when it runs (CCTV's "header failure" for that identity)
    bad_age = Stanza("mlkem768x25519", ("AAAA",), mlkem.body)
    assert AGE.check_stanzas([bad_age]) == (bad_age,)
    with pytest.raises(HeaderError):
        AGE.identity_for(XWING).unwrap([bad_age])
    assert AGE.identity_for(XWING).unwrap([mlkem]) == FILE_KEYS["age"]


def test_pqml_layout_stanza_is_not_a_recipient() -> None:
    area = header_area.area_stanza(65536)
    (xwing,) = wrapped(PQML, XWING.public_key())
    alone = passphrase(PQML).wrap(FILE_KEYS["pqml/v1"])
    assert PQML.check_stanzas([area, xwing]) == (xwing,)
    assert PQML.check_stanzas([area, *alone]) == tuple(alone)  # the passphrase is alone
    with pytest.raises(HeaderError, match="must be the first stanza"):
        PQML.check_stanzas([xwing, area])
    with pytest.raises(HeaderError, match="no recipient stanzas"):
        PQML.check_stanzas([area])
    with pytest.raises(HeaderError, match="no recipient stanzas"):
        PQML.check_stanzas([])
    with pytest.raises(HeaderError):
        PQML.check_stanzas([Stanza(header_area.STANZA_TYPE, ("65537",), b""), xwing])


# ---- descriptions ---------------------------------------------------------------------------


def test_descriptions_of_each_formats_recipients() -> None:
    assert AGE.describe_recipient(AGE.recipient_for(X25519.public_key())) == {
        "type": "X25519", "kem": "X25519", "post_quantum": False}
    assert AGE.describe_recipient(AGE.recipient_for(XWING.public_key())) == {
        "type": "mlkem768x25519", "kem": "X-Wing", "post_quantum": True}
    recipient = PQML.recipient_for(X25519.public_key())
    assert PQML.describe_recipient(recipient) == {
        "type": "x25519", "kem": "X25519", "key_id": recipient.key_id, "post_quantum": False}
    (scrypt_stanza,) = passphrase(AGE).wrap(FILE_KEYS["age"])
    assert AGE.describe_stanza(scrypt_stanza) == {
        "type": "scrypt", "kem": None, "passphrase": "scrypt", "scrypt_log2_n": "10",
        "post_quantum": True, "quantum_vulnerable": False}
    for rules in (AGE, PQML):
        described = rules.describe_stanza(UNKNOWN)
        assert described["unknown"] is True and described["post_quantum"] is None
