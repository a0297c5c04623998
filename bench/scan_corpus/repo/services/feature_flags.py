"""Feature flags read at start-up; no cryptography here."""

FLAGS = {
    "use_rsa_signing_ui": False,
    "sha256_checksums_in_ui": True,
    "algorithm": "gradient-boosting",
    "default_alg": "xgboost",
}


def enabled(name: str) -> bool:
    return bool(FLAGS.get(name))
