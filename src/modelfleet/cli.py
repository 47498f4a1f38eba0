"""`modelfleet ...`: the command line. Each command is a few lines over the library."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from modelfleet.errors import ConfigError, ModelfleetError
from modelfleet.host.identity import login_env
from modelfleet.settings import CHECKOUT

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def cmd_up(args: argparse.Namespace) -> None:
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.platform.up import up
    from modelfleet.settings import get_settings

    settings = get_settings()
    up(settings)
    print(
        f"Airflow UI {settings.airflow_url} (login {ADMIN_USER} / {admin_password(settings)}); "
        f"endpoint {settings.endpoint_url}"
    )


def cmd_stop(args: argparse.Namespace) -> None:
    from modelfleet.platform.up import stop
    from modelfleet.settings import get_settings

    stop(get_settings())


def cmd_status(args: argparse.Namespace) -> None:
    from modelfleet.platform.up import status
    from modelfleet.settings import get_settings

    settings = get_settings()
    for name, state in status(settings).items():
        print(f"{name:24} {state}")
    print(
        f"Airflow UI {settings.airflow_url}   endpoint {settings.endpoint_url}   home {settings.home}"
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from modelfleet.platform.demo import demo
    from modelfleet.settings import get_settings

    demo(get_settings())


def cmd_serve(args: argparse.Namespace) -> None:
    from modelfleet.serving.app import serve
    from modelfleet.settings import get_settings

    workers = get_settings().endpoint_workers if args.workers is None else args.workers
    serve(args.host, args.port, workers=workers, insecure_local=args.insecure_local)


def cmd_warm_runner(args: argparse.Namespace) -> None:
    from modelfleet.settings import get_settings
    from modelfleet.warm.server import run

    run(args.socket or get_settings().warm_socket)


def cmd_ingest(args: argparse.Namespace) -> None:
    from modelfleet.settings import get_settings

    settings = get_settings()
    if args.once:
        if args.workers not in (None, 1):
            raise ConfigError("--once scans in this process: it takes no --workers")
        from modelfleet.config import load_fleet
        from modelfleet.ingest.watcher import Ingestor
        from modelfleet.registry import db

        ingestor = Ingestor(settings, load_fleet(settings.config_file), db.database_url())
        print(json.dumps(ingestor.scan_once()))
        return
    from modelfleet.ingest.run import run

    run(settings.ingest_workers if args.workers is None else args.workers)


def cmd_lineage(args: argparse.Namespace) -> None:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from modelfleet.datasets.manifest import sha256_file
    from modelfleet.registry import db
    from modelfleet.registry.store.lineage import prediction_lineage, version_lineage
    from modelfleet.views import render_lineage

    target: str = args.target
    with Session(db.engine()) as session:
        if "@v" in target and not Path(target).exists():
            workflow, _, version = target.partition("@")
            chain = version_lineage(session, workflow, version)
        elif _SHA256.match(target):
            chain = prediction_lineage(session, target)
        elif Path(target).is_file():
            chain = prediction_lineage(session, sha256_file(Path(target)))
        else:
            raise ModelfleetError(f"{target!r} is not an image file, a sha256 or <workflow>@vX.Y.Z")
    if args.json:
        print(json.dumps(chain, indent=2, default=str))
    else:
        Console().print(render_lineage(chain))


def cmd_zoo(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rich.console import Console
    from rich.table import Table

    from modelfleet.zoo.catalog import describe_families

    shape = tuple(args.input_shape)
    table = Table(title=f"architecture zoo at input {list(shape)}, {args.classes} classes")
    for column in ("family", "parameters", "layers", "features", "description"):
        table.add_column(
            column, justify="right" if column in ("parameters", "layers", "features") else "left"
        )
    for row in describe_families(shape, args.classes):  # type: ignore[arg-type]
        table.add_row(
            row["name"],
            f"{row['params']:,}",
            str(row["layers"]),
            str(row["features"]),
            row["description"],
        )
    Console().print(table)


def cmd_zoo_trial(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rich.console import Console

    from modelfleet.config import load_fleet
    from modelfleet.views import render_trial
    from modelfleet.zoo.trial import trial

    if not args.budget_min > 0:
        raise ConfigError(f"--budget-min must be positive minutes, got {args.budget_min}")
    workflow = load_fleet().get(args.workflow)
    progress = None if args.json else (lambda line: print(f"  {line}", flush=True))
    result = trial(workflow, args.budget_min * 60, progress=progress)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
        return
    Console().print(render_trial(result))
    print(f"recommended: {result.recommendation.reason}")


def cmd_retrain(args: argparse.Namespace) -> int:
    from datetime import datetime

    from modelfleet.config import load_fleet
    from modelfleet.orchestration import trigger
    from modelfleet.orchestration.airflow_client import AirflowClient
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.settings import get_settings

    settings = get_settings()
    client = AirflowClient(settings.airflow_url, ADMIN_USER, admin_password(settings))
    request = trigger.RetrainRequest(args.workflow, args.month, unpause=args.unpause)
    run = trigger.trigger(client, load_fleet(settings.config_file), request, say=print)
    print(f"triggered {run.dag_id} for {run.month}: run {run.run_id}")
    if not args.wait:
        print(f"follow it at {run.url} (or add --wait)")
        return 0

    def progress(task: str, state: str) -> None:
        print(f"  {datetime.now():%H:%M:%S}  {task:9} {state}", flush=True)

    result = trigger.follow(client, run, args.timeout * 60, progress)
    print("\n".join(trigger.describe(result)))
    return result.exit_code


def _month(text: str) -> str:
    """argparse type of --month: YYYY-MM."""
    from modelfleet.orchestration.trigger import check_month

    try:
        return str(check_month(text))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_data_generate(args: argparse.Namespace) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.datasets.deliveries import month_dir, write_delivery
    from modelfleet.settings import get_settings

    workflow = load_fleet().get(args.workflow)
    out = args.out or month_dir(get_settings().deliveries, workflow.name, args.month)
    counts = write_delivery(workflow, args.month, out)
    print(f"delivered {counts} images for {workflow.name} {args.month} to {out}")


def cmd_data_import(args: argparse.Namespace) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.datasets.importer import import_month
    from modelfleet.settings import get_settings

    workflow = load_fleet().get(args.workflow)
    summary = import_month(
        workflow, args.source, args.month, get_settings().deliveries, replace=args.replace
    )
    print("\n".join(summary.lines()))


def _input_shape(text: str) -> tuple[int, int, int]:
    """argparse type of --input-shape: HxWxC, e.g. 64x64x3."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected HxWxC such as 64x64x3, got {text!r}")
    height, width, channels = (int(p) for p in parts)
    return (height, width, channels)


