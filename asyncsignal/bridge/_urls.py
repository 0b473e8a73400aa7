"""Broker URLs as logs, errors and ``repr`` may show them: without credentials.

The clients read credentials from several places: redis-py from the userinfo
(``user:password@``, ``:password@``, ``user@``) and from any query parameter
(``?password=``, ``?ssl_password=``...), nats-py from the userinfo (``user:
password@``, or a bare ``token@``). A URL is shown with its userinfo replaced
(the user name kept when a password follows it) and every query value hidden
but the few known to be plain numbers or flags.

A URL whose parts are ambiguous is never shown: an unencoded ``/``, ``?`` or
``#`` in a password ends the host part early, so what the clients take for the
host, port or path is part of the secret. Anything that fails to parse, has a
fragment, an ``@`` after the host part, a port that is not a number or a query
that is not ``name=value`` pairs is shown as ``<a malformed URL>`` (fail
closed), and errors of its connection attempts by their type only.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus, urlsplit

__all__ = ("MALFORMED", "PublicUrl")

MALFORMED = "<a malformed URL>"

#: Query parameters whose values are numbers or flags (redis-py's typed ones):
#: shown as they are.
_PLAIN_PARAMETERS = frozenset(
    {
        "db",
        "protocol",
        "timeout",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "socket_read_size",
        "retry_on_timeout",
        "max_connections",
        "health_check_interval",
        "ssl_check_hostname",
        "ssl_min_version",
    }
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.\-]*")


class PublicUrl:
    """A broker URL's public form (:attr:`text`), and what must never be shown
    of it (:meth:`scrub`)."""

    __slots__ = ("_secrets", "text")

    def __init__(self, url: str) -> None:
        try:
            self.text, secrets = _public_form(url)
        except ValueError:
            self.text, secrets = MALFORMED, None
        # Longest first: a secret containing another is hidden whole.
        self._secrets: tuple[str, ...] | None = (
            None
            if secrets is None
            else tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        )

    def __str__(self) -> str:
        return self.text

    def describe(self, error: BaseException) -> str:
        """``error``'s type and message for a log or an error of ours, without
        the credentials of the URL (a client's message may echo its URL, or the
        part it took for a port). For a malformed URL, the type only."""
        name = type(error).__name__
        if self._secrets is None:
            return name
        text = str(error)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return f"{name}: {text}" if text else name


def _public_form(url: str) -> tuple[str, list[str]]:
    """The URL without its credentials, and the credentials, each as written
    and decoded; :raises ValueError: the URL is ambiguous or malformed."""
    if not url.isprintable() or "#" in url:
        raise ValueError("ambiguous")
    scheme, separator, _ = url.partition("://")
    if not separator:  # not a URL the bridge takes: shown if it holds no secret
        if "@" in url or "?" in url:
            raise ValueError("ambiguous")
        return url, []
    parts = urlsplit(url)
    parts.port  # noqa: B018 - raises ValueError for a port that is no number
    if "@" in parts.path or "@" in parts.query:
        raise ValueError("ambiguous")
    secrets: list[str] = []
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon:
            secrets += (password, unquote(password))
            shown = f"{user}:***@" if user else "***@"
        else:  # a token (nats-py), or a user name alone (redis-py)
            secrets += (user, unquote(user))
            shown = "***@"
        host = shown + host
    text = f"{scheme}://{host}{parts.path}"
    if parts.query:
        pairs = []
        for pair in parts.query.split("&"):
            name, equals, value = pair.partition("=")
            if not (equals and _NAME.fullmatch(name)):
                raise ValueError("ambiguous")
            if name in _PLAIN_PARAMETERS and _PLAIN_VALUE.fullmatch(value):
                pairs.append(pair)
            else:
                secrets += (value, unquote_plus(value))
                pairs.append(f"{name}=***")
        text += "?" + "&".join(pairs)
    return text, secrets
