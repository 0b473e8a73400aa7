"""Broker URLs in logs, errors and ``repr`` (``_urls.py``): never their
credentials. No broker is involved."""

from __future__ import annotations

import pytest

from asyncsignal.bridge import Bridge
from asyncsignal.bridge._urls import PublicUrl


def test_the_password_of_a_url_never_shows() -> None:
    bridge = Bridge("redis://user:s3cret@127.0.0.1:6379/0")
    assert repr(bridge) == (
        "<Bridge redis://user:***@127.0.0.1:6379/0 channel='asyncsignal' "
        "not running, 0 shared signals>"
    )
    assert "s3cret" not in repr(Bridge("nats://:s3cret@host:4222"))
    with pytest.raises(ValueError, match="got 'http://user:\\*\\*\\*@x'") as raised:
        Bridge("http://user:s3cret@x")
    assert "s3cret" not in str(raised.value)
    assert "<a malformed URL>" in repr(Bridge("redis://[::1"))


@pytest.mark.parametrize(
    "url",
    [
        "user:s3cret@host",  # no scheme
        "s3cret?x",
        "redis://127.0.0.1:1/s3cret@host",  # "/" in a password, a numeric start
        "redis://host:1?s3cret",  # a query that is not name=value pairs
        "redis://host:1?x=1&s3cret",
        "redis://user:s3cret\n@host",
    ],
)
def test_a_url_that_cannot_be_read_unambiguously_is_never_shown(url: str) -> None:
    if "://" in url:
        assert repr(Bridge(url)).startswith("<Bridge <a malformed URL> channel=")
    else:
        with pytest.raises(ValueError, match="got '<a malformed URL>'"):
            Bridge(url)
    public = PublicUrl(url)
    # Nor are the client's errors: they may echo what it took for a port.
    assert public.describe(ValueError("port 's3cret'")) == "ValueError"


def test_errors_are_described_without_the_credentials_of_the_url() -> None:
    public = PublicUrl("redis://user:s3cret@host:1/0?db=2&token=t%2Bk&timeout=1.5")
    assert public.text == "redis://user:***@host:1/0?db=2&token=***&timeout=1.5"
    assert public.describe(OSError("s3cret t+k t%2Bk")) == "OSError: *** *** ***"
    assert public.describe(TimeoutError()) == "TimeoutError"
    assert str(public) == public.text
    assert PublicUrl("memory://").text == "memory://"
    assert PublicUrl("redis").text == "redis"
