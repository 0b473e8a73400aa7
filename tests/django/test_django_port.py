"""The usage patterns of Django's signals documentation, unchanged.

Each test is written as a Django project would write it against
``django.dispatch``, with only the import swapped for
``from asyncsignal import Signal, receiver``. The signals are created per test
(a project would define them once, at module level) so that tests stay
independent.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from asyncsignal import Signal, receiver

# -- "Listening to signals" ---------------------------------------------------


def test_my_callback_receiver_connected_with_connect() -> None:
    request_finished = Signal()
    messages: list[str] = []

    def my_callback(sender: Any, **kwargs: Any) -> None:
        messages.append("Request finished!")

    request_finished.connect(my_callback)

    class WSGIHandler:
        pass

    responses = request_finished.send(sender=WSGIHandler, environ={})
    assert messages == ["Request finished!"]
    assert responses == [(my_callback, None)]


def test_my_callback_receiver_connected_with_the_receiver_decorator() -> None:
    request_finished = Signal()
    messages: list[str] = []

    @receiver(request_finished)
    def my_callback(sender: Any, **kwargs: Any) -> None:
        messages.append("Request finished!")

    request_finished.send(sender=None)
    assert messages == ["Request finished!"]
    assert list(request_finished.receivers) == [my_callback]


def test_receiver_decorator_on_a_list_of_signals() -> None:
    request_started = Signal()
    request_finished = Signal()
    seen: list[tuple[str, object]] = []

    @receiver([request_started, request_finished])
    def my_callback(sender: Any, **kwargs: Any) -> None:
        seen.append(("request", sender))

    class Handler:
        pass

    request_started.send(sender=Handler, environ={})
    request_finished.send(sender=Handler)
    assert seen == [("request", Handler), ("request", Handler)]


def test_receiver_gets_the_signal_and_the_documented_arguments() -> None:
    request_finished = Signal()
    seen: list[dict[str, Any]] = []

    def my_callback(sender: Any, **kwargs: Any) -> None:
        seen.append({"sender": sender, **kwargs})

    request_finished.connect(my_callback)
    request_finished.send(sender="handler")
    assert seen == [{"sender": "handler", "signal": request_finished}]


# -- "Connecting to signals sent by specific senders" -------------------------


def test_pre_save_receiver_for_a_specific_model_class() -> None:
    pre_save = Signal(use_caching=True)
    handled: list[tuple[type, object]] = []

    class MyModel:
        def save(self) -> None:
            pre_save.send(sender=self.__class__, instance=self, raw=False)

    class OtherModel:
        def save(self) -> None:
            pre_save.send(sender=self.__class__, instance=self, raw=False)

    @receiver(pre_save, sender=MyModel)
    def my_handler(sender: Any, **kwargs: Any) -> None:
        handled.append((sender, kwargs["instance"]))

    mine, other = MyModel(), OtherModel()
    mine.save()
    other.save()
    assert handled == [(MyModel, mine)]
    assert pre_save.has_listeners(MyModel)
    assert not pre_save.has_listeners(OtherModel)


def test_post_save_receiver_with_named_instance_and_created_arguments() -> None:
    post_save = Signal()
    profiles: list[str] = []

    class User:
        def __init__(self, username: str) -> None:
            self.username = username

    @receiver(post_save, sender=User)
    def create_profile(sender: Any, instance: Any, created: Any, **kwargs: Any) -> None:
        if created:
            profiles.append(instance.username)

    post_save.send(sender=User, instance=User("ada"), created=True)
    post_save.send(sender=User, instance=User("ada"), created=False)
    post_save.send(sender=User, instance=User("bob"), created=True, update_fields=None)
    assert profiles == ["ada", "bob"]


# -- "Preventing duplicate signals" -------------------------------------------


def test_dispatch_uid_prevents_duplicate_registration() -> None:
    request_finished = Signal()
    calls: list[str] = []

    def my_callback(sender: Any, **kwargs: Any) -> None:
        calls.append("called")

    # Imported twice, e.g. from two modules: connected twice.
    request_finished.connect(my_callback, dispatch_uid="my_unique_identifier")
    request_finished.connect(my_callback, dispatch_uid="my_unique_identifier")
    request_finished.send(sender=None)
    assert calls == ["called"]
    assert len(request_finished.receivers) == 1


def test_dispatch_uid_prevents_duplicates_from_a_redefined_function() -> None:
    # The module is imported twice: each import defines a new function object.
    request_finished = Signal()
    calls: list[int] = []
    kept: list[Any] = []  # each import keeps its function alive

    for import_number in (1, 2):

        def my_callback(
            sender: Any, number: Any = import_number, **kwargs: Any
        ) -> None:
            calls.append(number)

        kept.append(my_callback)
        request_finished.connect(my_callback, dispatch_uid="my_unique_identifier")

    request_finished.send(sender=None)
    assert calls == [1]


# -- "Defining and sending signals" --------------------------------------------


def test_pizza_done_with_providing_args_and_the_pizza_store_sender() -> None:
    # Django < 4.0 documented providing_args; old projects still pass it.
    pizza_done = Signal(providing_args=["toppings", "size"])
    orders: list[tuple[type, list[str], str]] = []

    class PizzaStore:
        def send_pizza(self, toppings: Any, size: Any) -> None:
            pizza_done.send(sender=self.__class__, toppings=toppings, size=size)

    @receiver(pizza_done, sender=PizzaStore)
    def on_pizza_done(sender: Any, toppings: Any, size: Any, **kwargs: Any) -> None:
        orders.append((sender, toppings, size))

    assert pizza_done.providing_args == frozenset({"toppings", "size"})
    PizzaStore().send_pizza(toppings=["cheese", "olives"], size="large")
    assert orders == [(PizzaStore, ["cheese", "olives"], "large")]


def test_pizza_done_without_providing_args() -> None:
    pizza_done = Signal()
    orders: list[dict[str, Any]] = []

    class PizzaStore:
        def send_pizza(self, toppings: Any, size: Any) -> None:
            pizza_done.send(sender=self.__class__, toppings=toppings, size=size)

    def on_pizza_done(sender: Any, **kwargs: Any) -> None:
        orders.append(kwargs)

    pizza_done.connect(on_pizza_done)
    PizzaStore().send_pizza(["ham"], "small")
    assert orders == [{"signal": pizza_done, "toppings": ["ham"], "size": "small"}]


def test_send_returns_a_list_of_receiver_response_tuples() -> None:
    pizza_done = Signal()

    def first(sender: Any, **kwargs: Any) -> str:
        return "first"

    def second(sender: Any, **kwargs: Any) -> str:
        return "second"

    pizza_done.connect(first)
    pizza_done.connect(second)
    assert pizza_done.send(sender=None) == [(first, "first"), (second, "second")]


def test_send_robust_returns_the_error_instance_as_the_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pizza_done = Signal()

    def broken_oven(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("oven is broken")

    def notify_customer(sender: Any, **kwargs: Any) -> str:
        return "notified"

    pizza_done.connect(broken_oven)
    pizza_done.connect(notify_customer)
    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        responses = pizza_done.send_robust(sender=None, toppings=[], size="small")
    (oven, error), (customer, response) = responses
    assert oven is broken_oven
    assert isinstance(error, RuntimeError)
    assert str(error) == "oven is broken"
    assert error.__traceback__ is not None
    assert (customer, response) == (notify_customer, "notified")
    assert [record.levelno for record in caplog.records] == [logging.ERROR]


def test_send_raises_the_receivers_error() -> None:
    pizza_done = Signal()

    def broken_oven(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("oven is broken")

    pizza_done.connect(broken_oven)
    with pytest.raises(RuntimeError, match="oven is broken"):
        pizza_done.send(sender=None)


# -- "Disconnecting signals" ---------------------------------------------------


def test_disconnect_returns_whether_a_receiver_was_disconnected() -> None:
    request_finished = Signal()
    calls: list[str] = []

    def my_callback(sender: Any, **kwargs: Any) -> None:
        calls.append("called")

    request_finished.connect(my_callback)
    assert request_finished.disconnect(my_callback) is True
    assert request_finished.disconnect(my_callback) is False
    request_finished.send(sender=None)
    assert calls == []


def test_disconnect_with_sender_and_dispatch_uid() -> None:
    pre_save = Signal()
    calls: list[str] = []

    class MyModel:
        pass

    @receiver(pre_save, sender=MyModel, dispatch_uid="my_handler")
    def my_handler(sender: Any, **kwargs: Any) -> None:
        calls.append("called")

    assert pre_save.disconnect(sender=MyModel, dispatch_uid="my_handler") is True
    pre_save.send(sender=MyModel)
    assert calls == []


# -- weak references (the ``weak`` argument of ``connect``) -------------------


def test_lambda_receiver_needs_weak_false() -> None:
    request_finished = Signal()
    calls: list[object] = []
    request_finished.connect(lambda sender, **kwargs: calls.append(sender), weak=False)
    request_finished.send(sender="handler")
    assert calls == ["handler"]


def test_method_receiver_of_an_app_config_like_object() -> None:
    request_finished = Signal()

    class MyAppConfig:
        def __init__(self) -> None:
            self.finished = 0

        def ready(self) -> None:
            request_finished.connect(self.on_request_finished)

        def on_request_finished(self, sender: Any, **kwargs: Any) -> None:
            self.finished += 1

    config = MyAppConfig()
    config.ready()
    request_finished.send(sender=None)
    request_finished.send(sender=None)
    assert config.finished == 2


# -- asynchronous receivers and asend ------------------------------------------


async def test_async_receiver_with_asend() -> None:
    request_finished = Signal()
    messages: list[str] = []

    async def my_callback(sender: Any, **kwargs: Any) -> None:
        await anyio.sleep(0.01)
        messages.append("Request finished!")

    request_finished.connect(my_callback)
    responses = await request_finished.asend(sender=None)
    assert messages == ["Request finished!"]
    assert responses == [(my_callback, None)]


async def test_sync_and_async_receivers_with_asend_robust() -> None:
    request_finished = Signal()

    def sync_callback(sender: Any, **kwargs: Any) -> str:
        return "sync"

    async def async_callback(sender: Any, **kwargs: Any) -> str:
        await anyio.sleep(0.001)
        return "async"

    request_finished.connect(sync_callback)
    request_finished.connect(async_callback)
    assert await request_finished.asend_robust(sender=None) == [
        (sync_callback, "sync"),
        (async_callback, "async"),
    ]


def test_async_receiver_with_send_from_sync_code() -> None:
    request_finished = Signal()
    messages: list[str] = []

    async def my_callback(sender: Any, **kwargs: Any) -> str:
        await anyio.sleep(0.001)
        messages.append("Request finished!")
        return "done"

    request_finished.connect(my_callback)
    assert request_finished.send(sender=None) == [(my_callback, "done")]
    assert messages == ["Request finished!"]
