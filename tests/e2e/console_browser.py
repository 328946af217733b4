"""The browser's side of tests/e2e/test_web_console.py, run as a process of its own: the test
process is eventlet-patched (the root conftest.py), under which Playwright's own event loop
hangs. Headless Debian Chromium at 1366×768 through register → sign → accept → resolve → the
wall, a returned case re-routed and whistled, then a neighbour dispute mediated to an agreement
and its performance checked; each page photographed into
run/screenshots/ (FENGQIAO_SCREENSHOTS: `make screenshots` writes the README's, docs/screenshots/).
Usage: `python -m tests.e2e.console_browser BASE_URL` (exit status 0 when every check held)."""
import os
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from playwright.sync_api import sync_playwright

from fengqiao import auth, config  # light modules only: nothing here may import eventlet (nameko)

CHROMIUM = "/usr/bin/chromium"  # Debian's: no browser download
SCREENSHOTS = config.REPO_ROOT / os.environ.get("FENGQIAO_SCREENSHOTS", "run/screenshots")
VIEWPORT = {"width": 1366, "height": 768}
COUNTY_ZONE = ZoneInfo("Asia/Shanghai")  # the sample county's (deploy/county/sample-county.yaml)


def token(role, scope="QS", subject=None):
    s = config.settings("intake")
    return auth.issue(s.jwt_secret, s.jwt_audience, subject or f"e2e-{role}", [role], scope)


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base, role, scope="QS", subject=None):
    page.goto(f"{base}/login")
    page.fill("#token", token(role, scope, subject))
    page.click("form button[type=submit]")


def sign_out(page):
    page.click("header form button")
    page.wait_for_url(re.compile(r"/login"))


def until(fetch, timeout=20):
    """fetch()'s first truthy answer: the services work by events."""
    deadline = time.monotonic() + timeout
    while not (found := fetch()):
        assert time.monotonic() < deadline, f"nothing within {timeout}s"
        time.sleep(0.3)
    return found


def reload_until(page, selector, timeout=20):
    """Reload until the selector shows: the services work by events, the page by request."""
    deadline = time.monotonic() + timeout
    while not page.locator(selector).count():
        assert time.monotonic() < deadline, f"{selector} not on {page.url} within {timeout}s"
        time.sleep(0.3)
        page.reload()


