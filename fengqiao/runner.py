"""Run one service: `python -m fengqiao.runner intake`. Prepares its database and queues, then
hands over to nameko, which stops cleanly on SIGTERM or Ctrl-C."""
import sys

from fengqiao.green import patch

patch()  # before anything opens a socket

import importlib  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

from nameko.cli.run import run  # noqa: E402

from fengqiao import config, db, logmask, messaging, migrations  # noqa: E402


def service_class(name):
    module = importlib.import_module(f"services.{name}.service")
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "name", None) == name and value.__module__ == module.__name__:
            return value
    raise LookupError(f"services.{name}.service defines no service named {name!r}")


def service_dir(name):
    return Path(config.REPO_ROOT) / "services" / name


def prepare(settings):
    """Create the service's database if needed and apply its migrations; declare the queues of
    every service, so that what this one publishes waits for consumers that never ran yet."""
    db.ensure_database(settings.admin_database_url, settings.database_name)
    applied = migrations.apply(settings.database_url, service_dir(settings.service))
    with messaging.connect(settings.amqp_uri) as conn:
        for name in config.SERVICES:
            messaging.declare_service(conn, service_class(name), settings.delivery_limit)
        for queue in messaging.retire_queues(conn):
            logging.warning("queue %s is retired but holds messages: replay or move them, then delete it", queue)
    return applied


class _QuietExpected(logging.Filter):
    """A Problem answered to a client (400, 404…) is not worth a traceback in the log."""

    def filter(self, record):
        if record.getMessage().startswith("(expected)"):
            record.exc_info = record.exc_text = None
        return True


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: python -m fengqiao.runner <{'|'.join(config.SERVICES)}>")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("nameko.containers").addFilter(_QuietExpected())
    logmask.install()
    settings = config.settings(argv[1])
    if settings.jwt_jwks and "FENGQIAO_JWT_SECRET" in settings.development_secrets():
        sys.exit("FENGQIAO_JWT_JWKS is set (production) but FENGQIAO_JWT_SECRET has its published development"
                 " value, with which anyone could make service tokens: set a secret of your own")
    for name in settings.development_secrets():
        logging.warning("%s has its published development value: set your own for any real county", name)
    for name in prepare(settings):
        logging.info("applied migration %s to %s", name, settings.database_name)
    logging.info("%s listening on http://%s", settings.service, settings.http_address)
    run([service_class(settings.service)], settings.nameko_config())


if __name__ == "__main__":
    main(sys.argv)
