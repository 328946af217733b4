"""Configuration from environment variables, with defaults that work on a developer's machine."""
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every service, with its default HTTP port. Order is the start order of `make run`.
SERVICES = {
    "intake": 8001,
    "routing": 8002,
    "mediation": 8003,
    "notify": 8004,
    "reporting": 8005,
}

# The web console (控制台): no database or broker, it calls the services' HTTP APIs.
CONSOLE_PORT = 8006


# Development defaults: published with the source, so never fit for a real county.
DEVELOPMENT_JWT_SECRET = "fengqiao-development-secret-not-for-production"
DEVELOPMENT_PERSONAL_DATA_KEY = "1FDojJRAHk6eP8m8UQbkwCuvUtop_MFTqR89NR02s3Y="


def _env(name, default):
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    admin_database_url: str
    amqp_uri: str
    http_address: str
    jwt_secret: str
    jwt_audience: str
    jwt_jwks: str
    jwt_issuer: str
    write_rate: float
    write_burst: float
    county_file: Path
    deadlines_file: Path
    rules_file: Path
    county_reload_seconds: float
    deadline_sweep_seconds: float
    notify_file: Path
    notify_dispatch_seconds: float
    webhook_dispatch_seconds: float
    intake_url: str
    reporting_url: str
    delivery_limit: int
    relay_idle_seconds: float
    max_workers: int
    personal_data_keys: tuple
    personal_data_hash_key: str
    cjk_font: Path

    def development_secrets(self):
        """Which secrets still have their published development value."""
        return [name for name, dev in (("FENGQIAO_JWT_SECRET", self.jwt_secret == DEVELOPMENT_JWT_SECRET),
                                       ("FENGQIAO_PERSONAL_DATA_KEYS",
                                        DEVELOPMENT_PERSONAL_DATA_KEY in self.personal_data_keys)) if dev]

    @property
    def database_name(self):
        return self.database_url.rsplit("/", 1)[1].split("?", 1)[0]

    def nameko_config(self):
        return {
            "AMQP_URI": self.amqp_uri,
            "WEB_SERVER_ADDRESS": self.http_address,
            "max_workers": self.max_workers,
            "serializer": "json",
            "DATABASE_URL": self.database_url,
            "DELIVERY_LIMIT": self.delivery_limit,
            "RELAY_IDLE_SECONDS": self.relay_idle_seconds,
            "JWT_SECRET": self.jwt_secret,
            "JWT_AUDIENCE": self.jwt_audience,
            "JWT_JWKS": self.jwt_jwks,
            "JWT_ISSUER": self.jwt_issuer,
            "WRITE_RATE": self.write_rate,
            "WRITE_BURST": self.write_burst,
            "COUNTY_FILE": str(self.county_file),
            "DEADLINES_FILE": str(self.deadlines_file),
            "RULES_FILE": str(self.rules_file),
            "COUNTY_RELOAD_SECONDS": self.county_reload_seconds,
            "DEADLINE_SWEEP_SECONDS": self.deadline_sweep_seconds,
            "NOTIFY_FILE": str(self.notify_file),
            "NOTIFY_DISPATCH_SECONDS": self.notify_dispatch_seconds,
            "WEBHOOK_DISPATCH_SECONDS": self.webhook_dispatch_seconds,
            "INTAKE_URL": self.intake_url,
            "REPORTING_URL": self.reporting_url,
            "PERSONAL_DATA_KEYS": self.personal_data_keys,
            "PERSONAL_DATA_HASH_KEY": self.personal_data_hash_key,
            "CJK_FONT": str(self.cjk_font),
        }


