"""Detectors for files that store or configure cryptography: PEM, X.509, SSH and JWK keys,
TLS/SSH/JWT configuration, cloud KMS identifiers, dependency files, and ML artifacts
(formats, pickle imports, OMS bundles, whether a file is encrypted)."""
