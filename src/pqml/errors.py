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
    ├── MerkleProofError (ValueError)           log.errors
    ├── LogEntryError (ValueError)              log.errors
    ├── LogError                                log.errors
    │   └── LogTamperedError                    log.errors
    ├── MonitorConfigError (ValueError)         log.errors
    ├── ComplianceError                         log.errors
    ├── KeyringError                            keys.errors
    │   ├── UnknownKeyError (LookupError)       keys.errors
    │   ├── KeyStateError                       keys.errors
    │   ├── KeyringLockedError                  keys.errors
    │   ├── KeyringCorruptError                 keys.errors
    │   └── RotationError                       keys.errors
    ├── MigrationError                          keys.errors
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
    │   │                   (also InvalidSignatureError)
    │   ├── TrustPolicyError                    signing.errors
    │   └── IntegrityError                      signing.errors
    │       └── UnsignedFileError               signing.errors
    └── ScanError (exit code 2)                 scan.errors

Code inside pqml imports each error from its home module, so that no layer depends on
this one (tests/test_layers.py); this module is for users.
"""

from __future__ import annotations

from pqml._internal.errors import OutputExistsError, OutputPathError
from pqml.encryption.errors import (
    NotEncryptedError,
    RekeyError,
    RekeyManyError,
    SafetensorsFormatError,
    UnsafeTreeEntryError,
    UntrustedSourceError,
    WrongPassphraseError,
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
    BundleFormatError,
    DERError,
    NoteFormatError,
    PassphraseRequiredError,
    WrongKeyPassphraseError,
)
from pqml.keys.errors import (
    KeyringCorruptError,
    KeyringError,
    KeyringLockedError,
    KeyStateError,
    MigrationError,
    RotationError,
    UnknownKeyError,
)
from pqml.log.errors import (
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
from pqml.signing.errors import (
    FileChangedError,
    IntegrityError,
    PolicyFileError,
    SignatureVerificationError,
    TrustPolicyError,
    UnsafePathError,
    UnsignedFileError,
    VerificationError,
)

__all__ = [
    "AgeError",
    "ArmorError",
    "Bech32Error",
    "BundleFormatError",
    "ChunkedFormatError",
    "ComplianceError",
    "DERError",
    "DecryptionError",
    "FileChangedError",
    "HPKEError",
    "HeaderError",
    "HeaderMACError",
    "IntegrityError",
    "InvalidSignatureError",
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
    "MonitorConfigError",
    "NoIdentityMatchError",
    "NotEncryptedError",
    "NoteFormatError",
    "OutputExistsError",
    "OutputPathError",
    "PassphraseRequiredError",
    "PayloadError",
    "PolicyError",
    "PolicyFileError",
    "PqmlError",
    "RecipientError",
    "RekeyError",
    "RekeyManyError",
    "RotationError",
    "SafetensorsFormatError",
    "ScanError",
    "SignatureVerificationError",
    "TrustPolicyError",
    "UnavailableAlgorithmError",
    "UnknownAlgorithmError",
    "UnknownKeyError",
    "UnsafePathError",
    "UnsafeTreeEntryError",
    "UnsignedFileError",
    "UntrustedSourceError",
    "VerificationError",
    "WrongKeyPassphraseError",
    "WrongKeyTypeError",
    "WrongPassphraseError",
]
