"""Reports: CycloneDX 1.6 CBOM (schema-validated), SARIF 2.1.0 structure, self-contained
HTML, and the JSON finding contract."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pqml.scan import ScanOptions, scan
from pqml.scan.runner import ScanResult

from conftest import vector

CODE = '''\
import hashlib, ssl
from cryptography.hazmat.primitives.asymmetric import rsa, padding
from cryptography.hazmat.primitives import hashes
key = rsa.generate_private_key(65537, 2048)
sig = key.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
h = hashlib.sha1(b"x")
ctx = ssl.create_default_context()
ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
'''


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    (root / "app.py").write_text(CODE)
    (root / "nginx.conf").write_text("ssl_protocols TLSv1.2 TLSv1.3;\n"
                                     "ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384;\n")
    (root / "requirements.txt").write_text("rsa==4.9\n")
    ca_key = rsa.generate_private_key(65537, 2048)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "svc")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(leaf_key.public_key()).serial_number(9)
            .not_valid_before(dt.datetime(2024, 1, 1)).not_valid_after(dt.datetime(2032, 1, 1))
            .sign(ca_key, hashes.SHA256()))
    (root / "svc.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    shutil.copytree(vector("oms", "v1.1.0-elliptic-key"), root / "signed")
    return root


@pytest.fixture(scope="module")
def result(tree: Path) -> ScanResult:
    return scan([str(tree)], ScanOptions(jobs=1))


def test_cbom_validates_against_cyclonedx_1_6(result: ScanResult) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from pqml.scan.report import cbom

    text = cbom.render(result)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6" and doc["bomFormat"] == "CycloneDX"


def test_cbom_assets_evidence_and_dependency_edges(result: ScanResult) -> None:
    from pqml.scan.report import cbom

    doc = json.loads(cbom.render(result))
    comps = {c["bom-ref"]: c for c in doc["components"]}
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    rsa_alg = comps["crypto/algorithm/rsa-2048"]
    props = rsa_alg["cryptoProperties"]
    assert props["assetType"] == "algorithm"
    assert props["algorithmProperties"]["nistQuantumSecurityLevel"] == 0
    assert props["algorithmProperties"]["classicalSecurityLevel"] == 112
    assert props["oid"] == "1.2.840.113549.1.1.1"
    assert set(props["algorithmProperties"]["cryptoFunctions"]) == {"keygen", "sign"}
    occ = rsa_alg["evidence"]["occurrences"]
    assert {(o["location"], o["line"]) for o in occ} == {("app.py", 4), ("app.py", 5)}
    # certificate -> its signature algorithm and its subject key -> key algorithm
    (cert_ref,) = [r for r, c in comps.items()
                   if c.get("cryptoProperties", {}).get("assetType") == "certificate"]
    cert = comps[cert_ref]["cryptoProperties"]["certificateProperties"]
    assert cert["subjectName"] == "CN=svc" and cert["notValidAfter"].startswith("2032-01-01")
    assert cert["signatureAlgorithmRef"] in deps[cert_ref]
    assert comps[cert["signatureAlgorithmRef"]]["name"] == "sha256WithRSAEncryption"
    key_ref = cert["subjectPublicKeyRef"]
    assert key_ref in deps[cert_ref]
    assert deps[key_ref] == {"crypto/algorithm/ecdsa-p-256"}
    p256 = comps["crypto/algorithm/ecdsa-p-256"]["cryptoProperties"]["algorithmProperties"]
    assert p256["curve"] == "P-256"
    # protocol -> the algorithms its cipher string selects
    protocols = [c for c in doc["components"]
                 if c.get("cryptoProperties", {}).get("assetType") == "protocol"]
    tls = next(c for c in protocols if c["name"] == "TLS TLSv1.2,TLSv1.3")
    selected = {comps[r]["name"] for r in deps[tls["bom-ref"]]}
    assert selected == {"ECDH", "ECDSA", "AES-256-GCM"}
    suites = tls["cryptoProperties"]["protocolProperties"]["cipherSuites"]
    assert suites[0]["name"] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    # artifacts -> signatures; libraries with purls
    signed = comps["ml/" + re.sub(r"[^A-Za-z0-9._-]+", "-",
                                  f"{result.roots[0]}/signed/signme-1").strip("-").lower()]
    assert signed["type"] == "machine-learning-model"
    assert any(d.startswith("crypto/signature/") for d in deps[signed["bom-ref"]])
    lib = next(c for c in doc["components"] if c["type"] == "library")
    assert lib["purl"] == "pkg:pypi/rsa@4.9"
    assert doc["metadata"]["component"]["bom-ref"] in deps


def test_sarif_structure(result: ScanResult) -> None:
    from pqml.scan.report import sarif

    doc = json.loads(sarif.render(result))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pqml"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    assert {"code/quantum-vulnerable", "code/broken-algorithm",
            "artifact/pickle-code-execution", "certificate/quantum-vulnerable"} <= set(rule_ids)
    for r in driver["rules"]:
        assert r["shortDescription"]["text"] and r["defaultConfiguration"]["level"] in (
            "error", "warning", "note")
    assert len(run["results"]) == len(result.active)
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note", "none")
        assert res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] in run["originalUriBaseIds"]
        assert not loc["artifactLocation"]["uri"].startswith("/")
        assert loc["region"]["startLine"] >= 1
        assert len(res["partialFingerprints"]["pqmlFingerprint/v1"]) == 32
    base = run["originalUriBaseIds"]["ROOT0"]["uri"]
    assert base.startswith("file:///") and base.endswith("/")
    sha1 = next(r for r in run["results"] if r["properties"]["algorithm"] == "SHA-1")
    assert sha1["locations"][0]["physicalLocation"]["region"]["startLine"] == 6


def test_html_is_self_contained_and_has_the_charts(result: ScanResult) -> None:
    from pqml.scan.report import html_report

    page = html_report.render(result)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page and "url(" not in page
    scripts = re.findall(r"<script[^>]*>", page, re.I)  # inline only: nothing fetched
    assert scripts == ["<script>"] and "fetch(" not in page and "XMLHttpRequest" not in page
    assert page.count("<svg") == 3
    for title in ("Findings by algorithm", "Findings by risk level",
                  "Findings by compliance deadline"):
        assert title in page
    assert "Migration plan" in page and "pqml keygen --alg ML-DSA-65" in page
    assert "app.py:4" in page and "&lt;" not in "".join(re.findall(r"<svg.*?</svg>", page))


def test_json_findings_carry_the_contract_fields(result: ScanResult) -> None:
    from pqml.scan.report import json_report

    doc = json.loads(json_report.render(result, plan=True))
    required = {"path", "line", "algorithm", "primitive", "parameter", "quantum_vulnerable",
                "usage", "confidence", "evidence"}
    primitives = {"signature", "pke", "key-agree", "kem", "hash", "block-cipher", "ae", "mac",
                  "kdf", "stream-cipher", "xof", "other", "unknown"}
    for f in doc["findings"]:
        assert required <= set(f)
        assert f["primitive"] in primitives
        assert not f["path"].startswith("/")
        assert f["risk"]["level"] in ("critical", "high", "medium", "low", "info")
    keygen = next(f for f in doc["findings"] if f["usage"] == "keygen")
    assert (keygen["path"], keygen["line"], keygen["algorithm"], keygen["parameter"],
            keygen["primitive"], keygen["quantum_vulnerable"]) == (
        "app.py", 4, "RSA", "2048", "pke", True)
    assert doc["plan"] and doc["plan"][0]["priority"] >= doc["plan"][-1]["priority"]
