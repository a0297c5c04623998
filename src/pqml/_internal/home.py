"""Where pqml keeps its state: the keyring, the transparency log, journals, history.

``$PQML_HOME`` when set (tests give every test its own), else the XDG data directory
(``$XDG_DATA_HOME/pqml``, default ``~/.local/share/pqml``), as a user of age or gpg
expects state to live in one private directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def pqml_home() -> Path:
    """The state directory (not created here: reading must never create it)."""
    given = os.environ.get("PQML_HOME")
    if given:
        return Path(given)
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return Path(data) / "pqml"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as a 0700 directory if missing; return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
