"""Every error pqml raises on purpose, in one place; each is defined beside the code that
raises it and re-exported here.

Catch :class:`PqmlError` for any of them. The CLI prints ``str(error)`` on one line and
exits with the error's ``exit_code`` (1, or 2 for a scan that could not run), so messages
name the object and the problem and never carry secret material. The hierarchy, with where
each class lives::

    PqmlError                                   primitives.errors
    ├── UnknownAlgorithmError (ValueError)      primitives.errors
    ├── UnavailableAlgorithmError               primitives.errors
    ├── PolicyError                             primitives.errors
    ├── KeyFormatError (ValueError)             primitives.errors
    │   ├── WrongKeyTypeError                   primitives.errors
    │   ├── Bech32Error                         formats.errors
    │   ├── DERError                            formats.errors
    │   ├── PassphraseRequiredError             formats.errors
    │   └── WrongKeyPassphraseError             formats.errors
    ├── KeyFileExistsError (FileExistsError)    primitives.errors
    ├── InvalidSignatureError                   primitives.errors
    │   └── KeyConfigSignatureError             gateway.errors
    │       └── KeyConfigExpiredError           gateway.errors
    ├── HPKEError                               primitives.errors
    │   └── MessageLimitReachedError            primitives.errors
    ├── DecryptionError                         primitives.errors
    │   ├── ChunkedFormatError                  primitives.errors
    │   ├── AgeError                            formats.age.errors
    │   │   ├── HeaderError                     formats.age.errors
    │   │   │   └── HeaderMACError              formats.age.errors
    │   │   ├── NoIdentityMatchError            formats.age.errors
    │   │   │   └── WrongPassphraseError        encryption.errors
    │   │   ├── PayloadError                    formats.age.errors
    │   │   └── ArmorError                      formats.age.errors
    │   └── NotEncryptedError                   encryption.errors
    ├── RecipientError (ValueError)             formats.age.errors
    ├── BundleFormatError (ValueError)          formats.errors
    ├── NoteFormatError (ValueError)            formats.errors
    ├── BinaryHTTPError (ValueError)            formats.errors
    ├── OHTTPFormatError (ValueError)           formats.errors
    ├── OHTTPError                              gateway.errors
    │   ├── KeyConfigMismatchError              gateway.errors
    │   ├── UnsupportedSuiteError               gateway.errors
    │   └── GatewayResponseError                gateway.errors
    ├── GatewayError                            gateway.errors
    │   ├── RequestDateError                    gateway.errors
    │   ├── ReplayedRequestError                gateway.errors
    │   ├── ReplayStoreError                    gateway.errors
    │   └── GatewayKeyError                     gateway.errors
    ├── FLProtectionError                       fl.errors
    │   ├── FLKeyError                          fl.errors
    │   └── UpdateRejectedError                 fl.errors
    ├── SecAggError                             fl.errors
    │   ├── SecAggConfigError (ValueError)      fl.errors
    │   ├── SecAggMessageError                  fl.errors
    │   ├── SecAggThresholdError                fl.errors
    │   └── SecAggReconstructionError           fl.errors
    ├── MerkleProofError (ValueError)           log.errors
    ├── LogEntryError (ValueError)              log.errors
    ├── LogError                                log.errors
    │   └── LogTamperedError                    log.errors
    ├── MonitorConfigError (ValueError)         log.errors
    ├── AlertDeliveryError                      log.errors
    ├── ComplianceError                         log.errors
    ├── KeyringError                            keys.errors
    │   ├── UnknownKeyError (LookupError)       keys.errors
    │   ├── KeyStateError                       keys.errors
    │   ├── KeyringLockedError                  keys.errors
    │   ├── KeyringCorruptError                 keys.errors
    │   └── RotationError                       keys.errors
    │       └── RotationPolicyError             keys.errors
    ├── CertificateAuthorityError               keys.errors
    ├── MigrationError                          keys.errors
    │   └── MigrationFailed                     keys.errors
    ├── TimeSpecError (ValueError)              keys.times
    ├── OutputPathError                         _internal.errors
    │   └── OutputExistsError (FileExistsError) _internal.errors
    ├── RekeyError                              encryption.errors
    │   └── RekeyManyError                      encryption.errors
    ├── UnsafeTreeEntryError                    encryption.errors
    ├── UntrustedSourceError                    encryption.errors
    ├── SafetensorsFormatError                  encryption.errors
    ├── UnsafePathError                         signing.errors
    ├── PolicyFileError (ValueError)            signing.errors
    ├── FileChangedError                        signing.errors
    ├── VerificationError                       signing.errors
    │   ├── SignatureVerificationError          signing.errors
    │   │   │               (also InvalidSignatureError)
    │   │   └── CertificateChainError           signing.errors
    │   ├── TrustPolicyError                    signing.errors
    │   └── IntegrityError                      signing.errors
    │       └── UnsignedFileError               signing.errors
    ├── UpdateError                             signing.errors
    │   └── UpdateInProgressError               signing.errors
    ├── EngineError                             distributed.errors
    ├── StorageError                            storage.errors
    │   ├── StorageURLError (ValueError)        storage.errors
    │   └── MissingExtraError                   storage.errors
    ├── ParquetKeyError                         storage.parquet_kms
    └── ScanError (exit code 2)                 scan.errors
        └── ScanStorageError (StorageError)     scan.remote
            └── ScanMissingExtraError (MissingExtraError) scan.remote

Code inside pqml imports each error from its home module, so that no layer depends on
this one (tests/test_layers.py); this module is for users.
"""

from __future__ import annotations

