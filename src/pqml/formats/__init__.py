"""Formats layer: pure encoders and decoders (bytes in, objects out).

``pqml_v1/`` is the native encrypted format and ``age/`` age v1 (one module per stanza
type, as age keeps them); ``recipient_policy`` holds the recipient-set rules both share,
each format keeping only what differs. ``oms`` reads and writes OpenSSF model-signing
bundles. ``der`` holds the few strict DER helpers key files need, ``bech32`` the BIP 173
codec age keys use, ``keyfile`` PEM/DER PKCS#8 and SPKI for every registry algorithm, and
``age_keys`` the age recipient and identity strings; ``errors`` their errors. Only
``keyfile``'s two ``write_*`` helpers touch the file system.
"""
