"""Open311 GeoReport v2: responses validate against the published schemas; JSON and XML; errors as the spec says."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.complaints.helpers import report

pytestmark = pytest.mark.asyncio

SCHEMAS = Path(__file__).parent / "schemas"


def _validator(name: str) -> Draft7Validator:
    registry = Registry()
    for path in SCHEMAS.glob("*.json"):
        if path.name.startswith("swagger"):
            continue
        registry = registry.with_resource(path.name, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7))
    return Draft7Validator(json.loads((SCHEMAS / name).read_text()), registry=registry)


def _valid(name: str, payload) -> None:
    errors = sorted(_validator(name).iter_errors(payload), key=str)
    assert not errors, errors[:3]


async def _key(api, admin, scopes):
    resp = await api.post("/api/v1/api-keys", json={"name": "12345热线", "department": "市12345", "scopes": scopes}, headers=admin)
    return resp.json()["key"]


async def test_discovery_and_services(api):
    disc = await api.get("/open311/v2/discovery.json")
    assert disc.status_code == 200 and disc.json()["endpoints"][0]["specification"].endswith("GeoReport_v2")
    services = await api.get("/open311/v2/services.json")
    assert services.status_code == 200
    _valid("services.json", services.json())
    for item in services.json():
        _valid("service.json", item)
    assert "shoddy_work" in {s["service_code"] for s in services.json()}
    definition = await api.get("/open311/v2/services/shoddy_work.json")
    _valid("service-definition.json", definition.json())
    xml = await api.get("/open311/v2/services.xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "services" and root.find("service/service_code") is not None
    missing = await api.get("/open311/v2/services/nope.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


async def test_post_and_get_requests(api, admin):
    write = await _key(api, admin, ["open311:write", "complaints:read"])
    form = {"api_key": write, "service_code": "leak", "lat": "28.0185", "long": "120.6555",
            "description": "小区地下车库顶板大面积渗水", "email": "reporter@example.com", "address_string": "鹿城区某小区"}
    created = await api.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 201, created.text
    request_id = created.json()[0]["service_request_id"]
    one = await api.get(f"/open311/v2/requests/{request_id}.json", params={"api_key": write})
    assert one.status_code == 200 and len(one.json()) == 1
    item = one.json()[0]
    _valid("request.json", item)
    _valid("requests.json", one.json())
    assert item["status"] == "open" and item["service_code"] == "leak" and item["agency_responsible"].endswith("监督站")
    assert item["expected_datetime"] and abs(item["lat"] - 28.0185) < 1e-3  # WGS-84 round trip, coarsened (public view)
    assert "reporter@example.com" not in one.text  # contact details are never published

    _, complaint = await report(api, admin, 330303)
    listing = await api.get("/open311/v2/requests.json", params={"api_key": write, "status": "open", "service_code": "shoddy_work"})
    _valid("requests.json", listing.json())
    mine = next(r for r in listing.json() if r["service_request_id"] == complaint["id"])
    assert mine["media_url"] is None and "X-Amz" not in listing.text  # photos are private: never in the public feed
    xml = await api.get(f"/open311/v2/requests/{request_id}.xml", params={"api_key": write})
    root = ET.fromstring(xml.content)
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == request_id
    tok = await api.get(f"/open311/v2/tokens/{request_id}.json", params={"api_key": write})
    assert tok.json() == [{"service_request_id": request_id, "token": request_id}]


async def test_errors_follow_the_spec(api, admin):
    read_only = await _key(api, admin, ["complaints:read"])
    no_key = await api.post("/open311/v2/requests.json", data={"service_code": "leak", "lat": "28", "long": "120.6",
                                                                "description": "渗水渗水渗水"})
    assert no_key.status_code == 403 and set(no_key.json()[0]) == {"code", "description"}
    wrong_scope = await api.post("/open311/v2/requests.json", data={"api_key": read_only, "service_code": "leak", "lat": "28", "long": "120.6", "description": "渗水渗水渗水"})
    assert wrong_scope.status_code == 403
    write = await _key(api, admin, ["open311:write"])
    bad = await api.post("/open311/v2/requests.json", data={"api_key": write, "service_code": "leak", "description": "渗水渗水渗水"})
    assert bad.status_code == 400 and "lat" in bad.json()[0]["description"]
    unknown = await api.post("/open311/v2/requests.json", data={"api_key": write, "service_code": "nope", "lat": "28", "long": "120.6", "description": "渗水渗水渗水"})
    assert unknown.status_code == 400 and unknown.json()[0]["code"] == 400
    assert unknown.json()[0]["description"].startswith("CATEGORY_UNKNOWN")
    bad_xml = await api.post("/open311/v2/requests.xml", data={"api_key": "zk_bad_key", "service_code": "leak"})
    assert bad_xml.status_code == 403 and ET.fromstring(bad_xml.content).tag == "errors"
    bad_date = await api.get("/open311/v2/requests.json", params={"api_key": read_only, "start_date": "yesterday"})
    assert bad_date.status_code == 400
    gone = await api.get("/open311/v2/requests/00000000-0000-0000-0000-000000000001.json", params={"api_key": read_only})
    assert gone.status_code == 404
