"""A user's folder or bucket, read through fsspec: list it, read files, and say clearly
why not (no driver for the scheme, no such folder, no credentials, no connection).

Read-only by construction: this module has no call that writes, moves or deletes.

S3 and S3-compatible stores (MinIO, Ceph, moto) are reached with s3fs, which reads
the usual AWS variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION
and, for a store that is not AWS, AWS_ENDPOINT_URL (docs/your-own-images.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.registry import known_implementations, registry

from modelfleet.errors import ConfigError, DataError, ModelfleetError

# (parts relative to the location, fsspec's info: name, type, size)
Entry = tuple[tuple[str, ...], dict[str, Any]]

_S3_HINT = (
    "for S3 set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_ENDPOINT_URL for a "
    "store that is not AWS (docs/your-own-images.md)"
)


@dataclass(frozen=True)
class Location:
    """A folder in some filesystem: `root` in the filesystem's own terms, `url` as given
    (a local path made absolute)."""

    url: str
    fs: AbstractFileSystem
    root: str

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0] if "://" in self.url else "file"

    def child(self, *parts: str) -> str:
        """The URL of something inside, for messages."""
        return "/".join([self.url.rstrip("/"), *parts])

    def walk(self) -> list[Entry]:
        """Every file and folder below the root, with its parts relative to it."""
        try:
            found = self.fs.find(self.root, withdirs=True, detail=True)
        except Exception as exc:  # whatever the driver raises, said with the URL
            raise self._failure("list", exc) from None
        prefix = self.root.rstrip("/") + "/"
        entries = [
            (tuple(name[len(prefix) :].split("/")), info)
            for name, info in sorted(found.items())
            if name.startswith(prefix) and name != prefix
        ]
        if not entries and not self._is_folder():
            raise DataError(f"{self.url} does not exist (or holds nothing)")
        return entries

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        """The bytes of each path (fetched concurrently where the store allows)."""
        if not paths:
            return {}
        try:
            blobs = self.fs.cat(paths, on_error="raise")
        except Exception as exc:
            raise self._failure("read", exc, paths[0]) from None
        # one path comes back as bytes, several as a dict keyed by path
        return blobs if isinstance(blobs, dict) else {paths[0]: blobs}

    def _is_folder(self) -> bool:
        try:
            return bool(self.fs.isdir(self.root))
        except Exception as exc:
            raise self._failure("list", exc) from None

    def _failure(self, action: str, exc: Exception, path: str | None = None) -> ModelfleetError:
        if isinstance(exc, ModelfleetError):
            return exc
        what = self.url if path is None else f"{path} in {self.url}"
        if isinstance(exc, FileNotFoundError):
            return DataError(f"cannot {action} {what}: it does not exist")
        hint = f"; {_S3_HINT}" if self.scheme in ("s3", "s3a") else ""
        return DataError(f"cannot {action} {what}: {type(exc).__name__}: {exc}{hint}")


def open_location(url: str) -> Location:
    """A local path or fsspec URL as a Location; ConfigError for a scheme without a driver."""
    if "://" not in url or url.startswith("file://"):
        local = Path(url.removeprefix("file://")).expanduser().resolve()
        if not local.is_dir():
            raise DataError(
                f"{url}: {'not a folder' if local.exists() else 'no such folder'} ({local})"
            )
        shown = f"file://{local.as_posix()}" if url.startswith("file://") else local.as_posix()
        return Location(shown, LocalFileSystem(), local.as_posix())
    scheme = url.partition("://")[0]
    if scheme not in known_implementations and scheme not in registry:
        raise ConfigError(
            f"{url}: fsspec knows no filesystem for {scheme}://; known: {', '.join(sorted(known_implementations))}"
        )
    try:
        fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    except ImportError as exc:
        package = _driver_package(scheme, str(exc))
        raise ConfigError(
            f"{url}: {scheme}:// needs the fsspec driver {package!r}, which is not installed "
            f"(pip install {package})"
        ) from None
    except Exception as exc:
        raise DataError(f"{url}: cannot open it: {type(exc).__name__}: {exc}") from None
    return Location(url.rstrip("/"), fs, root.rstrip("/"))


def _driver_package(scheme: str, message: str) -> str:
    """The package fsspec says a scheme needs ("Install s3fs to access S3")."""
    said = known_implementations.get(scheme, {}).get("err") or message
    for pattern in (
        r"[Ii]nstall (\S+)",
        r'requires "([^"]+)"',
        r"^([\w-]+) and ",
        r"module named '([^'.]+)",
    ):
        match = re.search(pattern, said)
        if match:
            return match.group(1).rstrip(".,")
    return said
