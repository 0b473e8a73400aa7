"""Drop-in for ``django.dispatch``: ``from asyncsignal.django import Signal, receiver``.

Needs Django (``pip install 'asyncsignal[django]'``). :class:`Signal` behaves as
Django 6.1's ``Signal`` wherever Django defines the behaviour, and keeps what
asyncsignal adds (per-receiver policies, ``subscribe``, ``wait``, typed
signals, the bridge):

- ``send`` calls sync receivers in the caller's thread, with no frame between
  ``send`` and the receiver, then runs the async ones concurrently through
  asgiref's ``async_to_sync``, so their thread-sensitive calls (the async ORM)
  come back to the sending thread;
- ``asend`` calls the sync receivers in one
  ``sync_to_async(thread_sensitive=True)`` call (per-thread state such as the
  ORM's connections is what it is with Django), then runs the async ones
  concurrently; responses come sync receivers first, then async ones;
- every receiver of one send runs in one context, a copy of the caller's, and
  what they set in context variables is set in the caller's when the send ends;
- ``send_robust``/``asend_robust`` log failures on the ``django.dispatch``
  logger; receivers are checked for ``**kwargs`` only under ``settings.DEBUG``;
- Django's internals that real code uses are here with Django's shapes:
  ``lock``, ``receivers`` (a list that can be saved and assigned back),
  ``sender_receivers_cache``, ``_clear_dead_receivers()`` and
  ``_live_receivers(sender)`` (which tracing tools wrap).

:func:`install`, called before Django loads, makes ``django.dispatch.Signal``
this class, so Django's own signals and every app's are asyncsignal signals.
``asend`` runs sync receivers through asgiref, which needs asyncio.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, TypeVar, overload

try:
    import django  # noqa: F401  (the dependency this module is for)
    from asgiref.sync import async_to_sync, sync_to_async
except ImportError as _missing:  # pragma: no cover - tested in a venv without Django
    raise ImportError(
        "asyncsignal.django needs Django; install it with "
        "pip install 'asyncsignal[django]'"
    ) from _missing

from . import _dispatch
from ._backends import asyncio_running, check_can_block, open_runner
from ._callables import check_receiver, describe, is_async_callable
from ._context import copy_back
from ._policies import POLICY, Policy, resolve_policy
from ._receivers import NO_RECEIVER, NoReceiver, dies_at_once, receiver, warn_weak
from ._signal import AsyncSignal

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable

    from ._registry import Plan, Registration, Registry

T = TypeVar("T")
ReceiverT = TypeVar("ReceiverT", bound="Callable[..., Any]")
Responses = list[tuple[Any, Any]]

__all__ = ("Signal", "install", "receiver")

#: Django's logger for receivers' failures in ``send_robust``/``asend_robust``.
logger: logging.Logger = logging.getLogger("django.dispatch")

#: Policies given to a subclass's ``connect`` that does not take them (Django's
#: ``ModelSignal``, whose lazy ``"app_label.Model"`` senders connect later):
#: (id(signal), id(receiver)) -> (receiver, thread, timeout, once).
_pending_policies: dict[tuple[int, int], tuple[Any, Any, Any, bool]] = {}
_PENDING_LOCK = threading.Lock()


class Signal(AsyncSignal):
    """``django.dispatch.Signal`` with asyncsignal's policies and extras.

    Sync receivers default to ``thread=True``: under ``asend`` they run in one
    ``sync_to_async(thread_sensitive=True)`` call, as Django runs them;
    ``connect(..., thread=False)`` calls one in the event loop's thread
    instead, and ``timeout=`` runs one in its own such call, with the async
    receivers, so that it can be abandoned.
    """

    __slots__ = ("__dict__", "lock")

    def __init__(
        self,
        providing_args: Iterable[str] | None = None,
        use_caching: bool = False,
        *,
        name: str | None = None,
        thread: bool = True,
        timeout: float | None = None,
    ) -> None:
        # Django's signature is Signal(use_caching=False).
        if isinstance(providing_args, bool):
            providing_args, use_caching = None, providing_args  # type: ignore[unreachable]
        super().__init__(
            providing_args, use_caching, name=name, thread=thread, timeout=timeout
        )
        #: Held by ``connect`` and ``disconnect``, as Django's is: code that
        #: saves and assigns ``receivers`` under it is not interleaved with them.
        self.lock: threading.Lock = threading.Lock()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        connect = cls.__dict__.get("connect")
        code = getattr(connect, "__code__", None)
        if code is not None and "thread" not in code.co_varnames:
            # A subclass written for Django (ModelSignal) whose connect does not
            # take the policies: accept them and hand them to ours.
            cls.connect = _taking_policies(connect)  # type: ignore[method-assign,arg-type]

    # -- connecting -------------------------------------------------------------

    @overload
    def connect(
        self,
        receiver: ReceiverT,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
        *,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
    ) -> ReceiverT: ...
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
    ) -> Callable[[ReceiverT], ReceiverT]: ...
    def connect(
        self,
        receiver: ReceiverT | NoReceiver = NO_RECEIVER,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
        *,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
    ) -> ReceiverT | Callable[[ReceiverT], ReceiverT]:
        """As :meth:`asyncsignal.AsyncSignal.connect` (without ``receiver``, a
        decorator), but as in Django the receiver is checked (callable,
        accepts ``**kwargs``) only when ``settings.DEBUG`` is on."""
        if receiver is NO_RECEIVER:
            return super().connect(
                sender=sender,
                weak=weak,
                dispatch_uid=dispatch_uid,
                thread=thread,
                timeout=timeout,
                once=once,
            )
        if _pending_policies:
            with _PENDING_LOCK:
                pending = _pending_policies.pop((id(self), id(receiver)), None)
            if pending is not None:
                _, thread, timeout, once = pending
        if _debug():
            is_async = _check_receiver(receiver)
        else:
            is_async = is_async_callable(receiver)
        policy = resolve_policy(
            receiver, is_async, thread, timeout, once, self.thread, self.timeout
        )
        if weak and dies_at_once(receiver):
            warn_weak(receiver)
        with self.lock:
            self._registry.connect(
                receiver, sender, weak, dispatch_uid, is_async, policy
            )
        return receiver

    def disconnect(
        self,
        receiver: Callable[..., Any] | None = None,
        sender: object = None,
        dispatch_uid: Hashable | None = None,
    ) -> bool:
        with self.lock:
            return self._registry.disconnect(receiver, sender, dispatch_uid)

    # -- Django's internals, with Django's shapes ---------------------------------

    @property  # type: ignore[override]
    def receivers(self) -> list[tuple[Any, Any, Any, bool]]:
        """Django's list: ``((receiver id, sender id), weak reference or the
        receiver, weak reference to the sender or None, is_async)`` per
        registration, in connection order. A snapshot: assign it (or a list
        of its entries, such as a saved copy) back to change the
        registrations; ``signal.receivers = []`` disconnects everything."""
        return [
            _Entry.of(self._registry, r, held) for r, held in self._registry.entries()
        ]

    @receivers.setter
    def receivers(self, entries: Iterable[tuple[Any, Any, Any, bool]]) -> None:
        kept: list[tuple[Registration, object]] = []
        for entry in entries:
            if not isinstance(entry, _Entry) or entry.registry is not self._registry:
                raise TypeError(
                    "signal.receivers can be assigned only entries read from this "
                    f"signal's receivers, got {entry!r}; use connect()"
                )
            kept.append((entry.registration, entry.held))
        self._registry.replace(kept)

    @property
    def sender_receivers_cache(self) -> _SenderReceiversCache:
        """The per-sender lookup cache; ``.clear()`` empties it, as in Django.
        asyncsignal keeps it consistent by itself: every change to the
        registrations (``receivers`` assigned too) clears it."""
        return _SenderReceiversCache(self._registry)

    def _clear_dead_receivers(self) -> None:
        """Drop the registrations of collected receivers and senders."""
        self._registry.purge()

    def _live_receivers(
        self, sender: object
    ) -> tuple[list[Callable[..., Any]], list[Callable[..., Any]]]:
        """The live receivers for ``sender``: ``(sync ones, async ones)``, each
        in connection order. Sends call this only when it is replaced (a
        tracing tool wrapping it); they then run what it returns."""
        sync: list[Callable[..., Any]] = []
        async_: list[Callable[..., Any]] = []
        for registration in self._plan_for(sender).registrations:
            receiver = registration()
            # False only if another thread dropped it since the plan was read.
            if receiver is not None:  # pragma: no branch
                (async_ if registration.is_async else sync).append(receiver)
        return sync, async_

    # -- sending ------------------------------------------------------------------

    def send(self, sender: object, **named: Any) -> Responses:
        """Call the sync receivers in order, in this thread, then the async ones
        concurrently (through ``async_to_sync``); return ``(receiver,
        response)`` pairs, sync receivers' first, as Django does. The first
        exception of a sync receiver propagates; async receivers' errors are
        raised once all have finished (one error, or an ``ExceptionGroup``)."""
        if self._check_payload is not None:
            self._check_payload("send", named)
        if self._subscriptions:
            self._publish_sync(sender, named, "send")
        if not self._connected:  # fast path: nothing is connected at all
            return []
        plan = self._registry.cache.get(id(sender))
        if plan is None:
            plan = self._registry.compute_plan(sender)
        if not plan.registrations:
            return []
        if named:
            _dispatch.check_named(named)
        if type(self)._live_receivers is not _LIVE_RECEIVERS:
            return self._send_traced(sender, named, False)
        responses: Responses = []
        if plan.inline_only:
            # Django's loop, kept here: no frame between send() and a receiver
            # (warnings' stacklevel in receivers counts on it), so not the
            # core's generated callers. The arguments are merged once.
            arguments = {"signal": self, "sender": sender, **named}
            for registration in plan.registrations:
                receiver = registration()
                if receiver is not None:
                    responses.append((receiver, receiver(**arguments)))
            return responses
        if plan.has_async:
            check_can_block("send")
        later: list[tuple[Callable[..., Any], Policy, bool]] = []
        claim = self._registry.claim
        for registration in plan.registrations:
            receiver = registration()
            if receiver is None or (
                registration.kind is POLICY
                and registration.policy.once
                and not claim(registration)
            ):
                continue
            if registration.is_async:
                later.append((receiver, registration.policy, True))
            else:
                responses.append(
                    (receiver, receiver(signal=self, sender=sender, **named))
                )
        if later:
            responses += async_to_sync(self._run_concurrently)(
                later, sender, named, False, "send"
            )
        return responses

    def send_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`send`, but a receiver's ``Exception`` becomes its
        response and is logged at ERROR on the ``django.dispatch`` logger;
        every receiver is called."""
        if self._check_payload is not None:
            self._check_payload("send_robust", named)
        if self._subscriptions:
            self._publish_sync(sender, named, "send_robust")
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        if type(self)._live_receivers is not _LIVE_RECEIVERS:
            return self._send_traced(sender, named, True)
        if plan.has_async:
            check_can_block("send_robust")
        responses: Responses = []
        later: list[tuple[Callable[..., Any], Policy, bool]] = []
        claim = self._registry.claim
        for registration in plan.registrations:
            receiver = registration()
            if receiver is None or (
                registration.kind is POLICY
                and registration.policy.once
                and not claim(registration)
            ):
                continue
            if registration.is_async:
                later.append((receiver, registration.policy, True))
                continue
            try:
                response = receiver(signal=self, sender=sender, **named)
            except Exception as error:
                _log_robust_failure(receiver, error)
                responses.append((receiver, error))
            else:
                responses.append((receiver, response))
        if later:
            responses += async_to_sync(self._run_concurrently)(
                later, sender, named, True, "send_robust"
            )
        return responses

    def _send_traced(
        self, sender: object, named: dict[str, Any], robust: bool
    ) -> Responses:
        """``send`` through a replaced :meth:`_live_receivers`: the receivers
        it returns run as Django runs them (no per-receiver policies)."""
        sync, async_ = self._live_receivers(sender)
        if async_:
            check_can_block("send_robust" if robust else "send")
        responses = _call_in_turn(self, sync, sender, named, robust)
        if async_:
            later = [(r, _NO_POLICY, True) for r in async_]
            method = "send_robust" if robust else "send"
            responses += async_to_sync(self._run_concurrently)(
                later, sender, named, robust, method
            )
        return responses

    async def asend(self, sender: object, **named: Any) -> Responses:
        """Run the sync receivers in one ``sync_to_async(thread_sensitive=True)``
        call (those connected with ``thread=False`` in this thread), in
        order, then the async ones (and sync ones with a ``timeout``)
        concurrently; return ``(receiver, response)`` pairs, sync receivers'
        first, as Django does. A sync receiver's exception propagates at once;
        async receivers' errors are raised once all have finished (one error,
        or an ``ExceptionGroup``). If the caller is cancelled, the receivers
        still running are cancelled and awaited first."""
        return await self._asend(sender, named, False, "asend", self._subscriptions)

    async def asend_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`asend`, but a receiver's ``Exception`` becomes its
        response and is logged at ERROR on the ``django.dispatch`` logger."""
        return await self._asend(
            sender, named, True, "asend_robust", self._subscriptions
        )

    async def _asend_robust(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Any, ...],
    ) -> Responses:
        return await self._asend(sender, named, True, "asend_robust", subscriptions)

    async def _asend(
        self,
        sender: object,
        named: dict[str, Any],
        robust: bool,
        method: str,
        subscriptions: tuple[Any, ...],
    ) -> Responses:
        if self._check_payload is not None:
            self._check_payload(method, named)
        if subscriptions:
            await self._publish(sender, named, subscriptions)
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        if type(self)._live_receivers is not _LIVE_RECEIVERS:
            sync, async_ = self._live_receivers(sender)
            batches: list[tuple[bool, list[Callable[..., Any]]]] = (
                [(True, sync)] if sync else []
            )
            later = [(r, _NO_POLICY, True) for r in async_]
        else:
            batches, later = self._split(plan)
        responses: Responses = []
        for in_thread, batch in batches:
            if in_thread:
                responses += await self._in_one_thread(batch, sender, named, robust)
            else:
                responses += _call_in_turn(self, batch, sender, named, robust)
        if later:
            responses += await self._run_concurrently(
                later, sender, named, robust, method
            )
        return responses

    def _split(
        self, plan: Plan
    ) -> tuple[
        list[tuple[bool, list[Callable[..., Any]]]],
        list[tuple[Callable[..., Any], Policy, bool]],
    ]:
        """``asend``'s two phases: runs of sync receivers (each run in one
        thread call, or in this thread), then what runs concurrently."""
        batches: list[tuple[bool, list[Callable[..., Any]]]] = []
        later: list[tuple[Callable[..., Any], Policy, bool]] = []
        claim = self._registry.claim
        for registration in plan.registrations:
            receiver = registration()
            # No receiver has run since the plan was read: only another thread
            # can have dropped a receiver, or claimed a once receiver, meanwhile.
            if receiver is None:  # pragma: no cover
                continue
            policy = registration.policy
            if (
                registration.kind is POLICY and policy.once and not claim(registration)
            ):  # pragma: no cover
                continue
            if registration.is_async or policy.timeout is not None:
                later.append((receiver, policy, registration.is_async))
            elif batches and batches[-1][0] is policy.thread:
                batches[-1][1].append(receiver)
            else:
                batches.append((policy.thread, [receiver]))
        return batches, later

    async def _in_one_thread(
        self,
        batch: list[Callable[..., Any]],
        sender: object,
        named: dict[str, Any],
        robust: bool,
    ) -> Responses:
        if not asyncio_running():
            raise RuntimeError(
                "asyncsignal.django.Signal.asend() runs sync receivers through "
                "asgiref's sync_to_async, which needs asyncio; on trio use "
                "asyncsignal.Signal(thread=True)"
            )
        call = functools.partial(_call_in_turn, self, batch, sender, named, robust)
        responses: Responses = await sync_to_async(call, thread_sensitive=True)()
        return responses

    async def _run_concurrently(
        self,
        later: list[tuple[Callable[..., Any], Policy, bool]],
        sender: object,
        named: dict[str, Any],
        robust: bool,
        method: str,
    ) -> Responses:
        """Run ``later`` concurrently in one context shared by them, copied
        back into the caller's at the end; settle their outcomes."""
        shared = contextvars.copy_context()
        receivers = [receiver for receiver, _, _ in later]
        outcomes: list[Any] = [None] * len(later)
        runner = open_runner(outcomes, receivers, shared)
        errors = runner.errors
        try:
            try:
                for index, (receiver, policy, is_async) in enumerate(later):
                    try:
                        if is_async:
                            coro = receiver(signal=self, sender=sender, **named)
                        else:
                            coro = self._run_in_thread(
                                functools.partial(
                                    receiver, signal=self, sender=sender, **named
                                )
                            )
                    except Exception as error:
                        errors[index] = error
                        continue
                    runner.start(coro, index, policy.timeout)
            except BaseException:
                await _dispatch._abort(runner, receivers, method)
                raise
            if runner.waiting:
                await _dispatch._wait(runner, receivers, method)
        finally:
            copy_back(shared)
        try:
            if not errors:
                return list(zip(receivers, outcomes, strict=True))
            if robust:
                for index in sorted(errors):
                    outcomes[index] = errors[index]
                    _log_robust_failure(receivers[index], errors[index])
                return list(zip(receivers, outcomes, strict=True))
            if len(errors) == 1:
                (only,) = errors.values()
                raise only
            raise ExceptionGroup(
                f"{len(errors)} receivers raised in {method}()",
                [errors[index] for index in sorted(errors)],
            )
        finally:
            receivers.clear()
            outcomes.clear()

    async def _run_in_thread(self, call: Callable[[], Any]) -> Any:
        if not asyncio_running():
            raise RuntimeError(
                "asyncsignal.django.Signal.asend() runs sync receivers through "
                "asgiref's sync_to_async, which needs asyncio; on trio use "
                "asyncsignal.Signal(thread=True)"
            )
        return await sync_to_async(call, thread_sensitive=True)()


