"""The transparency log: append entries, sign tree heads, prove inclusion and consistency.

How data flows::

    entry bytes ──► merkle.leaf_hash ──► Log (leaf hashes, in memory)
                                            │
              Log.checkpoint(key) ──────────┤  formats.tlog: C2SP checkpoint text, signed
                                            │  as an ML-DSA-44 cosignature (type 0x06)
              Log.prove(index, checkpoint) ─┤  formats.tlog: c2sp.org/tlog-proof@v1
              Log.consistency(old, new) ────┘  merkle: RFC 6962 §2.1.2 proof

    tlog-proof + entry + trusted vkeys ──► verify_proof ──► the entry's index, or an error

:mod:`pqml.log.merkle` is the RFC 6962 tree; the texts (signed notes, checkpoints,
cosignatures, tlog-proofs) are pure formats in :mod:`pqml.formats.signed_note` and
:mod:`pqml.formats.tlog`. This is the foundation only: the log lives in memory, there is no
CLI and no command appends to it yet. Next: persistence (an append-only tile store, C2SP
tlog-tiles), logging signed models from ``pqml sign``, witnesses and a monitor.
"""

from __future__ import annotations
