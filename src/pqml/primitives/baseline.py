"""Direct backend calls for each algorithm, the reference the wrapper benchmark compares to.

They live in the primitives layer because only this layer may import backends. Each
function returns zero-argument callables doing exactly one backend operation on
pre-built inputs, so the difference to pqml's call is the wrapper's overhead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Ops = dict[str, Callable[[], Any]]

_MSG = b"pqml benchmark message " * 4


def _mlkem(n: int) -> Ops:
    from cryptography.hazmat.primitives.asymmetric import mlkem

    cls = {768: mlkem.MLKEM768PrivateKey, 1024: mlkem.MLKEM1024PrivateKey}[n]
    sk = cls.generate()
    pk = sk.public_key()
    _, ct = pk.encapsulate()
    return {"keygen": cls.generate, "encaps": pk.encapsulate, "decaps": lambda: sk.decapsulate(ct)}


def _xwing() -> Ops:
    """The backend calls X-Wing is made of (ML-KEM-768 + X25519), without the combiner."""
    from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

    sk_m = mlkem.MLKEM768PrivateKey.generate()
    sk_x = x25519.X25519PrivateKey.generate()
    pk_m, pk_x = sk_m.public_key(), sk_x.public_key()
    _, ct_m = pk_m.encapsulate()
    ct_x = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()

    def keygen() -> Any:
        return mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate().public_key()

    def encaps() -> Any:
        eph = x25519.X25519PrivateKey.generate()
        return pk_m.encapsulate(), eph.exchange(pk_x), eph.public_key()

    def decaps() -> Any:
        return sk_m.decapsulate(ct_m), sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))

    return {"keygen": keygen, "encaps": encaps, "decaps": decaps}


def _x25519() -> Ops:
    from cryptography.hazmat.primitives.asymmetric import x25519

    sk = x25519.X25519PrivateKey.generate()
    pk = sk.public_key()
    eph_pub = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()

    def encaps() -> Any:
        eph = x25519.X25519PrivateKey.generate()
        return eph.exchange(pk), eph.public_key().public_bytes_raw()

    return {"keygen": x25519.X25519PrivateKey.generate, "encaps": encaps,
            "decaps": lambda: sk.exchange(x25519.X25519PublicKey.from_public_bytes(eph_pub))}


def _pyca_signer(make: Callable[[], Any], sign: Callable[[Any, bytes], bytes],
                 verify: Callable[[Any, bytes, bytes], Any]) -> Ops:
    sk = make()
    pk = sk.public_key()
    sig = sign(sk, _MSG)
    return {"keygen": make, "sign": lambda: sign(sk, _MSG), "verify": lambda: verify(pk, sig, _MSG)}


def _mldsa(n: int) -> Ops:
    from cryptography.hazmat.primitives.asymmetric import mldsa

    cls = {44: mldsa.MLDSA44PrivateKey, 65: mldsa.MLDSA65PrivateKey, 87: mldsa.MLDSA87PrivateKey}[n]
    return _pyca_signer(cls.generate, lambda k, m: k.sign(m), lambda p, s, m: p.verify(s, m))


def _ed25519() -> Ops:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return _pyca_signer(ed25519.Ed25519PrivateKey.generate, lambda k, m: k.sign(m),
                        lambda p, s, m: p.verify(s, m))


def _ecdsa(bits: int) -> Ops:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    curve, h = {256: (ec.SECP256R1, hashes.SHA256), 384: (ec.SECP384R1, hashes.SHA384),
                521: (ec.SECP521R1, hashes.SHA512)}[bits]
    algo = ec.ECDSA(h())
    return _pyca_signer(lambda: ec.generate_private_key(curve()), lambda k, m: k.sign(m, algo),
                        lambda p, s, m: p.verify(s, m, algo))


def _rsa_pss() -> Ops:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return _pyca_signer(lambda: rsa.generate_private_key(65537, 3072),
                        lambda k, m: k.sign(m, pad, hashes.SHA256()),
                        lambda p, s, m: p.verify(s, m, pad, hashes.SHA256()))


def _slhdsa(name: str) -> Ops:
    import pqcrypto

    mod = getattr(pqcrypto, name.lower().replace("-", "_"))
    pk, sk = mod.keygen()
    sig = mod.sign(sk, _MSG)
    return {"keygen": mod.keygen, "sign": lambda: mod.sign(sk, _MSG),
            "verify": lambda: mod.verify(pk, _MSG, sig)}


def _falcon(n: int) -> Ops:
    import importlib
    import os

    os.environ.setdefault("LICENSED_FALCON", "1")
    mod = importlib.import_module(f"pqc.sign.falcon_{n}")
    pk, sk = mod.keypair()
    sig = mod.sign(_MSG, sk)
    return {"keygen": mod.keypair, "sign": lambda: mod.sign(_MSG, sk),
            "verify": lambda: mod.verify(sig, _MSG, pk)}


def direct_ops(name: str) -> Ops | None:
    """Backend-only callables for the registry algorithm ``name``; None if there is no
    single backend call to compare with (composites, hybrids built from several)."""
    if name.startswith("ML-KEM-"):
        return _mlkem(int(name[-4:].lstrip("-")))
    if name.startswith("ML-DSA-"):
        return _mldsa(int(name[-2:]))
    if name.startswith("SLH-DSA-"):
        return _slhdsa(name)
    if name.startswith("Falcon-"):
        return _falcon(int(name.split("-")[1]))
    if name.startswith("ECDSA-P"):
        return _ecdsa(int(name[7:]))
    simple: dict[str, Callable[[], Ops]] = {
        "X-Wing": _xwing, "X25519": _x25519, "Ed25519": _ed25519, "RSA-PSS": _rsa_pss,
    }
    factory = simple.get(name)
    return factory() if factory else None
