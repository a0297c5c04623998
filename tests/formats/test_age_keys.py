"""age key strings and files: the age spec's examples, CCTV vectors, file grammar."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pqml.errors import KeyFormatError, WrongKeyTypeError
from pqml.formats import age_keys, bech32
from pqml.primitives import registry

from conftest import vector

# The age spec (C2SP age, "Native recipient types") gives one example key pair per type.
SPEC_X25519_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_X25519_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
SPEC_PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
SPEC_PQ_RECIPIENT = (
    "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdxz95paef6caq5aapd"
    "mwjjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694v78snxg3yzvcl7yda0eyytqj6a0ec477"
    "lnhcy5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6kyj4v2z8alktn8zh99970x79gjkv7522hv9kfz35zsnxhsx8w"
    "wtmu9cy3ftzjgwcp4sshn3llnylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742479zrxzpvp2p3e9f"
    "ed9f0739vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchzcfcs5mkyyjxhw0n2z6dv"
    "p9yn9qfdp29h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8qcnhy7tu6dkdujuxzkp9xj43"
    "xe8h92ktre2a3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k57ff6wddn2fy23t47sm20r8km8sd2pcyyafnet8f"
    "0dajsrlyjeah4n3mssr6aseevuuskdvq5lzguyvpgwpta742c6698vgutzqgny8usfg0w2he7kq5vyxjd0f9hqg8"
    "xk26y9e4th0gezq92q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38pxxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8"
    "xnmppcgmaykvh5sh6g7vk9790rf8ws0axmr2t7z8aae5fq2029uvcn2ghgt4fu4wgwdc0k0cz52qkvwmuzj8p8k5"
    "jgf3xzk5zmrkavjekjrpeq408xz3zxazwkc6tyfmhayrkfpjhwtz5mp8j8guqe43k2q6m2kte03vrw27y3wmqyu5"
    "etmt9dnkwcnnpmu9gz9dekfhdevf42ucshphnrk38ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjg"
    "lpwlptpwydhqw64xz7ptjdyeyzpq2zkxtmzg29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvt"
    "rt8hwcmgv8x7ajw7258ugf9wvkmk4052ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrhfuwj7yky"
    "snq9jxy0uv3kuyt22djszjdtvpz6d0s0kwh8ryynddzud92emeyvvyqktd0jtj7rvvg5gch25v8smlvny3kvn5ga"
    "gyz475ze2y6q466xqmz2n3hs77lddeqyta2nch5k2u5yacuk9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq"
    "22ejexlud9fy2kdqmkg5yncz7jm5wv2qjk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lw"
    "g3xdarsdlwe2y3tujy480y7z39q259fzx6jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m"
    "2g433exgwppnkjscec8qu4y9z9r7vccexjcjaen42245lmgmxmuavg9alej92322gvvyy2t6267v09ch64y0m53j"
    "ff0vjj96s0ypk60hr3jw4myd6m5hpn3xjstx7tl2szhpr5qe8jj08ydjc4wy2rch2fhuy3pdfjax5awe9j99ly5h"
    "kntzz9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043"
    "x3msnygf8dweknw5jmqd0uvny6ttsn09508k0c55zfnegrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2ykx3"
    "qheyty7saeq0d3fzv49zc0k"
)


def _cctv_dir() -> Path:
    return vector("age-cctv", "testdata")


def _cctv_header(path: Path) -> dict[str, list[str]]:
    data = path.read_bytes()
    fields: dict[str, list[str]] = {}
    for line in data[: data.index(b"\n\n")].decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return fields


def _cctv_identities() -> set[str]:
    found: set[str] = set()
    for path in sorted(_cctv_dir().iterdir()):
        found.update(_cctv_header(path).get("identity", []))
    return found


# ---- the spec's examples ---------------------------------------------------------------


def test_spec_x25519_pair() -> None:
    key = age_keys.parse_identity(SPEC_X25519_IDENTITY)
    assert key.algorithm == "X25519"
    assert age_keys.encode_recipient(key.public_key()) == SPEC_X25519_RECIPIENT
    assert age_keys.encode_identity(key) == SPEC_X25519_IDENTITY
    assert age_keys.parse_recipient(SPEC_X25519_RECIPIENT) == key.public_key()


def test_spec_pq_pair_is_xwing() -> None:
    """age's MLKEM768-X25519 key pair is exactly our X-Wing key pair."""
    key = age_keys.parse_identity(SPEC_PQ_IDENTITY)
    assert key.algorithm == "X-Wing"
    assert len(key.private_bytes()) == 32
    assert age_keys.encode_recipient(key.public_key()) == SPEC_PQ_RECIPIENT
    assert age_keys.encode_identity(key) == SPEC_PQ_IDENTITY
    public = age_keys.parse_recipient(SPEC_PQ_RECIPIENT)
    assert public.algorithm == "X-Wing" and len(public.public_bytes()) == 1216
    assert public == key.public_key()
    assert SPEC_PQ_RECIPIENT.startswith("age1pq1") and len(SPEC_PQ_RECIPIENT) > 90


