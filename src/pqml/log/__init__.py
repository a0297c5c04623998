"""The transparency log: every sensitive operation, on disk, under signed Merkle tree heads.

How data flows::

    a feature (keys, encrypt, sign, …)
        │ LogEntry (entry.py: canonical JSON, no secrets)
        ▼
    recorder.record(entry) ── PQML_LOG=off: nothing
        │
        ▼
    store.LogStore ($PQML_HOME/log)           entries.jsonl + records (leaf hash, index,
        │  append: flock, line, 64-byte record  offset, length, keyed tag), append-only
        │  every N entries / T seconds:         checkpoints/<size>: C2SP checkpoint signed
        │  checkpoint (verifies what it signs)  by the log's ML-DSA-44 key (type 0x06)
        │  tree/: cached subtree hashes ──────► tree.py: RFC 6962 proofs in O(log² n) reads
        ▼
    verify.verify_log ── names the first edited / deleted / inserted / reordered entry;
        │                 a checkpoint saved elsewhere catches truncation and rollback
    LogStore.prove(i) ──► c2sp.org/tlog-proof (entry as extra data)
        └──► verify.check_proof(proof, vkey) on any machine, with only the public key

    LogStore.entries() / follow() ──► monitor*.py (alerts), compliance*.py (reports)

:mod:`pqml.log.merkle` is the RFC 6962 tree over a list (the reference; tests hold the
stored-tree proofs of :mod:`pqml.log.tree` to it), :mod:`pqml.log.log` the in-memory log.
The texts (signed notes, checkpoints, cosignatures, tlog-proofs) are pure formats in
:mod:`pqml.formats.signed_note` and :mod:`pqml.formats.tlog`. pqml never rewrites a
committed byte of the log; the one repair, cutting a partial record after a power loss,
is explicit (``pqml log recover``) and logged.
"""

from __future__ import annotations
