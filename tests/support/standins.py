"""Stand-ins for the far side of notify's channels, each a real server in a process of its own
(no eventlet): an SMTP server (aiosmtpd) and an HTTP receiver for the SMS provider's API and for
webhooks. Each writes what it accepted as JSON lines to --out, and can refuse the first N.

    python -m tests.support.standins smtp --port 2525 --out mail.jsonl --refuse 2
    python -m tests.support.standins http --port 9090 --out sms.jsonl --fail 1 --status 503 --secret s
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _record(path, entry):
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def smtp(args):
    from aiosmtpd.controller import Controller

    class Handler:
        refused = 0

        async def handle_DATA(self, server, session, envelope):
            if Handler.refused < args.refuse:
                Handler.refused += 1
                return "451 4.3.0 Try again later"
            _record(args.out, {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                               "content": envelope.content.decode("utf-8", errors="replace")})
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=args.port)
    controller.start()
    threading.Event().wait()


def http(args):
    lock, state = threading.Lock(), {"failed": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(args.delay)  # a slow receiver
            with lock:
                failing = state["failed"] < args.fail
                state["failed"] += failing
            if failing:  # --echo: the refusal repeats the request, as some providers do
                self.send_response(args.status)
                self.end_headers()
                if args.echo:
                    self.wfile.write(b"refused: " + body)
                return
            entry = {"path": self.path, "headers": dict(self.headers), "body": body.decode("utf-8")}
            if args.secret:  # as a webhook receiver checks: HMAC-SHA256 over "<timestamp>.<body>"
                expected = hmac.new(args.secret.encode(), f"{self.headers.get('X-Fengqiao-Timestamp')}.".encode() + body,
                                    hashlib.sha256).hexdigest()
                entry["verified"] = hmac.compare_digest(f"sha256={expected}",
                                                        self.headers.get("X-Fengqiao-Signature", ""))
            _record(args.out, entry)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *_):
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


# --- for the tests: start one and read what it accepted ------------------------------------------

def launch(kind, out, *options):
    """(process, port) of a stand-in started on a free port, once it accepts connections."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "tests.support.standins", kind, "--port", str(port),
                                "--out", str(out), *options], cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 15
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"the {kind} stand-in did not start")
        time.sleep(0.05)
    return process, port


def accepted(out):
    """What a stand-in accepted so far, in order."""
    try:
        return [json.loads(line) for line in open(out, encoding="utf-8").read().splitlines()]
    except FileNotFoundError:
        return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["smtp", "http"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--refuse", type=int, default=0, help="smtp: refuse this many messages first (451)")
    parser.add_argument("--fail", type=int, default=0, help="http: answer --status to this many requests first")
    parser.add_argument("--status", type=int, default=503)
    parser.add_argument("--delay", type=float, default=0, help="http: wait this long before answering")
    parser.add_argument("--echo", action="store_true", help="http: a refusal's body repeats the request")
    parser.add_argument("--secret", default="", help="http: check webhook signatures with this secret")
    args = parser.parse_args()
    asyncio.set_event_loop(asyncio.new_event_loop())
    smtp(args) if args.kind == "smtp" else http(args)


if __name__ == "__main__":
    main()