_LIVE_RECEIVERS = Signal._live_receivers
_NO_POLICY = Policy()


def _call_in_turn(
    signal: Signal,
    receivers: list[Callable[..., Any]],
    sender: object,
    named: dict[str, Any],
    robust: bool,
) -> Responses:
    """Call sync receivers in order; ``robust``: an exception is the response."""
    responses: Responses = []
    for each in receivers:
        if not robust:
            responses.append((each, each(signal=signal, sender=sender, **named)))
            continue
        try:
            response = each(signal=signal, sender=sender, **named)
        except Exception as error:
            _log_robust_failure(each, error)
            responses.append((each, error))
        else:
            responses.append((each, response))
    return responses


def _log_robust_failure(receiver: object, error: BaseException) -> None:
    logger.error(
        "Error calling %s in Signal.send_robust() (%s)",
        getattr(receiver, "__qualname__", None) or describe(receiver),
        error,
        exc_info=error,
    )


def _check_receiver(receiver: object) -> bool:
    """``check_receiver``, its errors led by Django's sentence."""
    try:
        return check_receiver(receiver)
    except (TypeError, ValueError) as error:
        lead = (
            "Signal receivers must be callable."
            if isinstance(error, TypeError)
            else "Signal receivers must accept keyword arguments (**kwargs)."
        )
        raise type(error)(f"{lead} {error}") from None


