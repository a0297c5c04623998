"""Evaluate ``pqml monitor`` on a labelled synthetic log: detection rate per incident type
and false alarms per day, for the rules and for the learned detector.

Run: .venv/bin/python bench/monitor_eval.py [--days 30] [--users 10] [--seeds 0,1,2]
                                            [--slow-rates 0.5,1,2] [--no-learned]

The log imitates an ML organisation over ``--days`` days: teams with a shared encryption key
each (X-Wing) and a signing key; people decrypting models and datasets on weekdays around
office hours (a morning and an afternoon peak, the odd weekend session), verifying models
before loading them (with the rare benign failure), encrypting new assets; two GPU hosts
decrypting dataset shards every night; CI signing models daily; a key rotation, a contractor
key revoked (its files re-keyed), a benign retired-key decryption of old files. Into it go
labelled incidents:

- ``bulk-exfiltration``: one workstation decrypts hundreds of assets in under an hour at night;
- ``slow-and-low``: one person decrypts ``--slow-rates`` extra assets an hour, around the
  clock, for four days (the same harvest, kept under fixed limits);
- ``revoked-key-use``: a decryption with the revoked contractor key;
- ``compromised-key-use``: a key reported compromised two days after the fact (the uses in
  between are the incident), then rotated and its files re-keyed;
- ``classical-recipient``: a file re-keyed to add an X25519 recipient, another encrypted to
  X25519 only;
- ``verify-failure-burst``: a dozen failed verifications from one host in minutes.

An incident is detected when an alert names at least one of its entries; an alert that
names no incident entry is a false alarm. Fixed seeds: the same command prints the same
table. Prints a Markdown section (command, machine, date) for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import os
import platform
import random
import sys
import time
from collections.abc import Iterable
from typing import Any

from pqml.log.entry import Actor, Asset, LogEntry
from pqml.log.monitor import Monitor
from pqml.log.monitor_alert import Alert
from pqml.log.monitor_config import MonitorConfig

DAY = 86400.0
HOUR = 3600.0
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()  # a Monday
INCIDENT_TYPES = ("bulk-exfiltration", "slow-and-low", "revoked-key-use",
                  "compromised-key-use", "classical-recipient", "verify-failure-burst")
TEAMS = ("vision", "nlp", "data")


@dataclasses.dataclass
class Incident:
    kind: str
    time: float
    indices: set[int] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class SyntheticLog:
    entries: list[tuple[int, LogEntry]]
    incidents: list[Incident]
    days: int


def key_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class _Builder:
    """Collects (time, entry, incident label) and numbers them in time order at the end."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[tuple[float, int, LogEntry, str | None]] = []
        self.pids: dict[tuple[str, str], int] = {}

    def add(self, op: str, t: float, user: str, host: str, keys: Iterable[str],
            assets: Iterable[str] = (), details: dict[str, Any] | None = None,
            outcome: str = "ok", label: str | None = None) -> None:
        pid = self.pids.setdefault((user, host), self.rng.randrange(1000, 60000))
        entry = LogEntry(op, outcome, t, Actor(user, host, pid), tuple(keys),
                         tuple(Asset(a, None) for a in assets), details or {})
        self.events.append((t, len(self.events), entry, label))

    def build(self, days: int) -> SyntheticLog:
        self.events.sort(key=lambda e: (e[0], e[1]))
        incidents: dict[str, Incident] = {}
        entries = []
        for index, (t, _, entry, label) in enumerate(self.events):
            entries.append((index, entry))
            if label is not None:
                incidents.setdefault(label, Incident(label, t)).indices.add(index)
        return SyntheticLog(entries, sorted(incidents.values(), key=lambda i: i.time), days)


def _office_time(rng: random.Random, day_start: float) -> float:
    """A moment of an office day: peaks at 10:30 and 15:00 UTC, nothing before 7 or after 20."""
    while True:
        hour = rng.gauss(10.5, 1.3) if rng.random() < 0.5 else rng.gauss(15.0, 1.5)
        if 7 <= hour < 20:
            return day_start + hour * HOUR


