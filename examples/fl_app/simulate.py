"""Run the example federation in Flower's simulation engine, protection on, one command:

    .venv/bin/python examples/fl_app/simulate.py            # 2 nodes, 3 rounds
    .venv/bin/python examples/fl_app/simulate.py --rogue    # + a node with an unregistered key
    .venv/bin/python examples/fl_app/simulate.py --secure   # + PQ secure aggregation, 3 nodes

It makes fresh keys (the server's X-Wing pair, one ML-DSA-65 key per node, the registry
directory of node public keys) unless ``--keys DIR`` already holds them, runs Flower's
``run_simulation`` and prints each round's accuracy and what pqml accepted and rejected.
``--secure`` runs the legacy-API variant (``pqml_fl_example/secure_app.py``) with both
protections on: post-quantum secure aggregation and sealed, signed updates; it prints, per
round, the accuracy on held-out points and how many nodes survived secure aggregation and
passed the protection checks. The exit status is 1 if any round failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def generate_keys(keys_dir: Path, num_nodes: int, *, rogue: bool = False,
                  kem: str = "X-Wing") -> None:
    """server.pem/.pub, node-<i>.pem, nodes/node-<i>.pub; the rogue node's key stays out of
    the registry (nodes/)."""
    from pqml.keys import key_files

    (keys_dir / "nodes").mkdir(parents=True, exist_ok=True)
    if not (keys_dir / "server.pem").exists():
        server = key_files.generate(kem)
        key_files.save_private(server, keys_dir / "server.pem")
        key_files.save_public(server, keys_dir / "server.pub")
    for i in range(num_nodes + (1 if rogue else 0)):
        if (keys_dir / f"node-{i}.pem").exists():
            continue
        node = key_files.generate("ML-DSA-65")
        key_files.save_private(node, keys_dir / f"node-{i}.pem")
        if i < num_nodes:
            key_files.save_public(node, keys_dir / "nodes" / f"node-{i}.pub")


def run(keys_dir: Path, *, num_nodes: int = 2, rounds: int = 3, rogue: bool = False,
        inner: Any = None) -> dict[str, Any]:
    """Run the simulation; the ServerApp's result (model, per-round metrics, rejections)."""
    sys.path.insert(0, str(HERE))
    # Ray workers unpickle the ClientApp: they must find this package too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from flwr.simulation import run_simulation
    from pqml_fl_example import server_app
    from pqml_fl_example.client_app import make_client_app

    generate_keys(keys_dir, num_nodes, rogue=rogue)
    server_app.RESULTS.clear()
    run_simulation(
        server_app=server_app.make_server_app(server_key=keys_dir / "server.pem",
                                              nodes=keys_dir / "nodes", num_rounds=rounds,
                                              inner=inner),
        client_app=make_client_app(keys_dir),
        num_supernodes=num_nodes + (1 if rogue else 0),
        backend_config={"client_resources": {"num_cpus": 1},
                        # a Ray instance of its own: never join a cluster found running
                        "init_args": {"num_cpus": 2, "include_dashboard": False,
                                      "address": "local"}})
    return dict(server_app.RESULTS)


def run_secure(keys_dir: Path, *, num_nodes: int = 3, rounds: int = 3,
               rogue: bool = False) -> dict[str, Any]:
    """Run the both-protections variant; the ServerApp's result (model, per-round accuracy
    and secure-aggregation facts)."""
    sys.path.insert(0, str(HERE))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from flwr.simulation import run_simulation
    from pqml_fl_example import secure_app

    generate_keys(keys_dir, num_nodes, rogue=rogue)
    total = num_nodes + (1 if rogue else 0)
    secure_app.RESULTS.clear()
    run_simulation(
        server_app=secure_app.make_server_app(server_key=keys_dir / "server.pem",
                                              nodes=keys_dir / "nodes", num_nodes=total,
                                              num_rounds=rounds, eval_nodes=num_nodes),
        client_app=secure_app.make_client_app(keys_dir),
        num_supernodes=total,
        backend_config={"client_resources": {"num_cpus": 1},
                        "init_args": {"num_cpus": 2, "include_dashboard": False,
                                      "address": "local"}})
    return dict(secure_app.RESULTS)


def report_secure(result: dict[str, Any], rounds: int) -> int:
    """Print the secure run's rounds; 0 if every round aggregated, else 1."""
    accuracy = result["accuracy"]
    print(f"round 0: accuracy {accuracy.get(0, float('nan')):.3f}  (initial model)")
    for facts in result["secagg"]:
        rnd = facts["round"]
        print(f"round {rnd}: accuracy {accuracy.get(rnd, float('nan')):.3f}  "
              f"secure aggregation ({facts['kem']}) of {facts['survivors']} of "
              f"{facts['sampled']} nodes, threshold {facts['threshold']}; pqml accepted "
              f"{facts['accepted']}, rejected {facts['rejected']}")
    print(f"final model sha256 {result['model-sha256']}")
    done = [facts["round"] for facts in result["secagg"]]
    if done != list(range(1, rounds + 1)):
        print(f"secure aggregation completed rounds {done} of {rounds}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, help="nodes (default 2; 3 with --secure)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rogue", action="store_true",
                        help="add a node whose key is not registered (its updates are rejected)")
    parser.add_argument("--secure", action="store_true",
                        help="also run post-quantum secure aggregation (legacy API app)")
    parser.add_argument("--keys", type=Path, help="key directory (default: a fresh temporary one)")
    parser.add_argument("--result-json", type=Path, help="also write the result here (JSON)")
    args = parser.parse_args()
    if args.secure:
        return main_secure(args)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.keys or Path(tmp), num_nodes=args.nodes or 2, rounds=args.rounds,
                     rogue=args.rogue)
    if not result:
        print("the simulation did not finish", file=sys.stderr)
        return 1
    for rnd in sorted(result["evaluate"]):
        train, evaluation = result["train"][rnd], result["evaluate"][rnd]
        print(f"round {rnd}: accuracy {evaluation.get('eval-acc', float('nan')):.3f}  "
              f"pqml accepted {train['pqml-accepted']}, rejected {train['pqml-rejected']}")
    for rejection in result["rejections"]:
        print(f"rejected: round {rejection['round']} {rejection['message_type']} from node "
              f"{rejection['node_id']}: {rejection['reason']}")
    print(f"final model sha256 {result['model-sha256']}")
    if args.result_json:
        summary = {k: v for k, v in result.items() if k != "model"}
        args.result_json.write_text(json.dumps(summary, indent=2))
    return 0


def main_secure(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        result = run_secure(args.keys or Path(tmp), num_nodes=args.nodes or 3,
                            rounds=args.rounds, rogue=args.rogue)
    if not result:
        print("the simulation did not finish", file=sys.stderr)
        return 1
    status = report_secure(result, args.rounds)
    if args.result_json:
        summary = {**result, "model": [a.tolist() for a in result["model"]]}
        args.result_json.write_text(json.dumps(summary, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
