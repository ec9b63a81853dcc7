"""Network addresses: the client behind trusted proxies, and outbound URLs that must not reach inside the network."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from backend.errors import BadRequest


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _in(address: str, entries: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(entries))


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[str, ...]) -> str:
    """The caller's address: walk X-Forwarded-For from the right while the hop is a trusted proxy.

    Only a peer in TRUSTED_PROXIES is believed about who it forwards for; the first untrusted hop from the
    right is the client (entries further left are whatever the client wrote, so they are never used).
    """
    current = peer or "unknown"
    if not forwarded_for or not _in(current, trusted_proxies):
        return current
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    while hops:
        current = hops.pop()
        if not _in(current, trusted_proxies):
            return current
    return current


def _plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """::ffff:10.0.0.1 is 10.0.0.1."""
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None else ip


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598): inside someone's network


def _is_internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    ip = _plain(ip)
    return (ip in _SHARED if ip.version == 4 else False) or (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


def check_outbound_url(url: str, allow: tuple[str, ...], *, schemes: tuple[str, ...] = ("http", "https", "rtsp"),
                       resolve: bool = True) -> None:
    """Refuse a URL that would reach loopback, private, link-local (cloud metadata) or reserved addresses.

    The host is resolved and every address it resolves to is checked (a public name pointing inside is
    refused too); networks in OUTBOUND_ALLOW are let through. The error never repeats what the host said.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "scheme"})
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "unresolvable"}) from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in addresses:
        if _is_internal(ip) and not _in(str(_plain(ip)), allow):
            raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "internal address"})


def split_credentials(url: str) -> tuple[str, str]:
    """(the URL without user:password@, the "user:password" part or "")."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, ""
    userinfo = parts.netloc.rsplit("@", 1)[0]
    return strip_credentials(url), userinfo


def with_credentials(url: str, userinfo: str) -> str:
    """Put "user:password" back into a URL (for the fetcher only)."""
    if not userinfo:
        return url
    parts = urlsplit(url)
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()


def strip_credentials(url: str) -> str:
    """The URL without user:password@ (what readers are shown)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()
