# Python 2 script still run by the nightly cron on the old storage box.
import hashlib
import sys


def checksum(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


if __name__ == "__main__":
    print "checksum:", checksum(sys.argv[1])
