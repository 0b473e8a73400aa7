"""Where receivers are stored: the sender index and the per-sender plan cache.

Registrations (``_registrations``) live in one insertion-ordered dict per
sender key, so ``connect`` and ``disconnect`` are O(1). Dispatch never
filters: it reads a precomputed *plan* per sender (``_plans``) from a cache
that needs no lock. Any change to the registrations replaces the cache. A
weak-reference callback queues the dead key, replaces the cache and purges at
once only if the lock is free: it never waits, so it is safe to run from the
garbage collector in any thread, even one that holds the lock.
"""

from __future__ import annotations

import itertools
import sys
import threading
from typing import TYPE_CHECKING, Any

from ._plans import NO_RECEIVERS, Plan, plan_of
from ._receivers import report_died_unused
from ._registrations import (
    ANY_SENDER,
    Registration,
    SenderRef,
    by_seq,
    hold_sender,
    new_registration,
    receiver_key,
    sender_key,
)

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Iterator

    from ._policies import Policy
    from ._registrations import Receiver, ReceiverKey, SenderKey

# Plan and Registration are named here too, for the modules that type what a
# registry hands out (asyncsignal.django).
__all__ = ("ANY_SENDER", "Plan", "Registration", "Registry")

#: Past this many cached plans the cache is emptied: plans are cached by sender
#: id, and a program may send from an unbounded stream of short-lived senders.
_CACHE_LIMIT = 4096


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
        if not registration.planned:
            self._report_unused(registration)
        self._dead.append((registration.sender_key, registration.key))
        self._purge_soon()

    def _report_unused(self, registration: Any) -> None:
        # A weakly held function that dies before any send included it was
        # most likely a nested function nothing else kept alive: say so,
        # unless it was disconnected first, it is a bound method (those die
        # with their instance by design) or the interpreter is exiting.
        label = getattr(registration, "label", None)
        group = self.by_sender.get(registration.sender_key)
        if (
            label is not None
            and group is not None
            and group.get(registration.key) is registration
            and not sys.is_finalizing()
        ):
            report_died_unused(*label)

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
        key = receiver_key(receiver, dispatch_uid)
        for_sender = sender_key(sender)
        registration = new_registration(
            receiver, weak, self._receiver_died, key, for_sender, is_async, policy
        )
        with self._lock:
            self._purge_dead()
            group = self.by_sender.get(for_sender)
            if group is None:
                group = self.by_sender[for_sender] = {}
                if for_sender != ANY_SENDER:
                    self._senders[for_sender] = hold_sender(
                        sender, for_sender, self._sender_died
                    )
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

    def disconnect(
        self, receiver: Receiver | None, sender: object, dispatch_uid: Hashable | None
    ) -> bool:
        """Remove one registration; return whether there was one."""
        if receiver is None and dispatch_uid is None:
            raise TypeError(
                "disconnect() needs the receiver or its dispatch_uid, got neither"
            )
        key = receiver_key(receiver, dispatch_uid)  # type: ignore[arg-type]
        for_sender = sender_key(sender)
        with self._lock:
            self._purge_dead()
            group = self.by_sender.get(for_sender)
            if group is None or group.pop(key, None) is None:
                return False
            if not group:
                self._drop_sender(for_sender)
            self.cache = {}
            return True

    def senders(self) -> tuple[object, ...]:
        """The live senders that registrations are made for (not ``None``)."""
        with self._lock:
            self._purge_dead()
            held = tuple(self._senders.values())
        live = (s() if isinstance(s, SenderRef) else s for s in held)
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
                    isinstance(held, SenderRef) and held() is None
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

    def _drop_sender(self, key: SenderKey) -> None:
        del self.by_sender[key]
        self._senders.pop(key, None)

    def _purge_dead(self) -> None:
        # Called with the lock held. Pops one at a time: callbacks may append
        # concurrently.
        dead = self._dead
        while dead:
            for_sender, key = dead.pop()
            group = self.by_sender.get(for_sender)
            if group is None:
                continue
            if key is None:
                self._drop_sender(for_sender)
                continue
            registration = group.get(key)
            if registration is not None and registration() is None:
                del group[key]
                if not group:
                    self._drop_sender(for_sender)

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
                        key=by_seq,
                    )
                )
        plan = NO_RECEIVERS if self.muted else plan_of(registrations)
        for registration in plan.registrations:
            registration.planned = True
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[id(sender)] = plan
        return plan

    def _in_connection_order(self) -> list[Registration]:
        """Every live registration, in connection order (the lock held)."""
        self._purge_dead()
        return sorted(
            itertools.chain.from_iterable(g.values() for g in self.by_sender.values()),
            key=by_seq,
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
