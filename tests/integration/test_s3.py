"""A real S3 (moto's server as a process, tests/helpers/s3.py) behind the folder source,
`data import`, the DVC remote and the lake: everything reaches it through the
variables a user sets for their own bucket (AWS_ENDPOINT_URL and credentials)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from modelfleet.config import load_fleet, parse_fleet
from modelfleet.datasets.deliveries import delivered_files, ensure_delivered
from modelfleet.datasets.folder_inspect import inspect_folder
from modelfleet.datasets.folder_listing import list_folder
from modelfleet.datasets.importer import import_month
from modelfleet.datasets.manifest import sha256_file
from modelfleet.datasets.snapshot import materialise
from modelfleet.errors import DataError, NoDataForMonth
from modelfleet.host.ports import free_port
from modelfleet.lake import MANIFEST_SCHEMA, Lake
from modelfleet.settings import CHECKOUT
from modelfleet.versioning.commands import run
from modelfleet.versioning.repo import ModelRepo
from tests.helpers.user_folder import write_user_folder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user") / "photos"
    write_user_folder(root, per_class=12)
    (root / "README.md").write_text("line 3 camera\n")
    return root


@pytest.fixture()
def bucket_photos(s3, local_photos) -> str:
    return s3.upload(local_photos, s3.fresh_url("photos"))


def photos_workflow(url: str):
    doc = {
        "defaults": {"architecture": "lenet"},
        "workflows": {
            "photos": {
                "source": {"kind": "folder", "url": url},
                "classes": ["china", "flower"],
                "input_shape": [32, 32, 3],
            }
        },
    }
    return parse_fleet(doc).get("photos")


def test_a_folder_on_s3_is_discovered_like_a_local_one(bucket_photos, local_photos):
    remote, local = list_folder(bucket_photos), list_folder(str(local_photos))
    assert list(remote.months) == list(local.months) == ["2026-01", "2026-02"]
    assert remote.classes == local.classes == ["china", "flower"]
    assert remote.ignored == [f"{bucket_photos}/README.md"]
    assert len(remote.test.files) == len(local.test.files) == 20
    summary = inspect_folder(bucket_photos)
    assert summary.problems == [] and summary.images == inspect_folder(str(local_photos)).images


def test_months_and_the_test_set_are_copied_from_s3(s3, bucket_photos, local_photos, tmp_path):
    workflow = photos_workflow(bucket_photos)
    snapshots = materialise(workflow, "2026-02", tmp_path / "repo", tmp_path / "deliveries")
    originals = {sha256_file(p) for p in local_photos.rglob("*.*")}
    rows = [row for split in snapshots.values() for row in split.rows]
    february = [r for r in rows if r.month == "2026-02"]
    assert len(february) == 24 and len(snapshots["test"].rows) == 20
    assert {r.month for r in snapshots["train"].rows} == {"2026-01", "2026-02"}
    assert {row.sha256 for row in rows} <= originals  # the bytes as they were
    before = sorted(s3.fs().find(bucket_photos.removeprefix("s3://")))
    assert len(before) == len([p for p in local_photos.rglob("*") if p.is_file()])  # untouched


def test_data_import_from_s3(s3, bucket_photos, tmp_path):
    workflow = photos_workflow(bucket_photos)
    summary = import_month(workflow, f"{bucket_photos}/2026-02", "2026-09", tmp_path)
    files = delivered_files(tmp_path / "photos" / "2026-09")
    assert len(files) == 24 == summary.counts.total("train") + summary.counts.total("holdout")
    assert summary.source == f"{bucket_photos}/2026-02"


def test_no_credentials_is_a_clear_error(s3, bucket_photos, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask
    with pytest.raises(DataError) as caught:
        list_folder(bucket_photos)
    message = str(caught.value)
    assert message.startswith(f"cannot list {bucket_photos}: NoCredentialsError")
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message


def test_an_unreachable_endpoint_is_a_clear_error(s3, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(DataError, match=r"cannot list s3://modelfleet-test/x: .*Connect"):
        list_folder("s3://modelfleet-test/x")


def test_a_missing_bucket_or_prefix_is_named(s3):
    with pytest.raises(DataError, match="s3://no-such-bucket/photos"):
        list_folder("s3://no-such-bucket/photos")
    with pytest.raises(DataError, match=r"s3://modelfleet-test/nothing-here does not exist"):
        list_folder("s3://modelfleet-test/nothing-here")


def test_the_dvc_remote_on_s3(s3, tmp_path):
    """`dvc push` to an s3:// remote and `dvc pull` back into a workspace with an empty
    cache: DVC finds the endpoint and the credentials in the environment."""
    remote = s3.fresh_url("dvc-remote")
    repo = ModelRepo(tmp_path / "repo", remote)
    repo.init(load_fleet(CHECKOUT / "workflows.yaml", shipped_only=True))
    train = tmp_path / "repo" / "data" / "digits" / "train"
    train.mkdir(parents=True)
    (train / "a.png").write_bytes(b"\x89PNG pretend")
    md5 = repo.add_data("digits", ("train",))["train"]
    run(["git", "add", "-A"], repo.path).check()
    run(["git", "commit", "-q", "-m", "data"], repo.path).check()
    repo.push()
    pushed = s3.fs().find(remote.removeprefix("s3://"))
    assert any(md5.removesuffix(".dir")[2:] in key for key in pushed), pushed
    clone = repo.add_workspace(tmp_path / "clone", cache_dir=tmp_path / "empty-cache")
    shutil.rmtree(tmp_path / "clone" / "data" / "digits" / "train", ignore_errors=True)
    clone.pull(["data/digits/train.dvc"])
    assert (tmp_path / "clone" / "data" / "digits" / "train" / "a.png").read_bytes() == (
        b"\x89PNG pretend"
    )


def test_the_lake_on_s3(s3):
    lake = Lake(s3.fresh_url("lake"))
    path = lake.image_path("digits", "2026-12-01", "ab" * 32, "png")
    lake.put(path, b"pixels")
    assert lake.read(path) == b"pixels"
    row = {
        "sha256": "ab" * 32,
        "path": path,
        "source": "cam.png",
        "label": "3",
        "score": 0.9,
        "scores_json": "{}",
        "model_version": "v1.0.0",
        "received_at": None,
        "classified_at": None,
    }
    manifest = lake.write_manifest("digits", "2026-12-01", [row])
    table = pq.read_table(io.BytesIO(lake.read(manifest)), schema=MANIFEST_SCHEMA)
    assert table.to_pylist()[0]["sha256"] == "ab" * 32
    folder = lake.partition("digits", "2026-12-01")
    assert sorted(k.rsplit("/", 1)[1] for k in s3.fs().find(folder)) == [
        f"{'ab' * 32}.png",
        "manifest.parquet",
    ]  # no temporary left behind


def test_a_month_is_no_data_until_its_folder_appears_in_the_bucket(s3, bucket_photos, tmp_path):
    workflow = photos_workflow(bucket_photos)
    with pytest.raises(NoDataForMonth, match=f"{bucket_photos}/2026-03/ does not exist"):
        ensure_delivered(workflow, "2026-03", tmp_path)
    fs = s3.fs()
    prefix = bucket_photos.removeprefix("s3://")
    for key in fs.find(f"{prefix}/2026-02"):
        fs.copy(key, key.replace("/2026-02/", "/2026-03/"))
    assert len(delivered_files(ensure_delivered(workflow, "2026-03", tmp_path))) == 24
