"""The web console (控制台): server-rendered pages over the services' HTTP APIs, for the window
(窗口), the handler's desk (工作台), the mediator's files (调解) and the leader's wall (驾驶舱).
It keeps nothing: the person's own token (pasted at login, kept in an HttpOnly SameSite=Strict
cookie) goes with every call, so the services' scope and role rules are the console's. Forms
carry a token derived from the session (CSRF). Layout and words are in templates/; what the
pages show is worked out in views.py."""
import hashlib
import hmac
import json
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import jwt
from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import BadRequest, HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from fengqiao import access, auth
from fengqiao.county import load as load_county
from services.console import charts, views
from services.console.api import ApiError, Services
from services.reporting.exports import CHANNELS, CLASSES, OUTCOMES, RATINGS, RISK, STATUS

HERE = Path(__file__).resolve().parent
TOKEN_COOKIE = "fengqiao_token"
LOGIN_COOKIE = "fengqiao_login"  # the login form's own CSRF value, before there is a session
# Pages name people's cases: never cached, never framed, scripts and styles from here only.
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                      "form-action 'self'; base-uri 'none'"}
DESK_LIMIT = 200  # routing's most per queue read: past it, the desk asks to narrow by body
HOME = (("clerk", "window"), ("handler", "desk"), ("mediator", "mediation"), ("leader", "wall"), ("supervisor", "wall"))

URLS = Map([
    Rule("/", endpoint="home"),
    Rule("/health/live", endpoint="live"),
    Rule("/login", endpoint="login", methods=["GET", "POST"]),
    Rule("/logout", endpoint="logout", methods=["POST"]),
    Rule("/window", endpoint="window", methods=["GET", "POST"]),
    Rule("/window/repeat-check", endpoint="repeat_check", methods=["POST"]),
    Rule("/receipt/<number>", endpoint="receipt"),
    Rule("/desk", endpoint="desk"),
    Rule("/cases/<number>", endpoint="case"),
    Rule("/cases/<number>/<action>", endpoint="act", methods=["POST"]),
    Rule("/cases/<number>/whistles/<whistle_id>/report", endpoint="report", methods=["POST"]),
    # Not /mediation/…: the gateway gives that prefix to the mediation service itself.
    Rule("/mediate", endpoint="mediation"),
    Rule("/mediate/<number>", endpoint="file"),
    Rule("/mediate/<number>/agreement.pdf", endpoint="agreement"),
    Rule("/mediate/<number>/<action>", endpoint="file_act", methods=["POST"]),
    Rule("/wall", endpoint="wall"),
])


def csrf_token(token):
    """The session's form token: only a page that holds the session's own token can know it."""
    return hmac.new(token.encode(), b"fengqiao-console-csrf", hashlib.sha256).hexdigest()


RECEIPT_HOURS = 8  # a sealed receipt can be printed again within a working day


def receipt_seal(secret, subject, number, kind, issued):
    """Proof, in the receipt's address, that the console registered the case for this person
    at `issued` (epoch seconds): keyed by the console's own secret, which no person holds."""
    message = f"fengqiao-console-receipt:{subject}:{number}:{kind}:{issued}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same(given, expected):
    """A value from a request against the one expected, in constant time (as bytes: any text)."""
    return hmac.compare_digest(given.encode(), expected.encode())


