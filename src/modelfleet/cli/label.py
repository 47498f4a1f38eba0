"""`modelfleet label WF SHA256 LABEL [--reason]`: a person's class for a stored image.

The latest label wins and the earlier ones stay as its history (`modelfleet lineage
SHA256` shows them beside the predictions). Labelled lake images join the next month's
training data; each version's live accuracy comes from them (docs/monitoring.md).
"""

from __future__ import annotations

import click

from modelfleet.cli.base import actor_option, cli_actor, command, option


@command(
    "label",
    help="label a stored image with one of the workflow's classes",
    description=(
        "Record LABEL (one of the workflow's classes) for the stored image SHA256 (the "
        "sha256 `modelfleet lineage` shows). The latest label wins; the earlier ones stay "
        "with who gave them, when and why."
    ),
)
@click.argument("workflow")
@click.argument("sha256")
@click.argument("label")
@option("--reason", default="", help="why (kept in the label's history)")
@actor_option
def label(workflow: str, sha256: str, label: str, reason: str, actor: str | None) -> None:
    from modelfleet.cli.known import fleet_workflow, listing, registry_session, usage_error
    from modelfleet.errors import InvalidLabel
    from modelfleet.registry.store import labels

    declared = fleet_workflow(workflow)
    if label not in declared.classes:
        usage_error(
            f"label {label!r} is not one of {workflow}'s classes: {listing(declared.classes)}"
        )
    try:
        labels.check_sha256(sha256)
    except InvalidLabel as exc:
        usage_error(str(exc))
    with registry_session() as session, session.begin():
        given = labels.add_label(
            session,
            workflow,
            sha256,
            label,
            classes=declared.classes,
            actor=cli_actor(actor),
            reason=reason,
        )
    click.echo(f"{workflow} {sha256}: labelled {given.label} by {given.actor} at {given.at}")
