"""The public surface of the package: names, modules, typing marker, reprs."""

from __future__ import annotations

import importlib.resources
import inspect
import types
import weakref
from typing import Any

import pytest

import asyncsignal
from asyncsignal import AsyncSignal, Receivers, Signal, receiver

PUBLIC_NAMES = {
    "AsyncSignal",
    "Event",
    "Observer",
    "ReceiverTimeout",
    "Receivers",
    "Signal",
    "Subscription",
    "TypedSignal",
    "WeakReceiverWarning",
    "add_observer",
    "define",
    "receiver",
    "remove_observer",
}
#: Public submodules, bound on the package once imported.
SUBMODULES = {"bridge", "django", "opentelemetry", "testing"}


def _public_names(module: types.ModuleType) -> set[str]:
    """Every name without a leading underscore that the module binds (what
    ``dir()`` and tab completion show), but its submodules."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_only_documented_submodules_are_public() -> None:
    submodules = {
        name
        for name, value in vars(asyncsignal).items()
        if not name.startswith("_") and isinstance(value, types.ModuleType)
    }
    assert submodules <= SUBMODULES


def test_all_is_a_tuple_of_exactly_the_public_names() -> None:
    assert type(asyncsignal.__all__) is tuple
    assert len(asyncsignal.__all__) == len(set(asyncsignal.__all__))
    assert set(asyncsignal.__all__) == PUBLIC_NAMES


def test_module_binds_no_public_name_outside_all() -> None:
    # e.g. ``from __future__ import annotations`` binds ``annotations``.
    assert _public_names(asyncsignal) == set(asyncsignal.__all__)


def test_star_import_exports_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from asyncsignal import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == PUBLIC_NAMES
    assert all(namespace[name] is getattr(asyncsignal, name) for name in namespace)


def test_every_public_object_reports_the_package_as_its_module() -> None:
    modules = {
        name: getattr(asyncsignal, name).__module__ for name in asyncsignal.__all__
    }
    assert modules == dict.fromkeys(PUBLIC_NAMES, "asyncsignal")


def test_the_bridge_module_exports_its_classes_under_its_public_path() -> None:
    import asyncsignal.bridge as bridge

    assert bridge.__all__ == ("Bridge", "RemoteSender")
    assert bridge.Bridge.__module__ == "asyncsignal.bridge"
    assert bridge.RemoteSender.__module__ == "asyncsignal.bridge"
    # Documented in Bridge's docstring: it stays importable from there.
    assert bridge.SIGNED_MAX_AGE == 300.0


def test_public_objects_are_the_expected_kinds() -> None:
    assert inspect.isclass(AsyncSignal)
    assert inspect.isclass(Receivers)
    assert inspect.isfunction(receiver)
    assert Signal is AsyncSignal
    assert isinstance(Signal(), AsyncSignal)


def test_package_has_a_version_string() -> None:
    assert isinstance(asyncsignal.__version__, str)
    assert asyncsignal.__version__.count(".") >= 1


def test_py_typed_marker_is_shipped() -> None:
    marker = importlib.resources.files("asyncsignal").joinpath("py.typed")
    assert marker.is_file()


def test_signal_repr_includes_its_name_and_receiver_count() -> None:
    signal = AsyncSignal(name="post_save")

    def handler(**kwargs: Any) -> None:
        """Never called."""

    assert repr(signal) == "<AsyncSignal 'post_save' with 0 receivers>"
    signal.connect(handler)
    assert "'post_save'" in repr(signal)
    assert "1 receivers" in repr(signal)


def test_signal_repr_without_name() -> None:
    assert repr(AsyncSignal()) == "<AsyncSignal with 0 receivers>"


def test_receivers_repr_lists_the_receivers() -> None:
    signal = AsyncSignal()

    def handler(**kwargs: Any) -> None:
        """Never called."""

    signal.connect(handler)
    assert repr(signal.receivers) == f"<Receivers: [{handler!r}]>"


def test_signal_instances_do_not_accept_arbitrary_attributes() -> None:
    # __slots__: a typo such as ``signal.recievers = ...`` fails loudly.
    signal = AsyncSignal()
    with pytest.raises(AttributeError, match="recievers"):
        signal.recievers = []  # type: ignore[attr-defined]


def test_signals_are_weakly_referenceable() -> None:
    signal = AsyncSignal()
    assert weakref.ref(signal)() is signal


# -- construction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("providing_args", "expected"),
    [
        (None, frozenset()),
        ([], frozenset()),
        (["instance", "created"], frozenset({"instance", "created"})),
        (("toppings", "size", "size"), frozenset({"toppings", "size"})),
        ((name for name in ["a", "b"]), frozenset({"a", "b"})),
    ],
    ids=["none", "empty-list", "list", "tuple-with-duplicate", "generator"],
)
def test_providing_args_is_kept_as_a_frozenset(
    providing_args: Any, expected: frozenset[str]
) -> None:
    signal = AsyncSignal(providing_args)
    assert signal.providing_args == expected
    assert type(signal.providing_args) is frozenset


def test_signal_accepts_use_caching_and_name() -> None:
    signal = AsyncSignal(use_caching=True, name="post_save")
    assert signal.use_caching is True
    assert signal.name == "post_save"