def generate(days: int = 30, users: int = 10, seed: int = 0, *, incidents: bool = True,
             slow_rate: float = 2.0) -> SyntheticLog:
    """A labelled synthetic log (see the module docstring). ``days`` >= 14."""
    if days < 14:
        raise ValueError("the synthetic log needs at least 14 days (7 to learn baselines)")
    b = _Builder(seed)
    rng = b.rng
    admin, admin_host = "svc-admin", "kms-1"
    # Keys: a team key each (the key of a team changes on rotation and after the compromise).
    team_key = {team: key_id(f"{team}-1") for team in TEAMS}
    sign_key = {team: key_id(f"{team}-sign") for team in TEAMS}
    contractor_key = key_id("contractor")
    for k in [*team_key.values(), contractor_key]:
        b.add("key.new", START, admin, admin_host, (k,), (),
              {"algorithm": "X-Wing", "purpose": "encrypt", "label": None})
    for k in sign_key.values():
        b.add("key.new", START, admin, admin_host, (k,), (),
              {"algorithm": "ML-DSA-65", "purpose": "sign", "label": None})
    # Assets: (path, bytes) per team, each with the key it is encrypted to.
    asset_key: dict[str, str] = {}
    sizes: dict[str, int] = {}
    team_assets: dict[str, list[str]] = {}
    for team in TEAMS:
        team_assets[team] = []
        for i in range(60):
            kind = "model" if i % 3 == 0 else "data"
            path = f"s3://ml/{team}/{kind}-{i:03d}.pqml"
            team_assets[team].append(path)
            asset_key[path] = team_key[team]
            sizes[path] = int(rng.lognormvariate(18, 1.2))  # ~65 MB median
    shards = [f"s3://ml/data/shards/part-{i:04d}.pqml" for i in range(400)]
    for s in shards:
        asset_key[s] = team_key["data"]
        sizes[s] = int(rng.lognormvariate(17, 0.3))
    people = [f"user{i:02d}" for i in range(users)]
    team_of = {p: TEAMS[i % len(TEAMS)] for i, p in enumerate(people)}
    rate = {p: rng.uniform(6, 22) for p in people}
    working_set = {p: rng.sample(team_assets[team_of[p]], 12) for p in people}
    contractor = people[-1]
    contractor_assets = [f"s3://ml/contract/report-{i:02d}.pqml" for i in range(8)]
    for a in contractor_assets:
        asset_key[a] = contractor_key
        sizes[a] = 2_000_000

    rotate_day = int(days * 0.45)      # vision key rotated (benign)
    revoke_day = int(days * 0.4)       # contractor key revoked (benign), its files re-keyed
    compromise_mark = START + int(days * 0.85) * DAY + 11 * HOUR
    compromised_at = compromise_mark - 2 * DAY
    slow_who = people[1 % users]
    slow_start = START + int(days * 0.72) * DAY

    def decrypt(t: float, user: str, host: str, path: str, label: str | None = None) -> None:
        k = asset_key[path]
        if label is None and incidents and t >= compromised_at and k == key_id("data-1"):
            label = "compromised-key-use"  # a use an attacker with the key could have made
        b.add("decrypt", t, user, host, (k,), (path,),
              {"bytes": sizes[path], "format": "pqml/v1"}, label=label)

    def rekey(t: float, path: str, new_key: str, label: str | None = None,
              algorithms: str = "X-Wing", classical_only: bool = False) -> None:
        asset_key[path] = new_key
        b.add("rekey", t, admin, admin_host, (new_key,) if "," not in algorithms
              else (new_key, key_id("legacy-x25519")), (path,),
              {"recipient_algorithms": algorithms, "classical_only": classical_only,
               "bytes": sizes[path], "format": "pqml/v1"}, label=label)

    for day in range(days):
        day_start = START + day * DAY
        weekday = dt.datetime.fromtimestamp(day_start, dt.UTC).weekday() < 5
        # Benign key life: rotation, revocation, the compromise response.
        if day == rotate_day:
            t = day_start + 9 * HOUR
            old, new = team_key["vision"], key_id("vision-2")
            b.add("key.new", t, admin, admin_host, (new,), (),
                  {"algorithm": "X-Wing", "purpose": "encrypt", "label": None})
            b.add("key.rotate", t + 1, admin, admin_host, (old, new), (), {"successor": new})
            b.add("key.state", t + 2, admin, admin_host, (old,), (),
                  {"from": "active", "to": "retired", "reason": "rotation",
                   "compromised_at": None})
            team_key["vision"] = new  # new assets go to the new key; old ones keep theirs
        if day == revoke_day:
            t = day_start + 16 * HOUR
            for i, a in enumerate(contractor_assets):
                rekey(t + i, a, team_key[team_of[contractor]])
            b.add("key.state", t + 60, admin, admin_host, (contractor_key,), (),
                  {"from": "active", "to": "revoked", "reason": "contract ended",
                   "compromised_at": None})
        if incidents and day_start <= compromise_mark < day_start + DAY:
            old, new = team_key["data"], key_id("data-2")
            b.add("key.state", compromise_mark, admin, admin_host, (old,), (),
                  {"from": "active", "to": "compromised", "reason": "key file leaked",
                   "compromised_at": compromised_at},
                  label="compromised-key-use")
            b.add("key.new", compromise_mark + 60, admin, admin_host, (new,), (),
                  {"algorithm": "X-Wing", "purpose": "encrypt", "label": None})
            for i, a in enumerate([*team_assets["data"], *shards]):
                if asset_key[a] == old:
                    rekey(compromise_mark + 120 + i, a, new)
            for a, k in list(asset_key.items()):
                if k == old:  # anything else the old key protected
                    rekey(compromise_mark + 2000, a, new)
            team_key["data"] = new
        # Nightly training on the GPU hosts: dataset shards, every day.
        for host in ("gpu-1", "gpu-2"):
            t = day_start + (1 if host == "gpu-1" else 2) * HOUR + rng.uniform(0, 600)
            for s in rng.sample(shards, rng.randint(40, 80)):
                t += rng.uniform(20, 60)
                decrypt(t, "svc-train", host, s)
        # CI signs a model per team on weekdays.
        if weekday:
            for team in TEAMS:
                t = day_start + 6 * HOUR + rng.uniform(0, 1800)
                b.add("sign", t, "svc-ci", "ci-1", (sign_key[team],),
                      (rng.choice(team_assets[team]),),
                      {"algorithms": "ML-DSA-65", "root_digest": "sha256:" + "0" * 64})
        # People.
        for p in people:
            team = team_of[p]
            n = _poisson(rng, rate[p]) if weekday else \
                (rng.randint(1, 3) if rng.random() < 0.1 else 0)
            host = f"ws-{p}"
            for _ in range(n):
                t = _office_time(rng, day_start)
                if p == contractor and day < revoke_day and rng.random() < 0.3:
                    path = rng.choice(contractor_assets)
                elif rng.random() < 0.85:
                    path = rng.choice(working_set[p])
                else:
                    path = rng.choice(team_assets[team])
                if "/model-" in path and rng.random() < 0.4:
                    failed = rng.random() < 0.004  # a rare benign failure (a stale bundle)
                    b.add("verify", t - 5, p, host, (sign_key[team],), (path,),
                          {"algorithms": "ML-DSA-65", "root_digest": "sha256:" + "1" * 64,
                           **({"reason": "digest mismatch"} if failed else {})},
                          outcome="failed" if failed else "ok")
                decrypt(t, p, host, path)
            if weekday and rng.random() < 0.08:  # a new asset, to the team's current key
                t = _office_time(rng, day_start)
                path = f"s3://ml/{team}/new-{p}-{day:03d}.pqml"
                sizes[path] = int(rng.lognormvariate(18, 1))
                asset_key[path] = team_key[team]
                team_assets[team].append(path)
                b.add("encrypt", t, p, host, (team_key[team],), (path,),
                      {"recipient_algorithms": "X-Wing", "classical_only": False,
                       "bytes": sizes[path], "format": "pqml/v1"})

    if incidents:
        _inject(b, days, people, team_of, team_assets, shards, asset_key, decrypt, rekey,
                sizes, contractor, contractor_assets, contractor_key, slow_who, slow_start,
                slow_rate, sign_key)
    return b.build(days)


