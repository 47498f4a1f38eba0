"""Fleet files -> `Fleet`: the shipped workflows.yaml plus the user's workflows.d.

YAML with duplicate keys refused; the last fleet loaded is kept by the files' text,
and a broken user file can be left out rather than take the whole fleet down.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from modelfleet.config.fleet import Fleet
from modelfleet.config.parse import parse_fleet
from modelfleet.errors import ConfigError
from modelfleet.settings import get_settings

log = logging.getLogger("modelfleet.config")

# libyaml's parser where PyYAML was built with it (about 9x faster on the fleet file,
# which every Airflow task parses); the constructor, and so the result, is the same.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# mypy cannot check a base class chosen at run time (the getattr above)
class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """YAML loader that rejects duplicate keys (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"duplicate key {key!r} on line {key_node.start_mark.line + 1}")
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


# The last fleet loaded, by its files and their text: an Airflow task parses the DAG
# file (which loads the fleet) and then its step loads it again. Keyed by the files'
# content, so an edited file is always parsed afresh. Callers share the Fleet: it is
# frozen, and nothing changes its dicts.
_last_loaded: tuple[tuple[tuple[str, str], ...], Fleet] | None = None


def load_fleet(
    path: Path | None = None,
    user_dir: Path | None = None,
    *,
    shipped_only: bool = False,
    skip_bad_user_files: bool = False,
) -> Fleet:
    """Load and validate the fleet: the shipped file (default: settings' MODELFLEET_CONFIG)
    and the user's workflows in `user_dir/*.yaml` (default: settings' workflows.d, outside
    the checkout); `shipped_only` leaves the user's out (the checkout's rendered files).

    `skip_bad_user_files` (the DAG file, the endpoint, the stream classifier): a user's
    file that does not load, or clashes with the files before it, is left out and logged
    rather than taking the whole fleet down with it (a file edited by hand). The shipped
    file must load either way."""
    global _last_loaded
    if path is None or (user_dir is None and not shipped_only):
        settings = get_settings()
        path = settings.config_file if path is None else path
        user_dir = settings.workflows_d if user_dir is None else user_dir
    files = [Path(path), *([] if shipped_only or user_dir is None else user_files(user_dir))]
    texts = tuple((str(file), _read(file)) for file in files)
    key = (*texts, ("skip_bad_user_files", str(skip_bad_user_files)))
    if _last_loaded is not None and _last_loaded[0] == key:
        return _last_loaded[1]
    (origin, text), *users = texts
    shipped = _parse_yaml(origin, text)
    try:
        fleet = parse_fleet(shipped, origin, [(o, _parse_yaml(o, t)) for o, t in users])
    except ConfigError:
        if not skip_bad_user_files or not users:
            raise
        fleet = _without_bad_user_files(shipped, origin, users)
    _last_loaded = (key, fleet)
    return fleet


def _without_bad_user_files(shipped: Any, origin: str, users: list[tuple[str, str]]) -> Fleet:
    """The fleet with each user file that loads beside the ones kept before it."""
    kept: list[tuple[str, Any]] = []
    for user_origin, text in users:
        try:
            doc = _parse_yaml(user_origin, text)
            parse_fleet(shipped, origin, [*kept, (user_origin, doc)])
        except ConfigError as exc:
            log.error("%s is left out of the fleet until it is fixed: %s", user_origin, exc)
            continue
        kept.append((user_origin, doc))
    return parse_fleet(shipped, origin, kept)


def read_document(path: Path) -> Any:
    """A fleet file's YAML (duplicate keys refused), or ConfigError naming the file."""
    return _parse_yaml(str(path), _read(path))


def user_files(user_dir: Path) -> list[Path]:
    """The user's workflow files: `*.yaml` in `user_dir`, by name (hidden ones are not)."""
    if not user_dir.is_dir():
        return []
    return sorted(p for p in user_dir.glob("*.yaml") if not p.name.startswith("."))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read fleet file {path}: {exc}") from None


def _parse_yaml(origin: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
