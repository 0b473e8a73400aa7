"""Signed envelopes (``Bridge(secret=...)``): the secrets become HMAC keys
(:func:`keys_of`); the first key signs (:func:`sign`), and an envelope is
accepted if any key verifies it (:func:`verify`). The signature is an
HMAC-SHA256 (RFC 2104) of every byte before it, in a fixed-size trailer
``,"sig":"<64 hex digits>"}`` that is checked before anything is parsed."""

from __future__ import annotations

import hashlib
import hmac
from typing import NamedTuple

from ._reject import Reject

__all__ = ("SIG_ROOM", "Mac", "keys_of", "macs_of", "sign", "verify")

#: A signed envelope ends with ``,"sig":"<64 hex digits>"}`` instead of ``}``.
_SIG_HEAD = b',"sig":"'
SIG_ROOM = len(_SIG_HEAD) + 64 + len(b'"}') - 1


def keys_of(secret: object) -> tuple[bytes, ...]:
    """The HMAC keys of ``Bridge(secret=...)``: the first signs, each verifies.

    The error messages never show the secret, nor any part of it.

    :raises TypeError: not a ``str``, ``bytes`` or a sequence of them.
    :raises ValueError: an empty secret, or an empty sequence.
    """
    secrets = [secret] if isinstance(secret, (str, bytes)) else secret
    if not isinstance(secrets, (list, tuple)):
        raise TypeError(
            "secret must be a str, bytes, or a list or tuple of them, got "
            f"{type(secret).__name__}"
        )
    if not secrets:
        raise ValueError("secret must list at least one secret, got an empty one")
    keys = []
    for position, each in enumerate(secrets):
        where = "secret" if each is secret else f"secret[{position}]"
        if not isinstance(each, (str, bytes)):
            raise TypeError(
                f"{where} must be a str or bytes, got {type(each).__name__}"
            )
        if not each:
            raise ValueError(f"{where} is empty")
        keys.append(each.encode() if isinstance(each, str) else bytes(each))
    return tuple(keys)


#: SHA-256's block size, and HMAC's pads (RFC 2104).
_BLOCK = 64
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))


class Mac(NamedTuple):
    """HMAC-SHA256 with one key, as two SHA-256 states that have hashed the
    key's inner and outer pads: :func:`sign` and :func:`verify` copy them
    for each envelope, which skips the key's set-up. Copying is
    thread-safe. (``hmac.HMAC.copy()`` costs about 0.5 µs more per envelope,
    in Python code around the same C hashes.)"""

    inner: hashlib._Hash
    outer: hashlib._Hash


def macs_of(keys: tuple[bytes, ...]) -> tuple[Mac, ...]:
    """A :class:`Mac` of each key."""
    macs = []
    for key in keys:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        macs.append(
            Mac(
                hashlib.sha256(key.translate(_INNER_PAD)),
                hashlib.sha256(key.translate(_OUTER_PAD)),
            )
        )
    return tuple(macs)


def _hex_mac(mac: Mac, data: bytes) -> bytes:
    """The HMAC of ``data``, as 64 lowercase hex digits."""
    inner = mac.inner.copy()
    inner.update(data)
    outer = mac.outer.copy()
    outer.update(inner.digest())
    return outer.hexdigest().encode()


def sign(mac: Mac, data: bytes) -> bytes:
    """``data`` (an envelope up to its ``seq``, without the closing ``}``)
    completed with its signature trailer (``mac``: from :func:`macs_of`)."""
    return data + _SIG_HEAD + _hex_mac(mac, data) + b'"}'


def verify(macs: tuple[Mac, ...], data: bytes) -> None:
    """Check that one key signed ``data``, a signed envelope (whose trailer,
    once checked, is one more field of its JSON: ``sig``).

    :raises Reject: ``data`` has no signature that one key makes."""
    split = len(data) - SIG_ROOM - 1
    if split < 1 or not (data.startswith(_SIG_HEAD, split) and data.endswith(b'"}')):
        raise Reject("it is not signed")
    signed, mac = data[:split], data[split + len(_SIG_HEAD) : -2]
    valid = False
    for each in macs:
        # Every key is tried, so the time taken does not tell which matched.
        valid |= hmac.compare_digest(_hex_mac(each, signed), mac)
    if not valid:
        raise Reject("its signature is not valid for this bridge's secret")