from pqml._internal.errors import OutputExistsError, OutputPathError
from pqml.distributed.errors import EngineError
from pqml.encryption.errors import (
    NotEncryptedError,
    RekeyError,
    RekeyManyError,
    SafetensorsFormatError,
    UnsafeTreeEntryError,
    UntrustedSourceError,
    WrongPassphraseError,
)
from pqml.fl.errors import (
    FLKeyError,
    FLProtectionError,
    SecAggConfigError,
    SecAggError,
    SecAggMessageError,
    SecAggReconstructionError,
    SecAggThresholdError,
    UpdateRejectedError,
)
from pqml.formats.age.errors import (
    AgeError,
    ArmorError,
    HeaderError,
    HeaderMACError,
    NoIdentityMatchError,
    PayloadError,
    RecipientError,
)
from pqml.formats.errors import (
    Bech32Error,
    BinaryHTTPError,
    BundleFormatError,
    DERError,
    NoteFormatError,
    OHTTPFormatError,
    PassphraseRequiredError,
    WrongKeyPassphraseError,
)
from pqml.gateway.errors import (
    GatewayError,
    GatewayKeyError,
    GatewayResponseError,
    KeyConfigExpiredError,
    KeyConfigMismatchError,
    KeyConfigSignatureError,
    OHTTPError,
    ReplayedRequestError,
    ReplayStoreError,
    RequestDateError,
    UnsupportedSuiteError,
)
from pqml.keys.errors import (
    CertificateAuthorityError,
    KeyringCorruptError,
    KeyringError,
    KeyringLockedError,
    KeyStateError,
    MigrationError,
    MigrationFailed,
    RotationError,
    RotationPolicyError,
    UnknownKeyError,
)
from pqml.keys.times import TimeSpecError
from pqml.log.errors import (
    AlertDeliveryError,
    ComplianceError,
    LogEntryError,
    LogError,
    LogTamperedError,
    MerkleProofError,
    MonitorConfigError,
)
from pqml.primitives.errors import (
    ChunkedFormatError,
    DecryptionError,
    HPKEError,
    InvalidSignatureError,
    KeyFileExistsError,
    KeyFormatError,
    MessageLimitReachedError,
    PolicyError,
    PqmlError,
    UnavailableAlgorithmError,
    UnknownAlgorithmError,
    WrongKeyTypeError,
)
from pqml.scan.errors import ScanError
from pqml.scan.remote import ScanMissingExtraError, ScanStorageError
from pqml.signing.errors import (
    CertificateChainError,
    FileChangedError,
    IntegrityError,
    PolicyFileError,
    SignatureVerificationError,
    TrustPolicyError,
    UnsafePathError,
    UnsignedFileError,
    UpdateError,
    UpdateInProgressError,
    VerificationError,
)
from pqml.storage.errors import MissingExtraError, StorageError, StorageURLError
from pqml.storage.parquet_kms import ParquetKeyError

__all__ = [
    "AgeError",
    "AlertDeliveryError",
    "ArmorError",
    "Bech32Error",
    "BinaryHTTPError",
    "BundleFormatError",
    "CertificateAuthorityError",
    "CertificateChainError",
    "ChunkedFormatError",
    "ComplianceError",
    "DERError",
    "DecryptionError",
    "EngineError",
    "FLKeyError",
    "FLProtectionError",
    "FileChangedError",
    "GatewayError",
    "GatewayKeyError",
    "GatewayResponseError",
    "HPKEError",
    "HeaderError",
    "HeaderMACError",
    "IntegrityError",
    "InvalidSignatureError",
    "KeyConfigExpiredError",
    "KeyConfigMismatchError",
    "KeyConfigSignatureError",
    "KeyFileExistsError",
    "KeyFormatError",
    "KeyStateError",
    "KeyringCorruptError",
    "KeyringError",
    "KeyringLockedError",
    "LogEntryError",
    "LogError",
    "LogTamperedError",
    "MerkleProofError",
    "MessageLimitReachedError",
    "MigrationError",
    "MigrationFailed",
    "MissingExtraError",
    "MonitorConfigError",
    "NoIdentityMatchError",
    "NotEncryptedError",
    "NoteFormatError",
    "OHTTPError",
    "OHTTPFormatError",
    "OutputExistsError",
    "OutputPathError",
    "ParquetKeyError",
    "PassphraseRequiredError",
    "PayloadError",
    "PolicyError",
    "PolicyFileError",
    "PqmlError",
    "RecipientError",
    "RekeyError",
    "RekeyManyError",
    "ReplayStoreError",
    "ReplayedRequestError",
    "RequestDateError",
    "RotationError",
    "RotationPolicyError",
    "SafetensorsFormatError",
    "ScanError",
    "ScanMissingExtraError",
    "ScanStorageError",
    "SecAggConfigError",
    "SecAggError",
    "SecAggMessageError",
    "SecAggReconstructionError",
    "SecAggThresholdError",
    "SignatureVerificationError",
    "StorageError",
    "StorageURLError",
    "TimeSpecError",
    "TrustPolicyError",
    "UnavailableAlgorithmError",
    "UnknownAlgorithmError",
    "UnknownKeyError",
    "UnsafePathError",
    "UnsafeTreeEntryError",
    "UnsignedFileError",
    "UnsupportedSuiteError",
    "UntrustedSourceError",
    "UpdateError",
    "UpdateInProgressError",
    "UpdateRejectedError",
    "VerificationError",
    "WrongKeyPassphraseError",
    "WrongKeyTypeError",
    "WrongPassphraseError",
]
