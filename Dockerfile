# One image for every Fengqiao service: `docker run IMAGE intake` runs the intake service,
# `docker run --entrypoint python IMAGE -m fengqiao.cli setup` prepares databases and queues,
# `docker run --entrypoint python IMAGE -m services.console` serves the web console.

# --- build: a virtualenv with the project and its pinned dependencies --------------------------
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml ./
COPY fengqiao/ fengqiao/
COPY services/ services/
# Every dependency ships a wheel for CPython 3.11 on glibc: no compiler is needed here.
RUN pip install .

# --- runtime: the virtualenv plus the source tree, run as an unprivileged user -----------------
FROM python:3.11.14-slim-bookworm AS runtime

# The CJK font mediation sets its agreements (调解协议书) in (config: FENGQIAO_CJK_FONT).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 fengqiao \
 && useradd --system --uid 10001 --gid fengqiao --no-create-home --home-dir /app \
            --shell /usr/sbin/nologin fengqiao

COPY --from=build /opt/venv /opt/venv

# The code finds its files through config.REPO_ROOT (the parent of fengqiao/): the SQL
# migrations, which the wheel carries too, and the sample county in deploy/county/, which is no
# package. So the source tree at /app is what runs: PYTHONPATH puts it before site-packages and
# REPO_ROOT is /app.
WORKDIR /app
COPY pyproject.toml ./
COPY fengqiao/ fengqiao/
COPY services/ services/
COPY deploy/county/ deploy/county/
COPY docs/events/catalog.yaml docs/events/
RUN python -m compileall -q fengqiao services

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FENGQIAO_HTTP_HOST=0.0.0.0

# Default ports of intake, routing, mediation, notify, reporting (fengqiao/config.py SERVICES),
# and of the web console (CONSOLE_PORT).
EXPOSE 8001 8002 8003 8004 8005 8006

USER 10001:10001

# One container runs one service; its port is FENGQIAO_<SERVICE>_PORT or the default in
# config.SERVICES. The check finds the one of those ports that is listening and asks it for
# /health/live: it needs no setting per service and follows port overrides.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import socket, urllib.request; from fengqiao.config import SERVICES, settings; port = next(p for p in (int(settings(s).http_address.rsplit(':', 1)[1]) for s in SERVICES) if socket.socket().connect_ex(('127.0.0.1', p)) == 0); urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=4)"]

ENTRYPOINT ["python", "-m", "fengqiao.runner"]
