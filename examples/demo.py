"""A tour of asyncsignal, run on asyncio and on trio: ``python3 dev.py demo``."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio

from asyncsignal import AsyncSignal, receiver

order_placed = AsyncSignal(name="order_placed")


class Shop:
    """A sender: receivers can listen to every sender or to one."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


downtown, airport = Shop("downtown"), Shop("airport")


@receiver(order_placed)
async def send_email(order_id: int, **kwargs: Any) -> str:
    await anyio.sleep(0.3)  # a slow mail server
    return f"email sent for order {order_id}"


@receiver(order_placed)
def count_order(order_id: int, **kwargs: Any) -> str:
    return "counter +1"  # sync receivers run inline, in order


@receiver(order_placed)
async def update_stock(order_id: int, **kwargs: Any) -> str:
    await anyio.sleep(0.2)
    return "stock updated"


@receiver(order_placed)
async def notify_warehouse(order_id: int, **kwargs: Any) -> str:
    await anyio.sleep(0.1)
    return "warehouse notified"


@receiver(order_placed, sender=airport)
async def print_boarding_voucher(order_id: int, **kwargs: Any) -> str:
    return "boarding voucher printed (airport only)"


async def flaky_loyalty_service(order_id: int, **kwargs: Any) -> str:
    raise ConnectionError("loyalty service is down")


async def tour(backend: str) -> None:
    print(f"\n=== on {backend} ===")

    print("1. Four receivers (0.3 s, instant, 0.2 s, 0.1 s) run concurrently:")
    started = time.perf_counter()
    responses = await order_placed.asend(downtown, order_id=1)
    elapsed = time.perf_counter() - started
    for fn, response in responses:
        print(f"   {fn.__name__:<24} -> {response}")
    print(f"   took {elapsed:.2f} s: the time of the slowest, not the 0.6 s sum;")
    print("   responses are in connection order, not completion order.")

    print("2. A receiver connected with sender=airport hears only the airport:")
    for shop in (downtown, airport):
        names = [fn.__name__ for fn, _ in await order_placed.asend(shop, order_id=2)]
        print(f"   from {shop!r:<9} -> {', '.join(names)}")

    print("3. asend_robust isolates a failing receiver:")
    order_placed.connect(flaky_loyalty_service)
    try:
        for fn, response in await order_placed.asend_robust(downtown, order_id=3):
            outcome = (
                f"failed: {response!r}" if isinstance(response, Exception) else "ok"
            )
            print(f"   {fn.__name__:<24} {outcome}")
    finally:
        order_placed.disconnect(flaky_loyalty_service)

    print("4. Cancelling asend cancels and awaits every running receiver:")
    cleaned_up: list[str] = []

    async def slow_report(**kwargs: Any) -> None:
        try:
            await anyio.sleep(10)
        finally:
            cleaned_up.append("slow_report")

    order_placed.connect(slow_report)
    started = time.perf_counter()
    with anyio.move_on_after(0.05) as scope:
        await order_placed.asend(downtown, order_id=4)
    elapsed = time.perf_counter() - started
    order_placed.disconnect(slow_report)
    print(f"   cancelled after {elapsed:.2f} s: {scope.cancelled_caught};")
    print(f"   cleaned up before asend returned: {cleaned_up}")


def main() -> None:
    # The failing receiver in step 3 is logged on "asyncsignal"; keep the
    # demo's output to the report.
    logging.getLogger("asyncsignal").addHandler(logging.NullHandler())
    logging.getLogger("asyncsignal").propagate = False
    for backend in ("asyncio", "trio"):
        anyio.run(tour, backend, backend=backend)


if __name__ == "__main__":
    main()
