"""Codecs: how values JSON cannot hold cross, as ``{"$codec": name, "value":
...}`` in an envelope; matched by type on the way out, by name on the way in.

Every bridge has the built-in codecs (:data:`BUILT_IN`: ``Decimal``,
``datetime``, ``date``, ``time``, ``UUID``, ``Enum`` members); an
application adds its own (``Bridge.register_codec``, ``Bridge.register``),
which take precedence for their types. Decoding is untrusted input: a value
that a codec cannot decode is a :class:`Reject`. An enum member's class is
looked up among the modules this process has imported, never imported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import sys
import uuid
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from ._reject import Reject, short_repr

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("BUILT_IN", "Codec", "Codecs", "class_codec")


class Codec(NamedTuple):
    """How values of one type cross: ``encode`` turns one into JSON-able data
    and ``decode`` turns that back in the receiving process."""

    name: str
    type: type
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


# -- the built-in codecs ------------------------------------------------------------


def _text_of(value: object) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _decode_decimal(value: object) -> Decimal:
    return Decimal(_text_of(value))  # InvalidOperation if malformed


def _encode_enum(member: enum.Enum) -> dict[str, str]:
    kind = type(member)
    ref = f"{kind.__module__}:{kind.__qualname__}"
    if imported(ref) is not kind:
        raise TypeError(
            f"{ref} is not reachable under its name (a class defined in a "
            "function?): its members cannot cross"
        )
    return {"enum": ref, "name": member.name}


def _decode_enum(value: object) -> enum.Enum:
    if type(value) is not dict or value.keys() != {"enum", "name"}:
        raise TypeError('expected {"enum": "module:qualname", "name": ...}')
    ref, name = _text_of(value["enum"]), _text_of(value["name"])
    kind = imported(ref)
    if not (isinstance(kind, type) and issubclass(kind, enum.Enum)):
        raise LookupError(f"no enum {ref} is imported in this process")
    member = kind.__members__.get(name)
    if member is None:
        raise LookupError(f"{ref} has no member {name!r}")
    return member


def imported(ref: str) -> object:
    """The object named ``ref`` (``"module:qualname"``) if its module is
    imported already, else ``None``. Nothing is imported, and only the
    namespaces' own entries are read: no module ``__getattr__``, no
    descriptor runs."""
    module_name, _, qualname = ref.partition(":")
    found: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        if not isinstance(found, (ModuleType, type)):
            return None
        found = vars(found).get(part)
    return found


#: The codecs every bridge has. Each decodes only its own JSON form: a string
#: (``str(value)``, or ``isoformat()``), or for an enum member its class's
#: ``"module:qualname"`` and its name.
BUILT_IN: tuple[Codec, ...] = (
    Codec("decimal", Decimal, str, _decode_decimal),
    Codec(
        "datetime",
        dt.datetime,
        dt.datetime.isoformat,
        lambda value: dt.datetime.fromisoformat(_text_of(value)),
    ),
    Codec(
        "date",
        dt.date,
        dt.date.isoformat,
        lambda value: dt.date.fromisoformat(_text_of(value)),
    ),
    Codec(
        "time",
        dt.time,
        dt.time.isoformat,
        lambda value: dt.time.fromisoformat(_text_of(value)),
    ),
    Codec("uuid", uuid.UUID, str, lambda value: uuid.UUID(_text_of(value))),
    Codec("enum", enum.Enum, _encode_enum, _decode_enum),
)
_BUILT_IN_BY_TYPE = {codec.type: codec for codec in BUILT_IN}
_BUILT_IN_NAMES = frozenset(codec.name for codec in BUILT_IN)


def class_codec(cls: type[Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """``encode`` and ``decode`` for a pydantic model (a class with
    ``model_dump`` and ``model_validate``) or a dataclass.

    :raises TypeError: ``cls`` is neither.
    """
    if not isinstance(cls, type):
        raise TypeError(
            f"register() takes a class, got {type(cls).__name__} {short_repr(cls)}"
        )
    dump = getattr(cls, "model_dump", None)
    validate = getattr(cls, "model_validate", None)
    if callable(dump) and callable(validate):
        return (lambda model: model.model_dump(mode="json")), validate
    if dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls) if f.init)

        def encode(instance: Any) -> dict[str, Any]:
            return {name: getattr(instance, name) for name in names}

        def decode(fields: object) -> Any:
            if type(fields) is not dict or not fields.keys() <= set(names):
                raise TypeError(
                    f"expected an object of {cls.__qualname__}'s fields "
                    f"({', '.join(names)}), got {short_repr(fields)}"
                )
            return cls(**fields)

        return encode, decode
    raise TypeError(
        f"register() takes a dataclass or a pydantic model, and "
        f"{cls.__qualname__} is neither: give its codec with "
        f"register_codec({cls.__qualname__}, encode, decode)"
    )


class Codecs:
    """The codecs of one bridge, by type and by name (registered before the
    bridge runs; then only read, from any thread): the application's, then
    the built-in ones."""

    __slots__ = ("_by_name", "_by_type")

    def __init__(self) -> None:
        self._by_type: dict[type, Codec] = {}
        self._by_name: dict[str, Codec] = {codec.name: codec for codec in BUILT_IN}

    def add(self, codec: Codec) -> None:
        """Add an application's codec; for its type it replaces a built-in one.

        :raises ValueError: the name or the type has a codec already (a
            built-in codec's name included)."""
        if codec.name in self._by_name or codec.type in self._by_type:
            raise ValueError(
                f"a codec for {codec.type.__qualname__} or named {codec.name!r} "
                "is registered already"
                + (" (a built-in codec)" if codec.name in _BUILT_IN_NAMES else "")
            )
        self._by_name[codec.name] = codec
        self._by_type[codec.type] = codec

    def for_value(self, value: object) -> Codec | None:
        """The codec of ``value``'s type or of its nearest base that has one:
        the application's first, then a built-in one."""
        mro = type(value).__mro__
        for by_type in (self._by_type, _BUILT_IN_BY_TYPE):
            for kind in mro:
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