def cmd_workflow_add(args: argparse.Namespace) -> None:
    import yaml

    from modelfleet.platform import workflow_add
    from modelfleet.settings import get_settings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a zoo trial imports TensorFlow
    settings = get_settings()
    request = workflow_add.AddRequest(
        name=args.name,
        source=args.source,
        architecture=args.architecture,
        input_shape=args.input_shape,
        schedule=args.schedule,
        test_url=args.test,
        test_fraction=args.test_fraction,
        trial_budget_s=args.budget_min * 60,
    )

    def say(line: str) -> None:
        print(line, flush=True)

    plan = workflow_add.plan(request, settings, say)
    print(f"\nproposed workflow {args.name!r}:")
    print(yaml.safe_dump(plan.proposal.document(), sort_keys=False).rstrip())
    print("why:")
    print("\n".join(f"  {note}" for note in plan.proposal.notes))
    if args.dry_run:
        print("--dry-run: nothing written")
        return
    applied = workflow_add.add(plan, settings, say, actor=_cli_actor(args))
    print(f"wrote {settings.workflows_d / (args.name + '.yaml')}")
    workflow = applied.fleet.get(args.name)
    if applied.rendered:
        workflow_add.unpause_if_paused(settings, workflow.dag_id, say)
    when = "within a minute, with no restart" if applied.rendered else "once `modelfleet up` ran"
    print(
        f"{when}: {workflow.dag_id} appears in Airflow unpaused "
        f"(its {workflow.schedule} schedule starts with last month's interval), the "
        f"endpoint knows {args.name!r} (404 until a version is deployed) and the stream "
        f"classifier watches {settings.landing / args.name}/"
    )
    latest = plan.summary.months[-1]
    print(f"train a month now: modelfleet retrain {args.name} --month {latest} --wait")