def settings(service):
    """Settings of one service; FENGQIAO_* variables override the local defaults."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    pg = _env("FENGQIAO_PG_URL", "postgresql://fengqiao:fengqiao@127.0.0.1:5432").rstrip("/")
    prefix = _env("FENGQIAO_DB_PREFIX", "fengqiao")
    port = int(_env(f"FENGQIAO_{service.upper()}_PORT", SERVICES[service]))
    return Settings(
        service=service,
        database_url=_env(f"FENGQIAO_{service.upper()}_DATABASE_URL", f"{pg}/{prefix}_{service}"),
        admin_database_url=f"{pg}/postgres",
        amqp_uri=_env("FENGQIAO_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/fengqiao"),
        http_address=f"{_env('FENGQIAO_HTTP_HOST', '127.0.0.1')}:{port}",
        # Development secret; production sets its own, for the services' own tokens only once
        # the identity provider's keys (a JWKS URL or file) check people's RS256 tokens.
        jwt_secret=_env("FENGQIAO_JWT_SECRET", DEVELOPMENT_JWT_SECRET),
        jwt_audience=_env("FENGQIAO_JWT_AUDIENCE", "fengqiao"),
        jwt_jwks=_env("FENGQIAO_JWT_JWKS", ""),
        jwt_issuer=_env("FENGQIAO_JWT_ISSUER", "fengqiao"),  # the identity provider's `iss`, for RS256
        # Commands per second each token may send a service (0: no limit), and the burst it may
        # send at once before that rate holds it back.
        write_rate=float(_env("FENGQIAO_WRITE_RATE", "20")),
        write_burst=float(_env("FENGQIAO_WRITE_BURST", "200")),
        county_file=Path(_env("FENGQIAO_COUNTY_FILE", REPO_ROOT / "deploy/county/sample-county.yaml")),
        deadlines_file=Path(_env("FENGQIAO_DEADLINES_FILE", REPO_ROOT / "deploy/county/deadlines.yaml")),
        rules_file=Path(_env("FENGQIAO_RULES_FILE", REPO_ROOT / "deploy/county/rules.yaml")),
        # How often (seconds, at most) a service looks whether its county files changed.
        county_reload_seconds=float(_env("FENGQIAO_COUNTY_RELOAD_SECONDS", "5")),
        # How often a service looks for deadlines owing a reminder or an overdue notice.
        deadline_sweep_seconds=float(_env("FENGQIAO_DEADLINE_SWEEP_SECONDS", "5")),
        notify_file=Path(_env("FENGQIAO_NOTIFY_FILE", REPO_ROOT / "deploy/county/notify.yaml")),
        # How often notify looks for messages due (new, held through quiet hours, or to retry).
        notify_dispatch_seconds=float(_env("FENGQIAO_NOTIFY_DISPATCH_SECONDS", "1")),
        webhook_dispatch_seconds=float(_env("FENGQIAO_WEBHOOK_DISPATCH_SECONDS", "1")),
        # Where notify asks intake for a petitioner's phone when it sends (service token).
        intake_url=_env("FENGQIAO_INTAKE_URL", f"http://127.0.0.1:{_env('FENGQIAO_INTAKE_PORT', SERVICES['intake'])}"),
        # Where notify reads the hotspots its monthly digest reports.
        reporting_url=_env("FENGQIAO_REPORTING_URL",
                           f"http://127.0.0.1:{_env('FENGQIAO_REPORTING_PORT', SERVICES['reporting'])}"),
        delivery_limit=int(_env("FENGQIAO_DELIVERY_LIMIT", "5")),
        relay_idle_seconds=float(_env("FENGQIAO_RELAY_IDLE_SECONDS", "0.5")),
        max_workers=int(_env("FENGQIAO_MAX_WORKERS", "10")),
        # Fernet keys, newest first (rotation); development defaults, never for production.
        personal_data_keys=tuple(k.strip() for k in _env(
            "FENGQIAO_PERSONAL_DATA_KEYS", DEVELOPMENT_PERSONAL_DATA_KEY).split(",") if k.strip()),
        personal_data_hash_key=_env("FENGQIAO_PERSONAL_DATA_HASH_KEY", "fengqiao-development-hash-key"),
        # A TrueType CJK font for documents (Debian's fonts-wqy-zenhei; scripts/ensure-fonts.sh).
        cjk_font=Path(_env("FENGQIAO_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")),
    )


@dataclass(frozen=True)
class ConsoleSettings:
    http_address: str
    service_urls: dict  # service name → base URL the console calls, server-side, with the user's token
    jwt_secret: str
    jwt_audience: str
    jwt_jwks: str
    jwt_issuer: str
    county_file: Path  # places, categories and people's names for the forms


def console_settings():
    """The web console's settings: where it listens, where each service answers (its own
    FENGQIAO_<SERVICE>_URL, else the local port), and how it checks the tokens people paste."""
    tokens = settings("intake")  # the same verification settings as every service
    return ConsoleSettings(
        http_address=f"{_env('FENGQIAO_HTTP_HOST', '127.0.0.1')}:{int(_env('FENGQIAO_CONSOLE_PORT', CONSOLE_PORT))}",
        service_urls={name: _env(f"FENGQIAO_{name.upper()}_URL",
                                 f"http://127.0.0.1:{_env(f'FENGQIAO_{name.upper()}_PORT', port)}").rstrip("/")
                      for name, port in SERVICES.items()},
        jwt_secret=tokens.jwt_secret, jwt_audience=tokens.jwt_audience, jwt_jwks=tokens.jwt_jwks,
        jwt_issuer=tokens.jwt_issuer, county_file=tokens.county_file,
    )
