"""Generate the corpus's binary and key material into ``repo/generated/``.

Keys, certificates, ML artifacts, encrypted files and signature bundles cannot be written
by hand, so this script makes them -- with layouts fixed in advance (certificates signed
with RSA or Ed25519 and fixed serials, so every PEM block has a known length and line) so
that ``labels.json``, written by hand from this script's design, stays valid on every run.
Nothing here ever loads a pickle; pickles are written as bytes.

Run: ``python bench/scan_corpus/build.py`` (``bench/scan.py`` runs it when needed).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
OUT = HERE / "repo" / "generated"
PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
OPENSSH = serialization.Encoding.OpenSSH


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, public_key, signing_key, serial: int,
          not_before: dt.datetime, not_after: dt.datetime, hash_alg, ca: bool = False):
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(public_key).serial_number(serial)
               .not_valid_before(not_before).not_valid_after(not_after))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(signing_key, hash_alg)


def _write(rel: str, data: bytes | str) -> Path:
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def certificates() -> None:
    t0, t1 = dt.datetime(2024, 1, 1), dt.datetime(2034, 1, 1)
    ca_key = rsa.generate_private_key(65537, 3072)
    ca = _cert("ml-root-ca", "ml-root-ca", ca_key.public_key(), ca_key, 1000, t0, t1,
               hashes.SHA256(), ca=True)
    # server-rsa2048.pem: one self-signed RSA-2048 certificate at line 1
    srv_key = rsa.generate_private_key(65537, 2048)
    srv = _cert("api.ml.internal", "api.ml.internal", srv_key.public_key(), srv_key, 1001, t0,
                t1, hashes.SHA256())
    _write("certs/server-rsa2048.pem", srv.public_bytes(PEM))
    # edge-ecdsa-p256.crt: P-256 subject key, signed by the RSA CA (fixed-size signature)
    edge_key = ec.generate_private_key(ec.SECP256R1())
    edge = _cert("edge-01.ml.internal", "ml-root-ca", edge_key.public_key(), ca_key, 1002, t0,
                 t1, hashes.SHA256())
    _write("certs/edge-ecdsa-p256.crt", edge.public_bytes(PEM))
    # ca-chain.pem: the RSA-3072 CA (line 1) then an Ed25519 leaf it issued
    leaf_key = ed25519.Ed25519PrivateKey.generate()
    leaf = _cert("signer.ml.internal", "ml-root-ca", leaf_key.public_key(), ca_key, 1003, t0,
                 t1, hashes.SHA256())
    _write("certs/ca-chain.pem", ca.public_bytes(PEM) + leaf.public_bytes(PEM))
    # legacy-1024.der: an expired RSA-1024 certificate in DER (pyca refuses SHA-1 signing)
    old_key = rsa.generate_private_key(65537, 1024)
    old = _cert("old-metrics", "old-metrics", old_key.public_key(), old_key, 7,
                dt.datetime(2015, 1, 1), dt.datetime(2020, 1, 1), hashes.SHA256())
    _write("certs/legacy-1024.der", old.public_bytes(serialization.Encoding.DER))
    # client.csr: a P-384 certificate signing request
    csr_key = ec.generate_private_key(ec.SECP384R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_name("trainer-7"))
           .sign(csr_key, hashes.SHA384()))
    _write("certs/client.csr", csr.public_bytes(PEM))


def keys() -> None:
    pkcs8 = serialization.PrivateFormat.PKCS8
    trad = serialization.PrivateFormat.TraditionalOpenSSL
    none = serialization.NoEncryption()
    _write("keys/deploy_rsa.pem",
           rsa.generate_private_key(65537, 2048).private_bytes(PEM, pkcs8, none))
    _write("keys/legacy_rsa.key",
           rsa.generate_private_key(65537, 3072).private_bytes(PEM, trad, none))
    _write("keys/node_ec.key",
           ec.generate_private_key(ec.SECP384R1()).private_bytes(PEM, trad, none))
    _write("keys/signing-ed25519.pub",
           ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(PEM, SPKI))
    _write("keys/release-mldsa65.pub",
           mldsa.MLDSA65PrivateKey.generate().public_key().public_bytes(PEM, SPKI))
    ed = ed25519.Ed25519PrivateKey.generate()
    _write("keys/id_ed25519", ed.private_bytes(PEM, serialization.PrivateFormat.OpenSSH, none))
    rsa_ssh = rsa.generate_private_key(65537, 3072)
    ecdsa_ssh = ec.generate_private_key(ec.SECP256R1())
    ed_ssh = ed25519.Ed25519PrivateKey.generate()

    def pub(k) -> str:
        return k.public_key().public_bytes(OPENSSH, serialization.PublicFormat.OpenSSH).decode()

    _write("keys/authorized_keys", "# deploy keys for the GPU bastion\n"
           f"{pub(rsa_ssh)} ci@runner\n"
           f"{pub(ecdsa_ssh)} alice@laptop\n"
           f"{pub(ed_ssh)} bob@laptop\n")
    host = ed25519.Ed25519PrivateKey.generate()
    bastion = ec.generate_private_key(ec.SECP384R1())
    salt = base64.b64encode(os.urandom(20)).decode()
    hashed = base64.b64encode(os.urandom(20)).decode()
    _write("keys/known_hosts", f"|1|{salt}|{hashed} {pub(host)}\n"
           f"bastion.ml.internal {pub(bastion)}\n")
    # jwks.json: "kty" of the RSA key on line 4, of the EC key on line 12
    jwk_rsa = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
    jwk_ec = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()

    def b64u(n: int, size: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()

    text = ("{\n  \"keys\": [\n    {\n"
            "      \"kty\": \"RSA\",\n      \"kid\": \"gw-2025\",\n      \"use\": \"sig\",\n"
            "      \"alg\": \"RS256\",\n"
            f"      \"n\": \"{b64u(jwk_rsa.n, 256)}\",\n      \"e\": \"AQAB\"\n    }},\n"
            "    {\n      \"kty\": \"EC\",\n      \"crv\": \"P-256\",\n"
            "      \"kid\": \"gw-ec\",\n"
            f"      \"x\": \"{b64u(jwk_ec.x, 32)}\",\n      \"y\": \"{b64u(jwk_ec.y, 32)}\"\n"
            "    }\n  ]\n}\n")
    _write("keys/jwks.json", text)


def _pickle_bytes(obj: object, protocol: int = 4) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def artifacts() -> None:
    _write("models/classifier.pkl", _pickle_bytes({"coef": [0.25] * 16, "classes": ["a", "b"]}))
    # os.system("whoami") by GLOBAL + REDUCE, written as opcodes (never executed here)
    _write("models/evil.pkl", b"\x80\x02cos\nsystem\nq\x00X\x06\x00\x00\x00whoamiq\x01\x85q"
                              b"\x02Rq\x03.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ranker/data.pkl", _pickle_bytes({"layer.weight": [1.0, 2.0]}, 2))
        zf.writestr("ranker/version", "3\n")
        zf.writestr("ranker/data/0", b"\x00" * 32)
    _write("models/ranker.pt", buf.getvalue())
    magic = 0x1950A86A20F9469CFC6C
    legacy = b"".join(_pickle_bytes(x, 2) for x in (magic, 1001, {"little_endian": True},
                                                    {"w": [0.5]}))
    _write("models/legacy.pth", legacy)
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    st = struct.pack("<Q", len(header)) + header + b"\x00" * 8
    _write("models/encoder.safetensors", st)
    _write("models/encoder.onnx", b"\x08\x08\x12\x07pytorch\x1a\x052.3.1:\x00")
    _write("models/llm-q4.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
    _write("models/keras_lambda.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 120 +
           b'{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", '
           b'"config": {"function": "4wEAAAAAAAAA"}}]}}')
    _write("models/scaler.joblib", zlib.compress(_pickle_bytes({"mean": [0.0], "scale": [1.0]})))
    npy_header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    npy_header += b" " * (118 - len(npy_header)) + b"\n"
    _write("models/embeddings.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy_header))
           + npy_header + b"\x00" * 16)
    _write("data/train-00000-of-00002.parquet", b"PAR1" + os.urandom(64) + b"PAR1")
    _write("data/train-00001-of-00002.parquet", b"PAR1" + os.urandom(64) + b"PAR1")
    _write("data/eval.arrow", b"ARROW1\x00\x00" + os.urandom(64))
    _write("data/shard.tfrecord-00000-of-00004", struct.pack("<Q", 16) + b"\x00" * 4
           + os.urandom(16) + b"\x00" * 4)


def _age_x25519(plain: Path, out: Path) -> None:
    """A real age file from Debian's age if installed, else the same header by hand."""
    if shutil.which("age") and shutil.which("age-keygen"):
        ident = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True)
        recipient = next(ln.split(": ")[1] for ln in ident.stderr.splitlines() +
                         ident.stdout.splitlines() if "public key" in ln.lower())
        subprocess.run(["age", "-r", recipient.strip(), "-o", str(out), str(plain)], check=True)
        return
    share = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    body = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    mac = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    out.write_bytes(f"age-encryption.org/v1\n-> X25519 {share}\n{body}\n--- {mac}\n".encode()
                    + os.urandom(64))


