#!/usr/bin/env bash
# Edge update demo: a release pipeline signs two versions of the bundled tiny model with
# Falcon-512 (small signatures for devices); a "device" installs v1, verifies it with the
# edge path (no CLI libraries loaded, one core, 64 MiB of address space), takes v2 over
# the air as a tar.gz with an atomic swap, refuses a forged update and an update made for
# another model (the model in service untouched), and rolls back.
#
# Usage: examples/demo_edge_update.sh [OUTPUT_DIR]   (needs `pqml` on PATH, pqml[falcon];
#                                                    default demo-out/edge)
set -euo pipefail
out=${1:-demo-out/edge}
rm -rf "$out" && mkdir -p "$out/release" "$out/device"
here=$(cd "$(dirname "$0")" && pwd)
device="$out/device/detector"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
python=$(command -v python3)
pqml_python=$(head -1 "$(command -v pqml)" | sed -n 's/^#!//p')
[ -x "${pqml_python:-}" ] && python=$pqml_python  # the interpreter pqml is installed in
expect_failure() {  # run a command that must fail; show its one-line error
  if "$@" 2> "$out/err"; then echo "NOT refused: $*" >&2; exit 1; fi
  echo "  refused as expected: $(cat "$out/err")"
}

step "Release keys: Falcon-512 (signature ~655 bytes; ML-DSA-65's is 3,309)"
pqml keygen --alg Falcon-512 -o "$out/release/falcon.pem" > "$out/release/falcon.pub"
pqml keygen --alg Falcon-512 -o "$out/release/attacker.pem" > /dev/null

step "Release v1 and v2 of model 'detector', each signed, v2 shipped as a tar.gz"
for v in v1 v2; do
  mkdir -p "$out/release/$v"
  cp -r "$here/data/tiny-model" "$out/release/$v/detector"
  echo "{\"version\": \"$v\"}" > "$out/release/$v/detector/version.json"
  pqml sign "$out/release/$v/detector" -k "$out/release/falcon.pem" > /dev/null
done
tar -C "$out/release/v2" -czf "$out/release/detector-v2.tar.gz" detector
ls -l "$out/release/detector-v2.tar.gz" | awk '{print "  " $5 " bytes  " $NF}'

step "Device: install v1 (DIR/current -> versions/1)"
pqml update apply "$out/release/v1/detector" "$device" -k "$out/release/falcon.pub"

step "Device: verify what is served with the edge path (one core, RLIMIT_AS 64 MiB)"
"$python" - "$device/current" "$out/release/falcon.pub" <<'EOF'
import os, resource, sys
os.sched_setaffinity(0, {0})
resource.setrlimit(resource.RLIMIT_AS, (64 << 20, 64 << 20))
from pqml.signing import edge_verify
print(" ", edge_verify.verify_model(sys.argv[1], None, [sys.argv[2]]).line())
heavy = [m for m in sys.modules if m.split(".")[0] in ("click", "rich", "numpy", "torch")]
print("  heavy modules loaded:", heavy or "none")
print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
EOF

step "Over the air: v2 (tar.gz) verified in a staging copy, then swapped in atomically"
pqml update apply "$out/release/detector-v2.tar.gz" "$device" -k "$out/release/falcon.pub"
echo "  served: $(cat "$device/current/version.json")"

step "A forged update (signed by another key) and one for another model: refused"
mkdir -p "$out/release/forged"
cp -r "$out/release/v2/detector" "$out/release/forged/detector"
echo '{"version": "evil"}' > "$out/release/forged/detector/version.json"
pqml sign "$out/release/forged/detector" -k "$out/release/attacker.pem" --force > /dev/null
expect_failure pqml update apply "$out/release/forged/detector" "$device" \
  -k "$out/release/falcon.pub"
mkdir -p "$out/release/camera"
cp -r "$here/data/tiny-model" "$out/release/camera/camera"
pqml sign "$out/release/camera/camera" -k "$out/release/falcon.pem" > /dev/null
expect_failure pqml update apply "$out/release/camera/camera" "$device" \
  -k "$out/release/falcon.pub"
echo "  still served: $(cat "$device/current/version.json")"

step "Roll back to v1 (verified again before it is served), then status"
pqml update rollback "$device" -k "$out/release/falcon.pub"
pqml update status "$device"