class Console:
    def __init__(self, settings, county_file):
        self.settings = settings
        self.county = load_county(county_file)
        self.zone = ZoneInfo(self.county.timezone)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]))
        self.templates.globals.update(CHANNELS=CHANNELS, CLASSES=CLASSES, OUTCOMES=OUTCOMES, RATINGS=RATINGS,
                                      RISK=RISK, STATUS=STATUS, ACTIONS=views.ACTIONS, FIELDS=views.FIELD_LABELS,
                                      REVIEW_DECISIONS=views.REVIEW_DECISIONS, WHISTLE_REPORT=views.WHISTLE_REPORT,
                                      INDICATORS=views.INDICATORS, PERIODS=views.PERIODS, EVENTS=views.EVENT_LABELS, shown=views.shown, change=views.change,
                                      MEDIATION=views.MEDIATION_LABELS, FILE_ACTIONS=views.FILE_ACTIONS,
                                      bar=views.deadline_bar, place=self._place_name, body=self._body_name,
                                      person=self._person_name,
                                      category=self._category_label, when=lambda iso: views.local_time(iso, self.zone))

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = URLS.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            request.url_for = lambda endpoint, **values: adapter.build(endpoint, values)
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except HTTPException as exc:
            response = exc.get_response(environ)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def render(self, request, template, status=200, **context):
        who = getattr(request, "who", None)
        html = self.templates.get_template(template).render(
            url=request.url_for, who=who, csrf=who and csrf_token(request.cookies[TOKEN_COOKIE]), **context)
        return Response(html, status=status, mimetype="text/html")

    # --- signing in --------------------------------------------------------------------------

    def _session(self, request):
        """(principal, Services) of the signed-in person, or None: no token, or one the services
        would refuse (expired, wrongly signed…)."""
        token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        try:
            who = self._verify(token)
        except (auth.AuthError, auth.KeysUnavailable):
            return None
        request.who = who
        return Services(self.settings.service_urls, token, ", ".join(request.access_route) or None)

    def _verify(self, token):
        s = self.settings
        return auth.verify(s.jwt_secret, s.jwt_audience, token, jwks=s.jwt_jwks or None, provider=s.jwt_issuer)

    def _signed_in(self, request):
        api = self._session(request)
        if api is None:
            raise _Redirect(request.url_for("login", next=request.full_path.rstrip("?")))
        if request.method == "POST" and not same(request.form.get("csrf", ""), csrf_token(request.cookies[TOKEN_COOKIE])):
            raise BadRequest("表单已过期，请刷新页面后再提交")
        return api

    def on_live(self, request):
        return Response("ok\n", mimetype="text/plain")

    def on_login(self, request):
        error = None
        if request.method == "POST":
            expected = request.cookies.get(LOGIN_COOKIE, "")
            token = "".join(request.form.get("token", "").split())
            if token.lower().startswith("bearer"):
                token = token[6:]
            if not expected or not same(request.form.get("csrf", ""), expected):
                error = "登录表单已过期，请重新提交"
            else:
                try:
                    self._verify(token)
                    expires = jwt.decode(token, options={"verify_signature": False})["exp"]  # verified just now
                except auth.KeysUnavailable:
                    error = "暂时无法核验令牌（身份认证服务不可达），请稍后再试"
                except auth.AuthError:
                    error = "令牌无效或已过期，请向管理员重新申领"
                else:
                    target = request.args.get("next", "")
                    response = redirect(target if target.startswith("/") and not target.startswith("//")
                                        else request.url_for("home"))
                    response.set_cookie(TOKEN_COOKIE, token, max_age=max(int(expires - time.time()), 0),
                                        httponly=True, samesite="Strict", secure=request.scheme == "https",
                                        path=request.script_root or "/")
                    response.delete_cookie(LOGIN_COOKIE, path=request.script_root or "/")
                    return response
        nonce = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", status=400 if error else 200, error=error, login_csrf=nonce)
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="Strict", secure=request.scheme == "https",
                            path=request.script_root or "/")
        return response

    def on_logout(self, request):
        try:
            self._signed_in(request)
        except _Redirect as r:
            return r.response
        response = redirect(request.url_for("login"))
        response.delete_cookie(TOKEN_COOKIE, path=request.script_root or "/")
        return response

    def on_home(self, request):
        if self._session(request) is None:
            return redirect(request.url_for("login"))
        page = next((page for role, page in HOME if role in request.who.roles), "desk")
        return redirect(request.url_for(page))

    # --- the window (窗口) ----------------------------------------------------------------------

    def on_window(self, request):
        return self._page(request, self._window)

    def _window(self, request, api):
        values, errors, summary = {}, {}, None
        if request.method == "POST":
            body = views.registration(request.form.items(multi=True))
            key = request.form.get("idempotency_key") or str(uuid.uuid4())
            try:
                _, answer = api.post("intake", "/cases", body, headers={"Idempotency-Key": key})
            except ApiError as exc:
                if exc.status in (401,):
                    raise
                values, errors = request.form, views.field_errors(exc.problem)
                summary = views.problem_summary(exc.status, exc.problem)
            else:
                return redirect(self._receipt_url(request, answer, body))
        guide = api.get("intake", "/guide")
        return self.render(request, "window.html", status=400 if errors or summary else 200, guide=guide,
                           places=self._places(request.who), values=values, errors=errors, summary=summary,
                           idempotency_key=values.get("idempotency_key") or str(uuid.uuid4()))

    def on_repeat_check(self, request):
        """The window's live repeat check (查重), asked by its script as the clerk types: JSON
        for the script, never a page; a form not yet checkable (or refused) is no repeat."""
        def check(request, api):
            probe = views.repeat_probe(request.form.items(multi=True))
            answer = {"repeat": False, "case": None}
            if probe is not None:
                try:
                    _, answer = api.post("intake", "/cases/repeat-check", probe)
                except ApiError as exc:
                    if exc.status != 400:
                        raise
            found = answer["case"]
            return Response(json.dumps({
                "repeat": answer["repeat"], "number": found and found["number"], "subject": found and found["subject"],
                "registered": found and views.local_time(found["registered_at"], self.zone),
                "repeat_count": found and found["repeat_count"],
                "url": found and request.url_for("case", number=found["number"])}, ensure_ascii=False),
                mimetype="application/json")
        return self._page(request, check)

    def _receipt_url(self, request, answer, registered):
        """Where the window sends the clerk after registering: the receipt, sealed, so that a
        case the clerk may not see (a discipline report) still gets its receipt."""
        proposed = (self.county.categories.get(registered.get("category")) or {}).get("channel_class")
        discipline = (registered.get("channel_class") or proposed) == access.DISCIPLINE
        kind, issued = "discipline" if discipline else "case", int(time.time())
        return request.url_for("receipt", number=answer["number"], outcome=answer["outcome"], kind=kind,
                               issued=issued, seal=receipt_seal(self.settings.jwt_secret, request.who.subject,
                                                                answer["number"], kind, issued))

    def _sealed_kind(self, request, number):
        """The kind of case the window registered for this person, if the address is sealed
        and fresh; else None."""
        kind, issued = request.args.get("kind", ""), request.args.get("issued", "")
        if not issued.isdigit() or time.time() - int(issued) > RECEIPT_HOURS * 3600:
            return None
        expected = receipt_seal(self.settings.jwt_secret, request.who.subject, number, kind, issued)
        return kind if same(request.args.get("seal", ""), expected) else None

    def on_receipt(self, request, number):
        """The receipt (受理回执). A discipline report (纪检举报) the clerk registered but may not
        see still gets one, with its number only, when the address carries the console's seal."""
        def receipt(request, api):
            try:
                case = api.get("intake", f"/cases/{number}")
            except ApiError as exc:
                if exc.status != 404 or self._sealed_kind(request, number) != "discipline":
                    raise
                case = None
            return self.render(request, "receipt.html", case=case, number=number, outcome=request.args.get("outcome"),
                               printed=datetime.now(timezone.utc).isoformat())
        return self._page(request, receipt)

    # --- the desk (工作台) --------------------------------------------------------------------

    def on_desk(self, request):
        def desk(request, api):
            body = request.args.get("body") or None
            cases = api.get("routing", "/cases", {"limit": DESK_LIMIT, **({"body": body} if body else {})})
            return self.render(request, "desk.html", sections=views.queue_sections(cases), body=body,
                               count=len(cases), cut=len(cases) >= DESK_LIMIT)
        return self._page(request, desk)

    def on_case(self, request, number):
        return self._page(request, lambda request, api: self._case(request, api, number))

    def on_act(self, request, number, action):
        if action not in views.ACTIONS:
            raise NotFound()
        return self._act(request, action, lambda api: api.post(
            "routing", f"/cases/{number}/{action}", views.action_body(action, request.form.to_dict(flat=False))),
            lambda request, api, **failed: self._case(request, api, number, **failed), "case", number=number)

    def on_report(self, request, number, whistle_id):
        """A named body reports (报到) to a whistle."""
        return self._act(request, "report", lambda api: api.post(
            "routing", f"/cases/{number}/whistles/{whistle_id}/report",
            views.action_body("report", request.form.to_dict(flat=False))),
            lambda request, api, **failed: self._case(request, api, number, **failed), "case", number=number)

    def _case(self, request, api, number, failed_action=None, errors=None, summary=None, values=None, status=200):
        handling = api.get("routing", f"/cases/{number}")
        registered = api.get("intake", f"/cases/{number}")
        story = self._timeline(api, number)
        return self.render(
            request, "case.html", status=status, case=handling, registered=registered, story=story,
            actions=views.actions_for(handling, request.who.roles),
            whistles=views.whistles_to_answer(handling, request.who.roles, self._own_body(request.who)),
            failed_action=failed_action,
            errors=errors or {}, summary=summary,
            values=values or {}, done=request.args.get("done"), bodies=self._bodies_near(handling["location"]),
            approvers=self._leaders_over(handling["location"]),
            routes={c: r for c, r in self.county.lawful_routes.items() if r.get("outside_petitions")})

    # --- mediation (调解) ------------------------------------------------------------------------

    def on_mediation(self, request):
        def files(request, api):
            mine = "mediator" in request.who.roles  # a mediator's own files; a leader's, all within reach
            found = api.get("mediation", "/files", {"mediator": request.who.subject} if mine else None)
            return self.render(request, "mediation.html", mine=mine, count=len(found),
                               sections=views.file_sections(found),
                               calendar=views.session_calendar(found, datetime.now(self.zone).date(), self.zone))
        return self._page(request, files)

    def on_file(self, request, number):
        return self._page(request, lambda request, api: self._file(request, api, number))

    def on_file_act(self, request, number, action):
        if action not in views.FILE_ACTIONS:
            raise NotFound()

        def send(api):
            path, body = views.file_command(action, request.form.items(multi=True), self.zone)
            api.post("mediation", f"/files/{number}{path}", body)
        return self._act(request, action, send, lambda request, api, **failed: self._file(
            request, api, number, **failed), "file", number=number)

    def _file(self, request, api, number, failed_action=None, errors=None, summary=None, values=None, status=200):
        file = api.get("mediation", f"/files/{number}")
        return self.render(
            request, "mediation_file.html", status=status, file=file, story=self._timeline(api, file["case_number"]),
            actions=views.file_actions(file), failed_action=failed_action, errors=errors or {},
            summary=summary, values=values or {}, done=request.args.get("done"),
            routes={c: r["label"] for c, r in self.county.lawful_routes.items() if r.get("outside_petitions")},
            today=datetime.now(self.zone).date().isoformat(), mediators=list(dict.fromkeys(
                # the mediating bodies' mediators, and the file's own even if the county file moved them
                [m.id for b in (file["body"], *file.get("joint_bodies", [])) for m in self.county.mediators_of(b)]
                + file["mediators"])))

    def on_agreement(self, request, number):
        """The agreement (调解协议书) as mediation renders it, fetched with the person's own token."""
        def pdf(request, api):
            content, disposition = api.document("mediation", f"/files/{number}/agreement.pdf")
            return Response(content, mimetype="application/pdf",
                            headers={"Content-Disposition": disposition or "attachment"})
        return self._page(request, pdf)

    # --- the leader's wall (驾驶舱) ----------------------------------------------------------

    def on_wall(self, request):
        return self._page(request, self._wall)

    def _wall(self, request, api):
        today = datetime.now(self.zone).date()
        months = views.months_back(today, 6)
        kind = request.args.get("period") if request.args.get("period") in views.PERIODS else "month"
        since, until = views.period_so_far(today, kind)
        period = {"from": since.isoformat(), "to": until.isoformat()}
        places = self._places_below(request.who)
        level = "village" if places and self.county.nodes[places[0]].level == "village" else "township"

        def registered(params):
            return api.get("reporting", "/indicators", params)["indicators"]["registered"]["value"]

        with ThreadPoolExecutor(max_workers=8) as pool:  # the figures are independent questions
            now = pool.submit(api.get, "reporting", "/indicators", period)
            trend = pool.map(lambda m: registered({"from": m[0].isoformat(), "to": min(m[1], until).isoformat()}), months)
            by_category = pool.map(lambda c: registered({**period, "category": c}), self.county.categories)
            by_place = pool.map(lambda p: registered({**period, level: p}), places)
            backlog = pool.submit(api.get, "reporting", "/backlog")
            hotspots = pool.submit(api.get, "reporting", "/hotspots", {"month": today.strftime("%Y-%m")})
            overdue = pool.submit(api.get, "reporting", "/overdue")
            red = pool.submit(api.get, "routing", "/cases", {"risk": "red"})
            figures = {
                "trend": charts.columns([(f"{m[0].month}月", n) for m, n in zip(months, trend)]),
                "categories": charts.bars([(self._category_label(c), n) for c, n in
                                           zip(self.county.categories, by_category) if n]),
                "places": charts.bars([(self._place_name(p), n) for p, n in zip(places, by_place)]),
                "backlog": charts.columns(list(backlog.result()["buckets"].items()), colour="#b0652f"),
            }
            return self.render(request, "wall.html", indicators=now.result(), figures=figures,
                               backlog=backlog.result(), hotspots=hotspots.result(), overdue=overdue.result()[:20],
                               red=red.result(), period=kind)

    # --- plumbing ------------------------------------------------------------------------------

    def _act(self, request, action, send, show, page, **where):
        """A form's command: sent with `send(api)`; refused, the page again (`show`) with the
        service's errors beside the fields and everything typed kept; done, back to the page."""
        def act(request, api):
            try:
                send(api)
            except ApiError as exc:
                if exc.status in (401, 404):
                    raise
                return show(request, api, failed_action=action, errors=views.field_errors(exc.problem),
                            summary=views.problem_summary(exc.status, exc.problem), values=request.form,
                            status=exc.status)
            return redirect(request.url_for(page, **where, done=action))
        return self._page(request, act)

    def _timeline(self, api, number):
        """A case's story from reporting, or None while reporting has not taken the case in."""
        try:
            return api.get("reporting", f"/cases/{number}/timeline")
        except ApiError as exc:
            if exc.status != 404:
                raise
            return None

    def _page(self, request, show):
        """A page for the signed-in person; the services' refusals as a page that says why."""
        try:
            api = self._signed_in(request)
            return show(request, api)
        except _Redirect as r:
            return r.response
        except ApiError as exc:
            if exc.status == 401:
                return redirect(request.url_for("login"))
            return self.render(request, "problem.html", status=exc.status,
                               summary=views.problem_summary(exc.status, exc.problem), problem=exc.problem)

    def _places(self, who):
        """The townships and villages a person may register cases at, as (code, name)."""
        return [(n.code, self._place_name(n.code)) for n in self.county.nodes.values()
                if n.level in ("township", "village") and access.covers(who, self.county, n.code)]

    def _places_below(self, who):
        """The places a leader's figures break down into: the county's townships, a township's
        villages; none below a village."""
        scope = self.county.nodes.get(who.scope)
        if scope is None or scope.level not in ("county", "township"):
            return []
        below = "township" if scope.level == "county" else "village"
        return [n.code for n in self.county.nodes.values() if n.level == below and n.parent == scope.code]

    def _place_name(self, code):
        node = self.county.nodes.get(code)
        if node is None:
            return code or ""
        township = self.county.township_of(code) if node.level not in ("county", "township") else None
        return f"{township.name}{node.name}" if township else node.name

    def _person_name(self, staff_id):
        person = self.county.person(staff_id)
        return person.name if person else staff_id

    def _own_body(self, who):
        person = self.county.person(who.subject)
        return person.body if person else None

    def _body_name(self, code):
        body = self.county.bodies.get(code)
        return body.name if body else code or "—"

    def _category_label(self, code):
        return (self.county.categories.get(code) or {}).get("label", code)

    def _bodies_near(self, location):
        """Bodies a whistle may name: those of the case's township and the county's."""
        township = self.county.township_of(location)
        return [b for b in self.county.bodies.values()
                if b.node == self.county.code or (township and self.county.covers(township.code, b.node))]

    def _leaders_over(self, location):
        """Leaders who may approve an extension: those whose scope covers the case's place."""
        return [s for s in self.county.staff.values()
                if "leader" in s.roles and self.county.covers(s.scope, location)]


class _Redirect(Exception):
    def __init__(self, location):
        super().__init__(location)
        self.response = redirect(location)


def application(settings, county_file):
    """The console as one WSGI application: its pages, and its script and styles under /static
    (served by itself: nothing from a CDN). Behind the gateway, X-Forwarded-* say the scheme,
    host and path prefix the person sees."""
    app = SharedDataMiddleware(Console(settings, county_file), {"/static": str(HERE / "static")}, cache_timeout=3600)
    return ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_prefix=1)

