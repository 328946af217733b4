"""The services' HTTP APIs as the console calls them: server-side, with the signed-in person's
own bearer token, so every scope and role rule is the services' own."""
import requests


class ApiError(Exception):
    """A service said no (its problem+json kept for the page), or could not be reached (503)."""

    def __init__(self, status, problem=None):
        super().__init__(f"{status}: {(problem or {}).get('detail') or (problem or {}).get('title')}")
        self.status, self.problem = status, problem or {}


class Services:
    def __init__(self, urls, token, forwarded_for=None, timeout=10):
        self._urls, self._timeout = urls, timeout
        self._headers = {"Authorization": f"Bearer {token}"}
        if forwarded_for:  # the audit log records where the person sat, not the console
            self._headers["X-Forwarded-For"] = forwarded_for

    def get(self, service, path, params=None):
        return self._call("GET", service, path, params=params)

    def post(self, service, path, body=None, headers=None):
        """(status, answer) of a command: 200 and 201 differ for some (intake's outcomes)."""
        return self._call("POST", service, path, json=body or {}, extra=headers, with_status=True)

    def document(self, service, path):
        """(bytes, Content-Disposition) of a document a service serves, e.g. mediation's agreement PDF."""
        r = self._send("GET", service, path)
        return r.content, r.headers.get("Content-Disposition")

    def _call(self, method, service, path, extra=None, with_status=False, **kwargs):
        r = self._send(method, service, path, extra, **kwargs)
        answer = r.json()
        return (r.status_code, answer) if with_status else answer

    def _send(self, method, service, path, extra=None, **kwargs):
        try:
            r = requests.request(method, self._urls[service] + path, headers={**self._headers, **(extra or {})},
                                 timeout=self._timeout, **kwargs)
        except requests.RequestException:
            raise ApiError(503, {"title": "Service Unavailable", "detail": f"{service} does not answer"})
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {"title": r.reason}
            raise ApiError(r.status_code, problem if isinstance(problem, dict) else {"title": r.reason})
        return r
