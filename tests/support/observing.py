"""An observer that records what it is told (asyncsignal.add_observer), for
the core's and asyncsignal.django's observer tests."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

from asyncsignal import AsyncSignal, Observer

#: What the recording observer makes current for a receiver.
current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="-")


class Recorder(Observer):
    """Records every call; makes ``current`` name the receiver while it runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def log(self, *call: Any) -> None:
        with self.lock:
            self.calls.append(call)

    def send_started(
        self, signal: AsyncSignal, method: str, sender: Any, receivers: int
    ) -> Any:
        self.log("send_started", signal.name, method, sender, receivers)
        return ("send", signal.name)

    def send_ended(self, context: Any, error: BaseException | None) -> None:
        self.log("send_ended", context, type(error).__name__ if error else None)

    def receiver_started(self, send: Any, receiver: Any, how: str) -> Any:
        name = receiver.__name__
        self.log("receiver_started", send, name, how)
        return (name, current.set(name))

    def receiver_ended(
        self, context: Any, outcome: str, error: BaseException | None, duration: float
    ) -> None:
        name, token = context
        current.reset(token)
        assert duration >= 0
        self.log(
            "receiver_ended", name, outcome, type(error).__name__ if error else None
        )

    def events_dropped(self, signal: Any, subscription: Any, count: int) -> None:
        self.log("events_dropped", signal.name, subscription.dropped, count)

    def ended(self) -> dict[str, tuple[str, str | None]]:
        """receiver name -> (outcome, error type)."""
        return {c[1]: (c[2], c[3]) for c in self.calls if c[0] == "receiver_ended"}

    def hows(self) -> dict[str, str]:
        return {c[2]: c[3] for c in self.calls if c[0] == "receiver_started"}