def _inject(b: _Builder, days: int, people: list[str], team_of: dict[str, str],
            team_assets: dict[str, list[str]], shards: list[str], asset_key: dict[str, str],
            decrypt: Any, rekey: Any, sizes: dict[str, int], contractor: str,
            contractor_assets: list[str], contractor_key: str, slow_who: str,
            slow_start: float, slow_rate: float, sign_key: dict[str, str]) -> None:
    rng = b.rng
    # Classical recipients: an X25519 recipient added to a file; a file to X25519 only.
    t = START + int(days * 0.3) * DAY + 14 * HOUR
    victim = team_assets["nlp"][5]
    rekey(t, victim, asset_key[victim], label="classical-recipient",
          algorithms="X-Wing,X25519")
    b.add("encrypt", t + 3 * DAY, people[0], f"ws-{people[0]}", (key_id("legacy-x25519"),),
          ("s3://ml/nlp/export.age",),
          {"recipient_algorithms": "X25519", "classical_only": True, "bytes": 10_000_000,
           "format": "age"}, label="classical-recipient")
    # Revoked key use: the contractor decrypts with the revoked key (a copy kept aside).
    t = START + int(days * 0.5) * DAY + 10 * HOUR
    for i, a in enumerate(contractor_assets[:3]):
        b.add("decrypt", t + i * 40, contractor, f"ws-{contractor}", (contractor_key,), (a,),
              {"bytes": sizes[a], "format": "pqml/v1"}, label="revoked-key-use")
    # Bulk exfiltration: a workstation opens hundreds of assets at night.
    thief = people[2 % len(people)]
    t = START + int(days * 0.6) * DAY + 2.5 * HOUR
    loot = [*team_assets[team_of[thief]], *rng.sample(shards, 300)]
    for a in loot[:350]:
        t += rng.uniform(3, 8)
        decrypt(t, thief, f"ws-{thief}", a, label="bulk-exfiltration")
    # Verification-failure burst: a host fed tampered models.
    t = START + int(days * 0.7) * DAY + 3 * HOUR
    for i in range(12):
        team = TEAMS[i % 3]
        b.add("verify", t + i * 20, "svc-deploy", "deploy-1", (sign_key[team],),
              (rng.choice(team_assets[team]),),
              {"algorithms": "ML-DSA-65", "root_digest": "sha256:" + "2" * 64,
               "reason": "signature does not verify"}, outcome="failed",
              label="verify-failure-burst")
    # Slow and low: `slow_rate` extra decryptions an hour, day and night, for four days.
    team = team_of[slow_who]
    pool = list(team_assets[team])
    rng.shuffle(pool)
    for h in range(4 * 24):
        for _ in range(_poisson(rng, slow_rate)):
            a = pool.pop() if pool else rng.choice(team_assets[team])
            decrypt(slow_start + h * HOUR + rng.uniform(0, HOUR), slow_who, f"ws-{slow_who}",
                    a, label="slow-and-low")


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (lam is small here)."""
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# -- evaluation --------------------------------------------------------------------------------

@dataclasses.dataclass
class Score:
    detected: dict[str, bool]
    false_alarms: int
    alerts: int
    days: int

    @property
    def false_alarms_per_day(self) -> float:
        return self.false_alarms / self.days


def score(log: SyntheticLog, alerts: list[Alert]) -> Score:
    labelled = set().union(*(i.indices for i in log.incidents)) if log.incidents else set()
    detected = {i.kind: any(i.indices & set(a.entries) for a in alerts) for i in log.incidents}
    false = sum(1 for a in alerts if not labelled & set(a.entries))
    return Score(detected, false, len(alerts), log.days)


def rule_alerts(log: SyntheticLog, config: MonitorConfig | None = None) -> list[Alert]:
    return list(Monitor(config).run(log.entries))


def learned_alerts(log: SyntheticLog, config: MonitorConfig | None = None) -> list[Alert]:
    from pqml.log.anomaly import LearnedDetector

    return LearnedDetector((config or MonitorConfig()).learned).alerts(log.entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--slow-rates", default="0.5,1,2",
                        help="extra decryptions an hour of the slow-and-low incident")
    parser.add_argument("--no-learned", action="store_true")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    rates = [float(r) for r in args.slow_rates.split(",")]
    detectors = ["rules"] if args.no_learned else ["rules", "learned"]
    print("## Monitoring: detection on a labelled synthetic log (bench/monitor_eval.py)\n")
    print(f"Command: `{' '.join([os.path.basename(sys.executable), *sys.argv])}`  ")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}  ")
    print(f"Date: {dt.date.today().isoformat()}; {args.days} days, {args.users} users, "
          f"seeds {args.seeds}, default [monitor] settings.\n")
    # Detection by type, averaged over seeds (and slow-and-low per rate).
    found: dict[tuple[str, str], list[bool]] = {}
    false: dict[str, list[float]] = {d: [] for d in detectors}
    clean_false: dict[str, list[float]] = {d: [] for d in detectors}
    timing: dict[str, list[float]] = {d: [] for d in detectors}
    sizes = []
    for seed in seeds:
        for rate in rates:
            log = generate(args.days, args.users, seed, slow_rate=rate)
            sizes.append(len(log.entries))
            for d in detectors:
                began = time.perf_counter()
                alerts = rule_alerts(log) if d == "rules" else learned_alerts(log)
                timing[d].append(time.perf_counter() - began)
                s = score(log, alerts)
                for kind, hit in s.detected.items():
                    key = f"slow-and-low ({rate:g}/h)" if kind == "slow-and-low" else kind
                    found.setdefault((d, key), []).append(hit)
                false[d].append(s.false_alarms_per_day)
        clean = generate(args.days, args.users, seed, incidents=False)
        for d in detectors:
            alerts = rule_alerts(clean) if d == "rules" else learned_alerts(clean)
            clean_false[d].append(len(alerts) / clean.days)
    kinds = sorted({k for _, k in found}, key=lambda k: (INCIDENT_TYPES.index(
        k.split(" (")[0]), k))
    print("| incident type | " + " | ".join(f"{d}: detected" for d in detectors) + " |")
    print("|---|" + "---:|" * len(detectors))
    for kind in kinds:
        cells = []
        for d in detectors:
            hits = found.get((d, kind), [])
            cells.append(f"{sum(hits)}/{len(hits)} ({sum(hits) / len(hits):.0%})")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("| false alarms per day (log with incidents) | " + " | ".join(
        f"{_mean(false[d]):.2f}" for d in detectors) + " |")
    print("| false alarms per day (clean log) | " + " | ".join(
        f"{_mean(clean_false[d]):.2f}" for d in detectors) + " |")
    print("| time per log (median, s) | " + " | ".join(
        f"{_median(timing[d]):.2f}" for d in detectors) + " |")
    print("| entries per second (median) | " + " | ".join(
        f"{_median(sizes) / _median(timing[d]):,.0f}" for d in detectors) + " |")
    print(f"\nLogs of {min(sizes)}-{max(sizes)} entries. An incident counts as detected when "
          "an alert names one of its entries; an alert naming none is a false alarm "
          "(one burst can raise one alert per key, user and host).")
    return 0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


if __name__ == "__main__":
    sys.exit(main())
