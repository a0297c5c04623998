"""Formats layer: pure encoders and decoders (bytes in, objects out).

``der`` holds the few strict DER helpers key files need, ``bech32`` the BIP 173 codec
age keys use, ``keyfile`` PEM/DER PKCS#8 and SPKI for every registry algorithm, and
``age_keys`` the age recipient and identity strings. Only ``keyfile``'s two
``write_*`` helpers touch the file system.
"""