def _debug() -> bool:
    from django.conf import settings

    return bool(settings.configured and settings.DEBUG)


def _taking_policies(connect: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(connect)
    def connect_with_policies(
        self: Signal,
        receiver: Any,
        *args: Any,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
        **kwargs: Any,
    ) -> Any:
        if thread is not None or timeout is not None or once:
            # Checked now, applied when the subclass reaches Signal.connect
            # (at once, or when a lazy sender's model is loaded).
            resolve_policy(
                receiver,
                is_async_callable(receiver),
                thread,
                timeout,
                once,
                self.thread,
                self.timeout,
            )
            with _PENDING_LOCK:
                _pending_policies[(id(self), id(receiver))] = (
                    receiver,
                    thread,
                    timeout,
                    once,
                )
        return connect(self, receiver, *args, **kwargs)

    return connect_with_policies


class _Entry(tuple):  # type: ignore[type-arg]
    """One item of Django's ``receivers`` list, knowing its registration."""

    registry: Registry
    registration: Registration
    held: object

    @classmethod
    def of(cls, registry: Registry, registration: Registration, held: object) -> _Entry:
        key = registration.key
        if isinstance(key, tuple) and len(key) == 2 and key[0] == "dispatch_uid":
            key = key[1]
        sender_id = registration.sender_key or id(None)
        reference: Any = (
            registration if isinstance(registration, weakref.ref) else registration()
        )
        sender_ref = held if isinstance(held, weakref.ref) else None
        entry = cls(((key, sender_id), reference, sender_ref, registration.is_async))
        entry.registry = registry
        entry.registration = registration
        entry.held = held
        return entry


class _SenderReceiversCache:
    """Django's ``sender_receivers_cache``: what code that bypasses
    ``connect`` clears."""

    __slots__ = ("_registry",)

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def clear(self) -> None:
        self._registry.cache = {}

    def __len__(self) -> int:
        return len(self._registry.cache)

    def __repr__(self) -> str:
        return f"<sender_receivers_cache: {len(self)} senders>"


# -- install() ---------------------------------------------------------------------


def install() -> None:
    """Make ``django.dispatch.Signal`` this module's :class:`Signal`, so that the
    signals Django and every app define (``post_save``, ``request_finished``,
    ``user_logged_in``...) are asyncsignal signals.

    Call it first thing in ``manage.py``, ``asgi.py`` and ``wsgi.py``, before
    anything imports Django's signals (``django.setup()``, settings that import
    models, ``django.db``). Calling it again does nothing. It changes nothing
    in how a send runs: the signals are simply created as this class.

    :raises RuntimeError: a ``django.dispatch.Signal`` was already created
        (the error names where); those signals would stay Django's.
    """
    dispatch = sys.modules.get("django.dispatch")
    if dispatch is not None and dispatch.Signal is Signal:
        return
    import django.dispatch
    import django.dispatch.dispatcher

    original = django.dispatch.dispatcher.Signal
    if original is not Signal:  # type: ignore[comparison-overlap]
        early = _signals_created_from(original)
        if early:
            raise RuntimeError(
                "asyncsignal.django.install() was called after Django created "
                f"its signals ({', '.join(early[:5])}"
                f"{', ...' if len(early) > 5 else ''}); call it first thing in "
                "manage.py, asgi.py and wsgi.py, before django.setup() and "
                "before anything imports django.db or a model"
            )
    django.dispatch.Signal = Signal  # type: ignore[misc,assignment]
    django.dispatch.dispatcher.Signal = Signal  # type: ignore[misc,assignment]


def _signals_created_from(original: type) -> list[str]:
    """Module-level signals made from ``original`` (Django's class)."""
    found = []
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attribute, value in list(namespace.items()):
            if isinstance(value, original):
                found.append(f"{name}.{attribute}")
    return sorted(found)
