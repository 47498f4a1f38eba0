"""A real S3 for tests: moto in server mode, a separate process speaking the S3
protocol on 127.0.0.1 (from PyPI, `moto[server]`); started once per test session.

`s3_server` is the running server (endpoint URL, credentials, a bucket); `s3` also
puts its variables into the test's environment, as a user would for their own
S3-compatible store (docs/your-own-images.md): AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION. s3fs, DVC (dvc-s3) and boto read them.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelfleet.host.ports import free_port, listening

BUCKET = "modelfleet-test"
_START_TIMEOUT_S = 60


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str
    env: dict[str, str]

    def url(self, *parts: str) -> str:
        """`s3://<bucket>/<parts...>`."""
        return "/".join([f"s3://{self.bucket}", *parts])

    def fresh_url(self, name: str) -> str:
        """A prefix no other test uses."""
        return self.url(f"{name}-{uuid.uuid4().hex[:8]}")

    def fs(self) -> Any:
        """An s3fs filesystem on this server (whatever the environment says)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.env["AWS_ACCESS_KEY_ID"],
            secret=self.env["AWS_SECRET_ACCESS_KEY"],
            client_kwargs={"endpoint_url": self.endpoint_url},
            skip_instance_cache=True,
        )

    def upload(self, local: Path, url: str) -> str:
        """Copy the folder `local` to `url` (s3://bucket/prefix), file by file."""
        fs = self.fs()
        prefix = url.removeprefix("s3://").rstrip("/")
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            fs.pipe_file(f"{prefix}/{path.relative_to(local).as_posix()}", path.read_bytes())
        return url


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server as a real process on a free port, with one bucket."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto server did not start on port {port}:\n{log.read_text()}")
            time.sleep(0.1)
        server = S3Server(
            endpoint_url=f"http://127.0.0.1:{port}",
            bucket=BUCKET,
            env={
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "modelfleet-test",
                "AWS_SECRET_ACCESS_KEY": "modelfleet-test-secret",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        )
        server.fs().mkdir(BUCKET)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture()
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server, with its variables in this test's environment (and no AWS profile
    of the machine's user in the way)."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    return s3_server
