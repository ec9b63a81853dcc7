"""Network addresses: the client behind trusted proxies, and outbound URLs that must not reach inside the network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
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


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses DNS (getaddrinfo) gives for host:port, as strings; OSError when it gives none."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [info[4][0].split("%")[0] for info in infos]


_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver | None) -> Resolver:
    """Put another name resolver in front of every outbound check (None: DNS again); returns the one it replaced.

    The seam through which a test makes a registered name resolve somewhere else later (DNS rebinding)
    without touching /etc/hosts or the HTTP client; production never calls it.
    """
    global _resolver
    previous, _resolver = _resolver, resolver or system_resolver
    return previous


def _default_port(scheme: str) -> int:
    return {"https": 443, "rtsp": 554, "rtsps": 322}.get(scheme, 80)


def resolve_outbound(url: str, allow: tuple[str, ...], *, schemes: tuple[str, ...] = ("http", "https", "rtsp")
                     ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses this URL's host resolves to now, every one of them checked (see ``check_outbound_url``).

    A caller that connects should connect to one of these (``pinned_url``), so that a second DNS answer
    cannot differ from the one checked.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "scheme"})
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            answers = _resolver(host, parts.port or _default_port(parts.scheme.lower()))
            addresses = [ipaddress.ip_address(a) for a in answers]
        except (OSError, UnicodeError, ValueError):
            raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "unresolvable"}) from None
        if not addresses:
            raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "unresolvable"})
    for ip in addresses:
        if _is_internal(ip) and not _in(str(_plain(ip)), allow):
            raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "internal address"})
    return addresses


def check_outbound_url(url: str, allow: tuple[str, ...], *, schemes: tuple[str, ...] = ("http", "https", "rtsp"),
                       resolve: bool = True) -> None:
    """Refuse a URL that would reach loopback, private, link-local (cloud metadata) or reserved addresses.

    The host is resolved and every address it resolves to is checked (a public name pointing inside is
    refused too); networks in OUTBOUND_ALLOW are let through. The error never repeats what the host said.
    """
    if not resolve:
        parts = urlsplit(url)
        if parts.scheme.lower() not in schemes or not parts.hostname:
            raise BadRequest("OUTBOUND_URL_REFUSED", detail={"reason": "scheme"})
        try:
            ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
    resolve_outbound(url, allow, schemes=schemes)


def pinned_url(url: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str, str]:
    """(the URL with its host replaced by this checked address, the Host header, the TLS server name).

    Sent with ``Host`` set and the server name as httpx's ``sni_hostname`` extension, the request reaches
    the address that was checked while the server (and its certificate) still see the registered name.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = str(_plain(address))
    netloc = f"[{literal}]" if ":" in literal else literal
    if parts.port:
        netloc += f":{parts.port}"
    if "@" in parts.netloc:  # user:password@ stays (httpx sends it as Basic auth)
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl(), host_header, host


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
