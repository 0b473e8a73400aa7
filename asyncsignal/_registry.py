"""Where receivers are stored: registrations, weak references and the sender index.

Registrations live in one insertion-ordered dict per sender key, so ``connect`` and
``disconnect`` are O(1). Dispatch never filters: it reads a precomputed *plan* per
sender (the matching registrations in connection order) from a cache that needs no
lock. Any change to the registrations replaces the cache. A weak-reference
callback queues the dead key, replaces the cache and purges at once only if the
lock is free: it never waits, so it is safe to run from the garbage collector
in any thread, even one that holds the lock.
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref
from collections.abc import Callable, Hashable
from types import MethodType
from typing import TYPE_CHECKING, Any, NamedTuple

from ._callables import describe
from ._policies import ASYNC, DEFAULT_POLICY, POLICY, SYNC

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from typing_extensions import Self

    from ._policies import Policy

__all__ = ("ANY_SENDER", "Plan", "Registration", "Registry")

Receiver = Callable[..., Any]
ReceiverKey = Hashable
SenderKey = int

#: Sender key of registrations made with ``sender=None``; ``id()`` is never 0.
ANY_SENDER: SenderKey = 0

#: Past this many cached plans the cache is emptied: plans are cached by sender
#: id, and a program may send from an unbounded stream of short-lived senders.
_CACHE_LIMIT = 4096


_FIELDS = ("is_async", "key", "kind", "policy", "sender_key", "seq")


class _Registration:
    """What every registration knows besides its receiver, set complete at
    creation (``seq`` is its position, assigned under the registry's lock)."""

    # Each concrete class declares the slots: a weakref.ref subclass cannot
    # share a base that has any. The type checker sees them here.
    __slots__ = _FIELDS if TYPE_CHECKING else ()

    key: ReceiverKey
    sender_key: SenderKey
    is_async: bool
    policy: Policy
    kind: int
    seq: int

    def __init__(
        self,
        receiver: Receiver,
        callback: Any,
        key: ReceiverKey,
        sender_key: SenderKey,
        is_async: bool,
        policy: Policy,
    ) -> None:
        self.key = key
        self.sender_key = sender_key
        self.is_async = is_async
        self.policy = policy
        self.kind = _kind(is_async, policy)
        self.seq = -1


class _WeakRegistration(_Registration, weakref.ref[Receiver]):
    """A receiver held weakly; calling it returns the receiver or ``None``."""

    __slots__ = _FIELDS

    def __new__(cls, receiver: Receiver, callback: Any, *_: Any) -> Self:
        return weakref.ref.__new__(cls, receiver, callback)


class _WeakMethodRegistration(_Registration, weakref.WeakMethod[Any]):
    """A bound method held weakly (through its instance and its function)."""

    __slots__ = _FIELDS

    def __new__(cls, receiver: Receiver, callback: Any, *_: Any) -> Self:
        return weakref.WeakMethod.__new__(cls, receiver, callback)


class _StrongRegistration(_Registration, functools.partial[Receiver]):
    """A receiver held strongly (``weak=False``); calling it returns the
    receiver, as calling a weak one does.

    It is ``partial(next, repeat(receiver))``: a send calls every registration,
    and this call runs in C as a weak reference's does, where a Python
    ``__call__`` costs a frame per receiver (W2 with strong receivers: 0.49 ->
    0.40 x Django for asyncsignal.django's send)."""

    __slots__ = _FIELDS

    def __new__(cls, receiver: Receiver, *_: Any) -> Self:
        return functools.partial.__new__(cls, next, itertools.repeat(receiver))


def _kind(is_async: bool, policy: Policy) -> int:
    if policy is not DEFAULT_POLICY:
        return POLICY
    return ASYNC if is_async else SYNC


Registration = _WeakRegistration | _WeakMethodRegistration | _StrongRegistration


class Plan(NamedTuple):
    """What dispatch reads for one sender."""

    #: The matching live registrations, in connection order.
    registrations: tuple[Registration, ...]
    #: Some receiver is async: ``send`` needs an event loop for it.
    has_async: bool
    #: Every receiver is sync and may be called repeatedly (no ``once``): the
    #: generated fast callers apply under ``send``.
    inline_only: bool
    #: Every receiver is a plain sync one (no policy): ``asend`` needs no
    #: runner, it calls them in turn.
    plain_sync: bool


_NO_RECEIVERS = Plan((), False, True, True)


def _receiver_key(receiver: Receiver, dispatch_uid: Hashable | None) -> ReceiverKey:
    if dispatch_uid is not None:
        try:
            hash(dispatch_uid)
        except TypeError:
            raise TypeError(
                "dispatch_uid must be hashable, got "
                f"{type(dispatch_uid).__name__} {dispatch_uid!r}"
            ) from None
    # A falsy uid ("" or 0) identifies nothing, as in Django: the receiver does.
    if dispatch_uid:
        # Tagged so that a uid can never equal the id-based key of a receiver.
        return ("dispatch_uid", dispatch_uid)
    if isinstance(receiver, MethodType):
        # A bound method is a new object on every attribute access; identify it
        # by its instance and function instead.
        return (id(receiver.__self__), id(receiver.__func__))
    return id(receiver)


def _sender_key(sender: object) -> SenderKey:
    return ANY_SENDER if sender is None else id(sender)


class Registry:
    """The registrations of one signal.

    Thread-safe: mutations hold a lock; ``cache`` is read without one.
    """

    __slots__ = (
        "__weakref__",
        "_dead",
        "_lock",
        "_receiver_died",
        "_sender_died",
        "_senders",
        "_seq",
        "by_sender",
        "cache",
        "muted",
    )

    def __init__(self) -> None:
        #: sender key -> {receiver key: registration}, each in connection order.
        #: Mutated in place under the lock; empty exactly when nothing is
        #: connected, which the signal checks without a lock.
        self.by_sender: dict[SenderKey, dict[ReceiverKey, Registration]] = {}
        #: sender key -> the sender: a weak reference where it can be one, so a
        #: dead sender's registrations are dropped before its id is reused.
        self._senders: dict[SenderKey, object] = {}
        #: keys whose receiver or sender died, not yet purged (under the lock).
        self._dead: list[tuple[SenderKey, ReceiverKey | None]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()
        #: sender id -> plan; read without a lock, replaced (never mutated in
        #: place by a writer other than the lock holder) on every change.
        self.cache: dict[SenderKey, Plan] = {}
        #: How many ``asyncsignal.testing.muted`` blocks are active: while
        #: any is, every plan is empty.
        self.muted: int = 0
        # Bound once and shared: a bound method per weak reference costs memory.
        self._receiver_died = self._on_receiver_death
        self._sender_died = self._on_sender_death

    # -- weak-reference callbacks (any thread, possibly inside the GC) --------

    def _on_receiver_death(self, registration: Any) -> None:
        self._dead.append((registration.sender_key, registration.key))
        self._purge_soon()

    def _on_sender_death(self, sender_ref: Any) -> None:
        self._dead.append((sender_ref.sender_key, None))
        self._purge_soon()

    def _purge_soon(self) -> None:
        self.cache = {}
        # Purge now if the lock is free, so that a dead sender's strongly held
        # receivers are released with it; never wait for the lock: this may
        # run inside the garbage collector while this very thread holds it,
        # in which case the holder purges before its next read.
        if self._lock.acquire(blocking=False):
            try:
                self._purge_dead()
            finally:
                self._lock.release()

    # -- mutations (under the lock) -------------------------------------------

    def connect(
        self,
        receiver: Receiver,
        sender: object,
        weak: bool,
        dispatch_uid: Hashable | None,
        is_async: bool,
        policy: Policy,
    ) -> None:
        """Register a checked ``receiver`` for ``sender``; a second registration
        with the same receiver (or ``dispatch_uid``) and sender is ignored, so
        the first one keeps its place and its policy.

        :raises TypeError: unhashable ``dispatch_uid``, or ``weak=True`` for a
            receiver that cannot be weakly referenced.
        """
        key = _receiver_key(receiver, dispatch_uid)
        sender_key = _sender_key(sender)
        registration = self._new_registration(
            receiver, weak, key, sender_key, is_async, policy
        )
        with self._lock:
            self._purge_dead()
            group = self.by_sender.get(sender_key)
            if group is None:
                group = self.by_sender[sender_key] = {}
                if sender_key != ANY_SENDER:
                    self._senders[sender_key] = self._hold_sender(sender, sender_key)
            else:
                existing = group.get(key)
                # A dead registration whose callback has not run yet (the GC is
                # busy in another thread) must not block its replacement.
                if existing is not None:
                    if existing() is not None:
                        return
                    del group[key]
            registration.seq = next(self._seq)
            group[key] = registration
            self.cache = {}

    def _new_registration(
        self,
        receiver: Receiver,
        weak: bool,
        key: ReceiverKey,
        sender_key: SenderKey,
        is_async: bool,
        policy: Policy,
    ) -> Registration:
        if not weak:
            return _StrongRegistration(
                receiver, None, key, sender_key, is_async, policy
            )
        kind = (
            _WeakMethodRegistration
            if isinstance(receiver, MethodType)
            else _WeakRegistration
        )
        try:
            return kind(
                receiver, self._receiver_died, key, sender_key, is_async, policy
            )
        except TypeError:
            # For a bound method it is the instance that cannot be referenced.
            target = receiver.__self__ if isinstance(receiver, MethodType) else receiver
            raise TypeError(
                f"receiver {describe(receiver)} cannot be weakly referenced "
                f"({type(target).__name__} objects do not support weak "
                "references); connect it with weak=False"
            ) from None

    def _hold_sender(self, sender: object, sender_key: SenderKey) -> object:
        try:
            sender_ref = _SenderRef(sender, self._sender_died)
        except TypeError:
            # Not weakly referenceable (an int, a plain object()): hold it, so
            # its id cannot be reused while registrations are keyed by it.
            return sender
        sender_ref.sender_key = sender_key
        return sender_ref

    def disconnect(
        self, receiver: Receiver | None, sender: object, dispatch_uid: Hashable | None
    ) -> bool:
        """Remove one registration; return whether there was one."""
        if receiver is None and dispatch_uid is None:
            raise TypeError(
                "disconnect() needs the receiver or its dispatch_uid, got neither"
            )
        key = _receiver_key(receiver, dispatch_uid)  # type: ignore[arg-type]
        sender_key = _sender_key(sender)
        with self._lock:
            self._purge_dead()
            group = self.by_sender.get(sender_key)
            if group is None or group.pop(key, None) is None:
                return False
            if not group:
                self._drop_sender(sender_key)
            self.cache = {}
            return True

    def senders(self) -> tuple[object, ...]:
        """The live senders that registrations are made for (not ``None``)."""
        with self._lock:
            self._purge_dead()
            held = tuple(self._senders.values())
        live = (s() if isinstance(s, _SenderRef) else s for s in held)
        return tuple(s for s in live if s is not None)

    def purge(self) -> None:
        """Drop the registrations whose receiver or sender has died."""
        with self._lock:
            self._purge_dead()

    def entries(self) -> list[tuple[Registration, object]]:
        """Every registration with what holds its sender (``None`` for any
        sender; a weak reference, or the sender itself), in connection order:
        what :meth:`replace` takes back."""
        with self._lock:
            registrations = self._in_connection_order()
            return [(r, self._senders.get(r.sender_key)) for r in registrations]

    def replace(self, entries: Iterable[tuple[Registration, object]]) -> None:
        """Make ``entries`` (read from :meth:`entries` of this registry) the
        registrations, in their order; dead ones and repeats are left out.

        For code that saves the registrations and puts them back (muting a
        signal the way Django's ``receivers`` list allows)."""
        with self._lock:
            self._purge_dead()
            # In place: the signal reads by_sender without the lock.
            self.by_sender.clear()
            self._senders.clear()
            for registration, held in entries:
                if registration() is None or (
                    isinstance(held, _SenderRef) and held() is None
                ):
                    continue
                group = self.by_sender.setdefault(registration.sender_key, {})
                if registration.key in group:
                    continue
                if held is not None:
                    self._senders[registration.sender_key] = held
                registration.seq = next(self._seq)
                group[registration.key] = registration
            self.cache = {}

    def mute(self, by: int) -> None:
        """Enter (``by=1``) or leave (``by=-1``) a muted block."""
        with self._lock:
            self.muted += by
            self.cache = {}

    def claim(self, registration: Registration) -> bool:
        """Remove a ``once`` registration before its call; return whether this
        caller removed it (exactly one concurrent sender does)."""
        with self._lock:
            group = self.by_sender.get(registration.sender_key)
            if group is None or group.get(registration.key) is not registration:
                return False
            del group[registration.key]
            if not group:
                self._drop_sender(registration.sender_key)
            self.cache = {}
            return True

    def _drop_sender(self, sender_key: SenderKey) -> None:
        del self.by_sender[sender_key]
        self._senders.pop(sender_key, None)

    def _purge_dead(self) -> None:
        # Called with the lock held. Pops one at a time: callbacks may append
        # concurrently.
        dead = self._dead
        while dead:
            sender_key, key = dead.pop()
            group = self.by_sender.get(sender_key)
            if group is None:
                continue
            if key is None:
                self._drop_sender(sender_key)
                continue
            registration = group.get(key)
            if registration is not None and registration() is None:
                del group[key]
                if not group:
                    self._drop_sender(sender_key)

    # -- reads ----------------------------------------------------------------

    def compute_plan(self, sender: object) -> Plan:
        """Build and cache the plan for ``sender`` (the cache-miss path)."""
        # Take the cache before computing: if a weak-reference callback
        # replaces it meanwhile, the possibly stale plan is stored in the
        # discarded dict, never in the live one.
        cache = self.cache
        with self._lock:
            self._purge_dead()
            any_group = self.by_sender.get(ANY_SENDER)
            own_group = None if sender is None else self.by_sender.get(id(sender))
            if own_group is None:
                registrations = tuple(any_group.values()) if any_group else ()
            elif any_group is None:
                registrations = tuple(own_group.values())
            else:
                registrations = tuple(
                    sorted(
                        itertools.chain(any_group.values(), own_group.values()),
                        key=_by_seq,
                    )
                )
        live = () if self.muted else tuple(r for r in registrations if r() is not None)
        plan = (
            Plan(
                live,
                any(r.is_async for r in live),
                all(not r.is_async and not r.policy.once for r in live),
                all(r.kind is SYNC for r in live),
            )
            if live
            else _NO_RECEIVERS
        )
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[id(sender)] = plan
        return plan

    def _in_connection_order(self) -> list[Registration]:
        """Every live registration, in connection order (the lock held)."""
        self._purge_dead()
        return sorted(
            itertools.chain.from_iterable(g.values() for g in self.by_sender.values()),
            key=_by_seq,
        )

    def __iter__(self) -> Iterator[Receiver]:
        """Live receivers of every registration, in connection order."""
        with self._lock:
            registrations = self._in_connection_order()
        for registration in registrations:
            receiver = registration()
            if receiver is not None:
                yield receiver

    def __len__(self) -> int:
        with self._lock:
            self._purge_dead()
            return sum(
                registration() is not None
                for group in self.by_sender.values()
                for registration in group.values()
            )


class _SenderRef(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("sender_key",)

    sender_key: SenderKey


def _by_seq(registration: Registration) -> int:
    return registration.seq