def cmd_workflow_list(args: argparse.Namespace) -> None:
    from modelfleet.platform.workflow_list import list_workflows
    from modelfleet.settings import get_settings

    listing = list_workflows(get_settings())
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(listing), indent=1, default=str))
        return
    from rich.console import Console

    from modelfleet.views import render_workflows

    Console().print(render_workflows(listing))


def cmd_workflow_remove(args: argparse.Namespace) -> None:
    from modelfleet.platform.workflow_remove import declaring_file, remove
    from modelfleet.settings import get_settings

    settings = get_settings()
    path = declaring_file(settings, args.name)  # refuse before asking
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"workflow remove {args.name}: not a terminal to confirm; add --yes")
        answer = input(
            f"Archive workflow {args.name!r} ({path})? Its DAGs go, the endpoint answers 404, "
            "the stream stops watching and its grants are revoked; versions and lineage "
            "stay. [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return
    removed = remove(settings, args.name, print, actor=_cli_actor(args), reason=args.reason)
    print(f"archived {args.name}: {path} -> {removed.archived_to}")
    revoked = ", ".join(f"{app}={pin}" for app, pin in removed.revoked.items())
    print(f"revoked grants: {revoked or 'none'}")
    print(
        f"within a minute: retrain__{args.name} leaves Airflow, the endpoint answers 404, "
        f"the stream stops watching landing/{args.name}/; `modelfleet versions {args.name}` "
        "and `modelfleet lineage` still answer"
    )


def cmd_migrate(args: argparse.Namespace) -> None:
    from modelfleet.registry import db

    db.migrate()
    print("lineage schema is at the latest revision")


def cmd_render(args: argparse.Namespace) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.settings import CHECKOUT
    from modelfleet.versioning.render import render_dvc_yaml, render_params

    fleet = load_fleet(shipped_only=True)  # the user's workflows.d stays out of the checkout
    (CHECKOUT / "params.yaml").write_text(render_params(fleet))
    (CHECKOUT / "dvc.yaml").write_text(render_dvc_yaml(fleet))
    print("wrote params.yaml and dvc.yaml from workflows.yaml")


def cmd_rollback(args: argparse.Namespace) -> None:
    from modelfleet.releases import rollback
    from modelfleet.settings import get_settings

    old, new = rollback(
        get_settings(), args.workflow, to=args.to, actor=_cli_actor(args), reason=args.reason
    )
    print(f"{args.workflow} production: {old} -> {new} (the endpoint swaps within seconds)")


def cmd_approve(args: argparse.Namespace) -> None:
    from modelfleet.host.identity import actor
    from modelfleet.pipeline.approve import approve

    operator = actor(args.actor)
    done = approve(args.workflow, args.candidate, reason=args.reason, operator=operator)
    where = "now in production" if done["moved"] else "registered; a newer version stays"
    print(f"approved {done['tag']} ({where}); overrode: {done['overridden']}")


def _grants(specs: list[str]) -> dict[str, str]:
    """`wf` or `wf=pin` -> {wf: pin}; the pin defaults to production."""
    grants = {}
    for spec in specs:
        workflow, _, pin = spec.partition("=")
        grants[workflow] = pin or "production"
    return grants


def _applications_session():  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    from modelfleet.registry import db

    return Session(db.engine())


def cmd_apps_create(args: argparse.Namespace) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.registry.store import applications

    grants = _grants(args.grant)
    fleet = load_fleet()
    for workflow in grants:
        fleet.get(workflow)  # ConfigError names the fleet's workflows
    with _applications_session() as session, session.begin():
        key = applications.create_application(
            session, args.name, grants=grants, actor=_cli_actor(args), admin=args.admin
        )
    print(
        f"created application {args.name!r}: "
        + (", ".join(f"{w}={p}" for w, p in grants.items()) or "no grants")
    )
    print("its API key (shown once; send it as 'Authorization: Bearer <key>'):")
    print(key)


def cmd_apps_key(args: argparse.Namespace) -> None:
    from modelfleet.registry.store import applications

    with _applications_session() as session, session.begin():
        key = applications.issue_key(session, args.name)
    print(f"new API key for {args.name!r} (the old one stops working within seconds; shown once):")
    print(key)


def cmd_apps_grant(args: argparse.Namespace) -> None:
    from modelfleet.registry.store import applications

    who = _cli_actor(args)
    with _applications_session() as session, session.begin():
        for workflow, pin in _grants(args.grant).items():
            applications.set_grant(session, args.name, workflow, pin, actor=who, reason=args.reason)
    print(f"{args.name}: " + ", ".join(args.grant))


def cmd_apps_revoke(args: argparse.Namespace) -> None:
    from modelfleet.registry.store import applications

    with _applications_session() as session, session.begin():
        applications.revoke(session, args.name)
    print(f"revoked the key of {args.name!r}; requests with it get 401 within seconds")


def cmd_apps_list(args: argparse.Namespace) -> None:
    from modelfleet.registry.store import applications
    from modelfleet.views import render_applications

    with _applications_session() as session:
        apps = applications.list_applications(session)
    if args.json:
        print(json.dumps([_app_json(a) for a in apps], indent=1, default=str))
    else:
        from rich.console import Console

        Console().print(render_applications(apps))


def _app_json(app: Any) -> dict[str, Any]:
    return {
        "name": app.name,
        "admin": app.admin,
        "grants": app.grants,
        "has_key": app.has_key,
        "declared": app.declared,
        "revoked_at": app.revoked_at,
    }


def cmd_versions(args: argparse.Namespace) -> None:
    from modelfleet.registry.store.reports import version_summaries
    from modelfleet.views import render_versions

    _report(args, version_summaries, render_versions)


def cmd_history(args: argparse.Namespace) -> None:
    from modelfleet.registry.store.reports import alias_events
    from modelfleet.views import render_history

    _report(args, alias_events, render_history)


def cmd_fleet(args: argparse.Namespace) -> None:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from modelfleet.config import load_fleet
    from modelfleet.registry import db
    from modelfleet.registry.store.reports import fleet_summary
    from modelfleet.views import render_fleet

    with Session(db.engine()) as session:
        rows = fleet_summary(session, list(load_fleet().workflows))
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        Console().print(render_fleet(rows))


def _report(args: argparse.Namespace, fetch: Any, render: Any) -> None:
    """Print a workflow's report rows as a table, or as JSON with --json."""
    from rich.console import Console
    from sqlalchemy.orm import Session

    from modelfleet.registry import db

    with Session(db.engine()) as session:
        rows = fetch(session, args.workflow)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        Console().print(render(args.workflow, rows))


def cmd_reproduce(args: argparse.Namespace) -> None:
    from modelfleet.settings import get_settings
    from modelfleet.versioning.reproduce import reproduce

    result = reproduce(get_settings(), args.tag)
    print(f"recorded sha256 {result.recorded_sha256}")
    print(f"rebuilt  sha256 {result.rebuilt_sha256}")
    if not result.match:
        raise ModelfleetError(
            f"{args.tag}: MISMATCH; what differs: " + "; ".join(result.differences)
        )
    print(f"{args.tag}: match (bit-identical weights)")


def cmd_doctor(args: argparse.Namespace) -> None:
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.settings import get_settings
    from modelfleet.versioning.doctor import diagnose
    from modelfleet.versioning.repo import open_repo

    with Session(db.engine()) as session:
        problems = diagnose(get_settings(), session, open_repo())
    for problem in problems:
        print(problem)
    if problems:
        raise ModelfleetError(f"{len(problems)} disagreement(s) between Postgres, GTO and serving")
    print("Postgres, the GTO tags and stages, and the serving folder agree")


def cmd_simulate_year(args: argparse.Namespace) -> None:
    from modelfleet.config import load_fleet
    from modelfleet.harness.year.simulate import plan_from, simulate_year
    from modelfleet.settings import get_settings

    settings = get_settings()
    plan = plan_from(
        load_fleet(settings.config_file),
        args.only,
        args.months,
        clients=args.clients,
        rate_per_client=args.rate,
        timeout_min=args.timeout_min,
        report_path=Path(args.report),
    )
    command = (
        " ".join(["modelfleet", *sys.argv[1:]]) if sys.argv[1:] else "modelfleet simulate-year"
    )
    print(simulate_year(settings, plan, command))


def _cli_actor(args: argparse.Namespace) -> str:
    """The actor a history row records for this command: `cli:<who>`."""
    from modelfleet.host.identity import actor

    return f"cli:{actor(args.actor)}"


# Resolved when a command runs, never while the parser is built: `--help` must work
# for a uid without a passwd entry (host/identity.py).
_ACTOR_HELP = "who acts (default $MODELFLEET_ACTOR, the login name, or uid:<n>)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelfleet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "up", help="start Postgres, Airflow, the endpoint and the stream classifier"
    ).set_defaults(func=cmd_up)
    sub.add_parser("stop", help="stop everything `up` started").set_defaults(func=cmd_stop)
    sub.add_parser("status", help="which processes run").set_defaults(func=cmd_status)
    sub.add_parser(
        "demo", help="up, retrain digits for two months, stream images, show lineage"
    ).set_defaults(func=cmd_demo)
    serve = sub.add_parser("serve", help="run the prediction endpoint (foreground)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes accepting on the port (default $MODELFLEET_ENDPOINT_WORKERS or 1); "
        "the number of cores gives the most requests/s, each loads every model",
    )
    serve.add_argument(
        "--insecure-local",
        action="store_true",
        help="do not check API keys (every caller is admin): demos on your own machine only",
    )
    serve.set_defaults(func=cmd_serve)
    ingest = sub.add_parser("ingest", help="run the stream classifier (foreground)")
    ingest.add_argument("--once", action="store_true", help="process what is there, then exit")
    ingest.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes sharing the landing folders (default $MODELFLEET_INGEST_WORKERS or 2)",
    )
    ingest.set_defaults(func=cmd_ingest)
    warm_runner = sub.add_parser(
        "warm-runner",
        help="run dvc, gto and stage commands for the platform with imports done (foreground)",
    )
    warm_runner.add_argument(
        "--socket", type=Path, default=None, help="default $MODELFLEET_HOME/run/warm.sock"
    )
    warm_runner.set_defaults(func=cmd_warm_runner)
    lineage = sub.add_parser(
        "lineage", help="why did the model say that? (image, sha256 or wf@vX.Y.Z)"
    )
    lineage.add_argument("target")
    lineage.add_argument("--json", action="store_true")
    lineage.set_defaults(func=cmd_lineage)
    zoo = sub.add_parser("zoo", help="list the CNN architecture families with parameter counts")
    zoo.add_argument(
        "--input-shape", type=int, nargs=3, default=[32, 32, 3], metavar=("H", "W", "C")
    )
    zoo.add_argument("--classes", type=int, default=10)
    zoo.set_defaults(func=cmd_zoo)
    zoo_trial = zoo.add_subparsers(dest="zoo_command").add_parser(
        "trial",
        help="train every family briefly on a workflow's data; recommend one",
        description="Train each CNN family on the workflow's latest months of data (its own "
        "source and preprocessing) for an equal share of the budget, score each on those "
        "months' holdout, and time it serving. Recommends the best holdout macro-F1; "
        "within 0.005 of it, the fewest serving ms per image.",
    )
    zoo_trial.add_argument("workflow")
    zoo_trial.add_argument(
        "--budget-min",
        type=float,
        default=10.0,
        metavar="N",
        help="minutes of training for all families together (default 10); each family's "
        "graph tracing, scoring and timing come on top",
    )
    zoo_trial.add_argument("--json", action="store_true", help="the results as JSON, no progress")
    zoo_trial.set_defaults(func=cmd_zoo_trial)
    retrain = sub.add_parser(
        "retrain",
        help="trigger retrain__<wf> in Airflow (as the UI's Trigger); --wait follows it",
        description="Trigger a workflow's retrain__<wf> DAG over Airflow's REST API. Without "
        "--month the run takes the month its data interval starts in: the last complete "
        "interval of the schedule before now, i.e. last month under @monthly. With --wait: "
        "exit 0 released, 3 rejected by the gate, 4 skipped (no data for the month), "
        "1 failed or timed out.",
    )
    retrain.add_argument("workflow")
    retrain.add_argument(
        "--month",
        type=_month,
        help="YYYY-MM to train on (default: last month, the interval the schedule would take)",
    )
    retrain.add_argument("--wait", action="store_true", help="follow the tasks, print the outcome")
    retrain.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="MIN",
        help="with --wait: stop waiting after this many minutes (exit 1; the run goes on)",
    )
    retrain.add_argument(
        "--unpause",
        action="store_true",
        help="unpause a paused DAG first (this also starts its schedule); without it a "
        "paused DAG is an error, since Airflow would queue the run and never start it",
    )
    retrain.set_defaults(func=cmd_retrain)
    data = sub.add_parser("data", help="datasets").add_subparsers(
        dest="data_command", required=True
    )
    generate = data.add_parser(
        "generate", help="deliver one month of a workflow's images (<split>/<label>/<file>)"
    )
    generate.add_argument("workflow")
    generate.add_argument("--month", required=True, help="YYYY-MM")
    generate.add_argument(
        "--out", type=Path, help="default: $MODELFLEET_HOME/deliveries/<wf>/<month>/"
    )
    generate.set_defaults(func=cmd_data_generate)
    imported = data.add_parser(
        "import",
        help="copy one month's images from a folder or URL (s3://...) into the deliveries",
    )
    imported.add_argument("workflow")
    imported.add_argument(
        "source", metavar="PATH_OR_URL", help="<label>/<file> or {train,holdout}/<label>/<file>"
    )
    imported.add_argument("--month", required=True, help="YYYY-MM")
    imported.add_argument(
        "--replace", action="store_true", help="replace a month that was delivered before"
    )
    imported.set_defaults(func=cmd_data_import)
    workflow = sub.add_parser(
        "workflow", help="your own workflows: add one from a folder or bucket, list, remove"
    ).add_subparsers(dest="workflow_command", required=True)
    add = workflow.add_parser(
        "add",
        help="a folder or bucket of <YYYY-MM>/<label>/<file> becomes a workflow",
        description="Inspect the folder (every image is read once), propose the workflow "
        "(input shape, expectations, gate sample size, architecture) and write it to "
        "$MODELFLEET_HOME/workflows.d/NAME.yaml, with params.yaml and dvc.yaml rendered in "
        "the model repository. Within a minute, with no restart, retrain__NAME appears in "
        "Airflow unpaused, the endpoint knows NAME and the stream watches landing/NAME/. "
        "See docs/your-own-images.md.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--from", dest="source", required=True, metavar="PATH_OR_URL", help="path, file://, s3://"
    )
    add.add_argument(
        "--architecture",
        metavar="A|auto",
        help="a family of `modelfleet zoo` (default: lenet, proposed), or auto: a zoo trial "
        "on this folder's images chooses (takes --budget-min and a little more)",
    )
    add.add_argument("--input-shape", type=_input_shape, metavar="HxWxC", help="e.g. 64x64x3")
    add.add_argument("--schedule", help="an Airflow schedule (default @monthly)")
    add.add_argument("--test", metavar="URL", help="the frozen test set's own folder")
    add.add_argument(
        "--test-fraction",
        type=float,
        metavar="F",
        help="carve the frozen test set out of the months by file hash (when there is no "
        "test/ folder)",
    )
    add.add_argument(
        "--budget-min",
        type=float,
        default=10.0,
        metavar="N",
        help="with --architecture auto: minutes of training for all families (default 10)",
    )
    add.add_argument("--dry-run", action="store_true", help="inspect and propose; write nothing")
    add.add_argument("--actor", help=_ACTOR_HELP)
    add.set_defaults(func=cmd_workflow_add)
    listed = workflow.add_parser("list", help="shipped and added workflows, production versions")
    listed.add_argument("--json", action="store_true")
    listed.set_defaults(func=cmd_workflow_list)
    remove = workflow.add_parser(
        "remove",
        help="archive a workflow you added (versions and lineage stay queryable)",
        description="Move workflows.d/NAME.yaml to workflows.d/.archive/, render the model "
        "repository without it and revoke every grant of it. Its DAGs leave Airflow, the "
        "endpoint answers 404 and the stream stops watching landing/NAME/ within a minute. "
        "Shipped workflows are refused.",
    )
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.add_argument(
        "--reason", default="removed with `modelfleet workflow remove`", help="recorded"
    )
    remove.add_argument("--actor", help=_ACTOR_HELP)
    remove.set_defaults(func=cmd_workflow_remove)
    rollback = sub.add_parser(
        "rollback", help="move production back (default: to the version it replaced)"
    )
    rollback.add_argument("workflow")
    rollback.add_argument("--to", metavar="vX.Y.Z", help="the version to make production")
    rollback.add_argument("--reason", required=True, help="why; recorded in the alias history")
    rollback.add_argument("--actor", help=_ACTOR_HELP)
    rollback.set_defaults(func=cmd_rollback)
    approve = sub.add_parser(
        "approve", help="release a candidate the gate rejected (register, deploy, smoke)"
    )
    approve.add_argument("workflow")
    approve.add_argument(
        "candidate", nargs="?", default="latest", help="training run id (default: latest rejected)"
    )
    approve.add_argument("--reason", required=True, help="why; recorded with the gate decision")
    approve.add_argument("--actor", help=_ACTOR_HELP)
    approve.set_defaults(func=cmd_approve)
    fleet = sub.add_parser("fleet", help="every workflow: production, metrics, last gate")
    fleet.add_argument("--json", action="store_true")
    fleet.set_defaults(func=cmd_fleet)
    for name, func, what in (
        ("versions", cmd_versions, "a workflow's versions with metrics and gate decisions"),
        ("history", cmd_history, "the production alias history: when, who, from -> to, why"),
    ):
        command = sub.add_parser(name, help=what)
        command.add_argument("workflow")
        command.add_argument("--json", action="store_true")
        command.set_defaults(func=func)
    apps = sub.add_parser(
        "apps", help="applications of the endpoint: API keys and pinned versions"
    ).add_subparsers(dest="apps_command", required=True)
    create = apps.add_parser("create", help="a new application; prints its API key last")
    create.add_argument("name")
    create.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="WF[=PIN]",
        help="workflow it may query, pinned to production (default), candidate or vX.Y.Z",
    )
    create.add_argument("--admin", action="store_true", help="every workflow, management routes")
    create.add_argument("--actor", help=_ACTOR_HELP)
    create.set_defaults(func=cmd_apps_create)
    grant = apps.add_parser("grant", help="grant workflows or change pins")
    grant.add_argument("name")
    grant.add_argument("grant", nargs="+", metavar="WF[=PIN]")
    grant.add_argument("--reason", required=True)
    grant.add_argument("--actor", help=_ACTOR_HELP)
    grant.set_defaults(func=cmd_apps_grant)
    key = apps.add_parser("key", help="issue a new API key (the old one stops working)")
    key.add_argument("name")
    key.set_defaults(func=cmd_apps_key)
    revoke = apps.add_parser("revoke", help="revoke an application's key")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_apps_revoke)
    listing = apps.add_parser("list", help="applications, their grants and pins")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_apps_list)
    reproduce = sub.add_parser(
        "reproduce", help="rebuild a version from its tag and compare the weights' sha256"
    )
    reproduce.add_argument("tag", help="<workflow>@vX.Y.Z")
    reproduce.set_defaults(func=cmd_reproduce)
    sub.add_parser(
        "doctor", help="check that Postgres, GTO tags/stages and serving agree"
    ).set_defaults(func=cmd_doctor)
    year = sub.add_parser(
        "simulate-year",
        help="retrain every workflow for every month through Airflow under load; "
        "write docs/year-report.md",
    )
    year.add_argument("--only", help="comma-separated workflows (default: the whole fleet)")
    year.add_argument("--months", help="YYYY-MM:YYYY-MM, or the first N months (default: all)")
    year.add_argument("--clients", type=int, default=2, help="load generator threads")
    year.add_argument("--rate", type=float, default=5.0, help="requests/s per load thread")
    year.add_argument(
        "--timeout-min",
        type=float,
        default=240.0,
        help="stop waiting after this and report on the runs that finished",
    )
    year.add_argument(
        "--report", default=str(CHECKOUT / "docs" / "year-report.md"), help="where to write it"
    )
    year.set_defaults(func=cmd_simulate_year)
    sub.add_parser("migrate", help="apply the lineage schema migrations").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser(
        "render", help="re-render params.yaml and dvc.yaml from workflows.yaml"
    ).set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.update(login_env())  # for DVC and Airflow under a uid with no passwd entry
    try:
        code = args.func(args)  # a command with more outcomes than ok/error returns its code
    except ModelfleetError as exc:
        print(f"modelfleet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
