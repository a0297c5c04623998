"""Inspect and mint certificates for the inference mesh (pyOpenSSL)."""

from OpenSSL import crypto


def mint(cn: str, days: int = 30) -> tuple[bytes, bytes]:
    key = crypto.PKey()
    key.generate_key(crypto.TYPE_RSA, 3072)
    cert = crypto.X509()
    cert.get_subject().CN = cn
    cert.set_serial_number(1)
    cert.gmtime_adj_notBefore(0)
    cert.gmtime_adj_notAfter(days * 86400)
    cert.set_issuer(cert.get_subject())
    cert.set_pubkey(key)
    cert.sign(key, "sha256")
    return (crypto.dump_certificate(crypto.FILETYPE_PEM, cert),
            crypto.dump_privatekey(crypto.FILETYPE_PEM, key))
