"""`modelfleet up/stop/status/demo/doctor/migrate/render`: the platform as a whole."""

from __future__ import annotations

from modelfleet.cli.base import command, json_flag
from modelfleet.errors import ModelfleetError


@command("up", help="start Postgres, Airflow, the endpoint and the stream classifier")
def up() -> None:
    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.platform.up import up
    from modelfleet.settings import get_settings

    settings = get_settings()
    up(settings)
    print(
        f"Airflow UI {settings.airflow_url} (login {ADMIN_USER} / {admin_password(settings)}); "
        f"endpoint {settings.endpoint_url}"
    )


@command("stop", help="stop everything `up` started")
def stop() -> None:
    from modelfleet.platform.up import stop
    from modelfleet.settings import get_settings

    stop(get_settings())


@command("status", help="which services run and answer (Postgres included)")
@json_flag(help="services as JSON: name, process, health (up|down|unchecked), detail")
def status(as_json: bool) -> None:
    import json

    from modelfleet.cli.health import check_all
    from modelfleet.platform.up import status
    from modelfleet.settings import get_settings

    settings = get_settings()
    rows = check_all(settings, status(settings))
    urls = {"airflow_url": settings.airflow_url, "endpoint_url": settings.endpoint_url}
    if as_json:
        services = [row.as_dict() for row in rows]
        print(json.dumps({"services": services, **urls, "home": str(settings.home)}, indent=1))
        return
    for row in rows:
        print(f"{row.name:24} {row.process:12} {row.health:10} {row.detail}")
    print(
        f"Airflow UI {settings.airflow_url}   endpoint {settings.endpoint_url}   home {settings.home}"
    )


@command("demo", help="up, retrain digits for two months, stream images, show lineage")
def demo() -> None:
    from modelfleet.platform.demo import demo
    from modelfleet.settings import get_settings

    demo(get_settings())


@command("doctor", help="check that Postgres, GTO tags/stages and serving agree")
def doctor() -> None:
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.settings import get_settings
    from modelfleet.versioning.doctor import examine
    from modelfleet.versioning.repo import open_repo

    with Session(db.engine()) as session:
        found = examine(get_settings(), session, open_repo())
    for line in [*found.mirror_pending, *found.disagreements]:
        print(line)
    if found.disagreements:
        raise ModelfleetError(
            f"{len(found.disagreements)} disagreement(s) between Postgres, GTO and serving"
        )
    pending = " (the GTO stage mirror is catching up)" if found.mirror_pending else ""
    print(f"Postgres, the GTO tags and stages, and the serving folder agree{pending}")


@command("migrate", help="apply the lineage schema migrations")
def migrate() -> None:
    from modelfleet.registry import db

    db.migrate()
    print("lineage schema is at the latest revision")


@command("render", help="re-render params.yaml and dvc.yaml from workflows.yaml")
def render() -> None:
    from modelfleet.config import load_fleet
    from modelfleet.settings import CHECKOUT
    from modelfleet.versioning.render import render_dvc_yaml, render_params

    fleet = load_fleet(shipped_only=True)  # the user's workflows.d stays out of the checkout
    (CHECKOUT / "params.yaml").write_text(render_params(fleet))
    (CHECKOUT / "dvc.yaml").write_text(render_dvc_yaml(fleet))
    print("wrote params.yaml and dvc.yaml from workflows.yaml")
