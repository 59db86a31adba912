"""A small typed client for the tunedoc REST API (httpx), for IDE plugins, scripts and triage's remote mode.

    from service.client import TunedocClient
    with TunedocClient("http://127.0.0.1:8000") as client:
        result = client.diagnose(text=open("train.log").read())
        print(result.diagnoses[0].title, result.diagnoses[0].fix.snippets)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from service.models import DiagnoseResult


class TunedocAPIError(Exception):
    """An error answer from the server, with its documented code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class TunedocClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 60.0, http: httpx.Client | None = None) -> None:
        """`http` lets a caller bring its own client (e.g. FastAPI's in-process TestClient)."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._http.headers.update(headers)

    def __enter__(self) -> TunedocClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise TunedocAPIError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise TunedocAPIError(response.status_code, "http_error", response.text[:500]) from None
        return response.json()

    def diagnose(self, text: str | None = None, *, log: str | None = None, config: str | None = None,
                 env: str | None = None) -> DiagnoseResult:
        body = {k: v for k, v in (("text", text), ("log", log), ("config", config), ("env", env)) if v is not None}
        return DiagnoseResult.model_validate(self._check(self._http.post("/v1/diagnose", json=body)))

    def diagnose_files(self, *paths: Path | str) -> DiagnoseResult:
        files = [("files", (Path(p).name, Path(p).read_bytes(), "text/plain")) for p in paths]
        return DiagnoseResult.model_validate(self._check(self._http.post("/v1/diagnose", files=files)))

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        return self._check(self._http.post("/v1/search", json={"query": query, "k": k}))["results"]

    def diagnoses(self) -> list[dict[str, Any]]:
        return self._check(self._http.get("/v1/diagnoses"))["data"]

    def diagnosis(self, diagnosis_id: str) -> dict[str, Any]:
        return self._check(self._http.get(f"/v1/diagnoses/{diagnosis_id}"))

    def triage(self, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._check(self._http.post("/v1/triage", json={"reports": reports}))["results"]

    def reindex(self) -> dict[str, Any]:
        return self._check(self._http.post("/v1/admin/reindex"))

    def ready(self) -> bool:
        return self._http.get("/readyz").status_code == 200
