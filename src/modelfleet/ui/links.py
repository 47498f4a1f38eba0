"""URLs of the pages a page links to: its own pages, Airflow's, the Data Docs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from modelfleet.ui.artifacts import data_docs_relpath


def _q(part: str) -> str:
    return quote(part, safe="")


@dataclass(frozen=True)
class Links:
    """`app` is where this app is mounted (`/models`, behind any base path), `airflow`
    the root of the Airflow UI. Links to Airflow pages leave the iframe (`target=_top`)."""

    app: str
    airflow: str
    data_docs_root: Path

    def fleet(self) -> str:
        return f"{self.app}/"

    def workflow(self, workflow: str, version: str | None = None) -> str:
        url = f"{self.app}/workflows/{_q(workflow)}"
        return f"{url}?version={_q(version)}#selected" if version else url

    def lineage(self, ref: str) -> str:
        return f"{self.app}/lineage/{_q(ref)}"

    def plot(self, workflow: str, version: str, kind: str) -> str:
        return f"{self.app}/plots/{_q(workflow)}/{_q(version)}/{kind}.png"

    def static(self, name: str) -> str:
        return f"{self.app}/static/{name}"

    def data_docs(self, url: str | None) -> str | None:
        relpath = data_docs_relpath(url, self.data_docs_root)
        return None if relpath is None else f"{self.app}/data-docs/{quote(relpath)}"

    def dag(self, dag_id: str) -> str:
        return f"{self.airflow}/dags/{_q(dag_id)}"

    def dag_run(self, dag_id: str | None, run_id: str | None) -> str | None:
        if not dag_id or not run_id:
            return None
        return f"{self.airflow}/dags/{_q(dag_id)}/runs/{_q(run_id)}"
