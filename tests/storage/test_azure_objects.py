"""az:// through a real Azure Blob server (Azurite on loopback): objects decrypt locally
byte for byte, outputs never appear half-written (staged blocks are committed only on
success), random access reads only its chunks, model signatures over objects verify."""

# ruff: noqa: F811 - the emulator fixtures are imported, then named as parameters
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml import storage
from pqml.errors import OutputExistsError
from storage import object_checks
from storage.azurite import azure, azure_endpoint, connection_string, container  # noqa: F401

MiB = 1024 * 1024
BLOCK = 50 * MiB  # adlfs's block: staged as soon as it is full


def _blocks(endpoint: str, container: str, name: str) -> tuple[int, int]:
    """(committed, uncommitted) blocks of a blob, as Azure's Get Block List tells."""
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(connection_string(endpoint))
    committed, uncommitted = client.get_blob_client(container, name).get_block_list("all")
    return len(committed), len(uncommitted)


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    key = pqml.generate_key("x-wing")
    return key, key.public_key()


def test_encrypt_to_object_decrypts_locally_byte_for_byte(
        tmp_path: Path, azure: Any, azure_endpoint: str, container: str,
        keys: tuple[Any, Any]) -> None:
    data = os.urandom(BLOCK + 12345)  # more than one staged block
    (tmp_path / "weights.bin").write_bytes(data)
    url = f"az://{container}/models/x.pqml"
    result = pqml.encrypt_file(tmp_path / "weights.bin", url, [keys[1]])
    assert result.output == url and result.plaintext_size == len(data)
    assert azure.info(f"{container}/models/x.pqml")["size"] == result.encrypted_size
    (tmp_path / "copy.pqml").write_bytes(azure.cat_file(f"{container}/models/x.pqml"))
    pqml.decrypt_file(tmp_path / "copy.pqml", tmp_path / "out.bin", [keys[0]])
    assert (tmp_path / "out.bin").read_bytes() == data
    pqml.decrypt_file(url, f"az://{container}/plain/x.bin", [keys[0]])  # object to object
    assert azure.cat_file(f"{container}/plain/x.bin") == data
    committed, uncommitted = _blocks(azure_endpoint, container, "models/x.pqml")
    assert committed >= 2 and uncommitted == 0


def test_blocks_staged_before_commit_stay_invisible(azure: Any, azure_endpoint: str,
                                                    container: str) -> None:
    data = os.urandom(BLOCK + 2 * MiB)
    out = storage.open_output(f"az://{container}/big.bin")
    for i in range(0, len(data), MiB):
        out.write(data[i:i + MiB])
    assert _blocks(azure_endpoint, container, "big.bin") == (0, 1)  # staged, not committed
    assert not azure.exists(f"{container}/big.bin")
    out.commit()
    assert azure.cat_file(f"{container}/big.bin") == data
    assert _blocks(azure_endpoint, container, "big.bin") == (2, 0)


def test_conditional_commit_keeps_an_object_that_appeared(azure: Any, container: str) -> None:
    out = storage.open_output(f"az://{container}/race.bin")
    out.write(b"mine" * 1000)
    azure.pipe_file(f"{container}/race.bin", b"someone else's")  # after the up-front check
    with pytest.raises(OutputExistsError, match="already exists"):
        out.commit()
    assert azure.cat_file(f"{container}/race.bin") == b"someone else's"


def test_failure_mid_upload_leaves_no_object(tmp_path: Path, azure: Any, container: str,
                                             keys: tuple[Any, Any]) -> None:
    object_checks.interrupted_upload_leaves_no_object(  # one block is staged by then
        azure, "az", container, tmp_path, keys, BLOCK + 4 * MiB, BLOCK + MiB)


def test_wrong_key_or_tampered_object_leaves_no_output(
        tmp_path: Path, azure: Any, container: str, keys: tuple[Any, Any]) -> None:
    object_checks.wrong_key_or_tampered_object_leaves_no_output(azure, "az", container,
                                                                tmp_path, keys)


def test_existing_object_refused_unless_force(tmp_path: Path, azure: Any, container: str,
                                              keys: tuple[Any, Any]) -> None:
    object_checks.existing_object_refused_unless_force(azure, "az", container, tmp_path,
                                                       keys)


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from pqml import storage
    out = storage.open_output(sys.argv[1])
    for _ in range(51):
        out.write(os.urandom(1 << 20))  # one 50 MiB block staged
    print("uploaded", flush=True)
    sys.stdin.read()  # killed here
    out.commit()
""")


def test_sigkill_mid_upload_leaves_no_object(azure: Any, azure_endpoint: str,
                                             container: str) -> None:
    object_checks.killed_writer_leaves_no_object(azure, "az", container, KILLED_WRITER,
                                                 lambda line: line == "uploaded")
    # invisible leftovers, which Azure drops after a week
    assert _blocks(azure_endpoint, container, "killed.bin") == (0, 1)


def test_one_tensor_reads_only_its_chunks(azure: Any, container: str,
                                          keys: tuple[Any, Any]) -> None:
    object_checks.one_tensor_reads_only_its_chunks(azure, "az", container, keys)


def test_sign_and_verify_a_model_in_a_bucket(tmp_path: Path, azure: Any, container: str) -> None:
    object_checks.sign_and_verify_a_model(azure, "az", container, tmp_path / "model")


def test_missing_azure_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "adlfs", None)  # as if the extra were not installed
    with pytest.raises(storage.MissingExtraError) as info:
        pqml.decrypt_file("az://bucket/x.pqml", "out.bin", [])
    text = str(info.value)
    assert "pqml[azure]" in text and "adlfs" in text and "\n" not in text
