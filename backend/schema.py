"""The base type of every request/response schema (msgspec; no web framework imported here)."""

import msgspec


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Unknown fields are refused, so a typo or an injected field never passes silently."""
