"""Notify (提醒与通知): turns events into messages for the right people by the right channels,
once each, at a decent hour, and keeps every message's status. Entrypoints only: the triggers
and words are in rules.py and domain.py, the protocols in channels.py, the SQL in store.py."""
import json
import logging
import os
from datetime import datetime, timezone

import requests
from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from fengqiao import access, auth, catalog, metrics
from fengqiao.auth import STAFF
from fengqiao.config import SERVICES
from fengqiao.county import CountyConfig, DeadlinesConfig, ReloadingFile
from fengqiao.messaging import event_handler
from fengqiao.service import BackboneService
from fengqiao.timers import every
from fengqiao.web import Problem, invalid, is_uuid, json_response, load_body, load_query, principal, route
from services.notify import channels, domain, store, subscriptions
from services.notify import rules as notify_rules
from services.notify.schemas import (SUBSCRIPTION_EXAMPLE, DeliveriesQuery, DeliverySchema, InboxQuery, InboxSchema,
                                     NotificationSchema, NotificationsQuery, SubscriptionRequest, SubscriptionSchema)
from services.notify.webhooks import WebhookSenders

log = logging.getLogger(__name__)
SUBSCRIBERS = ("integrator", "operator")  # machines that take events, and the people who run the county's
DISPATCH_BATCH = 50  # messages one dispatch tick sends at most; the next tick takes the rest


def _now():
    return datetime.now(timezone.utc)


