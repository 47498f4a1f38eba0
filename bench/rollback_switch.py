"""Benchmark: how long a rollback takes to reach the live endpoint, under load.

Against a running platform (`make demo` leaves digits with two released versions):
4 clients send `:predict` requests in a loop while production of a workflow flips
between its current and its previous version (the same code path as
`modelfleet rollback`). For each flip it records the time from the start of the alias
move (a Postgres transaction, then NOTIFY) to the first response answered by the
new version, and counts failed requests.
It ends with the original version in production.

    .venv/bin/python bench/rollback_switch.py [--workflow digits] [--flips 6]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import threading
import time

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflow", default="digits")
    parser.add_argument("--flips", type=int, default=6)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.api_keys import auth_headers
    from modelfleet.releases import rollback_target, set_production
    from modelfleet.settings import get_settings

    settings = get_settings()
    with Session(db.engine()) as session:
        start = rollback_target(session, args.workflow, None)  # validates there are two
    with Session(db.engine()) as session:
        from modelfleet.registry.store.versions import resolve_alias

        current = resolve_alias(session, args.workflow)
    assert current is not None
    original, other = current.version, start
    from modelfleet.config import load_fleet
    from modelfleet.datasets.sources import source_for

    image = source_for(load_fleet().get(args.workflow)).test_set()[0].data
    body = {"instances": [{"b64": base64.b64encode(image).decode()}]}
    seen: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(
            base_url=settings.endpoint_url, headers=auth_headers(settings), timeout=30
        ) as http:
            while not stop.is_set():
                try:
                    response = http.post(f"/v1/models/{args.workflow}:predict", json=body)
                    seen.append(
                        (
                            time.monotonic(),
                            response.status_code,
                            response.headers.get("X-Model-Version"),
                        )
                    )
                except httpx.HTTPError:
                    seen.append((time.monotonic(), 0, None))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    switches = []
    try:
        time.sleep(1.0)
        for flip in range(args.flips):
            target = other if flip % 2 == 0 else original
            started = time.monotonic()  # set_production commits the alias first
            set_production(
                settings, args.workflow, target, actor="bench", reason="switch benchmark"
            )
            while not any(t > started and v == target for t, _, v in seen):
                if time.monotonic() - started > 30:
                    raise SystemExit(f"{target} never answered within 30 s")
                time.sleep(0.005)
            switches.append(min(t for t, _, v in seen if t > started and v == target) - started)
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if args.flips % 2:
            set_production(settings, args.workflow, original, actor="bench", reason="restore")
    failed = sum(1 for _, status, _ in seen if status != 200)
    print(f"workflow {args.workflow}: {original} <-> {other}, {args.clients} clients")
    print(f"requests {len(seen)}, failed {failed}")
    print(
        f"switch latency over {len(switches)} flips: median {statistics.median(switches):.3f}s, "
        f"max {max(switches):.3f}s"
    )


if __name__ == "__main__":
    main()
