"""The REST API of a local deployment, called the way a user's client calls it."""

from __future__ import annotations

from typing import Any

import httpx


class ApiClient:
    """``/api/v2`` with a JWT from ``/auth/token`` (the simple auth manager's users).

    A token that expires or that a restarted api-server no longer accepts (401) is fetched
    again once. Error answers raise ``httpx.HTTPStatusError``.
    """

    def __init__(self, url: str, username: str, password: str, timeout: float = 30) -> None:
        self.url = url
        self.username = username
        self.password = password
        self._token: str | None = None
        self._client = httpx.Client(base_url=f"{url}/api/v2", timeout=timeout)

    def token(self) -> str:
        if self._token is None:
            response = self._client.post(
                f"{self.url}/auth/token",
                json={"username": self.username, "password": self.password},
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method`` on ``/api/v2{path}``; ``kwargs`` as httpx takes them (json, params)."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 401:
            self._token = None
            response = self._send(method, path, **kwargs)
        return response.raise_for_status()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return self._client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def variable(self, key: str) -> str | None:
        """The Airflow Variable ``key`` kept in the metadata database, or None."""
        response = self._send("GET", f"/variables/{key}")
        if response.status_code == 404:
            return None
        return response.raise_for_status().json()["value"]

    def set_variable(self, key: str, value: str | None) -> None:
        """Set (None: delete) the Airflow Variable ``key`` in the metadata database."""
        exists = self.variable(key) is not None
        if value is None:
            if exists:
                self.delete(f"/variables/{key}")
        elif exists:
            self.patch(f"/variables/{key}", json={"key": key, "value": value})
        else:
            self.post("/variables", json={"key": key, "value": value})

    def public(self, path: str) -> Any:
        """A route that needs no login (``/monitor/health``, ``/version``), as JSON."""
        return self._client.get(path).raise_for_status().json()

    def close(self) -> None:
        self._client.close()
