"""Broker URLs made safe to log."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask_url"]

MASK = "***"
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "pwd", "token", "secret"})
_USERINFO_PASSWORD = re.compile(r"(//[^/?#@:]*):[^/?#]*@")


def mask_url(url: str) -> str:
    """``url`` with its password (userinfo or ``?password=``) replaced by ``***``.

    >>> mask_url("redis://:hunter2@127.0.0.1:6379/0")
    'redis://:***@127.0.0.1:6379/0'
    >>> mask_url("rediss://alice:hunter2@cache:6380/1?password=x&ssl_cert_reqs=none")
    'rediss://alice:***@cache:6380/1?password=***&ssl_cert_reqs=none'

    The user name, host, port, path and other query parameters are kept.
    Strings that are not URLs are returned unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal: mask by pattern instead
        return _USERINFO_PASSWORD.sub(rf"\1:{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = f"{userinfo.split(':', 1)[0]}:{MASK}"
        netloc = f"{userinfo}@{host}"
    query = "&".join(_mask_query_item(item) for item in parts.query.split("&"))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _mask_query_item(item: str) -> str:
    key, sep, _ = item.partition("=")
    return f"{key}={MASK}" if sep and key.lower() in _SECRET_QUERY_KEYS else item
