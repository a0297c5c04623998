"""`mlctl checksum` command."""

import argparse
import hashlib
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mlctl checksum")
    p.add_argument("file")
    p.add_argument("--algorithm", choices=sorted(hashlib.algorithms_guaranteed),
                   default="sha256")
    args = p.parse_args(argv)
    with open(args.file, "rb") as f:
        digest = hashlib.file_digest(f, args.algorithm).hexdigest()
    print(f"{digest}  {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