# ---- CCTV vectors ----------------------------------------------------------------------


def test_cctv_identities_parse_and_round_trip() -> None:
    identities = _cctv_identities()
    assert any(i.startswith("AGE-SECRET-KEY-PQ-1") for i in identities)
    assert any(i.startswith("AGE-SECRET-KEY-1") for i in identities)
    for text in identities:
        key = age_keys.parse_identity(text)
        expected = "X-Wing" if text.startswith("AGE-SECRET-KEY-PQ-") else "X25519"
        assert key.algorithm == expected
        assert age_keys.encode_identity(key) == text
        recipient = age_keys.encode_recipient(key.public_key())
        assert recipient.startswith("age1pq1" if expected == "X-Wing" else "age1")
        assert age_keys.parse_recipient(recipient) == key.public_key()


def test_cctv_same_seed_both_types() -> None:
    """CCTV reuses one 32-byte secret as an X25519 and as a PQ identity."""
    x = age_keys.parse_identity(
        "AGE-SECRET-KEY-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSSAGZ3KG")
    pq = age_keys.parse_identity(
        "AGE-SECRET-KEY-PQ-143WN7DCXU4G8R5AXQSSYD9AEPYDNT3HXSLWSPK36CDU6E8M59SSS8XZSCQ")
    assert x.private_bytes() == pq.private_bytes()
    assert (x.algorithm, pq.algorithm) == ("X25519", "X-Wing")


def _first_stanza(path: Path) -> tuple[list[str], bytes]:
    data = path.read_bytes()
    header = data[data.index(b"\n\n") + 2 :].split(b"\n")
    assert header[0] == b"age-encryption.org/v1"
    args = header[1].decode().split(" ")[1:]
    return args, base64.b64decode(header[2] + b"=" * (-len(header[2]) % 4))


def test_cctv_x25519_identity_unwraps_file_key() -> None:
    """The parsed identity and derived recipient open the vector's stanza (age spec recipe)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    path = _cctv_dir() / "x25519"
    fields = _cctv_header(path)
    key = age_keys.parse_identity(fields["identity"][0])
    args, body = _first_stanza(path)
    assert args[0] == "X25519"
    share = base64.b64decode(args[1] + "=")
    recipient = key.public_key().public_bytes()
    secret = key.backend_key.exchange(x25519.X25519PublicKey.from_public_bytes(share))
    wrap = HKDF(hashes.SHA256(), 32, share + recipient, b"age-encryption.org/v1/X25519").derive(
        secret
    )
    file_key = ChaCha20Poly1305(wrap).decrypt(bytes(12), body, None)
    assert file_key.hex() == fields["file key"][0]


def test_cctv_hybrid_identity_unwraps_file_key() -> None:
    """X-Wing identity → pyca's HPKE MLKEM768-X25519 key opens the mlkem768x25519 stanza."""
    from cryptography.hazmat.primitives import hpke

    path = _cctv_dir() / "hybrid"
    fields = _cctv_header(path)
    key = age_keys.parse_identity(fields["identity"][0])
    args, body = _first_stanza(path)
    assert args[0] == "mlkem768x25519"
    enc = base64.b64decode(args[1] + "=" * (-len(args[1]) % 4))
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                       hpke.AEAD.CHACHA20_POLY1305)
    hpke_key = hpke.MLKEM768X25519PrivateKey(*key.components)
    file_key = suite.decrypt(enc + body, hpke_key, b"age-encryption.org/mlkem768x25519")
    assert file_key.hex() == fields["file key"][0]


# ---- strings: errors ---------------------------------------------------------------------


def test_identity_case_rules() -> None:
    with pytest.raises(KeyFormatError, match="upper case"):
        age_keys.parse_identity(SPEC_X25519_IDENTITY.lower())
    with pytest.raises(KeyFormatError, match="lower case"):
        age_keys.parse_recipient(SPEC_X25519_RECIPIENT.upper())
    with pytest.raises(KeyFormatError, match="mixed case"):
        age_keys.parse_identity(SPEC_X25519_IDENTITY[:-1] + SPEC_X25519_IDENTITY[-1].lower())


def test_checksum_typo_rejected_without_echo() -> None:
    typo = SPEC_PQ_IDENTITY[:-3] + ("Q" if SPEC_PQ_IDENTITY[-3] != "Q" else "P") + \
        SPEC_PQ_IDENTITY[-2:]
    with pytest.raises(KeyFormatError, match="checksum") as info:
        age_keys.parse_identity(typo)
    assert SPEC_PQ_IDENTITY[18:40] not in str(info.value)


def test_wrong_kind_rejected() -> None:
    with pytest.raises(WrongKeyTypeError):
        age_keys.parse_identity(SPEC_X25519_RECIPIENT)
    with pytest.raises(WrongKeyTypeError):
        age_keys.parse_recipient(SPEC_X25519_IDENTITY)
    with pytest.raises(KeyFormatError, match="plugin"):
        age_keys.parse_recipient(bech32.encode("age1yubikey", bytes(33)))
    with pytest.raises(KeyFormatError, match="plugin"):
        age_keys.parse_identity(bech32.encode("AGE-PLUGIN-YUBIKEY-", bytes(10)))
    with pytest.raises(KeyFormatError, match="prefix"):
        age_keys.parse_recipient(bech32.encode("bc", bytes(20)))


