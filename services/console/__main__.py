"""Run the web console: `python -m services.console` (`make run` starts it beside the services).
No database, no broker: it serves pages and calls the services' HTTP APIs."""
from fengqiao.green import patch

patch()  # the console waits on the services: cooperatively, like they wait on theirs

import logging  # noqa: E402

import eventlet  # noqa: E402
import eventlet.wsgi  # noqa: E402

from fengqiao import config, logmask  # noqa: E402
from services.console.app import application  # noqa: E402


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logmask.install()
    settings = config.console_settings()
    host, port = settings.http_address.rsplit(":", 1)
    app = application(settings, settings.county_file)
    logging.info("console listening on http://%s", settings.http_address)
    eventlet.wsgi.server(eventlet.listen((host, int(port))), app, log=logging.getLogger("console.access"))


if __name__ == "__main__":
    main()
