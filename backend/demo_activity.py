"""Demo activity: drive the running system's HTTP API (and MQTT) as its users would, so the console shows life.

Run by scripts/run.sh after /readyz answers (`python -m backend.cli demo-activity --api URL`). It signs in
with the demo logins of backend/demo.py (staff passwords; mini-program codes 'demo-citizen:<n>' and
'demo-lead:<n>' on the fake WeChat server) and makes, once per database:

  * complaints: citizen reports with photos — handled on time and confirmed, handled late, rejected, open;
  * materials: batches through entry inspection and sampling to lab reports, one failing its standard;
  * monitoring: a foundation pit with an approved plan, points and sensors; readings published over MQTT
    to the running iot worker so one alarm stays open and another is acknowledged. With ``device_logins``
    each sensor publishes with its own broker login, the one the API created live (dynamic security) and
    returned once when it created the sensor — scripts/run.sh asks for it, so its demo goes through the
    broker's per-device logins and one-topic ACLs, with no files and no SIGHUP;
  * credit: manual events that put one enterprise on the black list and one on the red list;
  * workforce: this month's payroll (with last month's late clock as a back-pay line: the roster, a month
    of clocks and last month's paid payroll are seed-demo's) and two failed spot checks → a quality hold;
  * inspection requests (工序报验) on the T05 project: one answered (passed, with a document: the
    supervisor's acceptance record as a JPEG), one pending (its answer deadline on the timer service);
  * WeChat acceptances: first of all, every demo mini-program user (the lead, the supervisor, the demo
    citizens) taps "allow" for every template (on the fake WeChat server, as WeChat would learn it) and the
    mini-program reports it (POST /mp/v1/subscriptions), topped up to ``ACCEPTANCES`` each run — so the
    demo's pushes really go out through the fake instead of being skipped for want of an acceptance.

Idempotent: every section first looks up its marker (a known description, batch number, work name or
event reason) through the API and skips when it is there. Prints one line per thing it made.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np

from backend.demo import ADMIN_PASSWORD, STAFF_PASSWORD

MARK = "【演示】"  # every text this module writes starts with it: the idempotency markers
PROJECT_PERMIT = "330302202603150101"  # 滨江商务区T05地块住宅项目 (鹿城区): lead_wang, sup_li
MANUFACTURER_USCC = "91330300MA2LM1N2PN"
LAB_USCC = "91330302MA2NP3Q4RA"
BLACK_USCC = "91330382MA2JK9L0M1"  # 温州东海劳务分包有限公司
RED_USCC = "91330302MA2AB1C2DL"  # 温州城建开发有限公司
LABOUR_USCC = "91330304MA2EF5G6HY"  # 温州安居劳务有限公司, the T05 project's labour subcontractor
QUICK_CATEGORY = "demo_quick"  # a category with a seconds-long SLA, so one case is handled late for real
GOOD_SPECIMEN = {"yield_strength": 450, "tensile_strength": 600, "max_force_elongation": 12.0}
GOOD_CEMENT = {"compressive_3d": 25, "compressive_28d": 48, "flexural_3d": 5, "flexural_28d": 8,
               "initial_setting_min": 120, "final_setting_min": 240, "chloride_pct": 0.02, "soundness_ok": True}


# Mini-program users of the demo (openids on the fake WeChat server) and the acceptances each keeps per template.
PUSH_USERS = {"demo-lead": 12, "demo-supervisor": 12, "demo-citizen": 6, "demo-citizen-2": 4, "demo-citizen-3": 4,
              "demo-citizen-4": 4, "demo-citizen-5": 4, "demo-citizen-6": 4}
TAP_TEMPLATES = 3  # wx.requestSubscribeMessage takes at most 3 template ids per call (WeChat's documented limit)


class DemoError(RuntimeError):
    pass


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:240, 0:320]
    image = np.stack([(x + seed * 40) % 256, (y * 2) % 256, (x + y) % 256], axis=2).astype(np.uint8)
    image = cv2.add(image, rng.integers(0, 30, image.shape, dtype=np.uint8))
    ok, buf = cv2.imencode(".jpg", image)
    if not ok:
        raise DemoError("could not encode a demo photo")
    return buf.tobytes()


class Demo:
    def __init__(self, api: str, mqtt_url: str, out: Callable[[str], None] = print, *,
                 device_logins: bool = False) -> None:
        self.http = httpx.Client(base_url=api.rstrip("/"), timeout=30)
        self.mqtt_url = mqtt_url
        self.device_logins = device_logins
        self.out = out
        self.made = 0
        self._tokens: dict[str, dict[str, str]] = {}

    # --- plumbing -------------------------------------------------------------------------------------
    def call(self, method: str, path: str, who: dict[str, str] | None = None, expect: int | tuple = (200, 201),
             **kw: Any) -> Any:
        resp = self.http.request(method, path, headers=who or {}, **kw)
        codes = expect if isinstance(expect, tuple) else (expect,)
        if resp.status_code not in codes:
            raise DemoError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:400]}")
        return resp.json() if resp.content else None

    def staff(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            pw = ADMIN_PASSWORD if username == "admin" else STAFF_PASSWORD
            body = self.call("POST", "/api/v1/auth/login", json={"username": username, "password": pw})
            self._tokens[username] = {"Authorization": f"Bearer {body['access_token']}"}
        return self._tokens[username]

    def mp(self, openid: str) -> dict[str, str]:
        if openid not in self._tokens:
            # Codes are single-use on the fake WeChat server: a fresh nonce each time.
            body = self.call("POST", "/mp/v1/auth/login", json={"code": f"{openid}:{time.time_ns()}"})
            self._tokens[openid] = {"Authorization": f"Bearer {body['access_token']}"}
            # The demo users read and accept the current privacy notices, as on first use (issue 23).
            for n in self.call("GET", "/mp/v1/privacy/notices", self._tokens[openid])["notices"]:
                if not n["current"]:
                    self.call("POST", "/mp/v1/privacy/consents", self._tokens[openid],
                              json={"item": n["item"], "version": n["version"]})
        return self._tokens[openid]

    def photo(self, who: dict[str, str], purpose: str, seed: int) -> str:
        files = {"file": (f"demo{seed}.jpg", _jpeg(seed), "image/jpeg")}
        return self.call("POST", "/mp/v1/media", who, files=files, data={"purpose": purpose})["id"]

    def made_line(self, line: str) -> None:
        self.made += 1
        self.out(f"demo-activity: made {line}")

    def skip_line(self, section: str) -> None:
        self.out(f"demo-activity: {section} already there, skipped")

    def project(self) -> dict[str, Any]:
        items = self.call("GET", "/api/v1/projects", self.staff("admin"), params={"q": PROJECT_PERMIT})["items"]
        return self.call("GET", f"/api/v1/projects/{items[0]['id']}", self.staff("admin"))

    def enterprise_id(self, uscc: str) -> str:
        return self.call("GET", "/api/v1/enterprises", self.staff("admin"), params={"q": uscc})["items"][0]["id"]

    # --- complaints -----------------------------------------------------------------------------------
    def complaints(self) -> None:
        citizen = self.mp("demo-citizen")
        mine = self.call("GET", "/mp/v1/complaints", citizen, params={"limit": 100})
        mine = mine["items"] if isinstance(mine, dict) else mine
        if any(str(c.get("description", "")).startswith(MARK) for c in mine):
            self.skip_line("complaints")
            return
        admin, station = self.staff("admin"), self.staff("lc_admin")
        self.call("PUT", f"/api/v1/complaints/categories/{QUICK_CATEGORY}", admin, json={
            "name": "演示：限时回复", "description": f"{MARK}演示用的极短时限类别", "sla_hours": 3 / 3600,
            "sort": 99})
        district = self.call("GET", "/api/v1/districts/330302", admin, params={"include_boundary": "true"})
        from shapely.geometry import shape

        point = shape(district["boundary"]).representative_point()
        project_id = self.project()["id"]

        def report(text: str, category: str = "shoddy_work", seed: int = 1, who: str = "demo-citizen") -> str:
            pair = self.mp(who)
            body = {"category": category, "description": f"{MARK}{text}", "project_id": project_id,
                    "location": {"lng": point.x, "lat": point.y, "coord_type": "gcj02"},
                    "photo_ids": [self.photo(pair, "complaint", seed)]}
            made = self.call("POST", "/mp/v1/complaints", pair, json=body)
            self.made_line(f"complaint {made['number']}: {text}")
            return made["id"]

        def resolve(cid: str, seed: int) -> dict[str, Any]:
            after = self.photo(station, "complaint_result", seed)
            return self.call("POST", f"/api/v1/complaints/{cid}/resolve", station,
                             json={"notes": "已责令施工单位返工，现场复查合格", "photo_ids": [after]})

        # Handled on time, confirmed and rated by the citizen.
        cid = report("地下室顶板浇筑后出现多条裂缝，疑似混凝土标号不足", seed=1)
        self.call("POST", f"/api/v1/complaints/{cid}/accept", station)
        self.call("POST", f"/api/v1/complaints/{cid}/start", station)
        resolve(cid, 11)
        self.call("POST", f"/mp/v1/complaints/{cid}/confirm", self.mp("demo-citizen"), json={})
        self.call("POST", f"/mp/v1/complaints/{cid}/rating", self.mp("demo-citizen"),
                  json={"score": 5, "comment": "处理及时"}, expect=(200, 201, 409))
        self.out("demo-activity:   → accepted, handled on time, confirmed")
        # Handled on time, waiting for the citizen.
        cid = report("脚手架连墙件缺失，夜间施工噪声扰民", category="safety_hazard"
                     if self._has_category("safety_hazard") else "shoddy_work", seed=2, who="demo-citizen-2")
        self.call("POST", f"/api/v1/complaints/{cid}/accept", station)
        resolve(cid, 12)
        self.out("demo-activity:   → accepted, handled on time")
        # Handled late: its category allows seconds, the station answers after the deadline.
        cid = report("外墙保温板粘贴不牢，大风后脱落", category=QUICK_CATEGORY, seed=3, who="demo-citizen-3")
        self.call("POST", f"/api/v1/complaints/{cid}/accept", station)
        time.sleep(4)
        resolve(cid, 13)
        self.out("demo-activity:   → handled after its deadline (late)")
        # Overdue and still open.
        report("楼梯间栏杆高度不足，存在坠落隐患", category=QUICK_CATEGORY, seed=4, who="demo-citizen-4")
        self.out("demo-activity:   → left open past its deadline (overdue)")
        # Rejected with a reason.
        cid = report("小区物业电梯经常停运", seed=5, who="demo-citizen-5")
        self.call("POST", f"/api/v1/complaints/{cid}/reject", station, json={"reason": "属于物业维修范畴，非工程质量问题"})
        self.out("demo-activity:   → rejected (not a construction-quality matter)")
        # New, not yet accepted.
        report("基坑边堆土过高，距坑边不足1米", seed=6, who="demo-citizen-6")

    def _has_category(self, code: str) -> bool:
        cats = self.call("GET", "/mp/v1/complaints/categories", self.mp("demo-citizen"))
        cats = cats["items"] if isinstance(cats, dict) else cats
        return any(c.get("code") == code or c.get("service_code") == code for c in cats)

    # --- materials ------------------------------------------------------------------------------------
    def materials(self) -> None:
        project = self.project()
        lead, sup = self.staff("lead_wang"), self.staff("sup_li")
        batches = self.call("GET", "/api/v1/materials/batches", lead, params={"project_id": project["id"], "limit": 100})
        if any(b.get("production_batch_no", "").startswith("DEMO-") for b in batches["items"]):
            self.skip_line("materials")
            return
        manufacturer, lab = self.enterprise_id(MANUFACTURER_USCC), self.enterprise_id(LAB_USCC)
        lab_user = self._lab_user(lab)
        specs = [
            ("DEMO-RB-001", "rebar", "HRB400E", "Ø25", {"rebar": [GOOD_SPECIMEN, GOOD_SPECIMEN]}),
            ("DEMO-CE-001", "cement", "P·O 42.5", "袋装 50kg", {"cement": GOOD_CEMENT}),
            ("DEMO-CE-002", "cement", "P·O 42.5", "袋装 50kg",
             {"cement": {**GOOD_CEMENT, "compressive_3d": 12.0, "compressive_28d": 38.5}}),  # fails
        ]
        for i, (no, material, grade, spec, result) in enumerate(specs):
            batch = self.call("POST", "/api/v1/materials/batches", lead, json={
                "material": material, "grade": grade, "spec": spec, "manufacturer_id": manufacturer,
                "production_batch_no": no, "production_date": "2026-10-01", "quantity": 32.5, "unit": "t",
                "project_id": project["id"]})
            bid = batch["id"]
            self.call("POST", f"/api/v1/materials/batches/{bid}/entry-inspection", sup,
                      json={"accepted": True, "quantity_received": 32.5})
            self.call("POST", f"/api/v1/materials/batches/{bid}/samplings", sup,
                      json={"sample_no": f"DEMO-S{i + 1:03d}", "sampled_by": "取样员赵工", "lab_id": lab})
            rep = self.call("POST", f"/api/v1/materials/batches/{bid}/reports", lab_user,
                            json={"report_no": f"DEMO-R{i + 1:03d}", "report_date": "2026-10-05", **result})
            self.made_line(f"material batch {no} ({material} {grade}): lab report {rep['verdict']}")
            if rep["verdict"] == "partial":  # GB 175-2023's 3-day index is not known: the supervisor decides
                self.call("POST", f"/api/v1/materials/batches/{bid}/use-decisions", sup, json={
                    "accept": True, "reason": "3天抗压强度为GB 175-2023新指标、暂无可靠来源，其余项目合格，同意使用"})
                self.made_line(f"material batch {no}: unchecked items accepted for use by sup_li (with a reason)")

    def _lab_user(self, lab: str) -> dict[str, str]:
        username = "demo_lab"
        resp = self.http.post("/api/v1/auth/login", json={"username": username, "password": STAFF_PASSWORD})
        if resp.status_code != 200:
            self.call("POST", "/api/v1/users", self.staff("admin"), json={
                "role": "supervisor", "display_name": "检测员周工", "username": username, "password": STAFF_PASSWORD,
                "enterprise_id": lab})
            self.made_line(f"lab user {username} / {STAFF_PASSWORD} (温州市建设工程检测中心)")
        return self.staff(username)

    # --- monitoring -----------------------------------------------------------------------------------
    def monitoring(self) -> None:
        lead, sup = self.staff("lead_wang"), self.staff("sup_li")
        project_id = self.project()["id"]
        works = self.call("GET", "/api/v1/monitoring/works", lead, params={"project_id": project_id})
        works = works["items"] if isinstance(works, dict) else works
        name = f"{MARK}1号基坑"
        if any(w["name"] == name for w in works):
            self.skip_line("monitoring")
            return
        metric = "wall_top_horizontal"
        work = self.call("POST", "/api/v1/monitoring/works", lead, json={
            "project_id": project_id, "name": name, "kind": "foundation_pit", "parameters": {"excavation_depth_m": 12.0}})
        wid = work["id"]
        self.call("POST", f"/api/v1/monitoring/works/{wid}/plan", lead, json={
            "plan_no": "DEMO-FA-2026-01", "alarm_values": {metric: {
                "cumulative_abs": 10, "rate_per_day": 48, "warning_ratio": 0.7, "danger_ratio": 1.5}}})
        self.call("POST", f"/api/v1/monitoring/works/{wid}/plan/approve", sup, json={"expert_review": "专家论证通过"})
        sensors = []
        for code in ("ZQS-01", "ZQS-02", "ZQS-03"):
            point = self.call("POST", f"/api/v1/monitoring/works/{wid}/points", lead, json={"code": code})
            sensors.append(self.call("POST", f"/api/v1/monitoring/points/{point['id']}/sensors", lead,
                                     json={"metric": metric, "interval_s": 7 * 86400, "silent_after_missed": 3}))
        self.made_line(f"foundation pit {name}: approved plan, 3 points with sensors")
        t0 = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

        def readings(values: list[tuple[int, float]]) -> dict[str, Any]:
            return {"readings": [{"ts": (t0 + timedelta(hours=h)).isoformat(), "value": v} for h, v in values]}

        self._publish([
            (sensors[0], readings([(0, 0.0), (1, 0.5), (20, 12.0)])),  # over the limit: alarm, acked
            (sensors[1], readings([(0, 0.0), (1, 0.6), (22, 13.0)])),  # over the limit: alarm, open
            (sensors[2], readings([(h, 0.1 * h) for h in range(0, 40, 4)])),  # calm
        ])
        how = "each sensor with the login the API provisioned for it" if self.device_logins else "one client"
        self.made_line(f"readings for 3 sensors, published over MQTT ({how})")
        deadline = time.monotonic() + 30
        alarms: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            rows = self.call("GET", "/mp/v1/monitoring/alarms", lead)
            alarms = {a["sensor_id"]: a for a in rows if a["sensor_id"] in (sensors[0]["id"], sensors[1]["id"])}
            if len(alarms) == 2:
                break
            time.sleep(0.3)
        else:
            raise DemoError(f"the iot worker raised {len(alarms)} of 2 alarms in 30 s (is it running?)")
        self.call("POST", f"/mp/v1/monitoring/alarms/{alarms[sensors[0]['id']]['id']}/ack", lead,
                  json={"note": "已到现场，加密监测"})
        self.made_line("alarms: ZQS-01 acknowledged, ZQS-02 left open")

    def _connect(self, username: str | None, password: str | None) -> Any:
        """A connected paho client; a refused login is retried for a few seconds (the broker may still be
        applying a login created a moment ago), then fails."""
        import paho.mqtt.client as mqtt

        url = urlparse(self.mqtt_url)
        deadline = time.monotonic() + 10
        while True:
            client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                 client_id=f"demo-{uuid.uuid4().hex[:10]}", protocol=mqtt.MQTTv5)
            if username:
                client.username_pw_set(username, password)
            answered, result = threading.Event(), {}

            def on_connect(c, userdata, flags, reason_code, properties, result=result, answered=answered):
                result["rc"] = reason_code
                answered.set()

            client.on_connect = on_connect
            client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
            client.loop_start()
            if answered.wait(10) and not result["rc"].is_failure:
                return client
            client.loop_stop()
            client.disconnect()
            if time.monotonic() >= deadline:
                raise DemoError(f"the MQTT broker refused {username or 'an anonymous client'}: "
                                f"{result.get('rc', 'no CONNACK')}")
            time.sleep(0.3)

    def _publish(self, messages: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Publish each (sensor, payload) at QoS 1; a PUBACK that refuses it (the topic ACL) is an error."""
        logins = {sensor["id"]: sensor.get("device_password") for sensor, _ in messages} if self.device_logins else None
        url = urlparse(self.mqtt_url)
        groups: dict[str | None, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for sensor, payload in messages:
            groups.setdefault(sensor["id"] if logins is not None else None, []).append((sensor, payload))
        for sensor_id, batch in groups.items():
            if sensor_id is None:
                username, password = url.username, url.password
            elif logins.get(sensor_id):  # type: ignore[union-attr]
                username, password = sensor_id, logins[sensor_id]  # type: ignore[index]
            else:
                raise DemoError(f"the API gave sensor {sensor_id} no broker login (is ZHIJIAN_MQTT_DYNSEC_URL set for it?)")
            refused: list[str] = []

            def on_publish(c, userdata, mid, reason_code, properties, refused=refused):
                if reason_code.is_failure:
                    refused.append(str(reason_code))

            client = self._connect(username, password)
            client.on_publish = on_publish
            try:
                for sensor, payload in batch:
                    client.publish(sensor["topic"], json.dumps(payload), qos=1).wait_for_publish(10)
            finally:
                client.disconnect()
                client.loop_stop()
            if refused:
                raise DemoError(f"the MQTT broker refused {username or 'the client'}'s readings: {', '.join(refused)}")

    # --- credit ---------------------------------------------------------------------------------------
    def credit(self) -> None:
        admin = self.staff("admin")
        done = False
        for uscc in (BLACK_USCC, RED_USCC):
            view = self.call("GET", f"/api/v1/credit/enterprises/{self.enterprise_id(uscc)}", admin)
            done = done or any(str(e.get("note", "")).startswith(MARK) for e in view["events"])
        if done:
            self.skip_line("credit")
            return
        black = self.enterprise_id(BLACK_USCC)
        self.call("POST", "/api/v1/credit/events", admin, json={
            "enterprise_id": black, "kind": "serious_violation", "reason": f"{MARK}专项检查发现违法分包，依规处理",
            "evidence": "demo-activity:black"})
        self.made_line("credit event serious_violation: 温州东海劳务分包有限公司 → black list")
        red = self.enterprise_id(RED_USCC)
        self.call("POST", "/api/v1/credit/events", admin, json={
            "enterprise_id": red, "kind": "manual_bonus", "points": 5, "reason": f"{MARK}获评市级文明标化工地",
            "evidence": "demo-activity:red"})
        self.made_line("credit event manual_bonus +5: 温州城建开发有限公司 → red list")

    # --- workforce ------------------------------------------------------------------------------------
    def _workforce(self) -> None:
        """This month's payroll with last month's late clock as a back-pay line, and two failed spot checks → a hold.

        The roster, last month's clocks and its paid payroll are seed-demo's (backend/demo_workforce.py): the API
        refuses clocks more than 24 h old, so history cannot be made through it.
        """
        lead, insp = self.staff("lead_wang"), self.staff("lc_inspector")
        project = self.project()
        labour = self.enterprise_id(LABOUR_USCC)
        month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
        if self.call("GET", "/api/v1/payrolls", lead, params={"project_id": project["id"], "month": month}):
            self.skip_line("workforce")
            return
        made = self.call("POST", "/api/v1/payrolls", lead, json={
            "project_id": project["id"], "enterprise_id": labour, "month": month})
        back = [line for line in made["lines"] if line["kind"] == "back_pay"]
        self.made_line(f"payroll {month} for 温州安居劳务: {len(made['lines'])} lines, "
                       f"{len(back)} back pay ({sum(line['amount_fen'] for line in back) / 100:.2f} 元)")
        items = [{"name": f"{MARK}钢筋保护层厚度", "passed": False, "note": "实测 12 mm，设计 25 mm"},
                 {"name": "模板支撑间距", "passed": True}]
        first = self.call("POST", "/api/v1/spot-checks", insp, json={
            "project_id": project["id"], "items": items, "responsible_ids": [labour]})
        second = self.call("POST", "/api/v1/spot-checks", insp, json={
            "project_id": project["id"], "items": items, "responsible_ids": [labour], "reinspection_of": first["id"]})
        self.made_line(f"two failed spot checks running → {len(second['holds_started'])} quality hold on 温州安居劳务")

    # --- WeChat acceptances -----------------------------------------------------------------------------
    def acceptances(self) -> None:
        """Each demo user accepts every template until ``PUSH_USERS`` of them are unused (fake and API alike)."""
        from backend.notifications.templates import TEMPLATES, wechat_template_id
        from backend.settings import get_settings

        settings = get_settings()
        ids = [wechat_template_id(settings, t) for t in TEMPLATES.values()]
        fake = httpx.Client(base_url=settings.WECHAT_API_BASE_URL.rstrip("/"), timeout=10)
        taps = 0
        try:
            try:
                is_fake = fake.get("/__fake__/stats").status_code == 200
            except httpx.HTTPError:
                is_fake = False
            if not is_fake:  # a real WeChat: only the users themselves can accept, in the mini-program
                self.out("demo-activity: WeChat is not the fake server, acceptances left to the users")
                return
            for openid, target in PUSH_USERS.items():
                who = self.mp(openid)
                have = {s["template_id"]: s["remaining"] for s in self.call("GET", "/mp/v1/subscriptions", who)}
                for i in range(0, len(ids), TAP_TEMPLATES):
                    chunk = ids[i:i + TAP_TEMPLATES]
                    results = {t: "accept" for t in chunk}
                    more = target - min(have.get(t, 0) for t in chunk)
                    for _ in range(more):
                        self._tap(fake, openid, results)
                        self.call("POST", "/mp/v1/subscriptions", who, json={"results": results})
                        taps += 1
                    # The fake keeps acceptances in memory: a restarted fake (run.sh again on the same database)
                    # learns again those the database still counts, so it never refuses what we may spend.
                    counted = {t: have.get(t, 0) + max(more, 0) for t in chunk}
                    unused = self._tap(fake, openid, {}, chunk)
                    while any(unused[t] < counted[t] for t in chunk):
                        unused = self._tap(fake, openid, {t: "accept" for t in chunk if unused[t] < counted[t]}, chunk)
        finally:
            fake.close()
        # Upkeep, not demo data: a later run tops up what the pushes spent (so it is not counted as made).
        self.out(f"demo-activity: WeChat acceptances: {taps} taps of {len(PUSH_USERS)} demo users"
                 f" (up to {max(PUSH_USERS.values())} unused per template)")

    @staticmethod
    def _tap(fake: httpx.Client, openid: str, results: dict[str, str], ask: Sequence[str] = ()) -> dict[str, int]:
        """One wx.requestSubscribeMessage answer as WeChat (the fake) learns it; returns its unused counts."""
        body = {"openid": openid, "results": {**{t: "" for t in ask}, **results}}  # "": asks the unused count only
        answer = fake.post("/__fake__/subscribe", json=body)
        if answer.status_code != 200 or answer.json().get("errcode"):
            raise DemoError(f"fake WeChat refused the acceptance: {answer.text[:200]}")
        return answer.json()["unused"]

    # --- inspection requests (工序报验) ----------------------------------------------------------------
    def inspections(self) -> None:
        project = self.project()
        lead, sup = self.staff("lead_wang"), self.staff("sup_li")
        mine = self.call("GET", "/api/v1/inspection-requests", lead, params={"project_id": project["id"]})
        if any(str(r.get("description", "")).startswith(MARK) for r in mine):
            self.skip_line("inspection requests")
            return
        answered = self.call("POST", "/api/v1/inspection-requests", lead, json={
            "project_id": project["id"], "stage": "foundation", "lot": "1#楼独立基础钢筋检验批",
            "location": "1#楼 A-C/1-6 轴", "description": f"{MARK}钢筋安装完成，自检合格，申请隐蔽验收"})
        files = {"file": ("钢筋隐蔽验收记录.jpg", _jpeg(21), "image/jpeg")}
        self.call("POST", f"/api/v1/inspection-requests/{answered['id']}/documents", sup, files=files)
        self.call("POST", f"/api/v1/inspection-requests/{answered['id']}/answer", sup, json={
            "passed": True, "findings": "钢筋规格、间距、保护层厚度符合设计及 GB 50204 要求"})
        pending = self.call("POST", "/api/v1/inspection-requests", lead, json={
            "project_id": project["id"], "stage": "structure", "lot": "2#楼三层梁板模板检验批",
            "location": "2#楼三层", "description": f"{MARK}模板支设完成，申请验收"})
        self.made_line(f"inspection requests: 1 answered (passed, 1 document), 1 pending (due {pending['due_at']})")

    def run(self) -> int:
        self.acceptances()
        self.complaints()
        self.materials()
        self.monitoring()
        self.credit()
        self._workforce()
        self.inspections()
        self.out(f"demo-activity: {self.made} things made")
        return self.made


def run(api: str, mqtt_url: str, *, device_logins: bool = False) -> int:
    demo = Demo(api, mqtt_url, device_logins=device_logins)
    try:
        return demo.run()
    finally:
        demo.http.close()
