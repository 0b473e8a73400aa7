"""Codecs: how values of registered types (``Bridge.register_codec``) cross,
as ``{"$codec": name, "value": ...}`` in an envelope; matched by type on the
way out, by name on the way in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ._reject import Reject, short_repr

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("Codec", "Codecs")


class Codec(NamedTuple):
    """How values of one type cross: ``encode`` turns one into JSON-able data
    and ``decode`` turns that back in the receiving process."""

    name: str
    type: type
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


class Codecs:
    """The codecs of one bridge, by type and by name (registered before the
    bridge runs; then only read, from any thread)."""

    __slots__ = ("_by_name", "_by_type")

    def __init__(self) -> None:
        self._by_type: dict[type, Codec] = {}
        self._by_name: dict[str, Codec] = {}

    def add(self, codec: Codec) -> None:
        """:raises ValueError: the name or the type has a codec already."""
        if codec.name in self._by_name or codec.type in self._by_type:
            raise ValueError(
                f"a codec for {codec.type.__qualname__} or named {codec.name!r} "
                "is registered already"
            )
        self._by_name[codec.name] = codec
        self._by_type[codec.type] = codec

    def for_value(self, value: object) -> Codec | None:
        """The codec of ``value``'s type or of its nearest base that has one."""
        by_type = self._by_type
        if by_type:
            for kind in type(value).__mro__:
                codec = by_type.get(kind)
                if codec is not None:
                    return codec
        return None

    def encode(self, value: object) -> object:
        """JSON data for ``value`` (``json``'s ``default``).

        :raises TypeError: no codec for its type."""
        codec = self.for_value(value)
        if codec is None:
            raise TypeError(f"{type(value).__name__} {short_repr(value)}")
        return {"$codec": codec.name, "value": codec.encode(value)}

    def decode(self, data: dict[str, Any]) -> object:
        """The value of a decoded JSON object (``json``'s ``object_hook``).

        :raises Reject: a codec value this process cannot decode."""
        if "$codec" not in data or len(data) != 2 or "value" not in data:
            return data
        name = data["$codec"]
        codec = self._by_name.get(name) if isinstance(name, str) else None
        if codec is None:
            raise Reject(
                f"it holds a value of codec {short_repr(name)}, which this "
                "process has not registered (Bridge.register_codec)"
            )
        try:
            return codec.decode(data["value"])
        except Exception as error:
            raise Reject(
                f"codec {codec.name!r} could not decode "
                f"{short_repr(data['value'])}: {short_repr(error)}"
            ) from error
