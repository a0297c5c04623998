"""The [monitor] table of pqml.toml: settings change what the rules do, and every mistake
is one line naming the rule and the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pqml.log.errors import MonitorConfigError
from pqml.log.monitor import Monitor
from pqml.log.monitor_config import MonitorConfig, load, parse, parse_duration


def test_defaults_without_a_monitor_table() -> None:
    cfg = parse('[scan]\nignore = ["x"]\n', "pqml.toml")
    assert cfg.bulk_decrypt == MonitorConfig().bulk_decrypt
    assert cfg.source == "pqml.toml"


def test_settings_are_applied() -> None:
    cfg = parse("""
[monitor]
fail_on = "medium"
webhook = "http://127.0.0.1:9/hook"
[monitor.bulk-decrypt]
window = "10m"
max_count = 5
by = "host"
severity = "critical"
[monitor.unusual-decrypt]
enabled = false
[monitor.rotation-overdue]
max_age = { encrypt = "30d", sign = "2w" }
[monitor.learned]
threshold = 0.8
""", "p.toml")
    assert cfg.fail_on == "medium" and cfg.webhook == "http://127.0.0.1:9/hook"
    b = cfg.bulk_decrypt
    assert (b.window, b.max_count, b.by, b.severity) == (600.0, 5, ("host",), "critical")
    assert cfg.unusual_decrypt.enabled is False
    assert cfg.rotation_overdue.max_age == {"encrypt": 30 * 86400.0, "sign": 14 * 86400.0}
    assert cfg.learned.threshold == 0.8
    ids = [r.id for r in Monitor(cfg).rules]
    assert "unusual-decrypt" not in ids and "rotation-overdue" in ids


@pytest.mark.parametrize(("text", "message"), [
    ("[monitor.bulk-decrypt]\nmax_cont = 5", "unknown setting monitor.bulk-decrypt.max_cont"),
    ("[monitor.bulk-decryption]\nmax_count = 5", "unknown key monitor.bulk-decryption"),
    ("[monitor.bulk-decrypt]\nmax_count = -1",
     "monitor.bulk-decrypt.max_count must be a non-negative integer"),
    ("[monitor.bulk-decrypt]\nmax_count = \"many\"",
     "monitor.bulk-decrypt.max_count must be a non-negative integer"),
    ("[monitor.verify-failures]\nseverity = \"urgent\"",
     "monitor.verify-failures.severity must be one of low, medium, high, critical"),
    ("[monitor.bulk-decrypt]\nwindow = \"1 fortnight\"",
     "monitor.bulk-decrypt.window must be a duration"),
    ("[monitor.bulk-decrypt]\nwindow = 0", "monitor.bulk-decrypt.window must be more than 0"),
    ("[monitor.bulk-decrypt]\nby = [\"team\"]", "monitor.bulk-decrypt.by must be a non-empty"),
    ("[monitor.unusual-decrypt]\nfactor = 0.5", "monitor.unusual-decrypt.factor must be at "
                                                "least 1"),
    ("[monitor.key-state-use]\nopening_states = [\"gone\"]",
     "monitor.key-state-use.opening_states must be a list of key states"),
    ("[monitor.rotation-overdue]\nmax_age = { backup = \"1d\" }",
     "monitor.rotation-overdue.max_age.backup: unknown purpose"),
    ("[monitor.learned]\nthreshold = 1.5", "monitor.learned.threshold must be between 0 and 1"),
    ("[monitor.learned]\nenabled = \"yes\"", "monitor.learned.enabled must be true or false"),
    ("[monitor]\nfail_on = \"sometimes\"", "monitor.fail_on must be one of"),
    ("[monitor]\nwebhook = \"file:///etc/passwd\"", "monitor.webhook must be an http"),
    ("monitor = 3", "[monitor] must be a table"),
    ("[monitor\n", "invalid TOML"),
])
def test_mistakes_name_the_setting(text: str, message: str) -> None:
    with pytest.raises(MonitorConfigError) as info:
        parse(text, "conf.toml")
    text_of = str(info.value)
    assert text_of.startswith("conf.toml: ") and message in text_of
    assert "\n" not in text_of


def test_durations() -> None:
    assert [parse_duration(v, "x") for v in (90, "90", "90s", "10m", "1.5h", "2d", "1w")] == \
        [90, 90, 90, 600, 5400, 172800, 604800]


def test_load_finds_pqml_toml_in_the_working_directory(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load(None) == MonitorConfig()
    (tmp_path / "pqml.toml").write_text("[monitor.bulk-decrypt]\nmax_count = 7\n")
    assert load(None).bulk_decrypt.max_count == 7
    with pytest.raises(MonitorConfigError, match=r"nope\.toml: config file not found"):
        load("nope.toml")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(MonitorConfigError, match="over 1048576 bytes"):
        load(str(big))
