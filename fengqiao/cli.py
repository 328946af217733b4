"""Operator commands: `python -m fengqiao.cli <command>`.

  setup [SERVICE...]                       create databases, apply migrations, declare queues
  rebuild-read-model                       fold every case of reporting again from its events
  migrate SERVICE                          apply a service's pending migrations
  token --role R [--role R] --scope NODE   issue a bearer token (development secret)
  openapi [--out DIR]                      write each service's OpenAPI document (docs/api/)
  asyncapi [--out FILE]                    write the events' AsyncAPI 3.0 document (docs/events/asyncapi.yaml)
  dead-letters list [SERVICE...]           what is parked in the dead-letter queues, with errors
  dead-letters replay QUEUE [--id EVENT]   send parked messages back to their handler
  audit verify [SERVICE...]                walk each audit log's hash chain (exit 1 if broken)
  audit list SERVICE [--subject S] [--action A] [--limit N]   the newest audit entries
"""
import argparse
import json
import sys
from pathlib import Path

import psycopg
import yaml
from psycopg.rows import dict_row

from fengqiao import audit, auth, config, db, messaging, migrations


def _runner():
    from fengqiao import runner  # imported late: it patches eventlet, which the CLI does not need

    return runner


def cmd_setup(args):
    for name in args.services or list(config.SERVICES):
        applied = _runner().prepare(config.settings(name))
        print(f"{name}: database ready, queues declared, {len(applied)} migration(s) applied")


def cmd_migrate(args):
    s = config.settings(args.service)
    db.ensure_database(s.admin_database_url, s.database_name)
    for name in migrations.apply(s.database_url, _runner().service_dir(args.service)):
        print(f"applied {name}")


def cmd_token(args):
    s = config.settings("intake")
    print(auth.issue(s.jwt_secret, s.jwt_audience, args.subject, args.role, args.scope, args.ttl))


def cmd_openapi(args):
    from fengqiao.dependencies import openapi_document
    from fengqiao.web import routes_of

    args.out.mkdir(parents=True, exist_ok=True)
    for name in config.SERVICES:
        doc = openapi_document(name, routes_of(_runner().service_class(name)))
        path = args.out / f"{name}.openapi.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path}")


def cmd_asyncapi(args):
    from fengqiao import asyncapi

    args.out.write_text(yaml.safe_dump(asyncapi.document(), allow_unicode=True, sort_keys=False, width=110),
                        encoding="utf-8")
    print(f"wrote {args.out}")


def cmd_dead_letters_list(args):
    s = config.settings("intake")
    with messaging.connect(s.amqp_uri) as conn:
        for name in args.services or list(config.SERVICES):
            for queue, _ in messaging.handlers_of(_runner().service_class(name)):
                parked = messaging.dead_letters(conn, queue)
                print(f"{queue}.dead: {len(parked)} message(s)")
                for m in parked:
                    print("  " + json.dumps(m, ensure_ascii=False, default=str))


def cmd_dead_letters_replay(args):
    s = config.settings("intake")
    with messaging.connect(s.amqp_uri) as conn:
        n = messaging.replay(conn, args.queue, message_id=args.id)
    print(f"replayed {n} message(s) to {args.queue}")


def cmd_rebuild_read_model(args):
    from datetime import datetime, timezone

    from fengqiao import county, deadlines
    from services.reporting import rebuild

    s = config.settings("reporting")
    place = county.load(s.county_file)
    n = rebuild.rebuild(s.database_url, deadlines.load(s.deadlines_file, place.timezone), place,
                        datetime.now(timezone.utc))
    print(f"reporting: {n} case(s) folded again from their events")


def _connect(service):
    return psycopg.connect(config.settings(service).database_url, row_factory=dict_row)


def cmd_audit_verify(args):
    broken = False
    for name in args.services or list(config.SERVICES):
        with _connect(name) as conn:
            found = audit.verify(conn)
        state = "intact" if found["intact"] else f"BROKEN at entry {found['first_broken']}"
        print(f"{name}: {found['entries']} entries, {state}, head {found['head']}")
        broken = broken or not found["intact"]
    return 1 if broken else 0


def cmd_audit_list(args):
    with _connect(args.service) as conn:
        for e in audit.entries(conn, args.subject, args.what, limit=args.limit):
            print(json.dumps({**e, "at": e["at"].isoformat()}, ensure_ascii=False))


def parser():
    p = argparse.ArgumentParser(prog="python -m fengqiao.cli", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("services", nargs="*", default=[], help="default: all")
    s.set_defaults(func=cmd_setup)
    m = sub.add_parser("migrate")
    m.add_argument("service", choices=list(config.SERVICES))
    m.set_defaults(func=cmd_migrate)
    t = sub.add_parser("token")
    t.add_argument("--role", action="append", required=True, choices=auth.ROLES)
    t.add_argument("--scope", required=True, help="node code of the county tree, e.g. SH or QS")
    t.add_argument("--subject", default="dev-user")
    t.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    t.set_defaults(func=cmd_token)
    o = sub.add_parser("openapi")
    o.add_argument("--out", type=Path, default=config.REPO_ROOT / "docs" / "api")
    o.set_defaults(func=cmd_openapi)
    a = sub.add_parser("asyncapi")
    a.add_argument("--out", type=Path, default=config.REPO_ROOT / "docs" / "events" / "asyncapi.yaml")
    a.set_defaults(func=cmd_asyncapi)
    d = sub.add_parser("dead-letters").add_subparsers(dest="action", required=True)
    dl = d.add_parser("list")
    dl.add_argument("services", nargs="*", default=[])
    dl.set_defaults(func=cmd_dead_letters_list)
    dr = d.add_parser("replay")
    dr.add_argument("queue", help="a handler queue, e.g. routing.assign_case")
    dr.add_argument("--id", help="replay only the event with this id")
    dr.set_defaults(func=cmd_dead_letters_replay)
    r = sub.add_parser("rebuild-read-model", help="fold every case of reporting again from its events")
    r.set_defaults(func=cmd_rebuild_read_model)
    a = sub.add_parser("audit").add_subparsers(dest="action", required=True)
    av = a.add_parser("verify")
    av.add_argument("services", nargs="*", default=[], help="default: all")
    av.set_defaults(func=cmd_audit_verify)
    al = a.add_parser("list")
    al.add_argument("service", choices=list(config.SERVICES))
    al.add_argument("--subject")
    al.add_argument("--action", dest="what", help="the start of an action, e.g. 'POST /cases'")
    al.add_argument("--limit", type=int, default=50)
    al.set_defaults(func=cmd_audit_list)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
