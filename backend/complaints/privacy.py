"""The complaint privacy rule (docs/ACCESS.md): what of a citizen's report may be shown beyond the reporter and the
assigned station — the public view (Open311, joiners, similar reports)."""

from __future__ import annotations

import re

# Mainland mobile numbers (1[3-9]x xxxx xxxx, with optional +86 / spaces / dashes) and landlines (0xx(x)-xxxxxxx(x)).
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)")
PUBLIC_DECIMALS = 3  # ≈ 100 m: a leak report at someone's home does not point at the door


def mask_phones(text: str) -> str:
    """Phone numbers typed into a description, masked (a public description never carries one)."""
    return _LANDLINE.sub("[电话已隐藏]", _MOBILE.sub("[电话已隐藏]", text))


def public_point(lng: float, lat: float) -> tuple[float, float]:
    """The location coarsened for the public view."""
    return round(lng, PUBLIC_DECIMALS), round(lat, PUBLIC_DECIMALS)
