"""Over-the-air updates trusted through a CA: ``--certificate-chain`` and ``--crl`` on
``pqml update apply`` / ``rollback``, checked by the same chain validation as ``pqml
verify`` (revocation, wrong root, expiry at the signing time), and every refusal leaving
the version in service untouched."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from pqml.keys import key_files
from pqml.keys.ca import CertificateAuthority, crl_pem
from pqml.signing import certificate_bundles, signing, updates
from pqml.signing.errors import SignatureVerificationError, UpdateError

from conftest import cli_run as run

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root -> release CA, made once (ML-DSA-44: fast) and valid since 60 days ago (so it
    can have issued a certificate that has expired since); tests copy it before revoking."""
    d = tmp_path_factory.mktemp("pki")
    since = dt.datetime.now(dt.UTC) - 60 * DAY
    root = CertificateAuthority.init(d / "root", subject="CN=Fleet Root", algorithm="ML-DSA-44",
                                     now=since)
    CertificateAuthority.init(d / "rel", parent=root, subject="CN=Release CA",
                              algorithm="ML-DSA-44", now=since)
    return d


@pytest.fixture
def ca(pki: Path, tmp_path: Path) -> dict[str, Path]:
    """A private copy of the PKI, a signing key with its certificate (serial 1 of the
    release CA), and the CA's current (empty) CRL."""
    shutil.copytree(pki / "root", tmp_path / "root")
    shutil.copytree(pki / "rel", tmp_path / "rel")
    rel = CertificateAuthority.open(tmp_path / "rel")
    key = key_files.generate("ML-DSA-44")
    key_files.save_private(key, tmp_path / "bot.pem")
    (tmp_path / "bot.crt").write_bytes(rel.issue(key.public_key(),
                                                 subject="CN=release-bot").pem)
    (tmp_path / "empty.crl").write_bytes(crl_pem(rel.crl()))
    return {"rel": tmp_path / "rel", "key": tmp_path / "bot.pem", "cert": tmp_path / "bot.crt",
            "anchor": tmp_path / "root" / "ca.cert.pem", "chain": tmp_path / "rel" / "chain.pem",
            "empty_crl": tmp_path / "empty.crl"}


def revoked_crl(ca: dict[str, Path], out: Path, serial: int = 1) -> Path:
    rel = CertificateAuthority.open(ca["rel"])
    rel.revoke(serial, reason="key-compromise")
    out.write_bytes(crl_pem(rel.crl()))
    return out


def release(tmp: Path, version: str, ca: dict[str, Path], *, cert: Path | None = None,
            key: Path | None = None, chain: Path | None = None) -> Path:
    """``tmp/<version>/detector`` signed with a certificate bundle (leaf + release CA)."""
    root = tmp / version / "detector"
    root.mkdir(parents=True)
    (root / "weights.bin").write_bytes(version.encode() * 2000 + os.urandom(32))
    (root / "VERSION").write_text(version)
    signing.sign_model(root, [key or ca["key"]], certificate=cert or ca["cert"],
                       certificate_chain=[chain or ca["chain"]])
    return root


def assert_serving(d: Path, version: str, ca: dict[str, Path]) -> None:
    """``DIR/current`` is a complete version whose chain validates, and it is ``version``."""
    signing.verify_model(d / "current", certificate_chain=[ca["anchor"]])
    assert (d / "current" / "VERSION").read_text() == version


def refused(d: Path, ca: dict[str, Path], exc: type[Exception], match: str, package: Path,
            **trust: object) -> None:
    """The update fails with one line, ``current`` stays on v1, no staging is left."""
    before = sorted(os.listdir(d / "versions"))
    with pytest.raises(exc, match=match) as info:
        updates.apply_update(package, d, **trust)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert_serving(d, "v1", ca)
    assert sorted(os.listdir(d / "versions")) == before
    assert updates.status(d).leftovers == ()


# ---- Python API -------------------------------------------------------------------------------


def test_apply_and_rollback_through_the_chain(tmp_path: Path, ca: dict[str, Path]) -> None:
    d = tmp_path / "device"
    first = updates.apply_update(release(tmp_path, "v1", ca), d,
                                 certificate_chain=[ca["anchor"]], crls=[ca["empty_crl"]])
    assert first.changed and first.current.name == "detector"
    assert first.report is not None and first.report.algorithms == ("ML-DSA-44",)
    # a single path is a one-file chain, as in VerifyOptions
    second = updates.apply_update(release(tmp_path, "v2", ca), d,
                                  certificate_chain=ca["anchor"], crls=ca["empty_crl"])
    assert (second.current.version, second.previous.version) == (2, 1)
    assert second.report is not None and second.report.model == d / "versions" / "2"
    assert_serving(d, "v2", ca)
    back = updates.rollback(d, certificate_chain=[ca["anchor"]], crls=[ca["empty_crl"]])
    assert (back.current.version, back.previous.version) == (1, 2)
    assert_serving(d, "v1", ca)
    # keys and chain add up: a key-signed update is accepted next to the chain
    sk = key_files.generate("ML-DSA-44")
    key_files.save_private(sk, tmp_path / "plain.pem")
    key_files.save_public(sk.public_key(), tmp_path / "plain.pub")
    v3 = tmp_path / "v3" / "detector"
    shutil.copytree(tmp_path / "v2" / "detector", v3)
    (v3 / "VERSION").write_text("v3")
    signing.sign_model(v3, [tmp_path / "plain.pem"], force=True)
    done = updates.apply_update(v3, d, [tmp_path / "plain.pub"],
                                certificate_chain=[ca["anchor"]])
    assert done.changed and (d / "current" / "VERSION").read_text() == "v3"