def test_wrong_payload_length_rejected() -> None:
    for text in (bech32.encode("age", bytes(31)), bech32.encode("age1pq", bytes(1215))):
        with pytest.raises(KeyFormatError):
            age_keys.parse_recipient(text)
    for text in (bech32.encode("AGE-SECRET-KEY-", bytes(33)),
                 bech32.encode("AGE-SECRET-KEY-PQ-", bytes(64))):
        with pytest.raises(KeyFormatError):
            age_keys.parse_identity(text)


def test_non_age_algorithms_refused() -> None:
    key = registry.scheme("ML-KEM-768").generate()
    with pytest.raises(WrongKeyTypeError, match="only X-Wing and X25519"):
        age_keys.encode_identity(key)
    with pytest.raises(WrongKeyTypeError, match="only X-Wing and X25519"):
        age_keys.encode_recipient(key.public_key())
    with pytest.raises(WrongKeyTypeError):
        age_keys.encode_recipient(key)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["X-Wing", "X25519"])
def test_generated_round_trip(alg: str) -> None:
    key = registry.scheme(alg).generate()
    identity = age_keys.encode_identity(key)
    assert identity == identity.upper()
    again = age_keys.parse_identity(identity)
    assert again.private_bytes() == key.private_bytes()
    assert age_keys.parse_recipient(age_keys.encode_recipient(key.public_key())) == key.public_key()


# ---- files -------------------------------------------------------------------------------


def test_identity_file_as_age_keygen_writes_it() -> None:
    key = age_keys.parse_identity(SPEC_PQ_IDENTITY)
    text = age_keys.format_identity_file(key, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    lines = text.splitlines()
    assert lines[0] == "# created: 2025-01-02T03:04:05Z"
    assert lines[1] == f"# public key: {SPEC_PQ_RECIPIENT}"
    assert lines[2] == SPEC_PQ_IDENTITY
    assert text.endswith("\n")
    keys = age_keys.parse_identity_file(text.encode())
    assert [k.private_bytes() for k in keys] == [key.private_bytes()]


def test_identity_file_several_keys_comments_crlf() -> None:
    data = (
        "# created: 2025-01-02T03:04:05+01:00\r\n"
        f"# public key: {SPEC_X25519_RECIPIENT}\r\n"
        f"{SPEC_X25519_IDENTITY}\r\n"
        "\r\n"
        "   \n"
        "# second\n"
        f"{SPEC_PQ_IDENTITY}\n"
    )
    keys = age_keys.parse_identity_file(data)
    assert [k.algorithm for k in keys] == ["X25519", "X-Wing"]


def test_identity_file_garbage_names_line_not_content() -> None:
    data = f"# created: now\n{SPEC_X25519_IDENTITY}\nhello secret world\n".encode()
    with pytest.raises(KeyFormatError, match="line 3") as info:
        age_keys.parse_identity_file(data)
    assert "hello" not in str(info.value)
    with pytest.raises(KeyFormatError, match="no identities"):
        age_keys.parse_identity_file(b"# only a comment\n\n")
    with pytest.raises(WrongKeyTypeError, match="line 1"):
        age_keys.parse_identity_file(SPEC_X25519_RECIPIENT + "\n")
    with pytest.raises(KeyFormatError, match="UTF-8"):
        age_keys.parse_identity_file(b"\xff\xfe")


def test_recipients_file() -> None:
    data = (f"# team\n{SPEC_X25519_RECIPIENT}\n\n{SPEC_PQ_RECIPIENT}\n").encode()
    keys = age_keys.parse_recipients_file(data)
    assert [k.algorithm for k in keys] == ["X25519", "X-Wing"]
    with pytest.raises(KeyFormatError, match="line 2"):
        age_keys.parse_recipients_file(f"{SPEC_X25519_RECIPIENT}\nage1nope\n")
    with pytest.raises(WrongKeyTypeError, match="line 1"):
        age_keys.parse_recipients_file(SPEC_PQ_IDENTITY)
    with pytest.raises(KeyFormatError, match="no recipients"):
        age_keys.parse_recipients_file("# nothing\n")


@pytest.mark.skipif(shutil.which("age-keygen") is None, reason="age-keygen not installed")
def test_real_age_keygen_file(tmp_path: Path) -> None:
    out = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(out)], check=True, capture_output=True)
    text = out.read_text()
    (key,) = age_keys.parse_identity_file(text)
    recipient = next(line.split(": ", 1)[1] for line in text.splitlines()
                     if line.startswith("# public key: "))
    assert age_keys.encode_recipient(key.public_key()) == recipient
    converted = subprocess.run(["age-keygen", "-y", str(out)], check=True, capture_output=True,
                               text=True).stdout.strip()
    assert converted == recipient
