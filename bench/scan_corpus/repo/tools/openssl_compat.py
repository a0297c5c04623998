"""pyOpenSSL helpers kept for the old metrics exporter."""

from OpenSSL import SSL, crypto


def self_signed_key() -> crypto.PKey:
    key = crypto.PKey()
    key.generate_key(crypto.TYPE_RSA, 2048)
    return key


def server_context() -> SSL.Context:
    ctx = SSL.Context(SSL.TLSv1_2_METHOD)
    ctx.set_cipher_list(b"DHE-RSA-AES256-SHA:AES128-SHA")
    return ctx
