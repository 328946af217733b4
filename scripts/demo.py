"""Demo data: a synthetic month of the sample county pushed through the running services' APIs
(never their databases), so that a newcomer sees every indicator move.

    make run                      # in one terminal
    make demo                     # in another: 300 cases (DEMO_CASES=…), then open the indicators

Each case is registered at intake by a channel the county's windows, hotline and grid workers
use, about a category weighted by the season the seeds describe (spring planting brings land
disputes and land clearing, winter heating and unpaid wages); then the people the county file
names handle it as the services let them: the village mediation committee mediates, the bodies
sign, accept, resolve and return, leaders extend, petitioners rate the reply, some come back
(repeat petitions), some matters are guided to court at the window."""
import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta

import requests

from bench.measure import resident_id
from fengqiao import auth, config
from fengqiao.county import load as load_county

SUBJECTS = {
    "land_dispute": ("承包地边界纠纷", "两户承包地地界不清，春耕时发生争执，请求村里调处。"),
    "neighbour_dispute": ("邻居扩建院墙占道", "邻居扩建院墙占用共用通道，协商未果。"),
    "marriage_family": ("赡养老人纠纷", "兄弟三人对赡养老人分担有分歧，老人生活无着。"),
    "wage_arrears": ("拖欠农民工工资", "在工地务工三个月，包工头拖欠工资至今未付。"),
    "traffic_accident": ("交通事故赔偿纠纷", "农用三轮车与摩托车相撞，双方对赔偿数额争议较大。"),
    "land_acquisition": ("征地补偿款发放", "村组征地补偿款分配方案有异议，要求公开账目。"),
    "illegal_construction": ("违章建筑影响通行", "村道旁新建彩钢房，影响车辆通行和消防通道。"),
    "environmental_pollution": ("养殖场异味扰民", "附近养殖场粪污直排，气味严重影响生活。"),
    "heating": ("冬季供暖不热", "小区供暖温度长期不达标，多次反映未解决。"),
    "social_assistance": ("低保申请", "家中老人患重病，申请纳入最低生活保障。"),
    "property_management": ("物业服务纠纷", "物业公司收费不服务，电梯长期故障。"),
    "contract_debt": ("借款纠纷", "借给同村村民的款项到期未还，多次催要无果。"),
    "deforestation": ("毁林开荒", "有人在林地边缘毁林开荒，破坏草场植被。"),
    "medical_dispute": ("医疗纠纷", "在镇卫生院就诊后病情加重，对诊疗过程有异议。"),
    "court_case": ("对判决不服", "对法院民事判决不服，要求重新处理。"),
    "other": ("其他诉求", "反映村内公共设施维护问题。"),
}
# How often each kind of matter comes, by season (the seeds: 春耕备耕、毁林开荒、供暖、工资拖欠).
BASE = {"land_dispute": 10, "neighbour_dispute": 14, "marriage_family": 8, "wage_arrears": 6, "traffic_accident": 4,
        "land_acquisition": 3, "illegal_construction": 4, "environmental_pollution": 4, "heating": 1,
        "social_assistance": 5, "property_management": 3, "contract_debt": 5, "deforestation": 1, "medical_dispute": 2,
        "court_case": 2, "other": 3}
SEASONAL = {3: {"land_dispute": 3, "deforestation": 4}, 4: {"land_dispute": 3, "deforestation": 4},
            5: {"land_dispute": 2}, 10: {"heating": 8}, 11: {"heating": 12}, 12: {"heating": 12, "wage_arrears": 3},
            1: {"heating": 10, "wage_arrears": 4}, 2: {"heating": 6, "wage_arrears": 2}}
CHANNELS = {"visit": 30, "phone": 15, "hotline": 20, "grid_report": 15, "letter": 5, "online": 8, "proxy": 7}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "建国秀英志强桂兰海燕德明玉梅文华春生丽娟永福淑珍"


