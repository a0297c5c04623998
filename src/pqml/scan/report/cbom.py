"""``--format cbom``: a CycloneDX 1.6 Cryptography Bill of Materials.

Built with ``cyclonedx-python-lib`` (imported only here, only when a CBOM is asked for) so
the output is what CBOM tools expect and validates against the 1.6 schema. Components:

* one ``cryptographic-asset`` / ``algorithm`` per distinct algorithm and parameter
  (``RSA-2048``, ``ECDSA-P-256``, ``SHA-1``), with primitive, parameter set, curve, crypto
  functions, classical and NIST quantum security level, OID; every place it is used is an
  ``evidence.occurrences`` entry (location, line, context);
* one ``certificate`` per distinct certificate (subject, issuer, validity, format), linked
  to its signature algorithm and to its subject key;
* one ``related-crypto-material`` per distinct key (and per signature bundle), linked to
  its algorithm;
* one ``protocol`` per TLS / SSH configuration (type, version, cipher suites), linked to
  the algorithms its cipher strings and groups select;
* ML artifacts as ``machine-learning-model`` / ``data`` components, linked to the KEMs and
  signatures protecting them; crypto libraries as ``library`` components with purls.

``dependsOn`` edges: certificate -> signature algorithm and key, key -> algorithm,
protocol -> selected algorithms, artifact -> protecting algorithms / signature, and the
scanned application -> everything.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from pqml.scan.facts import lookup
from pqml.scan.model import Finding
from pqml.scan.runner import ScanResult

_FUNCTIONS = {"keygen": "keygen", "sign": "sign", "verify": "verify", "encrypt": "encrypt",
              "decrypt": "decrypt", "digest": "digest", "mac": "tag", "kdf": "keyderive",
              "encapsulate": "encapsulate", "decapsulate": "decapsulate",
              "key-exchange": "keyderive"}
_CURVED = {"ECDSA", "ECDH"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "x"


def algorithm_name(algorithm: str, parameter: str | None) -> str:
    if parameter and parameter not in algorithm and algorithm not in ("TLS", "SSH"):
        return f"{algorithm}-{parameter}"
    return algorithm


class _Builder:
    def __init__(self, result: ScanResult) -> None:
        from cyclonedx.model.bom import Bom

        self.result = result
        self.bom = Bom()
        self.components: dict[str, Any] = {}
        self.occurrences: dict[str, list[Any]] = defaultdict(list)
        self.depends: dict[str, set[str]] = defaultdict(set)
        self.functions: dict[str, set[str]] = defaultdict(set)
        self.props: dict[str, dict[str, str]] = defaultdict(dict)

    # -- helpers ----------------------------------------------------------------------------
    def _occurrence(self, ref: str, f: Finding) -> None:
        from cyclonedx.model.component_evidence import Occurrence

        loc = self.result.display_path(f)
        context = f"{f.usage}: {f.evidence}"[:500]
        self.occurrences[ref].append(Occurrence(location=loc, line=f.line,
                                                additional_context=context))

    def _risk_props(self, ref: str, f: Finding) -> None:
        props = self.props[ref]
        if f.quantum_vulnerable:
            props["pqml:quantum-vulnerable"] = "true"
        props.setdefault("pqml:quantum-vulnerable", "false")
        if f.risk is not None:
            order = ["info", "low", "medium", "high", "critical"]
            old = props.get("pqml:risk-level", "info")
            if order.index(f.risk.level) >= order.index(old):
                props["pqml:risk-level"] = f.risk.level
            if f.risk.deadline_year is not None:
                cur = int(props.get("pqml:deadline", "9999"))
                props["pqml:deadline"] = str(min(cur, f.risk.deadline_year))
            if f.risk.replacement:
                props["pqml:replacement"] = f.risk.replacement

    def _record(self, ref: str, f: Finding) -> str:
        """``f`` is one place of the component ``ref``: its risk and its occurrence."""
        self._risk_props(ref, f)
        self._occurrence(ref, f)
        return ref

    def _material(self, f: Finding, ref: str, alg_ref: str, name: str, material: str,
                  **fields: Any) -> str:
        """A ``related-crypto-material`` component (a key, a signature) of ``alg_ref``."""
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.crypto import (
            CryptoAssetType,
            CryptoProperties,
            RelatedCryptoMaterialProperties,
            RelatedCryptoMaterialType,
        )

        if ref not in self.components:
            self.components[ref] = Component(
                name=name, type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.RELATED_CRYPTO_MATERIAL,
                    related_crypto_material_properties=RelatedCryptoMaterialProperties(
                        type=RelatedCryptoMaterialType(material),
                        algorithm_ref=self.components[alg_ref].bom_ref, **fields),
                ),
            )
        self.depends[ref].add(alg_ref)
        return self._record(ref, f)

    def algorithm(self, algorithm: str, parameter: str | None, usage: str | None = None,
                  f: Finding | None = None, primitive: str | None = None,
                  oid: str | None = None) -> str:
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.crypto import (
            AlgorithmProperties,
            CryptoAssetType,
            CryptoPrimitive,
            CryptoProperties,
        )

        name = algorithm_name(algorithm, parameter)
        ref = f"crypto/algorithm/{_slug(name)}"
        if ref not in self.components:
            facts = lookup(algorithm, parameter, usage)
            prim = primitive or facts.primitive
            try:
                cprim = CryptoPrimitive(prim)
            except ValueError:
                cprim = CryptoPrimitive.OTHER if prim != "unknown" else CryptoPrimitive.UNKNOWN
            if cprim == CryptoPrimitive.KEY_WRAP:  # CycloneDX 1.7 only
                cprim = CryptoPrimitive.BLOCK_CIPHER
            curve = parameter if algorithm in _CURVED and parameter else None
            param_set = None if curve else parameter
            self.components[ref] = Component(
                name=name, type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.ALGORITHM,
                    algorithm_properties=AlgorithmProperties(
                        primitive=cprim, parameter_set_identifier=param_set,
                        curve=curve, classical_security_level=facts.classical_bits,
                        nist_quantum_security_level=facts.nist_quantum_level,
                    ),
                    oid=oid or (facts.oids[-1] if facts.oids else None),
                ),
            )
            self.props[ref]["pqml:quantum-vulnerable"] = str(facts.quantum_vulnerable).lower()
        if usage in _FUNCTIONS:
            self.functions[ref].add(_FUNCTIONS[usage])
        if f is not None:
            self._risk_props(ref, f)
        return ref

    # -- finding kinds -----------------------------------------------------------------------
    def add(self, f: Finding) -> str | None:
        if f.kind == "certificate":
            return self.certificate(f)
        if f.asset_type == "related-crypto-material":
            return self.key(f)
        if f.asset_type == "protocol":
            return self.protocol(f)
        if f.kind == "artifact":
            return self.artifact(f)
        if f.kind == "dependency":
            return self.library(f)
        if f.kind == "signature-bundle":
            return self.signature_bundle(f)
        ref = self.algorithm(f.algorithm, f.parameter, f.usage, f)
        self._occurrence(ref, f)
        return ref

    def key(self, f: Finding) -> str:
        alg_ref = self.algorithm(f.algorithm, f.parameter, None, f)
        fp = str(f.details.get("key_fingerprint") or f"{f.path}:{f.line}")
        kind = "private-key" if f.usage == "private-key" else "public-key"
        name = f"{algorithm_name(f.algorithm, f.parameter)} {kind.replace('-', ' ')}"
        size = int(f.parameter) if f.parameter and f.parameter.isdigit() else None
        fmt = "JWK" if f.details.get("kty") else ("OpenSSH" if f.kind == "ssh-key" else "PEM")
        return self._material(f, f"crypto/key/{_slug(fp)}", alg_ref, name, kind, id=fp,
                              size=size, format=fmt)

    def certificate(self, f: Finding) -> str:
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.crypto import CertificateProperties, CryptoAssetType, CryptoProperties

        d = f.details
        ref = f"crypto/certificate/{d.get('fingerprint_sha256', _slug(f.location))[:32]}"
        if ref not in self.components:
            sig = d.get("signature_algorithm") or {}
            sig_ref = None
            if sig.get("algorithm"):
                sig_name = sig.get("name") or sig["algorithm"]
                sig_ref = f"crypto/algorithm/{_slug(sig_name)}"
                if sig_ref not in self.components:
                    self._signature_algorithm(sig_ref, sig_name, sig)
            key_ref = self.key(_key_of(f))
            self.depends[ref].add(key_ref)
            if sig_ref:
                self.depends[ref].add(sig_ref)
            nb = _dt(d.get("not_before"))
            na = _dt(d.get("not_after"))
            cn = d.get("subject", "") or f.path
            self.components[ref] = Component(
                name=_common_name(cn), type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.CERTIFICATE,
                    certificate_properties=CertificateProperties(
                        subject_name=d.get("subject"), issuer_name=d.get("issuer"),
                        not_valid_before=nb, not_valid_after=na,
                        signature_algorithm_ref=(self.components[sig_ref].bom_ref
                                                 if sig_ref else None),
                        subject_public_key_ref=self.components[key_ref].bom_ref,
                        certificate_format="X.509",
                        certificate_extension=f.path.rsplit(".", 1)[-1] if "." in f.path
                        else None,
                    ),
                ),
            )
        return self._record(ref, f)

    def _signature_algorithm(self, ref: str, name: str, sig: dict[str, Any]) -> None:
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.crypto import (
            AlgorithmProperties,
            CryptoAssetType,
            CryptoFunction,
            CryptoPrimitive,
            CryptoProperties,
        )

        facts = lookup(sig["algorithm"], None, "sign")
        self.components[ref] = Component(
            name=name, type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
            crypto_properties=CryptoProperties(
                asset_type=CryptoAssetType.ALGORITHM,
                algorithm_properties=AlgorithmProperties(
                    primitive=CryptoPrimitive.SIGNATURE,
                    crypto_functions=[CryptoFunction.SIGN, CryptoFunction.VERIFY],
                    nist_quantum_security_level=facts.nist_quantum_level),
                oid=sig.get("oid")),
        )
        self.props[ref]["pqml:quantum-vulnerable"] = str(facts.quantum_vulnerable).lower()
        if sig.get("hash"):
            self.props[ref]["pqml:hash"] = sig["hash"]

    def protocol(self, f: Finding) -> str:
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.crypto import (
            CryptoAssetType,
            CryptoProperties,
            ProtocolProperties,
            ProtocolPropertiesCipherSuite,
            ProtocolPropertiesType,
        )

        ref = f"crypto/protocol/{_slug(f.root + '/' + f.path)}/{_slug(f.algorithm)}-" \
              f"{_slug(f.parameter or 'any')}"
        related = [g for g in self.result.active if g.path == f.path and g.root == f.root
                   and g.asset_type == "algorithm" and (
                       "cipher_token" in g.details or "token" in g.details)]
        alg_refs = [self.algorithm(g.algorithm, g.parameter, g.usage) for g in related]
        if ref not in self.components:
            suites = []
            for g in related:
                for name in g.details.get("cipher_suites", []) or []:
                    if name not in [s.name for s in suites]:
                        algos = [self.algorithm(h.algorithm, h.parameter, h.usage) for h in
                                 related if h.details.get("token") == name
                                 or h.details.get("cipher_token") == name]
                        suites.append(ProtocolPropertiesCipherSuite(
                            name=name, algorithms=[self.components[a].bom_ref for a in algos]))
            ptype = {"TLS": ProtocolPropertiesType.TLS, "SSH": ProtocolPropertiesType.SSH}.get(
                f.algorithm, ProtocolPropertiesType.OTHER)
            self.components[ref] = Component(
                name=f"{f.algorithm} {f.parameter}" if f.parameter else f.algorithm,
                type=ComponentType.CRYPTOGRAPHIC_ASSET, bom_ref=ref,
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.PROTOCOL,
                    protocol_properties=ProtocolProperties(
                        type=ptype, version=f.parameter, cipher_suites=suites,
                        crypto_refs=[self.components[a].bom_ref for a in dict.fromkeys(alg_refs)],
                    ),
                ),
            )
        self.depends[ref].update(alg_refs)
        return self._record(ref, f)

    def signature_bundle(self, f: Finding) -> str:
        alg_ref = self.algorithm(f.algorithm, f.parameter, "sign", f)
        return self._material(f, f"crypto/signature/{_slug(f.root + '/' + f.path)}", alg_ref,
                              f"OMS signature {f.path}", "signature",
                              format="Sigstore bundle v0.3 (DSSE, in-toto)")

    def artifact(self, f: Finding) -> str:
        from cyclonedx.model import Property
        from cyclonedx.model.component import Component, ComponentType

        art = f.details.get("artifact", {})
        prot = f.details.get("protection", {})
        ref = f"ml/{_slug(f.root + '/' + f.path)}"
        ctype = {"model": ComponentType.MACHINE_LEARNING_MODEL,
                 "dataset": ComponentType.DATA}.get(art.get("category"), ComponentType.FILE)
        props = [Property(name="pqml:format", value=str(art.get("format"))),
                 Property(name="pqml:protection", value=str(prot.get("status", "none"))),
                 Property(name="pqml:code-execution-risk",
                          value=str(bool(art.get("code_execution_risk"))).lower())]
        if art.get("dangerous_imports"):
            props.append(Property(name="pqml:dangerous-imports",
                                  value=", ".join(art["dangerous_imports"])))
        self.components[ref] = Component(name=f.path, type=ctype, bom_ref=ref, properties=props)
        enc = prot.get("encryption") or {}
        for kem in enc.get("kems", []):
            self.depends[ref].add(self.algorithm(kem, None, "encrypt", f))
        for bundle in prot.get("signatures", []) or []:
            sig_ref = f"crypto/signature/{_slug(f.root + '/' + bundle['bundle'])}"
            if sig_ref in self.components:
                self.depends[ref].add(sig_ref)
            for s in bundle.get("signatures", []):
                self.depends[ref].add(self.algorithm(s["algorithm"], s["parameter"], "sign"))
        return self._record(ref, f)

    def library(self, f: Finding) -> str:
        from cyclonedx.model.component import Component, ComponentType
        from packageurl import PackageURL

        version = f.details.get("version")
        ref = f"pkg/pypi/{f.algorithm}" + (f"@{version}" if version else "")
        if ref not in self.components:
            self.components[ref] = Component(
                name=f.algorithm, version=version, type=ComponentType.LIBRARY, bom_ref=ref,
                purl=PackageURL(type="pypi", name=f.algorithm, version=version),
                description=f.details.get("provides"))
        return self._record(ref, f)

    # -- output --------------------------------------------------------------------------------
    def build(self) -> str:
        from cyclonedx.model import Property
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.component_evidence import ComponentEvidence
        from cyclonedx.model.crypto import CryptoFunction
        from cyclonedx.output.json import JsonV1Dot6

        from pqml import __version__

        # signature bundles first, so artifacts can point at them
        ordered = sorted(self.result.active, key=lambda f: f.kind != "signature-bundle")
        for f in ordered:
            self.add(f)
        root_name = _root_name(self.result.roots)
        root = Component(name=root_name, type=ComponentType.APPLICATION, bom_ref="scanned-root")
        self.bom.metadata.component = root
        self.bom.metadata.timestamp = dt.datetime.now(dt.UTC)
        self.bom.metadata.tools.components.add(
            Component(name="pqml", version=__version__, type=ComponentType.APPLICATION))
        for ref, comp in self.components.items():
            if self.occurrences.get(ref):
                comp.evidence = ComponentEvidence(occurrences=self.occurrences[ref])
            funcs = self.functions.get(ref)
            cp = comp.crypto_properties
            if funcs and cp is not None and cp.algorithm_properties is not None:
                cp.algorithm_properties.crypto_functions = [CryptoFunction(x) for x in
                                                            sorted(funcs)]
            for k, v in sorted(self.props.get(ref, {}).items()):
                comp.properties.add(Property(name=k, value=v))
            self.bom.components.add(comp)
        for ref, deps in self.depends.items():
            self.bom.register_dependency(self.components[ref],
                                         [self.components[d] for d in sorted(deps) if d != ref])
        self.bom.register_dependency(root, list(self.components.values()))
        return JsonV1Dot6(self.bom).output_as_string(indent=2)


def _key_of(f: Finding) -> Finding:
    d = f.details
    return Finding(path=f.path, line=f.line, kind="pem", algorithm=d.get("key_algorithm") or
                   f.algorithm, primitive=f.primitive, usage="public-key", evidence=f.evidence,
                   parameter=d.get("key_parameter"), quantum_vulnerable=f.quantum_vulnerable,
                   asset_type="related-crypto-material", root=f.root,
                   details={"key_fingerprint": d.get("key_fingerprint") or
                            d.get("fingerprint_sha256", "")[:32]}, risk=f.risk)


def _common_name(subject: str) -> str:
    m = re.search(r"(?:^|,)CN=([^,]+)", subject)
    return m.group(1) if m else subject or "certificate"


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _root_name(roots: list[str]) -> str:
    import os

    names = [os.path.basename(os.path.abspath(r).rstrip("/")) or r for r in roots]
    return ", ".join(names) if names else "scan"


def render(result: ScanResult) -> str:
    """The CBOM as CycloneDX 1.6 JSON text."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns about incomplete dependency graphs
        return _Builder(result).build() + "\n"
