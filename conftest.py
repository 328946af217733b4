"""Root of the test suite. eventlet must patch the process before anything else imports
sockets or threads, or container tests hang (ENGINEERING pitfall 5)."""
import os

from fengqiao.green import patch

patch()

# Tests never touch the data of `make run`: their own databases, vhost and ports.
os.environ.setdefault("FENGQIAO_DB_PREFIX", "fqtest")
os.environ.setdefault("FENGQIAO_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/fengqiao_test")
os.environ.setdefault("FENGQIAO_RELAY_IDLE_SECONDS", "0.2")
for _name, _port in {"INTAKE": 18001, "ROUTING": 18002, "MEDIATION": 18003,
                     "NOTIFY": 18004, "REPORTING": 18005}.items():
    os.environ.setdefault(f"FENGQIAO_{_name}_PORT", str(_port))