def test_revoked_signing_certificate_is_refused(tmp_path: Path, ca: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", ca), d, certificate_chain=[ca["anchor"]])
    # a second signing certificate (serial 2) signs v2, then is revoked
    rel = CertificateAuthority.open(ca["rel"])
    key = key_files.generate("ML-DSA-44")
    key_files.save_private(key, tmp_path / "stolen.pem")
    (tmp_path / "stolen.crt").write_bytes(rel.issue(key.public_key(), subject="CN=ci").pem)
    v2 = release(tmp_path, "v2", ca, cert=tmp_path / "stolen.crt", key=tmp_path / "stolen.pem")
    crl = revoked_crl(ca, tmp_path / "rel.crl", serial=2)
    refused(d, ca, SignatureVerificationError,
            r"certificate CN=ci \(serial 0x2\) is revoked since .*key_compromise",
            v2, certificate_chain=[ca["anchor"]], crls=[crl])
    # the CRL that revokes serial 2 does not touch serial 1: v1's signer is still good
    assert not updates.apply_update(tmp_path / "v1" / "detector", d,
                                    certificate_chain=[ca["anchor"]], crls=[crl]).changed


def test_rollback_to_a_version_whose_certificate_is_now_revoked(tmp_path: Path,
                                                                ca: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", ca), d, certificate_chain=[ca["anchor"]])
    rel = CertificateAuthority.open(ca["rel"])
    key = key_files.generate("ML-DSA-44")
    key_files.save_private(key, tmp_path / "k2.pem")
    (tmp_path / "k2.crt").write_bytes(rel.issue(key.public_key(), subject="CN=bot2").pem)
    updates.apply_update(release(tmp_path, "v2", ca, cert=tmp_path / "k2.crt",
                                 key=tmp_path / "k2.pem"), d, certificate_chain=[ca["anchor"]])
    crl = revoked_crl(ca, tmp_path / "rel.crl", serial=1)  # v1's signer
    with pytest.raises(SignatureVerificationError, match=r"CN=release-bot \(serial 0x1\) is "
                                                         "revoked"):
        updates.rollback(d, certificate_chain=[ca["anchor"]], crls=[crl])
    assert os.readlink(d / "current") == "versions/2"
    assert os.readlink(d / "previous") == "versions/1"


def test_wrong_root_and_foreign_crl_are_refused(tmp_path: Path, ca: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", ca), d, certificate_chain=[ca["anchor"]])
    v2 = release(tmp_path, "v2", ca)
    other = CertificateAuthority.init(tmp_path / "other", subject="CN=Other Root",
                                      algorithm="ML-DSA-44")
    refused(d, ca, SignatureVerificationError,
            r"CN=Release CA \(serial 0x2\) does not chain to a trusted certificate",
            v2, certificate_chain=[other.path / "ca.cert.pem"])
    (tmp_path / "other.crl").write_bytes(crl_pem(other.crl()))
    refused(d, ca, SignatureVerificationError,
            r"other\.crl: issued by CN=Other Root, which is not a CA of this certificate",
            v2, certificate_chain=[ca["anchor"]], crls=[tmp_path / "other.crl"])
    # an update signed by a bare key is not trusted by the CA alone
    sk = key_files.generate("ML-DSA-44")
    key_files.save_private(sk, tmp_path / "bare.pem")
    bare = tmp_path / "bare" / "detector"
    shutil.copytree(v2, bare)
    signing.sign_model(bare, [tmp_path / "bare.pem"], force=True)
    refused(d, ca, SignatureVerificationError, "no signature verified", bare,
            certificate_chain=[ca["anchor"]])
    updates.apply_update(v2, d, certificate_chain=[ca["anchor"]])
    assert_serving(d, "v2", ca)


def test_certificate_expired_at_signing_time_is_refused(tmp_path: Path, ca: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", ca), d, certificate_chain=[ca["anchor"]])
    # a certificate valid for 30 days from 40 days ago; its key signs today, as a holder of
    # the old key could (pqml sign itself refuses, so its check is skipped for the forgery)
    past = dt.datetime.now(dt.UTC) - 40 * DAY
    rel = CertificateAuthority.open(ca["rel"])
    key = key_files.generate("ML-DSA-44")
    key_files.save_private(key, tmp_path / "old.pem")
    (tmp_path / "old.crt").write_bytes(rel.issue(key.public_key(), subject="CN=old-bot",
                                                 days=30, now=past).pem)
    with monkeypatch.context() as m:
        m.setattr(certificate_bundles, "_check_time", lambda *a: None)
        stale = release(tmp_path, "v2", ca, cert=tmp_path / "old.crt", key=tmp_path / "old.pem")
    refused(d, ca, SignatureVerificationError,
            r"certificate CN=old-bot \(serial 0x2\) expired at .*, before the signing time",
            stale, certificate_chain=[ca["anchor"]])


def test_trust_is_checked_before_the_directory_is_touched(tmp_path: Path,
                                                          ca: dict[str, Path]) -> None:
    v1 = release(tmp_path, "v1", ca)
    d = tmp_path / "device"
    with pytest.raises(UpdateError, match="no trusted key: give the release public key "
                                          r"\(-k\) or the CA's certificates"):
        updates.apply_update(v1, d)
    with pytest.raises(UpdateError, match=r"a CRL \(--crl\) needs the certificate chain"):
        updates.apply_update(v1, d, [ca["key"]], crls=[ca["empty_crl"]])
    with pytest.raises(UpdateError, match=r"missing\.pem: No such file"):
        updates.apply_update(v1, d, certificate_chain=[tmp_path / "missing.pem"])
    with pytest.raises(UpdateError, match="not a regular file"):
        updates.apply_update(v1, d, certificate_chain=[ca["anchor"]], crls=[tmp_path])
    with pytest.raises(TypeError, match="certificate_chain must be a path"):
        updates.apply_update(v1, d, certificate_chain=b"ca.pem")  # type: ignore[arg-type]
    assert not d.exists()
    with pytest.raises(UpdateError, match="no trusted key"):
        updates.rollback(d)


def test_bad_crl_file_leaves_the_model_in_service(tmp_path: Path, ca: dict[str, Path]) -> None:
    d = tmp_path / "device"
    updates.apply_update(release(tmp_path, "v1", ca), d, certificate_chain=[ca["anchor"]])
    junk = tmp_path / "junk.crl"
    junk.write_bytes(b"not a CRL")
    before = sorted(os.listdir(d / "versions"))
    with pytest.raises(Exception, match=r"junk\.crl") as info:
        updates.apply_update(release(tmp_path, "v2", ca), d, certificate_chain=[ca["anchor"]],
                             crls=[junk])
    assert "\n" not in str(info.value)
    assert_serving(d, "v1", ca)
    assert sorted(os.listdir(d / "versions")) == before


# ---- CLI -------------------------------------------------------------------------------------


def _error_line(res) -> str:  # type: ignore[no-untyped-def]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), res.stderr
    return lines[0]


def test_cli_apply_rollback_and_refusals(tmp_path: Path, ca: dict[str, Path]) -> None:
    d = tmp_path / "device"
    chain = ("--certificate-chain", ca["anchor"], "--crl", ca["empty_crl"])
    res = run("update", "apply", release(tmp_path, "v1", ca), d, *chain)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"{d}: now serving version 1 'detector' sha256:")
    assert "verified: ML-DSA-44" in res.stdout
    res = run("update", "apply", release(tmp_path, "v2", ca), d, *chain)
    assert res.exit_code == 0, res.stderr
    res = run("update", "rollback", d, *chain)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"{d}: rolled back to version 1")
    assert (d / "current" / "VERSION").read_text() == "v1"
    # v3 by serial 1, now revoked: one line, exit 1, current untouched, no staging left
    v3 = release(tmp_path, "v3", ca)
    crl = revoked_crl(ca, tmp_path / "rel.crl")
    res = run("update", "apply", v3, d, "--certificate-chain", ca["anchor"], "--crl", crl)
    assert res.exit_code == 1
    assert "certificate CN=release-bot (serial 0x1) is revoked since" in _error_line(res)
    assert (d / "current" / "VERSION").read_text() == "v1"
    assert sorted(os.listdir(d / "versions")) == ["1", "2"]
    other = CertificateAuthority.init(tmp_path / "other", subject="CN=Other Root",
                                      algorithm="ML-DSA-44")
    res = run("update", "apply", v3, d, "--certificate-chain", other.path / "ca.cert.pem")
    assert res.exit_code == 1 and "does not chain to a trusted certificate" in _error_line(res)
    res = run("update", "rollback", d, "--certificate-chain", ca["anchor"], "--crl", crl)
    assert res.exit_code == 1 and "is revoked since" in _error_line(res)
    assert (d / "current" / "VERSION").read_text() == "v1"
    assert updates.status(d).leftovers == ()


def test_cli_usage_errors(tmp_path: Path, ca: dict[str, Path]) -> None:
    v1 = release(tmp_path, "v1", ca)
    d = tmp_path / "device"
    res = run("update", "apply", v1, d)  # neither -k nor --certificate-chain
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == ("pqml: error: missing option --key or "
                                          "--certificate-chain")
    res = run("update", "apply", v1, d, "-k", ca["key"], "--crl", ca["empty_crl"])
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == "pqml: error: --crl needs --certificate-chain"
    assert not d.exists()
    d.mkdir()
    res = run("update", "rollback", d)
    assert res.exit_code == 2 and "missing option --key or --certificate-chain" in res.stderr
    res = run("update", "apply", "--help")
    assert "--certificate-chain PEM" in res.stdout and "--crl FILE" in res.stdout