def walk(browser, base):
    page = browser.new_page(viewport=VIEWPORT, locale="zh-CN")
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Nobody signed in: the login page. The cookie the console sets is HttpOnly and SameSite=Strict.
    page.goto(f"{base}/")
    page.wait_for_url(re.compile(r"/login"))
    shot(page, "login")
    page.fill("#token", "not-a-token")
    page.click("form button[type=submit]")
    assert "令牌无效" in page.text_content(".alert")

    # The window (窗口): a clerk of 清水镇 lands there; the form checks as she types.
    sign_in(page, base, "clerk")
    page.wait_for_url(re.compile(r"/window$"))
    [cookie] = [c for c in page.context.cookies() if c["name"] == "fengqiao_token"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.select_option("#channel", "visit")
    page.select_option("#location", "QS01")
    page.select_option("#category", "heating")
    assert page.is_visible("#guide") and "行政职责" in page.text_content('[data-guide="class"]')
    page.fill("#subject", "冬季供暖温度不达标")
    page.fill("#description", "小区供暖温度长期低于18度，多次反映未解决。")
    page.fill('[name="petitioners.0.name"]', "李某某")
    page.fill('[name="petitioners.0.id_number"]', "110101199003074515")  # a wrong check digit
    assert "校验位不对" in page.text_content('[data-live-for="petitioners.0.id_number"]')
    page.fill('[name="petitioners.0.id_number"]', "110101199003074514")
    assert page.text_content('[data-live-for="petitioners.0.id_number"]') == "✓"
    page.fill('[name="petitioners.0.phone"]', "12345")
    assert "11位手机号" in page.text_content('[data-live-for="petitioners.0.phone"]')

    # Sent anyway: intake refuses it field by field, and the console says so beside the field.
    page.click("#register button[type=submit]")
    assert "须为11位手机号" in page.text_content('[data-error-for="petitioners.0.phone"]')
    assert page.input_value('[name="petitioners.0.name"]') == "李某某"  # nothing typed is lost
    page.fill('[name="petitioners.0.phone"]', "13800138000")
    shot(page, "window")
    page.click("#register button[type=submit]")

    # The receipt (受理回执) with the case number.
    page.wait_for_url(re.compile(r"/receipt/QS-\d{4}-\d{6}"))
    number = page.text_content("#case-number")
    assert page.text_content(".receipt td").strip()
    shot(page, "receipt")
    sign_out(page)

    # The desk (工作台): routing assigned the case to 清水镇综合行政执法大队; the handler signs it.
    sign_in(page, base, "handler")
    page.wait_for_url(re.compile(r"/desk$"))
    reload_until(page, f'[data-section="to_sign"] a:text("{number}")')
    shot(page, "desk")
    page.click(f'a:text("{number}")')
    page.click('button[data-action="sign"]')
    assert page.text_content("#status") == "已签收"
    page.click('button[data-action="accept"]')
    assert page.text_content("#status") == "办理中"
    page.select_option("#act-resolve-outcome", "demand_met")
    page.fill("#act-resolve-reply", "已督促供热公司整改，室温已达标。")
    page.click('button[data-action="resolve"]')
    assert page.text_content("#status") == "已办结"
    reload_until(page, '.timeline li:has-text("办结")')
    shot(page, "case")
    sign_out(page)

    # The leader's wall (驾驶舱): the case registered, resolved, counted.
    sign_in(page, base, "leader")
    page.wait_for_url(re.compile(r"/wall$"))
    reload_until(page, '[data-indicator="resolution_rate"] .kpi-value:text("100.0%")')
    assert page.text_content('[data-indicator="registered"] .kpi-value') == "1"
    assert page.locator(".card svg").count() >= 3  # trend, backlog, categories (and places)
    shot(page, "wall")

    # A form without the session's CSRF token changes nothing.
    page.goto(f"{base}/cases/{number}")
    status = page.evaluate("""async (url) => (await fetch(url, {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=forged'})).status""",
                           f"{base}/cases/{number}/close")
    assert status == 400
    sign_out(page)

    dispatch(page, base, number)
    mediate(page, base)
    assert not errors, errors


def dispatch(page, base, first):
    """The same petitioner back at the window on the same matter is flagged as a repeat of the
    first case as the clerk types. A case the body returns goes back to the window's
    dispatcher, who re-routes it; the new body signs, blows the whistle for the police station
    and raises the case's risk; an officer of the police station reports (报到). Each person
    sees only the actions their role (and body) allows."""
    registered = requests.post(f"{base}/intake/cases", headers={"Authorization": f"Bearer {token('clerk')}"}, json={
        "channel": "visit", "location": "QS01", "category": "heating", "subject": "楼道暖气片漏水",
        "description": "楼道暖气片漏水结冰，老人出行不便。", "petitioners": [{"name": "赵某某", "phone": "13800138001"}]},
        timeout=10)
    assert registered.status_code == 201, registered.text
    number = registered.json()["number"]

    sign_in(page, base, "handler")
    page.wait_for_url(re.compile(r"/desk$"))
    reload_until(page, f'[data-section="to_sign"] a:text("{number}")')
    page.click(f'a:text("{number}")')
    assert not page.locator('button[data-action="assign"]').count()  # the dispatcher's, not a body's
    page.click("#fold-return summary")  # an action with inputs is folded to its name
    page.fill("#act-return-reason", "暖气片属物业维修范围，非本单位职责。")
    page.click('button[data-action="return"]')
    assert page.text_content("#status") == "已退回"
    sign_out(page)

    sign_in(page, base, "clerk")
    page.wait_for_url(re.compile(r"/window$"))
    page.select_option("#location", "QS01")
    page.select_option("#category", "heating")
    page.fill('[name="petitioners.0.id_number"]', "110101199003074514")
    page.wait_for_selector("#repeat:not([hidden])")
    assert page.text_content('#repeat [data-repeat="link"]') == first
    assert "冬季供暖温度不达标" in page.text_content("#repeat")
    shot(page, "window-repeat")
    page.select_option("#category", "neighbour_dispute")  # another matter: no repeat
    page.wait_for_selector("#repeat", state="hidden")

    # A discipline report (纪检举报) gets its receipt, though the clerk may not see the case.
    page.select_option("#category", "cadre_misconduct")
    page.fill("#subject", "村干部挪用补偿款")
    page.fill("#description", "反映村干部挪用征地补偿款。")
    page.fill('[name="petitioners.0.name"]', "李某某")
    page.click("#register button[type=submit]")
    page.wait_for_url(re.compile(r"/receipt/QS-\d{4}-\d{6}"))
    assert "纪检监察" in page.text_content("#confidential") and "挪用" not in page.content()
    page.goto(f"{base}/receipt/{page.text_content('#case-number')}")  # without this session's seal
    assert "找不到" in page.content()
    page.goto(f"{base}/desk")
    page.click(f'[data-section="returned"] a:text("{number}")')
    page.click("#fold-assign summary")
    assert "非本单位职责" in page.text_content("#act-assign")
    page.select_option("#act-assign-body", "QS-GOVCENTER")
    page.fill("#act-assign-reason", "由综治中心协调物业维修。")
    page.click('button[data-action="assign"]')
    assert page.text_content("#status") == "已交办"
    assert not page.locator('button[data-action="sign"]').count()
    sign_out(page)

    sign_in(page, base, "handler")
    page.goto(f"{base}/cases/{number}")
    page.click('button[data-action="sign"]')
    page.click("#fold-whistles summary")
    page.select_option("#act-whistles-bodies", ["QS-POLICE"])
    page.fill("#act-whistles-reason", "结冰路段须派出所协助疏导。")
    page.click('button[data-action="whistles"]')
    assert "未报到" in page.text_content(".whistles")
    assert not page.locator('button[data-action="report"]').count()  # the police report for themselves
    page.click("#fold-risk summary")
    page.select_option("#act-risk-level", "yellow")
    page.fill("#act-risk-reason", "涉及老人安全。")
    page.click('button[data-action="risk"]')
    assert "黄色" in page.text_content("h1 .badge")
    sign_out(page)

    sign_in(page, base, "handler", subject="QS-ZHUYB")  # of 清水镇派出所 (QS-POLICE)
    page.goto(f"{base}/cases/{number}")
    page.click('button[data-action="report"]')
    assert "已全部报到" in page.text_content(".whistles")
    shot(page, "case-dispatch")
    sign_out(page)


def mediate(page, base):
    """A neighbour dispute registered at 柳湾村 is assigned to the village mediation committee, where
    mediation opens a file by itself (on routing's case.assigned) with the committee's least loaded
    mediator; that mediator takes it to an agreement in the console."""
    registered = requests.post(f"{base}/intake/cases", headers={"Authorization": f"Bearer {token('clerk')}"}, json={
        "channel": "visit", "location": "QS01", "category": "neighbour_dispute", "subject": "院墙占道",
        "description": "邻居扩建院墙占用两家共用通道。", "petitioners": [{"name": "王某某", "phone": "13800138000"}]},
        timeout=10)
    assert registered.status_code == 201, registered.text
    leader = {"Authorization": f"Bearer {token('leader')}"}
    [file] = until(lambda: requests.get(f"{base}/mediation/files", params={"case": registered.json()["number"]},
                                        headers=leader, timeout=5).json())
    assert file["body"] == "QS01-MEDIATION", file

    # The mediator lands on their files (调解卷宗) and opens it.
    sign_in(page, base, "mediator", scope="QS01", subject=file["mediators"][0])  # both of 柳湾村's work at QS01
    page.wait_for_url(re.compile(r"/mediate$"))
    page.click(f'[data-section="in_hand"] a:text("{file["number"]}")')
    assert page.text_content("#status") == "调解中"

    # The other side joins (an agreement binds two parties); a session is set for tomorrow.
    page.fill("#file-party-name", "李某某")
    page.select_option("#file-party-role", "respondent")
    page.click('button[data-action="party"]')
    assert "李某某（被申请人）" in page.text_content("#parties")
    today = datetime.now(COUNTY_ZONE).date()
    tomorrow = today + timedelta(days=1)
    page.fill("#file-session-at", f"{tomorrow}T09:30")
    page.fill("#file-session-place", "柳湾村调解室")
    page.click('button[data-action="session"]')
    assert "已安排" in page.text_content("#sessions")

    # The mediator's files with the 5-day clock, and the calendar with tomorrow's session.
    page.click('header nav a:text("调解")')
    assert page.locator(f'[data-file="{file["number"]}"] .deadline').count() == 1
    assert "柳湾村调解室" in page.text_content(f'#calendar [data-day="{tomorrow}"]')
    shot(page, "mediation")

    # The session held, with its minutes; the clock paused for an appraisal.
    page.click(f'#calendar [data-day="{tomorrow}"] a.session')
    page.fill("#file-held-1-minutes", "双方陈述意见，调解员释法明理，约定测绘后再议。")
    page.click('#file-held-1 button[data-action="held"]')
    assert "已召开" in page.text_content("#sessions")
    page.select_option("#file-pause-reason", "appraisal")
    page.fill("#file-pause-note", "委托对院墙占地面积进行测绘鉴定")
    page.click('button[data-action="pause"]')
    assert page.text_content("#status") == "暂停计时" and "已暂停" in page.text_content(".deadline")
    reload_until(page, '.timeline li:has-text("调解暂停计时")')
    shot(page, "mediation-file")
    page.click('button[data-action="resume"]')
    assert page.text_content("#status") == "调解中"
    page.click("#fold-complexity summary")  # the appraisal showed it is a complex dispute: 15 days
    page.fill("#file-complexity-reason", "涉及测绘鉴定，案情复杂。")
    page.click('button[data-action="complexity"]')
    assert "复杂" in page.text_content("table.facts")
    page.click("#fold-mediators summary")  # the committee's other mediator joins
    for box in page.locator('#file-mediators input[name="mediators"]').all():
        box.check()
    page.fill("#file-mediators-reason", "案情复杂，增加一名调解员。")
    page.click('button[data-action="mediators"]')
    assert "、" in page.text_content("#mediators")

    # Concluded with an agreement: a term without its date is refused beside the field, nothing
    # typed is lost, and with the date it concludes.
    agreement = "#file-agreement"
    page.fill(f'{agreement} [name="facts"]', "李某某扩建院墙占用两家共用通道约一米，王某某要求恢复通行。")
    page.select_option(f'{agreement} [name="terms.0.party"]', "李某某")
    page.fill(f'{agreement} [name="terms.0.obligation"]', "拆除占用通道部分的院墙，恢复通道原宽度")
    page.click('button[data-action="agreement"]')
    assert "必填" in page.text_content('[data-error-for="terms.0.due"]')
    assert page.input_value(f'{agreement} [name="terms.0.obligation"]').startswith("拆除")
    page.fill(f'{agreement} [name="terms.0.due"]', str(today + timedelta(days=20)))
    page.click('button[data-action="agreement"]')
    assert page.text_content("#status") == "已终结"

    # The agreement (调解协议书), through the console with the mediator's own token.
    with page.expect_download() as download:
        page.click("#agreement-pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

    # Later, the visit that asks whether it was kept (协议履行回访).
    page.select_option("#file-performance-kept", "yes")
    page.fill("#file-performance-note", "院墙已拆除，通道恢复。")
    page.click('button[data-action="performance"]')
    assert "已履行" in page.text_content("#outcome") and not page.locator("form.action").count()


if __name__ == "__main__":
    with sync_playwright() as p:
        # --disable-dev-shm-usage: containers give /dev/shm 64 MB, too little for a renderer
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--disable-dev-shm-usage"])
        try:
            walk(chromium, sys.argv[1])
        finally:
            chromium.close()