def encrypted() -> None:
    plain = OUT / "models" / "encoder.safetensors"
    target = OUT / "encrypted" / "weights.safetensors.age"
    target.parent.mkdir(parents=True, exist_ok=True)
    _age_x25519(plain, target)

    def b64(n: int) -> str:
        return base64.b64encode(os.urandom(n)).decode().rstrip("=")

    def wrap(s: str) -> str:
        return "\n".join(s[i:i + 64] for i in range(0, len(s), 64))

    pqml_header = (f"pqml/v1\n-> xwing {b64(1120)}\n{wrap(b64(32))}\n--- {b64(32)}\n")
    _write("encrypted/dataset.parquet.pqml", pqml_header.encode() + os.urandom(128))
    # armored age file with a passphrase (scrypt) stanza
    inner = (f"age-encryption.org/v1\n-> scrypt {b64(16)} 18\n{b64(32)}\n--- {b64(32)}\n"
             ).encode() + os.urandom(48)
    armored = base64.b64encode(inner).decode()
    _write("encrypted/notes.csv.age", "-----BEGIN AGE ENCRYPTED FILE-----\n" + wrap(armored)
           + "\n-----END AGE ENCRYPTED FILE-----\n")


def _bundle(model_dir: Path, files: list[str], sign) -> bytes:
    sys.path.insert(0, str(HERE.parent.parent / "src"))
    from pqml.formats import oms

    resources = [oms.Resource(name=f, digest=hashlib.sha256((model_dir / f).read_bytes())
                              .hexdigest()) for f in files]
    statement = oms.build_statement(resources, oms.Serialization(), model_dir.name)
    envelope_payload = statement.to_payload()
    sig = sign(oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, envelope_payload))
    bundle = oms.Bundle(
        verification_material=oms.VerificationMaterial(
            content=oms.PublicKeyIdentifier(hint=hashlib.sha256(b"key").hexdigest())),
        envelope=oms.Envelope(payload=envelope_payload, signatures=(oms.Signature(sig),)),
    )
    return bundle.to_json()


def signed_models() -> None:
    d = OUT / "signed_model"
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(OUT / "models" / "encoder.safetensors", d / "model.safetensors")
    (d / "config.json").write_text('{"architectures": ["Encoder"], "hidden_size": 2}\n')
    key = ec.generate_private_key(ec.SECP256R1())
    (d / "model.sig").write_bytes(_bundle(d, ["config.json", "model.safetensors"],
                                          lambda m: key.sign(m, ec.ECDSA(hashes.SHA256()))))
    p = OUT / "signed_pq"
    p.mkdir(parents=True, exist_ok=True)
    shutil.copy(OUT / "models" / "encoder.safetensors", p / "model.safetensors")
    pq = mldsa.MLDSA65PrivateKey.generate()
    (p / "model.sig").write_bytes(_bundle(p, ["model.safetensors"], pq.sign))


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    certificates()
    keys()
    artifacts()
    encrypted()
    signed_models()
    print(f"wrote {sum(1 for p in OUT.rglob('*') if p.is_file())} files to {OUT}")


if __name__ == "__main__":
    main()
