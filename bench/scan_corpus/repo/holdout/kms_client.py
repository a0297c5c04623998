"""Wrap dataset keys with AWS KMS asymmetric keys."""

import boto3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

kms = boto3.client("kms")


def wrap(key_id: str, data_key: bytes) -> bytes:
    resp = kms.encrypt(KeyId=key_id, Plaintext=data_key,
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    return resp["CiphertextBlob"]


def sign_manifest(key_id: str, digest: bytes) -> bytes:
    resp = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST",
                    SigningAlgorithm="ECDSA_SHA_256")
    return resp["Signature"]


def local_encrypt(data_key: bytes, nonce: bytes, data: bytes) -> bytes:
    return AESGCM(data_key).encrypt(nonce, data, b"dataset")
