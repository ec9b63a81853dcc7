"""Which webhooks an event goes to: those subscribed to its kind (template) and whose scope covers it.

A webhook names the event kinds it wants (never "everything") and, optionally, the districts it covers; an event
with a district goes to the webhooks of that district and to city-wide ones, an event without one only to
city-wide webhooks (docs/ACCESS.md).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.notifications.tables import Webhook


def event_district(data: dict[str, Any]) -> int | None:
    """The district an event is about, when its data says (district_adcode or district)."""
    for key in ("district_adcode", "district"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def matches(hook: dict[str, Any], template: str, data: dict[str, Any]) -> bool:
    """Subscribed to this kind, and the event is inside the webhook's scope."""
    if template not in (hook.get("templates") or []):
        return False
    districts = hook.get("districts") or []
    return not districts or event_district(data) in districts


async def targets(template: str, data: dict[str, Any]) -> list[UUID]:
    """Ids of the active webhooks this event goes to."""
    hooks = await Webhook.select(Webhook.id, Webhook.templates, Webhook.districts).where(Webhook.active.eq(True))
    return [h["id"] for h in hooks if matches(h, template, data)]
