"""Model hashing: listing rules, shards, hash types and the root digest byte by byte."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from pqml.errors import PqmlError, UnsafePathError
from pqml.formats import oms
from pqml.signing import manifest, model_tree
from pqml.signing.manifest import FileChangedError

from conftest import REPO


def make_model(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


MODEL = {
    "config.json": b'{"layers": 2}',
    "weights/a.bin": bytes(range(256)) * 40,
    "weights/b.bin": b"\x01" * 5000,
    "a-b": b"dash",
    "empty": b"",
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model", MODEL)


def test_plan_matches_model_signing_shard_boundaries() -> None:
    assert manifest.plan(10, "files", None) == [(0, 10)]
    assert manifest.plan(0, "files", None) == [(0, 0)]
    assert manifest.plan(8, "shards", 2) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert manifest.plan(9, "shards", 2) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]
    assert manifest.plan(2, "shards", 2) == [(0, 2)]
    assert manifest.plan(1, "shards", 5) == [(0, 1)]
    assert manifest.plan(0, "shards", 5) == []  # model_signing gives empty files no shard
    with pytest.raises(PqmlError):
        manifest.plan(5, "shards", 0)


def test_files_method_digests_and_order(model: Path) -> None:
    found, listing = manifest.hash_model(model)
    assert not listing.single_file
    assert list(found.files) == ["a-b", "config.json", "empty", "weights/a.bin",
                                 "weights/b.bin"]
    for name, data in MODEL.items():
        entry = found.files[name]
        assert entry.size == len(data)
        assert [p.digest for p in entry.pieces] == [hashlib.sha256(data).digest()]
    resources = found.resources()
    # OMS order: by path components, so "weights/..." sorts as ("weights", ...).
    assert [r.name for r in resources] == sorted(MODEL, key=lambda n: tuple(n.split("/")))
    assert all(r.algorithm == "sha256" for r in resources)


def test_shards_method(model: Path) -> None:
    found, _ = manifest.hash_model(model, method="shards", shard_size=4096)
    a = MODEL["weights/a.bin"]
    entry = found.files["weights/a.bin"]
    assert [(p.start, p.end) for p in entry.pieces] == [(0, 4096), (4096, 8192), (8192, 10240)]
    assert [p.digest for p in entry.pieces] == [
        hashlib.sha256(a[s:e]).digest() for s, e in ((0, 4096), (4096, 8192), (8192, 10240))
    ]
    assert found.files["empty"].pieces == ()
    names = [r.name for r in found.resources()]
    assert "weights/a.bin:4096:8192" in names and not any(n.startswith("empty") for n in names)
    assert {r.algorithm for r in found.resources()} == {"sha256-sharded-4096"}
    # The size record keeps the empty file, which has no resource.
    assert found.extension()["sizes"]["empty"] == 0


@pytest.mark.parametrize(("name", "oms_name", "fn"), [
    ("sha384", "sha384", lambda d: hashlib.sha384(d).digest()),
    ("SHA-512", "sha512", lambda d: hashlib.sha512(d).digest()),
    ("blake3", "blake3", None),
])
def test_hash_types(model: Path, name: str, oms_name: str, fn) -> None:
    htype = manifest.hash_type(name)
    assert htype == oms_name
    found, _ = manifest.hash_model(model, htype=htype)
    if fn is None:
        blake3 = pytest.importorskip("blake3")
        fn = lambda d: blake3.blake3(d).digest()  # noqa: E731
    for fname, data in MODEL.items():
        assert found.files[fname].pieces[0].digest == fn(data)
    assert found.root_digest().startswith(f"{oms_name}:")


def test_unsupported_hash_types() -> None:
    for bad in ("md5", "sha1", "ML-DSA-65"):
        with pytest.raises(PqmlError):
            manifest.hash_type(bad)
    with pytest.raises(PqmlError):
        manifest.registry_name("blake2b")


def test_single_file_model(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    found, listing = manifest.hash_model(path)
    assert listing.single_file and list(found.files) == ["."]
    shards, _ = manifest.hash_model(path, method="shards", shard_size=2)
    assert [r.name for r in shards.resources()] == [".:0:2", ".:2:3"]


def test_parallel_equals_sequential(tmp_path: Path) -> None:
    files = {f"f{i}": os.urandom(1_100_000 + i) for i in range(5)}  # > 4 MiB in total
    root = make_model(tmp_path / "m", files)
    one, _ = manifest.hash_model(root, method="shards", shard_size=300_000, workers=1)
    many, _ = manifest.hash_model(root, method="shards", shard_size=300_000, workers=4)
    assert one == many
    for name, data in files.items():
        entry = manifest.hash_buffer(name, data, htype="sha256", method="shards",
                                     shard_size=300_000)
        assert entry == one.files[name]


# ---- root digest --------------------------------------------------------------------------


def independent_root(hash_type: str, method: str, shard_size: int,
                     files: list[tuple[str, int, list[tuple[int, int, bytes]]]]) -> str:
    """docs/FORMAT.md's definition, written out again without pqml's code."""
    def lp(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    def u64(n: int) -> bytes:
        return n.to_bytes(8, "big")

    data = b"pqml.root-digest.v1\x00" + lp(hash_type.encode()) + lp(method.encode())
    data += u64(shard_size) + u64(len(files))
    for name, size, pieces in files:
        data += lp(name.encode()) + u64(size) + u64(len(pieces))
        for start, end, digest in pieces:
            data += u64(start) + u64(end) + lp(digest)
    return hash_type + ":" + hashlib.new(hash_type, data).hexdigest()


def test_root_digest_definition(model: Path) -> None:
    found, _ = manifest.hash_model(model)
    order = sorted(MODEL, key=lambda n: tuple(n.split("/")))
    expected = independent_root("sha256", "files", 0, [
        (n, len(MODEL[n]), [(0, len(MODEL[n]), hashlib.sha256(MODEL[n]).digest())])
        for n in order
    ])
    assert found.root_digest() == expected
    shards, _ = manifest.hash_model(model, method="shards", shard_size=4096, htype="sha384")
    expected = independent_root("sha384", "shards", 4096, [
        (n, len(MODEL[n]), [
            (s, e, hashlib.sha384(MODEL[n][s:e]).digest())
            for s, e in manifest.plan(len(MODEL[n]), "shards", 4096)
        ])
        for n in order
    ])
    assert shards.root_digest() == expected


def test_root_digest_known_answer(tmp_path: Path) -> None:
    """The worked example in docs/FORMAT.md: a.txt = 'a', d/b.bin = 'bc'."""
    root = make_model(tmp_path / "m", {"a.txt": b"a", "d/b.bin": b"bc"})
    found = manifest.digest_model(root)
    assert found.root_digest() == ROOT_EXAMPLE
    doc = (REPO / "docs" / "FORMAT.md").read_text()
    assert ROOT_EXAMPLE in doc


ROOT_EXAMPLE = "sha256:fbf2af5a0203b0aa7c2e87d46b54cbd0f65f02d851b7d7f19dbf4b960c799dcb"


def test_root_binds_names_unlike_subject_digest(tmp_path: Path) -> None:
    a = make_model(tmp_path / "a", {"x.bin": b"1", "y.bin": b"2"})
    b = make_model(tmp_path / "b", {"x.bin": b"1", "z.bin": b"2"})  # y renamed to z
    ma, mb = manifest.digest_model(a), manifest.digest_model(b)
    assert oms.subject_digest(ma.resources()) == oms.subject_digest(mb.resources())
    assert ma.root_digest() != mb.root_digest()
    c = make_model(tmp_path / "c", {"x.bin": b"1", "y.bin": b"2", "e": b""})
    assert manifest.digest_model(c).root_digest() != ma.root_digest()  # an empty file counts


def test_digest_model_skips_signature_and_git(model: Path) -> None:
    before = manifest.digest_model(model).root_digest()
    (model / "model.sig").write_text("{}")
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref")
    assert manifest.digest_model(model).root_digest() == before
    with_git = manifest.digest_model(model, ignore_git_paths=False)
    assert ".git/HEAD" in with_git.files


# ---- the pqml predicate field -----------------------------------------------------------


def statement_for(found: manifest.Manifest) -> oms.Statement:
    return found.to_statement("m", allow_symlinks=False, ignore_paths=())


def test_statement_round_trip(model: Path) -> None:
    for kwargs in ({}, {"method": "shards", "shard_size": 1000}, {"htype": "sha384"}):
        found, _ = manifest.hash_model(model, **kwargs)  # type: ignore[arg-type]
        statement = oms.statement_from_payload(statement_for(found).to_payload())
        assert statement.extensions["pqml"]["root_digest"] == found.root_digest()
        assert manifest.from_statement(statement) == found


def tampered(found: manifest.Manifest, change) -> oms.Statement:
    statement = statement_for(found)
    ext = json.loads(json.dumps(statement.extensions["pqml"]))
    change(ext)
    return oms.Statement(statement.subject_name, statement.subject_digest,
                         statement.serialization, statement.resources, {"pqml": ext})


@pytest.mark.parametrize(("change", "match"), [
    (lambda e: e["sizes"].__setitem__("config.json", 1), "root_digest|match"),
    (lambda e: e.__setitem__("root_digest", "sha256:" + "00" * 32), "root_digest"),
    (lambda e: e["sizes"].pop("a-b"), "no size"),
    (lambda e: e["sizes"].__setitem__("ghost", 0), "no resource"),
    (lambda e: e["sizes"].__setitem__("a-b", -1), "non-negative"),
    (lambda e: e["sizes"].__setitem__("../x", 0), r"'\.\.' segment"),
    (lambda e: e.__setitem__("version", 2), "version"),
    (lambda e: e.__setitem__("extra", 1), "unknown key"),
])
def test_pqml_field_is_checked(model: Path, change, match: str) -> None:
    found, _ = manifest.hash_model(model)
    with pytest.raises(oms.BundleFormatError, match=match):
        manifest.from_statement(tampered(found, change))


def test_statement_without_pqml_field(model: Path) -> None:
    """A model_signing bundle has no sizes: files-method sizes stay unknown until checked."""
    found, _ = manifest.hash_model(model)
    plain = statement_for(found)
    plain = oms.Statement(plain.subject_name, plain.subject_digest, plain.serialization,
                          plain.resources)
    back = manifest.from_statement(plain)
    assert not back.complete
    assert back.with_sizes({n: e.size for n, e in found.files.items()}) == found


def test_model_signing_float_shard_size_is_read() -> None:
    """model_signing 1.1.1 writes shard_size through a protobuf Struct: 2.0, not 2."""
    statement = oms.build_statement(
        [oms.Resource("a:0:2", "00" * 32, "sha256-sharded-2")],
        oms.Serialization(method="shards", shard_size=2), "m",
    )
    obj = json.loads(statement.to_payload())
    obj["predicate"]["serialization"]["shard_size"] = 2.0
    parsed = oms.statement_from_payload(json.dumps(obj).encode())
    assert parsed.serialization.shard_size == 2 and type(parsed.serialization.shard_size) is int
    obj["predicate"]["serialization"]["shard_size"] = 2.5
    with pytest.raises(oms.BundleFormatError, match="shard_size"):
        oms.statement_from_payload(json.dumps(obj).encode())


# ---- listing and opening ------------------------------------------------------------------


def test_ignore_paths(model: Path) -> None:
    listing = model_tree.list_model(model, ignore_paths=["weights", "a-b"])
    assert set(listing.files) == {"config.json", "empty"}
    assert listing.ignored == ("a-b", "weights")
    # "weights" does not cover "weightsX" (whole components only).
    (model / "weightsX").write_bytes(b"x")
    assert "weightsX" in model_tree.list_model(model, ignore_paths=["weights"]).files


def test_normalize_relative(model: Path, tmp_path: Path) -> None:
    assert model_tree.normalize_relative("./weights/", model) == "weights"
    assert model_tree.normalize_relative(model / "weights" / "a.bin", model) == "weights/a.bin"
    for bad in ("../x", "a/../../b", "."):
        with pytest.raises(UnsafePathError):
            model_tree.normalize_relative(bad, model)
    with pytest.raises(UnsafePathError, match="not inside"):
        model_tree.normalize_relative(tmp_path / "elsewhere", model)


def test_symlinks_refused_unless_allowed(model: Path, tmp_path: Path) -> None:
    (model / "link.bin").symlink_to("weights/b.bin")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        model_tree.list_model(model)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        model_tree.open_file(model, "link.bin")
    listing = model_tree.list_model(model, allow_symlinks=True)
    assert listing.files["link.bin"] == len(MODEL["weights/b.bin"])
    fd = model_tree.open_file(model, "link.bin", allow_symlinks=True)
    os.close(fd)


@pytest.mark.parametrize("kind", ["outside", "dangling", "directory"])
def test_symlinks_never_leave_the_root(model: Path, tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    target = {"outside": secret, "dangling": tmp_path / "nope", "directory": model / "weights"}
    (model / "link").symlink_to(target[kind])
    with pytest.raises(UnsafePathError):
        model_tree.list_model(model, allow_symlinks=True)
    if kind == "outside":
        with pytest.raises(UnsafePathError, match="outside"):
            model_tree.open_file(model, "link", allow_symlinks=True)


def test_open_refuses_a_directory_swapped_for_a_link(model: Path, tmp_path: Path) -> None:
    """Listing, then an attacker replaces weights/ by a link to a directory outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.bin").write_bytes(b"evil")
    os.rename(model / "weights", tmp_path / "moved")
    (model / "weights").symlink_to(outside)
    with pytest.raises((FileNotFoundError, UnsafePathError)):
        model_tree.open_file(model, "weights/a.bin")
    with pytest.raises((FileNotFoundError, UnsafePathError)):
        model_tree.open_file(model, "weights/a.bin", allow_symlinks=True)


def test_special_files_refused(model: Path) -> None:
    os.mkfifo(model / "pipe")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        model_tree.list_model(model)


def test_unsignable_names_refused(model: Path) -> None:
    (model / "a\\b").write_bytes(b"x")
    with pytest.raises(UnsafePathError, match="backslash"):
        manifest.hash_model(model)


def test_file_changing_size_while_hashing(model: Path) -> None:
    results = manifest.hash_files(model, {"config.json": 3}, htype="sha256", method="files",
                                  shard_size=None)
    assert isinstance(results["config.json"], FileChangedError)


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(PqmlError, match="no such file"):
        model_tree.list_model(tmp_path / "nope")


def test_pickle_detection() -> None:
    assert model_tree.may_hold_pickle("model.PKL")
    assert model_tree.may_hold_pickle("x.joblib.gz")
    assert model_tree.may_hold_pickle("pytorch_model.bin")
    assert model_tree.may_hold_pickle("data", b"\x80\x04\x95")
    assert model_tree.may_hold_pickle("arr", b"\x93NUMPY")
    assert not model_tree.may_hold_pickle("config.json", b'{"a": 1}')
    assert not model_tree.may_hold_pickle("model.safetensors", b"\x08\x00\x00")
