"""The library's own exception and warning types."""

from __future__ import annotations

from typing import Any

from ._callables import describe

__all__ = ("ReceiverTimeout", "WeakReceiverWarning")


class ReceiverTimeout(TimeoutError):
    """A receiver connected with ``timeout=`` did not finish in time.

    It is that receiver's outcome: raised by ``asend`` (alone or in the
    ``ExceptionGroup``) once the other receivers have finished, or returned as
    its response by ``*_robust``.

    :ivar receiver: the receiver that timed out.
    :ivar timeout: the limit it exceeded, in seconds.
    """

    def __init__(self, receiver: Any, timeout: float) -> None:
        super().__init__(
            f"receiver {describe(receiver)} did not finish within {timeout:g} s"
        )
        self.receiver = receiver
        self.timeout = timeout

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.receiver, self.timeout))


class WeakReceiverWarning(UserWarning):
    """A receiver connected weakly would be collected at once and never called:
    a ``lambda`` or a ``functools.partial`` that nothing else references."""
