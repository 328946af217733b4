"""The operator commands, run as an operator runs them."""
import json
import subprocess
import sys

from fengqiao import auth, config, messaging


def cli(*args):
    return subprocess.run([sys.executable, "-m", "fengqiao.cli", *args], cwd=config.REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=True).stdout


def test_token_command_issues_a_token_the_services_accept():
    token = cli("token", "--role", "clerk", "--role", "leader", "--scope", "QS").strip()
    s = config.settings("intake")
    assert auth.verify(s.jwt_secret, s.jwt_audience, token).roles == ("clerk", "leader")


def test_dead_letter_commands_list_and_replay(broker, amqp_uri):
    queue = "routing.assign_case"
    with messaging.connect(amqp_uri) as conn:
        messaging.declare(conn, queue, [("intake", "case.registered")], config.settings("routing").delivery_limit)
        conn.default_channel.queue_purge(f"{queue}.dead")
        conn.default_channel.queue_purge(queue)
        conn.Producer().publish(
            json.dumps({"id": "ev-1", "type": "case.registered"}).encode(), exchange=messaging.DEAD_LETTER_EXCHANGE,
            routing_key=queue, headers={messaging.ERROR_HEADER: "KeyError: 'case_id'"},
            content_type="application/json", delivery_mode=2)
    listed = cli("dead-letters", "list", "routing")
    assert f"{queue}.dead: 1 message(s)" in listed and "KeyError: 'case_id'" in listed and '"ev-1"' in listed
    assert "replayed 1 message(s)" in cli("dead-letters", "replay", queue)
    with messaging.connect(amqp_uri) as conn:
        back = conn.SimpleQueue(messaging.consumer_queue(queue, [], config.settings("routing").delivery_limit)).get(timeout=5)
        assert json.loads(back.body)["id"] == "ev-1" and messaging.ERROR_HEADER not in back.headers
        back.ack()
    assert f"{queue}.dead: 0 message(s)" in cli("dead-letters", "list", "routing")


def test_commands_do_not_print_eventlets_deprecation_notice():
    # pitfall 8: the notice is a Warning of eventlet's own class, shown on every start
    run = subprocess.run([sys.executable, "-m", "fengqiao.cli", "dead-letters", "list", "mediation"],
                         cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert "Eventlet is deprecated" not in run.stderr + run.stdout