class NotifyService(BackboneService):
    name = "notify"
    config = Config()
    county = CountyConfig()
    deadlines = DeadlinesConfig()  # for the policies' names in messages
    rules = ReloadingFile("NOTIFY_FILE", notify_rules.load, "notify")
    webhook_senders = WebhookSenders()
    known_types = frozenset(catalog.load())  # what a webhook subscription may name

    @event_handler(*[(source, "#") for source in SERVICES if source != "notify"])
    def on_event(self, event):
        """Every event of the other services: those a trigger names become messages, those a
        webhook subscription names deliveries."""
        if not self.rules.triggers_for(event["type"], event["data"]):
            with self.db.transaction() as tx:
                store.add_deliveries(tx, event)  # once per subscription and event, however often it comes
            return
        now = _now()
        found = domain.messages(self.rules, self.county, domain.template_helpers(self.county, self.deadlines),
                                event, now, self.deadlines.calendar.tz)
        if not found:
            log.warning("%s %s of %s: the triggers name nobody the county file can reach", event["type"], event["id"],
                        event["data"].get("number"))
        with self.db.transaction() as tx:
            if tx.already_handled(event):
                return
            store.add_deliveries(tx, event)
            for message in found:
                self._enqueue(tx, message, event, now)

    @every("NOTIFY_DISPATCH_SECONDS", default=1)
    def dispatch(self):
        """Send what is due, one message per transaction (claimed with SKIP LOCKED: several
        replicas never send one twice)."""
        for _ in range(DISPATCH_BATCH):
            with self.db.transaction() as tx:
                message = store.claim_due(tx, _now())
                if message is None:
                    return
                self._deliver(tx, message)

    @every("WEBHOOK_DISPATCH_SECONDS", default=1)
    def send_webhooks(self):
        """Start a sender for each webhook subscription with a delivery due (webhooks.py)."""
        self.webhook_senders.send_due(self.db, lambda attempts, now: domain.retry_at(self.rules, attempts, now),
                                      check_address=None if _internal_allowed() else channels.check_public)

    @every("DIGEST_CHECK_SECONDS", default=600)
    def make_digests(self):
        """On the first of the month (or the first look after it), last month's early-warning
        digest (未诉先办 预警提示) of each township, from reporting's hotspots, to its leaders."""
        if self.rules.digest is None:
            return
        now = _now()
        month = domain.digest_month(self.deadlines.calendar.local_date(now))
        helpers = domain.template_helpers(self.county, self.deadlines)
        for township in [n.code for n in self.county.nodes.values() if n.level == "township"]:
            try:
                with self.db.transaction() as tx:
                    if not store.claim_digest(tx, township, month):
                        continue
                    hot = self._hotspots(township, month)  # reporting down: the claim is undone, tried later
                    for message in domain.digest_messages(self.rules, self.county, helpers, township, month, hot, now):
                        self._enqueue(tx, message, None, now)
            except channels.Transient as exc:
                log.warning("the %s digest of %s waits: %s", month, township, exc)

    # --- queries --------------------------------------------------------------------------

    @route("GET", "/notifications", summary="Every message about a case and its delivery status", roles=STAFF,
           query_schema=NotificationsQuery, response_schema=NotificationSchema(many=True))
    def list_notifications(self, request):
        query, who = load_query(request, NotificationsQuery()), principal(request)
        township = query["case"].split("-", 1)[0]  # a case number starts with its township's code
        with self.db.transaction() as tx:
            messages = store.notifications_of_case(tx, query["case"])
        if not access.covers(who, self.county, township) or (  # a township's messages, for its people;
                not access.sees_discipline(who) and any(self._to_discipline(m) for m in messages)):  # a report's
            raise Problem(404, "Not Found", f"no case {query['case']}")
        return json_response(NotificationSchema(many=True).dump(messages))

    def _to_discipline(self, message):
        """A message to a body that takes discipline reports: the case is one (纪检举报)."""
        body = self.county.bodies.get(message["recipient"])
        return body is not None and access.DISCIPLINE in body.channel_classes

    @route("POST", "/notifications/<message_id>/retry", roles=("operator", "supervisor"), response_schema=NotificationSchema,
           summary="Send a failed message again (after the cause was mended: a secret set, a provider back)")
    def retry(self, request, message_id):
        who = principal(request)
        with self.db.transaction() as tx:
            message = store.retry_failed(tx, message_id, _now()) if is_uuid(message_id) else None
            if message is not None and not access.covers(who, self.county, message["number"].split("-", 1)[0]):
                raise Problem(409, "Conflict", f"no failed message {message_id}")  # rolled back: not theirs
        if message is None:
            raise Problem(409, "Conflict", f"no failed message {message_id}")
        return json_response(NotificationSchema().dump(message))

    @route("GET", "/inbox", roles=STAFF, summary="The staff inbox: your messages and your body's, newest first",
           query_schema=InboxQuery, response_schema=InboxSchema(many=True))
    def read_inbox(self, request):
        query = load_query(request, InboxQuery())
        with self.db.transaction() as tx:
            messages = store.inbox(tx, self._inboxes_of(principal(request)), query["unread"])
            return json_response(InboxSchema(many=True).dump(messages))

    @route("POST", "/inbox/<message_id>/read", roles=STAFF, summary="Mark an inbox message read",
           response_schema=InboxSchema)
    def mark_read(self, request, message_id):
        if not is_uuid(message_id):
            raise Problem(404, "Not Found", f"no message {message_id} in your inbox")
        with self.db.transaction() as tx:
            message = store.mark_read(tx, message_id, self._inboxes_of(principal(request)))
        if message is None:
            raise Problem(404, "Not Found", f"no message {message_id} in your inbox")
        return json_response(InboxSchema().dump(message))

    # --- webhook subscriptions (事件订阅) ---------------------------------------------------

    @route("POST", "/webhooks", roles=SUBSCRIBERS, request_schema=SubscriptionRequest, example=SUBSCRIPTION_EXAMPLE,
           response_schema=SubscriptionSchema, status=201,
           summary="Subscribe a URL to event types: each event is POSTed there once, signed, retried with backoff")
    def subscribe(self, request):
        who = self._county_wide(principal(request))
        body = load_body(request, SubscriptionRequest())
        problems = subscriptions.event_type_errors(body["events"], self.known_types)
        errors = {"events": problems} if problems else {}
        if (url_problem := subscriptions.url_error(body["url"]) or _unreachable(body["url"])) is not None:
            errors["url"] = [url_problem]
        if errors:
            raise invalid(errors)
        with self.db.transaction() as tx:
            made = store.add_subscription(tx, body["url"], sorted(set(body["events"])), body["secret"],
                                          body["description"], who.subject)
        return json_response(SubscriptionSchema().dump(made), status=201)

    @route("GET", "/webhooks", roles=SUBSCRIBERS, response_schema=SubscriptionSchema(many=True),
           summary="The webhook subscriptions: an integrator's own, or every one for an operator")
    def list_subscriptions(self, request):
        who = self._county_wide(principal(request))
        with self.db.transaction() as tx:
            found = store.subscriptions(tx, None if who.has_any(("operator",)) else who.subject)
        return json_response(SubscriptionSchema(many=True).dump(found))

    @route("GET", "/webhooks/<subscription_id>", roles=SUBSCRIBERS, response_schema=SubscriptionSchema,
           summary="A webhook subscription with its deliveries counted")
    def read_subscription(self, request, subscription_id):
        with self.db.transaction() as tx:
            return json_response(SubscriptionSchema().dump(self._subscription(tx, request, subscription_id)))

    @route("DELETE", "/webhooks/<subscription_id>", roles=SUBSCRIBERS, status=204,
           summary="End a subscription; its deliveries still waiting are dropped")
    def unsubscribe(self, request, subscription_id):
        with self.db.transaction() as tx:
            store.remove_subscription(tx, self._subscription(tx, request, subscription_id)["id"])
        return Response(status=204)

    @route("GET", "/webhooks/<subscription_id>/deliveries", roles=SUBSCRIBERS, query_schema=DeliveriesQuery,
           response_schema=DeliverySchema(many=True), summary="A subscription's deliveries, newest first")
    def list_deliveries(self, request, subscription_id):
        query = load_query(request, DeliveriesQuery())
        with self.db.transaction() as tx:
            found = store.deliveries(tx, self._subscription(tx, request, subscription_id)["id"], query["status"],
                                     query["limit"])
        return json_response(DeliverySchema(many=True).dump(found))

    @route("POST", "/webhooks/<subscription_id>/deliveries/<delivery_id>/retry", roles=SUBSCRIBERS,
           response_schema=DeliverySchema, summary="Send a failed delivery again (the subscriber is back)")
    def redeliver(self, request, subscription_id, delivery_id):
        with self.db.transaction() as tx:
            subscription = self._subscription(tx, request, subscription_id)
            again = store.redeliver(tx, subscription["id"], delivery_id, _now()) if is_uuid(delivery_id) else None
        if again is None:
            raise Problem(409, "Conflict", f"no failed delivery {delivery_id} of this subscription")
        return json_response(DeliverySchema().dump(again))

    def _county_wide(self, who):
        """A subscription receives the whole county's events: only a county-wide token manages one."""
        if who.scope != self.county.code:
            raise Problem(403, "Forbidden", f"webhook subscriptions receive every township's events: this needs a"
                                            f" token scoped to the county ({self.county.code}), not {who.scope}")
        return who

    def _subscription(self, tx, request, subscription_id):
        """The caller's subscription, or a 404 (another integrator's is not even said to exist)."""
        who = self._county_wide(principal(request))
        found = store.subscription(tx, subscription_id) if is_uuid(subscription_id) else None
        if found is None or not subscriptions.may_manage(who, found):
            raise Problem(404, "Not Found", f"no webhook subscription {subscription_id}")
        return found

    # --- plumbing -------------------------------------------------------------------------

    def _enqueue(self, tx, message, event, now):
        """Record a message once; an inbox message is delivered by being recorded, one whose words
        could not be written is failed at once (and said so)."""
        status = "failed" if message["error"] else "sent" if message["channel"] == "inbox" else "pending"
        row = store.insert_new(tx, {
            **message, "status": status, "sent_at": now if status == "sent" else None, "last_error": message["error"],
            "next_attempt_at": message["not_before"] if status == "pending" else None,
            "payload": event if message["channel"] == "webhook" else None})
        if row is not None and status == "sent":
            self._sent(tx, row)
        elif row is not None and status == "failed":
            self._failed(tx, row)

    def _deliver(self, tx, message):
        now = _now()
        if message["recipient_kind"] == "petitioner":
            held = domain.held_until(self.rules, now, self.deadlines.calendar.tz)
            if held > now:  # a retry that fell into the night waits for the morning
                store.postpone(tx, message["id"], held)
                return
        attempts = message["attempts"] + 1
        delivered = list(message["delivered_to"])
        try:
            self._send(message, delivered)
        except channels.Permanent as exc:
            self._failed(tx, store.record(tx, message["id"], "failed", attempts, delivered, error=str(exc)))
        except channels.Skipped as exc:
            metrics.NOTIFICATIONS.labels(message["channel"], "skipped").inc()
            store.record(tx, message["id"], "skipped", attempts, delivered, error=str(exc))
        except Exception as exc:  # Transient, or a fault of ours: never let one message stop the others
            if not isinstance(exc, channels.Transient):
                log.exception("sending notification %s failed unexpectedly", message["id"])
            error = str(exc) if isinstance(exc, channels.Transient) else f"unexpected {type(exc).__name__}"
            again = domain.retry_at(self.rules, attempts, now)
            if again is None:
                self._failed(tx, store.record(tx, message["id"], "failed", attempts, delivered, error=error))
                return
            metrics.NOTIFICATIONS.labels(message["channel"], "retried").inc()
            store.record(tx, message["id"], "pending", attempts, delivered, again, error)
        else:
            self._sent(tx, store.record(tx, message["id"], "sent", attempts, delivered))

    def _send(self, message, delivered):
        """Send by the message's channel; `delivered` collects the petitioners reached so far (one
        message to several petitioners is retried only for those not reached)."""
        channel, who = message["channel"], message["recipient"]
        if channel == "webhook":
            hook = self.rules.webhooks.get(who)
            if hook is None:
                raise channels.Permanent(f"no webhook {who} in the notify file any more")
            body = json.dumps(message["payload"], ensure_ascii=False).encode()
            channels.send_webhook(hook["url"], _secret(hook.get("secret_env")), body, message["id"])
        elif channel == "email":
            settings = self.rules.email
            channels.send_email(settings, self._staff(who).email, message["subject"], message["text"], message["id"],
                                _secret(settings.get("password_env"), required=False))
        elif channel == "sms":
            key = _secret(self.rules.sms.get("key_env"))
            for position, phone in self._phones(message):
                if position not in delivered:
                    channels.send_sms(self.rules.sms, key, phone, message["text"], f"{message['id']}:{position}")
                    delivered.append(position)
        else:
            raise channels.Permanent(f"no way to send by {channel}")

    def _phones(self, message):
        """[(position, phone)]: a staff member's from the county file; petitioners' from intake,
        now, held in memory only for this send."""
        if message["recipient_kind"] == "staff":
            return [(0, self._staff(message["recipient"]).phone)]
        r = self._ask("INTAKE_URL", f"/cases/{message['number']}/contacts")
        if r.status_code != 200:
            raise (channels.Transient if r.status_code >= 500 else channels.Permanent)(f"intake answered {r.status_code}")
        phones = [(c["position"], c["phone"]) for c in r.json()]
        if not phones:
            raise channels.Skipped("no phone on record for the petitioners (anonymous, or none given)")
        return phones

    def _hotspots(self, township, month):
        r = self._ask("REPORTING_URL", f"/hotspots?month={month}&township={township}")
        if r.status_code != 200:
            raise channels.Transient(f"reporting answered {r.status_code}")
        return r.json()

    def _ask(self, service_url, path):
        """GET another service with a short-lived service token; down is Transient."""
        s = self.config
        token = auth.issue(s["JWT_SECRET"], s["JWT_AUDIENCE"], "notify", ["service"], self.county.code, ttl_seconds=60)
        try:
            return requests.get(f"{s[service_url]}{path}", headers={"Authorization": f"Bearer {token}"},
                                timeout=channels.TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise channels.Transient(f"{service_url.split('_')[0].lower()}: {type(exc).__name__}")

    def _staff(self, staff_id):
        person = self.county.person(staff_id)
        if person is None:
            raise channels.Permanent(f"{staff_id} is no longer in the county file")
        return person

    def _sent(self, tx, message):
        metrics.NOTIFICATIONS.labels(message["channel"], "sent").inc()
        event = tx.emit("notification.sent", domain.outcome_event(message),
                        subject=message["case_id"] and str(message["case_id"]), correlationid=message["correlationid"])
        store.add_deliveries(tx, event)  # notify's own events reach the subscribers from here

    def _failed(self, tx, message):
        metrics.NOTIFICATIONS.labels(message["channel"], "failed").inc()
        log.warning("notification %s (%s by %s to %s) failed: %s", message["id"], message["kind"], message["channel"],
                    message["recipient"], message["last_error"])
        event = tx.emit("notification.failed", domain.outcome_event(message, message["last_error"]),
                        subject=message["case_id"] and str(message["case_id"]), correlationid=message["correlationid"])
        store.add_deliveries(tx, event)

    def _inboxes_of(self, who):
        """A person reads their own inbox and their body's."""
        person = self.county.person(who.subject)
        return [who.subject] + ([person.body] if person and person.body else [])


def _internal_allowed():
    """A county whose own systems subscribe on its internal network says so; otherwise a
    subscription may only point outside it (never at the services or the cloud's metadata)."""
    return os.environ.get("FENGQIAO_WEBHOOK_PRIVATE_ADDRESSES") == "allow"


def _unreachable(url):
    """Why a subscription may not point where `url` resolves to now, or None."""
    if _internal_allowed():
        return None
    try:
        channels.check_public(url)
    except (channels.Transient, channels.Permanent) as exc:
        return f"an address on the internet: {str(exc).split(': ', 1)[1]}"
    return None


def _secret(env_name, required=True):
    """A secret named by the notify file, from the environment (never from the file). Missing,
    the message waits and is retried: setting it mends the delivery."""
    value = os.environ.get(env_name or "")
    if required and not value:
        log.error("the secret %s is not set in the environment: messages wait", env_name)
        raise channels.Transient(f"the secret {env_name or '(none named)'} is not set in the environment")
    return value

