"""Typed signals: a prototype function declares the payload, for type checkers
and at run time."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from ._seam import set_payload_check
from ._signal import AsyncSignal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

    from typing_extensions import ParamSpec
else:
    try:  # Python 3.10+: ParamSpec is in typing
        from typing import ParamSpec
    except ImportError:  # pragma: no cover
        from typing_extensions import ParamSpec

__all__ = ("ReceiverDecorator", "TypedSignal", "define")

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class _TakesAnyKeywords(Protocol[R_co]):
    """A receiver declaring only ``**kwargs``: it accepts any payload."""

    def __call__(self, **kwargs: object) -> R_co: ...


class ReceiverDecorator(Protocol[P, R]):
    """What ``@sig.connect(...)`` and ``@receiver(sig, ...)`` return for a
    typed signal: a decorator that type checkers hold to the signal's
    prototype, as they hold ``sig.connect(receiver)``."""

    @overload
    def __call__(
        self, receiver: _TakesAnyKeywords[R | Awaitable[R]], /
    ) -> _TakesAnyKeywords[R | Awaitable[R]]: ...
    @overload
    def __call__(
        self, receiver: Callable[P, R | Awaitable[R]], /
    ) -> Callable[P, R | Awaitable[R]]: ...


class TypedSignal(AsyncSignal, Generic[P, R]):
    """An :class:`~asyncsignal.AsyncSignal` made by :func:`define`.

    Type checkers check every send against the prototype's parameters, and
    every receiver against them (a receiver declares ``sender`` first, as
    Django receivers do, or takes only ``**kwargs``); responses have the
    prototype's return type. At run time each send rejects a missing or an
    unknown payload argument with a ``TypeError`` before anything runs.
    """

    __slots__ = ("__dict__", "_allowed", "_required")

    def __init__(
        self,
        name: str,
        names: frozenset[str],
        required: frozenset[str],
        allowed: frozenset[str] | None,
    ) -> None:
        super().__init__(names, name=name)
        self._required = required
        #: ``None``: the prototype takes ``**kwargs``, any other name is allowed.
        self._allowed = allowed
        set_payload_check(self, self._check)

    def _check(self, method: str, named: dict[str, Any]) -> None:
        keys = named.keys()
        if keys == self._allowed:  # the common case: every argument given
            return
        given = keys - {"sender"}
        missing = sorted(self._required - given)
        if missing:
            raise TypeError(
                f"{self.name}.{method}() is missing the payload argument(s) "
                f"{', '.join(map(repr, missing))} declared by its prototype"
            )
        if self._allowed is not None and not given <= self._allowed:
            unknown = sorted(given - self._allowed)
            raise TypeError(
                f"{self.name}.{method}() got the payload argument(s) "
                f"{', '.join(map(repr, unknown))} that its prototype does not "
                f"declare (it declares {', '.join(sorted(self._allowed))})"
            )

    if TYPE_CHECKING:
        # Only for type checkers: at run time the inherited methods call
        # _check_payload first, which costs a typed send almost nothing.

        def send(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[Callable[..., Any], R]]: ...
        def send_robust(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[Callable[..., Any], R | Exception]]: ...
        async def asend(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[Callable[..., Any], R]]: ...
        async def asend_robust(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[Callable[..., Any], R | Exception]]: ...
        @overload  # type: ignore[override]
        def connect(
            self,
            receiver: _TakesAnyKeywords[R | Awaitable[R]],
            sender: object = None,
            weak: bool = True,
            dispatch_uid: Hashable | None = None,
            *,
            thread: bool | None = None,
            timeout: float | None = None,
            once: bool = False,
        ) -> _TakesAnyKeywords[R | Awaitable[R]]: ...
        @overload
        def connect(
            self,
            receiver: Callable[P, R | Awaitable[R]],
            sender: object = None,
            weak: bool = True,
            dispatch_uid: Hashable | None = None,
            *,
            thread: bool | None = None,
            timeout: float | None = None,
            once: bool = False,
        ) -> Callable[P, R | Awaitable[R]]: ...
        @overload
        def connect(
            self,
            *,
            sender: object = None,
            weak: bool = True,
            dispatch_uid: Hashable | None = None,
            thread: bool | None = None,
            timeout: float | None = None,
            once: bool = False,
        ) -> ReceiverDecorator[P, R]: ...
        def connect(self, *args: Any, **kwargs: Any) -> Any: ...


def define(prototype: Callable[P, R]) -> TypedSignal[P, R]:
    """Turn a prototype function into a typed signal::

        @asyncsignal.define
        def order_placed(sender: type[Shop], *, order_id: int, total: Decimal) -> None:
            \"\"\"Sent after an order is stored.\"\"\"

    The prototype's first parameter is ``sender``; its keyword-only parameters
    are the payload (those with a default are optional; a ``**kwargs``
    parameter allows any others); its return type is the receivers'. Its name
    becomes the signal's ``name``, its docstring the signal's ``__doc__``, its
    keyword parameters its ``providing_args``. Its body is never run.

    :raises TypeError: the prototype is not a function of that shape.
    """
    payload = _payload_parameters(prototype)
    names = frozenset(
        p.name for p in payload if p.kind is inspect.Parameter.KEYWORD_ONLY
    )
    required = frozenset(
        p.name
        for p in payload
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty
    )
    has_var_keywords = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in payload)
    signal: TypedSignal[P, R] = TypedSignal(
        prototype.__name__, names, required, None if has_var_keywords else names
    )
    signal.__doc__ = prototype.__doc__
    return signal


def _payload_parameters(prototype: Callable[..., Any]) -> list[inspect.Parameter]:
    """The prototype's parameters after ``sender``, checked.

    :raises TypeError: not a function taking ``sender`` first, then only
        keyword-only parameters (none named ``signal``) and ``**kwargs``.
    """
    if not inspect.isfunction(prototype):
        raise TypeError(
            "define() takes a prototype function, got "
            f"{type(prototype).__name__} {prototype!r}"
        )
    parameters = list(inspect.signature(prototype).parameters.values())
    first = parameters[0] if parameters else None
    if (
        first is None
        or first.name != "sender"
        or first.kind
        not in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        )
    ):
        raise TypeError(
            f"the prototype {prototype.__qualname__}{inspect.signature(prototype)} "
            "must take 'sender' as its first parameter"
        )
    payload = parameters[1:]
    misplaced = [
        p.name
        for p in payload
        if p.kind not in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    ]
    if misplaced or "signal" in {p.name for p in payload}:
        raise TypeError(
            f"the prototype {prototype.__qualname__}{inspect.signature(prototype)} "
            "must declare its payload as keyword-only parameters after "
            "'sender, *' (none named 'signal')"
        )
    return payload
