"""CA benchmark: what the root algorithm costs a model-signing PKI.

Run: .venv/bin/python bench/ca.py [--repeat 5]

For each candidate root (SLH-DSA-SHA2-128s/-128f/-192s/-256s, ML-DSA-87, ML-DSA-65), a CA
directory is made in a temporary directory and, interleaved across the candidates
(round-robin, so a slow spell of the machine hits all of them alike), each repeat times:
issuing one ML-DSA-65 signing certificate directly under the root (``issue``: signing
the TBS and the atomic state update), signing an empty CRL, and validating the two-link
chain leaf -> root (:func:`pqml.signing.certificate_bundles.validate_chain`, what every
``pqml verify --certificate-chain`` does). Prints medians, the issued certificate's DER
size (the root's signature dominates it) and the ratio to SLH-DSA-SHA2-128s, with the
machine, command and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOTS = ("SLH-DSA-SHA2-128s", "SLH-DSA-SHA2-128f", "SLH-DSA-SHA2-192s", "SLH-DSA-SHA2-256s",
         "ML-DSA-87", "ML-DSA-65")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from pqml.keys import key_files
    from pqml.keys.ca import CertificateAuthority
    from pqml.signing.certificate_bundles import validate_chain

    leaf_key = key_files.generate("ML-DSA-65").public_key()
    times: dict[str, dict[str, list[float]]] = {r: {"issue": [], "crl": [], "verify": []}
                                                for r in ROOTS}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cas = {r: CertificateAuthority.init(Path(tmp) / r, algorithm=r) for r in ROOTS}
        for i in range(args.repeat):
            for name, ca in cas.items():
                t0 = time.perf_counter()
                issued = ca.issue(leaf_key, subject=f"CN=bot-{i}")
                t1 = time.perf_counter()
                ca.crl()
                t2 = time.perf_counter()
                validate_chain([issued.der], [ca.der])
                t3 = time.perf_counter()
                times[name]["issue"].append(t1 - t0)
                times[name]["crl"].append(t2 - t1)
                times[name]["verify"].append(t3 - t2)
                sizes[name] = len(issued.der)
    print(f"pqml CA benchmark: {' '.join(sys.argv)}; {platform.processor() or platform.machine()}"
          f", {platform.python_version()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
          f"medians of {args.repeat}")
    base = statistics.median(times[ROOTS[0]]["issue"])
    print(f"{'root':<20} {'issue ms':>9} {'crl ms':>8} {'verify ms':>10} {'cert bytes':>11} "
          f"{'issue vs 128s':>14}")
    for name in ROOTS:
        med = {k: statistics.median(v) * 1000 for k, v in times[name].items()}
        print(f"{name:<20} {med['issue']:>9.1f} {med['crl']:>8.1f} {med['verify']:>10.2f} "
              f"{sizes[name]:>11} {med['issue'] / 1000 / base:>13.2f}x")


if __name__ == "__main__":
    main()
