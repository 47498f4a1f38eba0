"""Parsed fleet documents -> a validated `Fleet`.

The shipped document has a `defaults:` block that every entry under `workflows:` (its
own and the user's, from workflows.d) deep-merges over, so an entry only states what
differs. Every problem is a ConfigError naming the file and the workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from modelfleet.config.fleet import Fleet
from modelfleet.config.workflow import Workflow
from modelfleet.errors import ConfigError


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `override` merged in, recursing into nested dicts."""
    merged = dict(base)
    for key, value in override.items():
        # A mapping of another `kind` (e.g. a different data source) replaces the default.
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and value.get("kind", merged[key].get("kind")) == merged[key].get("kind")
        ):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_fleet(
    raw: Any, origin: str = "workflows.yaml", user_docs: Sequence[tuple[str, Any]] = ()
) -> Fleet:
    """Validate an already-parsed fleet document, plus the user's workflow documents
    (`(origin, document)`, each `workflows:` merged over `raw`'s `defaults:`)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("workflows"), dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'workflows:' mapping")
    unknown = set(raw) - {"defaults", "workflows", "applications"}
    if unknown:
        raise ConfigError(f"{origin}: unknown top-level keys {sorted(unknown)}")
    defaults = raw.get("defaults") or {}
    workflows: dict[str, Workflow] = {}
    declared_in: dict[str, str] = {}
    for doc_origin, doc in [(origin, raw), *user_docs]:
        if doc is not raw:
            _check_user_doc(doc_origin, doc)
        for name, entry in doc["workflows"].items():
            if name in declared_in:
                raise ConfigError(
                    f"{doc_origin}: workflow {name!r} is also declared in "
                    f"{declared_in[name]}; rename one of them"
                )
            workflows[name] = _parse_workflow(name, entry, defaults, doc_origin)
            declared_in[name] = doc_origin
    if not workflows:
        raise ConfigError(f"{origin}: no workflows declared")
    applications = raw.get("applications") or {}
    if not isinstance(applications, dict):
        raise ConfigError(f"{origin}: 'applications:' must be a mapping of name -> grants")
    where = ", ".join([origin, *(o for o, _ in user_docs)])
    try:
        return Fleet(
            workflows=workflows,
            applications=applications,
            user_workflows={n: o for n, o in declared_in.items() if o != origin},
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_user_doc(origin: str, doc: Any) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("workflows"), dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'workflows:' mapping")
    unknown = set(doc) - {"workflows"}
    if unknown:
        raise ConfigError(
            f"{origin}: unknown top-level keys {sorted(unknown)}; a file of workflows.d holds "
            "only 'workflows:' (defaults and applications live in workflows.yaml)"
        )


def _parse_workflow(name: Any, entry: Any, defaults: dict[str, Any], origin: str) -> Workflow:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: workflow {name!r}: expected a mapping")
    try:
        return Workflow(name=name, **deep_merge(defaults, entry))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{origin}: workflow {name!r}: {problems}") from None
