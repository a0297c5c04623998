"""Plurals and articles for messages, so no output reads "1 files" or "a X-Wing key";
:func:`printable` for names from untrusted input, so none can drive the terminal.

Algorithm names are mostly read letter by letter (ML-KEM, RSA, SLH-DSA, X-Wing) and so
take "an" where their first letter's name starts with a vowel sound, whatever letter that
is; :func:`article` knows that rule. Formats and primitives sit below this package, so
their few messages avoid articles before names instead.
"""

from __future__ import annotations

import re

# Letters whose spoken name starts with a vowel sound: "an F", "an M", "an X".
_VOWEL_LETTER_NAMES = frozenset("AEFHILMNORSX")
# Upper-case names said as words, not spelled: "a SHA-256 digest", "a NIST level".
_SPOKEN_ACRONYMS = ("SHA", "NIST", "MAC", "PEM", "DER", "JSON", "TOML", "YAML")
# Words that start with a vowel letter but a consonant sound, and the reverse.
_CONSONANT_SOUND = ("uni", "use", "usu", "uti", "ure", "eu", "one", "once")
_VOWEL_SOUND = ("hour", "honest", "honor", "heir")
_LEADING = re.compile(r"[A-Za-z]+|\d+")
# C0 controls, DEL and C1 controls: ESC and CSI (0x9b) start terminal sequences, CR and
# backspace overwrite what was printed, a newline forges a line of its own.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 file``, ``0 files``, ``2 files``; ``nouns`` for irregular plurals."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def article(word: str) -> str:
    """``a`` or ``an`` for ``word`` as it is read aloud (``an ML-KEM``, ``a SHA-256``,
    ``an 800-byte``, ``an age file``, ``a user``)."""
    match = _LEADING.search(word)
    if match is None:
        return "a"
    head = match.group()
    if head.isdigit():
        # Read as a number: "eight…", "eleven…", "eighteen…" (11 000, 18 000 000 too).
        eleven = head[:2] in ("11", "18") and len(head) % 3 == 2
        return "an" if head[0] == "8" or eleven else "a"
    spelled = len(head) == 1 or (head.isupper() and not head.startswith(_SPOKEN_ACRONYMS))
    if spelled:
        return "an" if head[0].upper() in _VOWEL_LETTER_NAMES else "a"
    lower = head.lower()
    if lower.startswith(_VOWEL_SOUND):
        return "an"
    if lower.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if lower[0] in "aeiou" else "a"


def with_article(word: str) -> str:
    """``word`` after its article: ``an X-Wing``."""
    return f"{article(word)} {word}"


def printable(name: str) -> str:
    """``name`` safe to print on a terminal: C0 and C1 control characters and DEL shown
    as ``\\xNN`` escapes, so a file named ``"\\x1b[32mVerified"`` in an untrusted model
    cannot colour, erase or forge a line of output. Other characters are left alone."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", name)
