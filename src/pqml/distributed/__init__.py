"""Work beyond one process: the same jobs on local processes or on a Ray cluster.

How data flows: :mod:`planner` turns inputs (paths or URLs, trees and single huge objects)
into :class:`~planner.WorkItem` s — a byte range of one input, chunk-aligned for pqml/v1's
16 KiB chunks, numbered as a part of its destination — without knowing any engine.
:mod:`parts` holds what one worker does with one item (seal or open its chunks, hash its
range, scan its files) and where the bytes go (``pwrite`` into the driver's unnamed output
on the same node, a multipart part on S3, or back to the driver); :mod:`outputs` holds
the destinations that take those parts and appear whole or not at all. An
:mod:`engine` runs those functions: :mod:`local` on processes of this machine,
:mod:`ray_engine` on a Ray cluster (one task per item). The drivers — :mod:`jobs` for
encrypt and decrypt, :mod:`sign` for sign and verify, :mod:`scan` for scan — keep every
private key: they unwrap and wrap file keys, sign the bundle and judge the results;
workers get only one file's chunk key (encryption) or nothing secret at all (hashing,
scanning). Sign, verify and scan run the local code itself on the driver, with only its
hashing or per-file analysis handed to the engine (the seams
:func:`pqml.signing.manifest.hashing_on` and :func:`pqml.scan.runner.scanning_on`).
:mod:`ray_data` offers the same for users already in Ray Data (``read_pqml`` /
``write_pqml``).

Outputs appear whole or not at all, as everywhere in pqml: a local file is linked in only
after every part succeeded; an object is a multipart upload completed by the driver after
the last part, aborted on any failure. A part's bytes depend only on the item and the
file's chunk key, so a retried task writes exactly what the first attempt would have.
"""