def post(url, body, headers):
    """POST, waiting as told when the service holds a token's commands back (429)."""
    while True:
        r = requests.post(url, json=body, headers=headers, timeout=30)
        if r.status_code != 429:
            return r
        time.sleep(float(r.headers.get("Retry-After", 1)))


class Demo:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.county = load_county(config.settings("intake").county_file)
        self.url = {name: f"http://127.0.0.1:{config.settings(name).http_address.rsplit(':', 1)[1]}"
                    for name in config.SERVICES}
        self.tally = {}

    # --- people and tokens -----------------------------------------------------------------

    def token(self, who, *roles, scope=None):
        s = config.settings("intake")
        person = self.county.person(who)
        token = auth.issue(s.jwt_secret, s.jwt_audience, who, roles or person.roles, scope or person.scope)
        return {"Authorization": f"Bearer {token}"}

    def name(self):
        return self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, 2))

    def count(self, what):
        self.tally[what] = self.tally.get(what, 0) + 1

    # --- registration ----------------------------------------------------------------------

    def registration(self, i):
        month = date.today().month
        weights = {c: w * SEASONAL.get(month, {}).get(c, 1) for c, w in BASE.items()}
        category = self.rng.choices(list(weights), list(weights.values()))[0]
        channel = self.rng.choices(list(CHANNELS), list(CHANNELS.values()))[0]
        village = self.rng.choice([n for n in self.county.nodes.values() if n.level == "village"])
        subject, description = SUBJECTS[category]
        people = [{"name": self.name(), "id_number": resident_id(7_000_000 + i * 7 + k),
                   "phone": f"139{self.rng.randrange(10**8):08d}"} for k in range(self.rng.choice([1, 1, 1, 1, 2, 6]))]
        body = {"channel": channel, "location": village.code, "category": category, "subject": subject,
                "description": description, "petitioners": people}
        if channel == "hotline":
            body["hotline"] = {"order_id": f"12345-{date.today():%Y%m%d}-{i:05d}"}
        if channel == "grid_report":
            body.update(petitioners=[], grid_report={"grid_worker": self.name(), "grid": f"{village.code}-G1"})
        if channel == "proxy":
            body["proxy"] = {"agent": self.name(), "consent": True, "consent_note": "本人签字同意代办"}
        if category == "court_case" and self.rng.random() < 0.6:
            body["guided_to"] = {"route": "litigation", "note": "已告知依法向上级法院申请再审"}
        return body

    def register(self, i):
        body = self.registration(i)
        r = post(f"{self.url['intake']}/cases", body, self.clerk())
        if r.status_code not in (200, 201):
            raise RuntimeError(f"registration refused: {r.status_code} {r.text[:300]}")
        self.count(r.json()["outcome"])
        return r.json()["number"], body

    def clerk(self):
        return self.token("QS-WUXY", "clerk", scope=self.county.code)

    # --- handling ----------------------------------------------------------------------------

    def case(self, number, wait=10):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            r = requests.get(f"{self.url['routing']}/cases/{number}", headers=self.token("SH-QIUHL"), timeout=10)
            if r.ok and r.json()["status"] != "registered":
                return r.json()
            time.sleep(0.2)
        return None  # guided at the window, or still on its way

    def act(self, service, path, who, body=None):
        r = post(f"{self.url[service]}{path}", body, self.token(who))
        return r.json() if r.ok else None

    def handle(self, number):
        case = self.case(number)
        if case is None:
            return self.count("guided or not routed")
        files = requests.get(f"{self.url['mediation']}/files?case={number}", headers=self.token("SH-QIUHL")).json()
        if files:
            return self.mediate(number, files[0])
        handlers = self.county.staff_of(case["body"], "handler")
        if not handlers:
            return self.count("left with a body without staff")
        who, roll = handlers[0].id, self.rng.random()
        if roll < 0.05:
            self.act("routing", f"/cases/{number}/return", who, {"reason": "不属于本单位职责"})
            return self.count("returned")
        self.act("routing", f"/cases/{number}/sign", who)
        if roll < 0.12:
            return self.count("signed, not yet accepted")
        self.act("routing", f"/cases/{number}/accept", who)
        if case["risk"] == "red":
            self.act("routing", f"/cases/{number}/consultations", who, {
                "bodies": [case["body"]], "attendees": [self.name(), self.name()], "decision": "包案领导牵头，限期化解"})
        if roll < 0.35:
            return self.count("in progress")
        outcome = self.rng.choices(["demand_met", "explained", "relieved", "referred"], [6, 3, 2, 1])[0]
        self.act("routing", f"/cases/{number}/resolve", who, {"outcome": outcome, "reply": "经调查核实，已依法依规处理并答复。"})
        self.follow_up(number)

    def mediate(self, number, file):
        who = (file["mediators"] or [None])[0]
        if who is None:
            return self.count("mediation without mediator")
        path = f"/files/{file['number']}"
        self.act("mediation", f"{path}/parties", who, {"name": self.name(), "role": "respondent"})
        at = (datetime.now().astimezone() + timedelta(days=1)).replace(microsecond=0).isoformat()
        done = self.act("mediation", f"{path}/sessions", who, {"at": at, "place": "村调解室"})
        if done is None or self.rng.random() < 0.15:
            return self.count("mediation under way")
        present = [p["name"] for p in done["parties"]]
        self.act("mediation", f"{path}/sessions/{done['sessions'][0]['id']}/held", who,
                 {"attendance": present, "minutes": "双方陈述意见，调解员释法明理。"})
        if self.rng.random() < 0.75:
            due = (date.today() + timedelta(days=self.rng.randint(7, 30))).isoformat()
            concluded = self.act("mediation", f"{path}/conclude", who, {
                "outcome": "agreement", "facts": "双方就争议事项陈述了事实。",
                "terms": [{"party": present[-1], "obligation": "履行调解协议约定的义务", "due": due}],
                "judicial_confirmation": self.rng.random() < 0.3})
            self.count("mediated to an agreement" if concluded else "mediation refused")
            time.sleep(0.3)  # routing resolves the case on the agreement
            return self.follow_up(number)
        self.act("mediation", f"{path}/conclude", who, {"outcome": "no_agreement", "guided_to": "litigation"})
        self.count("mediation failed")

    def follow_up(self, number):
        rating = self.rng.choices(["satisfied", "basically_satisfied", "unsatisfied"], [7, 2, 1])[0]
        if self.act("routing", f"/cases/{number}/follow-up", "QS-WUXY", {"rating": rating}) is None:
            return self.count("resolution pending")
        self.count(f"followed up: {rating}")
        if rating != "unsatisfied":
            self.act("routing", f"/cases/{number}/close", "QS-WUXY")

    def repeat(self, body):
        """The same people come back to the window on the same matter (重复信访)."""
        again = {k: body[k] for k in ("location", "category", "subject", "description", "petitioners")}
        r = post(f"{self.url['intake']}/cases", {**again, "channel": "visit"}, self.clerk())
        self.count(f"came back: {r.json()['outcome']}" if r.ok else "repeat refused")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    demo = Demo(args)
    try:
        requests.get(f"{demo.url['intake']}/health/ready", timeout=3).raise_for_status()
    except requests.RequestException:
        sys.exit("the services are not running: start them with `make run` first")
    registered = []
    for i in range(args.cases):
        registered.append(demo.register(i))
        if (i + 1) % 50 == 0:
            print(f"registered {i + 1}/{args.cases}", flush=True)
    for number, body in registered:
        demo.handle(number)
        if demo.rng.random() < 0.1 and body["petitioners"]:
            demo.repeat(body)
    for what, n in sorted(demo.tally.items(), key=lambda kv: -kv[1]):
        print(f"{n:5d}  {what}")
    print(f"\nthe county now: {demo.url['reporting']}/indicators (a clerk's token: "
          f"python -m fengqiao.cli token --role clerk --scope SH)")


if __name__ == "__main__":
    main()
