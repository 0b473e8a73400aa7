"""One run of a bridge (``async with bridge:``): the broker session, in the
event loop's runner or a helper thread's, and the dispatcher task delivering
incoming events, started together and stopped together."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

import anyio

from .._backends import SystemTask, asyncio_running, wakeup
from ._buffers import Inbox
from ._helper_thread import Runner
from ._session import serve

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._buffers import Outbox
    from ._envelope import Wire
    from ._incoming import Dispatcher
    from ._session import State
    from ._transports.base import Broker
    from ._urls import PublicUrl

__all__ = ("Run", "start_run")

logger = logging.getLogger("asyncsignal.bridge")


class Run(NamedTuple):
    """A started run: stop it with :meth:`stop`, once."""

    runner: Runner
    dispatcher: SystemTask
    outbox: Outbox
    timeout: float
    public_url: PublicUrl

    async def stop(self) -> None:
        """Close the broker session, then the outbox, then stop the
        dispatcher; shielded from cancellation, bounded by the timeout."""
        with anyio.CancelScope(shield=True):
            if not await self.runner.stop(self.timeout + 5):  # pragma: no cover
                logger.error(
                    "bridge %s: the broker connection did not close in time",
                    self.public_url,
                )
            self.outbox.close()
            await self.dispatcher.stop()


async def start_run(
    broker: Broker,
    wire: Wire,
    outbox: Outbox,
    state: State,
    dispatcher: Dispatcher,
    *,
    max_buffer_bytes: int,
    timeout: float,  # noqa: ASYNC109 (the bridge's setting, bounding several steps)
    public_url: PublicUrl,
    subscribe: Callable[[], None],
    unsubscribe: Callable[[], None],
) -> Run:
    """Start the session and the dispatcher, wait for the first connection
    attempt (bounded by ``timeout``), then ``subscribe`` the shared signals.
    If that raises (or is cancelled), ``unsubscribe`` and stop what started.
    """
    inbox = Inbox(max_buffer_bytes, wire.echo_prefix)
    first_attempt = wakeup()
    runner = Runner(
        partial(
            serve, broker, outbox, inbox, state, timeout, public_url, first_attempt.set
        ),
        # redis.asyncio and nats-py need asyncio: on trio they get a loop of
        # their own in a helper thread.
        in_thread=not asyncio_running(),
    )
    # Made now, so that the dispatcher can cancel it: entered once started.
    dispatcher.new_block()
    task = SystemTask(
        partial(dispatcher.run, inbox), name="asyncsignal.bridge dispatcher"
    )
    run = Run(runner, task, outbox, timeout, public_url)
    runner.start()
    try:
        # The attempt is bounded by `timeout`; this bound is a safety net.
        with anyio.move_on_after(timeout + 5):
            await first_attempt.wait()
        subscribe()
    except BaseException:
        unsubscribe()
        await run.stop()
        raise
    return run
