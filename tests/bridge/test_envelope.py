"""The bridge's envelope (``_envelope.py``, signed: ``_signing.py``), without a
server: every incoming
message is untrusted, so decoding either returns an event or raises
``Reject``, never anything else, within the limits, in bounded time."""

from __future__ import annotations

import datetime
import enum
import hashlib
import hmac
import json
import re
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asyncsignal.bridge._codecs import Codec
from asyncsignal.bridge._envelope import (
    MAX_ARGUMENTS,
    MAX_DEPTH,
    MAX_NAME,
    MAX_SEQ,
    Envelope,
    Wire,
    nesting_over,
)
from asyncsignal.bridge._reject import Reject
from asyncsignal.bridge._signing import keys_of, macs_of, sign, verify

ORIGIN = "0123456789abcdef" * 2
OTHER = "fedcba9876543210" * 2
MAX_BYTES = 256 * 1024


def message(wire: Wire, seq: int = 1, /, **kwargs: Any) -> bytes:
    """What a bridge with ``wire`` publishes for one send of ``order_placed``."""
    return wire.finish(wire.encode("order_placed", None, kwargs), seq)


def raw(**fields: Any) -> bytes:
    data: dict[str, Any] = {
        "v": 1,
        "origin": OTHER,
        "signal": "s",
        "sender": None,
        "kwargs": {},
        "seq": 1,
    }
    data.update(fields)
    return json.dumps(data).encode()


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_a_message_of_another_bridge_decodes_to_its_event() -> None:
    sent = message(Wire(ORIGIN, MAX_BYTES), 7, order_id=3)
    event = Wire(OTHER, MAX_BYTES).decode(sent)
    assert event == Envelope(ORIGIN, 7, "order_placed", None, {"order_id": 3})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x" * (MAX_BYTES + 1), "it is 262,145 bytes long, over max_event_bytes"),
        (raw(kwargs={"a": nested(MAX_DEPTH)}), "nests arrays and objects over 32"),
        (b"[" * 5000 + b"]" * 5000, "nests arrays and objects over 32 levels"),
        (raw(v=True), "its format version is True"),
        (raw(v=1.0), "its format version is 1.0"),
        (raw(v="1" * 1000), "its format version is '1111111111"),
        (raw(origin="x" * 100_000), "its origin 'xxxxxxx"),
        (raw(origin=ORIGIN.upper()), "is not 32 hex digits"),
        (raw(origin=ORIGIN + "0"), "is not 32 hex digits"),
        (raw(seq=0), "its seq 0 is not from 1 to 2**63 - 1"),
        (raw(seq=-1), "its seq -1 is not"),
        (raw(seq=MAX_SEQ + 1), "its seq 9223372036854775808 is not"),
        (b'{"v":1,"seq":1' + b"0" * 300 + b"}", "has no 'origin' field"),
        (b'{"v":1,"seq":1' + b"0" * 5000 + b"}", "it is not JSON: Exceeds the limit"),
        (raw(signal="s" * (MAX_NAME + 1)), "its signal name is over 256 characters"),
        (
            raw(kwargs={str(i): i for i in range(MAX_ARGUMENTS + 1)}),
            "it has over 256 payload arguments",
        ),
        (raw(kwargs={"k" * (MAX_NAME + 1): 1}), "a payload argument's name is over"),
        (raw(kwargs={"x": {"$codec": "n" * 10_000, "value": 1}}), "of codec 'nnnn"),
    ],
)
def test_what_breaks_a_limit_is_rejected_with_a_short_reason(
    data: bytes, reason: str
) -> None:
    with pytest.raises(Reject) as rejected:
        Wire(ORIGIN, MAX_BYTES).decode(data)
    assert reason in str(rejected.value)
    assert len(str(rejected.value)) < 300


def test_the_limits_hold_exactly_at_their_bounds() -> None:
    wire = Wire(ORIGIN, MAX_BYTES)
    deepest = raw(kwargs={"a": nested(MAX_DEPTH - 2)})  # in the envelope, kwargs
    assert not nesting_over(deepest, MAX_DEPTH)
    assert wire.decode(deepest).kwargs["a"] == nested(MAX_DEPTH - 2)
    widest = raw(
        signal="s" * MAX_NAME,
        seq=MAX_SEQ,
        kwargs={f"{i:0{MAX_NAME}}": i for i in range(MAX_ARGUMENTS)},
    )
    assert len(wire.decode(widest).kwargs) == MAX_ARGUMENTS
    assert wire.decode(raw() + b" " * (MAX_BYTES - len(raw()))).seq == 1


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    quoted = json.dumps({"a": "[" * 100 + '\\"{' * 100}).encode()
    assert not nesting_over(quoted, 2)
    assert nesting_over(b'{"a":[[1]]}', 2)
    assert not nesting_over(b'{"a":[[1]]}', 3)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
    )
)
def test_nesting_is_measured_as_json_parses_it(value: Any) -> None:
    def depth(item: Any) -> int:
        if isinstance(item, list):
            return 1 + max(map(depth, item), default=0)
        if isinstance(item, dict):
            return 1 + max(map(depth, item.values()), default=0)
        return 0

    data = json.dumps(value).encode()
    actual = depth(value)
    assert not nesting_over(data, actual)
    assert nesting_over(data, actual - 1) == (actual > 0)


def test_sends_are_held_to_the_limits_receivers_enforce() -> None:
    wire = Wire(ORIGIN, MAX_BYTES)
    with pytest.raises(TypeError, match="nests lists and dicts over 30 levels"):
        wire.encode("s", None, {"a": nested(MAX_DEPTH - 1)})
    assert wire.encode("s", None, {"a": nested(MAX_DEPTH - 2)})
    with pytest.raises(TypeError, match="it has 257 payload arguments, over the 256"):
        wire.encode("s", None, {str(i): i for i in range(MAX_ARGUMENTS + 1)})
    with pytest.raises(TypeError, match="has a name over 256 characters"):
        wire.encode("s", None, {"k" * (MAX_NAME + 1): 1})


def test_a_payload_argument_name_is_checked_at_any_message_size() -> None:
    # The check is skipped only where the message is too short to hold such
    # a name besides the fields: just over the limit, it holds.
    name = "x" * (MAX_NAME + 1)
    shortest = raw(signal="", sender=0, kwargs={name: 0}).replace(b" ", b"")
    with pytest.raises(Reject, match="a payload argument's name is over"):
        Wire(ORIGIN, MAX_BYTES).decode(shortest)
    assert Wire(ORIGIN, MAX_BYTES).decode(shortest.replace(b"x", b"", 1))
    # Signed: its time and its signature take more of the message.
    wire, (mac,) = Wire(ORIGIN, MAX_BYTES, keys_of("k")), macs_of(keys_of("k"))
    for key in (name, name[1:]):
        body = raw(signal="", sender=0, kwargs={key: 0}, t=1).replace(b" ", b"")
        signed = sign(mac, body[:-1])
        if key is name:
            with pytest.raises(Reject, match="a payload argument's name is over"):
                wire.decode(signed)
        else:
            assert wire.decode(signed).kwargs == {key: 0}


@settings(max_examples=200, deadline=None)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_payloads_encode_as_the_json_module_encodes_them(value: Any) -> None:
    wire = Wire(ORIGIN, MAX_BYTES)
    body = wire.encode("s", None, {"value": value})
    expected = json.dumps(
        {"value": value}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    assert f'"kwargs":{expected},"seq":'.encode() in body


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        # msgspec writes no float as json does, nor these: json decides.
        | st.sampled_from([1.5, 1e16, Decimal("1.5"), uuid.UUID(int=7)]),
        min_size=1,
        max_size=8,
    )
)
def test_msgspec_writes_a_payload_as_json_writes_it(kwargs: dict[str, Any]) -> None:
    fast, json_only = Wire(ORIGIN, MAX_BYTES), Wire(ORIGIN, MAX_BYTES, fast=False)
    assert fast.encode("s", None, kwargs) == json_only.encode("s", None, kwargs)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("\ud800", "surrogates not allowed"),  # json writes it, UTF-8 does not
        (10**4300, "Exceeds the limit"),  # the interpreter's digits limit
    ],
    ids=["lone surrogate", "int over the digits limit"],
)
def test_what_msgspec_does_not_write_json_refuses_alike(value: Any, error: str) -> None:
    for fast in (True, False):
        wire = Wire(ORIGIN, MAX_BYTES, fast=fast)
        with pytest.raises(TypeError, match=f"'bad' is not JSON-serialisable.*{error}"):
            wire.encode("s", None, {"ok": 1, "bad": value})
        if isinstance(value, str):  # in a name, not a value
            with pytest.raises(TypeError, match=f"it cannot be encoded: .*{error}"):
                wire.encode("s", None, {"ok": 1, value: 1})


def test_a_payload_json_cannot_hold_is_refused_naming_its_argument() -> None:
    loop: list[Any] = []
    loop.append(loop)
    wire = Wire(ORIGIN, MAX_BYTES)
    with pytest.raises(TypeError, match=r"'loop' is not JSON-serialisable \(Circular"):
        wire.encode("s", None, {"ok": 1, "loop": loop})
    with pytest.raises(
        TypeError, match=r"'nan' is not JSON-serialisable \(Out of range"
    ):
        wire.encode("s", None, {"nan": float("nan")})


# -- signing -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=200)
    | st.sampled_from([b"k" * 63, b"k" * 64, b"k" * 65]),
    data=st.binary(min_size=1, max_size=300),
)
def test_signatures_are_hmac_sha256_of_the_envelope(key: bytes, data: bytes) -> None:
    (mac,) = macs_of((key,))
    signed = sign(mac, data)
    expected = hmac.new(key, data, hashlib.sha256).hexdigest().encode()
    assert signed == data + b',"sig":"' + expected + b'"}'
    verify((mac,), signed)  # raises if not


def test_a_signed_message_verifies_with_any_listed_key_and_no_other() -> None:
    sent = message(Wire(ORIGIN, MAX_BYTES, keys_of("new")), order_id=1)
    assert sent.endswith(b'"}')
    assert re.search(rb',"t":\d{13},"seq":1,"sig":"[0-9a-f]{64}"}$', sent)
    rotating = Wire(OTHER, MAX_BYTES, keys_of(["old", b"new"]))
    event = rotating.decode(sent)
    assert event.kwargs == {"order_id": 1}
    assert event.sent_at is not None
    assert abs(event.sent_at / 1000 - time.time()) < 60
    # The unsigned read it too: the signature is one more field.
    assert Wire(OTHER, MAX_BYTES).decode(sent).kwargs == {"order_id": 1}
    with pytest.raises(Reject, match="its signature is not valid"):
        Wire(OTHER, MAX_BYTES, keys_of("old")).decode(sent)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data.replace(b'"order_id":1', b'"order_id":2'),
        lambda data: data.replace(b'"seq":1', b'"seq":2'),
        lambda data: data[:-10] + b"0" * 8 + data[-2:],
        lambda data: data[:-2] + b'","x":1}',
        lambda data: data[: data.rindex(b',"sig"')] + b"}",
        lambda data: b" " + data,
    ],
)
def test_a_tampered_or_unsigned_message_is_rejected_before_it_is_parsed(
    tamper: Any,
) -> None:
    sent = message(Wire(ORIGIN, MAX_BYTES, keys_of("k")), order_id=1)
    with pytest.raises(Reject, match=r"it is not signed|its signature is not valid"):
        Wire(OTHER, MAX_BYTES, keys_of("k")).decode(tamper(sent))


def test_a_signed_bridge_rejects_unsigned_and_timeless_messages() -> None:
    wire = Wire(OTHER, MAX_BYTES, keys_of("k"))
    for data in (message(Wire(ORIGIN, MAX_BYTES)), b"{}", b'"}', b""):
        with pytest.raises(Reject, match="it is not signed"):
            wire.decode(data)
    # Signed with the right key, but without a time (hand-made).
    signer = Wire(ORIGIN, MAX_BYTES, keys_of("k"))
    body = b'{"v":1,"origin":"%s","signal":"s","sender":null,"kwargs":{},"t":-5,"seq":'
    with pytest.raises(Reject, match="it is signed but has no valid time"):
        wire.decode(signer.finish(body % ORIGIN.encode(), 1))


def test_the_signature_counts_towards_max_event_bytes() -> None:
    kwargs = {"pad": "x" * 100}
    size = len(message(Wire(ORIGIN, 10_000, keys_of("k")), 1, **kwargs))
    fits = Wire(ORIGIN, size + 18, keys_of("k"))  # room for a 19-digit seq
    assert len(message(fits, MAX_SEQ, **kwargs)) <= size + 18
    with pytest.raises(TypeError, match="over the bridge's max_event_bytes"):
        Wire(ORIGIN, size + 17, keys_of("k")).encode("order_placed", None, kwargs)


@pytest.mark.parametrize(
    ("secret", "error", "text"),
    [
        (
            7,
            TypeError,
            "secret must be a str, bytes, or a list or tuple of them, got int",
        ),
        (bytearray(b"hunter2"), TypeError, "got bytearray"),
        ({"hunter2"}, TypeError, "got set"),
        ("", ValueError, "secret is empty"),
        (b"", ValueError, "secret is empty"),
        ([], ValueError, "at least one secret"),
        (["hunter2", 3], TypeError, "secret[1] must be a str or bytes, got int"),
        (("hunter2", ""), ValueError, "secret[1] is empty"),
    ],
)
def test_a_bad_secret_is_refused_without_showing_it(
    secret: object, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as refused:
        keys_of(secret)
    assert str(refused.value).startswith(text) or text in str(refused.value)
    assert "hunter2" not in str(refused.value)


# -- built-in codecs: what arrives is checked, nothing is imported ---------------------


class Tone(enum.Enum):
    LOW = 1


def codec(name: str, value: Any) -> dict[str, Any]:
    return {"$codec": name, "value": value}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (codec("decimal", "1.2.3"), "codec 'decimal' could not decode '1.2.3'"),
        (codec("decimal", 12), "codec 'decimal' could not decode 12: TypeError("),
        (codec("datetime", "2026-13-01T00:00"), "could not decode '2026-13-01"),
        (codec("datetime", ["2026"]), "codec 'datetime' could not decode ['2026']"),
        (codec("date", "yesterday"), "codec 'date' could not decode 'yesterday'"),
        (codec("time", "25:00"), "codec 'time' could not decode '25:00'"),
        (codec("uuid", "not-a-uuid"), "codec 'uuid' could not decode 'not-a-uuid'"),
        (codec("uuid", None), "codec 'uuid' could not decode None"),
        (
            codec("enum", {"enum": "not_imported_anywhere:Color", "name": "RED"}),
            "no enum not_imported_anywhere:Color is imported in this process",
        ),
        (
            codec("enum", {"enum": "os:system", "name": "RED"}),
            "no enum os:system is imported in this process",
        ),
        (
            codec("enum", {"enum": f"{__name__}:Tone", "name": "HIGH"}),
            f"{__name__}:Tone has no member 'HIGH'",
        ),
        (
            codec("enum", {"enum": f"{__name__}:Tone.LOW.value", "name": "LOW"}),
            "no enum",
        ),
        (
            codec("enum", {"enum": f"{__name__}:Tone", "name": "LOW", "x": 1}),
            'expected {"enum": "module:qualname", "name": ...}',
        ),
        (codec("enum", "LOW"), 'expected {"enum": "module:qualname"'),
        (
            codec("enum", {"enum": f"{__name__}:Tone", "name": 1}),
            "expected a string, got int",
        ),
    ],
)
def test_a_malformed_built_in_value_is_rejected_with_a_short_reason(
    value: Any, reason: str
) -> None:
    for field in ("kwargs", "sender"):
        data = raw(kwargs={"x": value}) if field == "kwargs" else raw(sender=value)
        with pytest.raises(Reject) as rejected:
            Wire(ORIGIN, MAX_BYTES).decode(data)
        assert reason in str(rejected.value)
        assert len(str(rejected.value)) < 400
    assert "not_imported_anywhere" not in sys.modules


def test_an_enum_is_looked_up_among_imported_modules_without_running_their_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[str] = []

    class LazyModule(type(sys)):  # type: ignore[misc]
        def __getattr__(self, name: str) -> Any:  # PEP 562: could import
            looked_up.append(name)
            return Tone

    monkeypatch.setitem(sys.modules, "lazy_enums", LazyModule("lazy_enums"))
    data = raw(kwargs={"x": codec("enum", {"enum": "lazy_enums:Tone", "name": "LOW"})})
    with pytest.raises(Reject, match="no enum lazy_enums:Tone is imported"):
        Wire(ORIGIN, MAX_BYTES).decode(data)
    assert looked_up == []


def test_built_in_values_decode_to_what_was_sent() -> None:
    wire = Wire(ORIGIN, MAX_BYTES)
    sent = {
        "total": Decimal("-12.50"),
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2026, 1, 2),
        "opens": datetime.time(9, 30),
        "id": uuid.UUID(int=7),
        "tone": Tone.LOW,
    }
    event = Wire(OTHER, MAX_BYTES).decode(
        wire.finish(wire.encode("s", Tone.LOW, sent), 1)
    )
    assert event.kwargs == sent
    assert event.sender is Tone.LOW


# -- fuzzing: decode returns an event or raises Reject, nothing else ------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=40,
)

#: Codec values as they may arrive: the built-in codecs' names with values of
#: their forms, well-formed or not, and names nobody registered.
codec_values = st.fixed_dictionaries(
    {
        "$codec": st.sampled_from(
            ["decimal", "datetime", "date", "time", "uuid", "enum", "n", "nope"]
        ),
        "value": json_values
        | st.sampled_from(["1.5", "NaN", "-Infinity", "1e999999", "2026-02-30"])
        | st.datetimes().map(datetime.datetime.isoformat)
        | st.uuids().map(str)
        | st.fixed_dictionaries(
            {
                "enum": st.sampled_from(
                    [f"{__name__}:Tone", "os:system", "enum:Enum", "nowhere:X", ":"]
                )
                | st.text(max_size=20),
                "name": st.sampled_from(["LOW", "HIGH", "__class__"])
                | st.text(max_size=10),
            }
        ),
    }
)

envelopes = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, True, 1.0, "1", None]),
        "origin": st.sampled_from([ORIGIN, OTHER, "", "x", ORIGIN.upper()])
        | st.text(max_size=40),
        "signal": st.sampled_from(["order_placed", ""]) | st.text(max_size=300),
        "sender": json_values
        | codec_values
        | st.sampled_from([{"$ref": "os:system"}, {"$ref": 1}, [1]]),
        "kwargs": st.dictionaries(
            st.text(max_size=10), json_values | codec_values, max_size=6
        )
        | json_values,
        "seq": st.integers() | st.sampled_from([0, MAX_SEQ, MAX_SEQ + 1, 10**300]),
        "t": st.integers() | json_values,
        "sig": st.text(max_size=70),
    },
)


def wires(fast: bool = True) -> list[Wire]:
    """A plain and a signed wire, decoding with msgspec first (``fast``) or
    with json alone."""
    plain = Wire(OTHER, 4096, fast=fast)
    signed = Wire(OTHER, 4096, keys_of([b"k", "j"]), fast=fast)
    for wire in (plain, signed):
        wire.add_codec(Codec("n", complex, lambda c: [c.real, c.imag], _decode_pair))
    return [plain, signed]


def _decode_pair(value: Any) -> complex:
    real, imaginary = value  # raises on anything but a pair
    return complex(real, imaginary)


def decodes_or_rejects(data: bytes) -> None:
    """Each wire returns an event or rejects ``data``, in bounded time; and
    decoding with msgspec first has exactly json's outcome (the same event,
    or the same reason)."""
    for wire, json_only in zip(wires(), wires(fast=False), strict=True):
        started = time.perf_counter()
        outcome = _decoded(wire, data)
        if isinstance(outcome, str):
            assert len(outcome) < 400
        else:
            assert isinstance(outcome, Envelope)
            assert len(data) <= wire.max_bytes
            assert not nesting_over(data, MAX_DEPTH)
            assert 1 <= outcome.seq <= MAX_SEQ
        assert time.perf_counter() - started < 1.0
        assert _exactly(outcome) == _exactly(_decoded(json_only, data))


def _decoded(wire: Wire, data: bytes) -> Envelope | str:
    """The event in ``data``, or the reason it was rejected."""
    try:
        return wire.decode(data)
    except Reject as rejected:
        return str(rejected)


def _exactly(value: Any) -> Any:
    """``value`` with its types spelt out (``1 == 1.0 == True``, ``0.0 ==
    -0.0``, and ``nan != nan``, which repr tells apart and alike)."""
    if isinstance(value, dict):
        return [(_exactly(k), _exactly(v)) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_exactly(each) for each in value])
    return (type(value).__name__, repr(value))


fuzz = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(st.binary(max_size=5000))
@example(b"[" * 100_000)
@example(b"[" * 4000)
@example(b'{"v":1,"kwargs":' + b'{"a":' * 600 + b"1" + b"}" * 601)
def test_arbitrary_bytes(data: bytes) -> None:
    decodes_or_rejects(data)


@fuzz
@given(envelopes)
def test_generated_envelopes(fields: dict[str, Any]) -> None:
    decodes_or_rejects(json.dumps(fields).encode())


#: Values of the built-in codecs, as a send may carry them.
built_in_values = (
    st.decimals(places=None)
    | st.datetimes(
        timezones=st.sampled_from(
            [
                None,
                datetime.timezone.utc,
                datetime.timezone(datetime.timedelta(hours=-9, minutes=-30)),
            ]
        )
    )
    | st.dates()
    | st.times()
    | st.uuids()
    | st.sampled_from(Tone)
)


@fuzz
@given(
    st.booleans(),
    st.dictionaries(st.text(max_size=8), json_values | built_in_values, max_size=4),
    st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=8)), max_size=4),
)
def test_mutated_valid_envelopes(
    signed: bool, kwargs: dict[str, Any], mutations: list[tuple[int, bytes]]
) -> None:
    sender = Wire(ORIGIN, 4096, keys_of(b"k") if signed else ())
    sender.add_codec(Codec("n", complex, lambda c: [c.real, c.imag], _decode_pair))
    kwargs = {k: v for k, v in kwargs.items() if k not in ("signal", "sender")}
    kwargs["z"] = 1 + 2j
    try:
        data = message(sender, 5, **kwargs)
    except TypeError:  # NaN, or over a limit: nothing is sent
        return
    for at, replacement in mutations:
        at = min(at, len(data))
        data = data[:at] + replacement + data[at + len(replacement) :]
    decodes_or_rejects(data)


# -- msgspec's decoder, json's outcome -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"18446744073709551616",  # over 64 bits: an int still, not a float
        b"-9223372036854775809",
        b"1" * 300,
        b"NaN",  # json's extensions, which msgspec refuses
        b"-Infinity",
        b"1e400",
        b"-0.0",
        b"5e-324",
        b"0.1000000000000000055511151231257827",
        b'"\\ud800"',  # a lone surrogate
        b'"\\u0000\\u00e9\\ud83d\\ude00"',
        b'{"a":1,"a":2}',  # the last of duplicate keys
    ],
)
def test_msgspec_decodes_what_json_decodes_to_the_same_values(value: bytes) -> None:
    data = raw().replace(b'"kwargs": {}', b'"kwargs": {"x": ' + value + b"}")
    assert value in data
    event = Wire(ORIGIN, MAX_BYTES).decode(data)
    assert _exactly(event) == _exactly(Wire(ORIGIN, MAX_BYTES, fast=False).decode(data))
    assert _exactly(event.kwargs["x"]) == _exactly(json.loads(value))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b" " + raw(), "it is not JSON"),  # json's raw_decode reads no leading space
        (raw() + b" \n", None),
        (raw() + b"\x1c", None),  # str.isspace(), not JSON's whitespace
        (raw() + b"x", "it has data after its JSON document"),
        (raw(signal="\x80").replace(b"\\u0080", b"\x80"), "it is not JSON"),
        (raw()[:-1], "it is not JSON"),
    ],
)
def test_msgspec_leaves_to_json_what_it_reads_otherwise(
    data: bytes, reason: str | None
) -> None:
    for fast in (True, False):
        outcome = _decoded(Wire(ORIGIN, MAX_BYTES, fast=fast), data)
        if reason is None:
            assert isinstance(outcome, Envelope)
        else:
            assert isinstance(outcome, str)
            assert outcome.startswith(reason)


number_literals = st.from_regex(
    r"\A-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,4})?\Z"
)


@fuzz
@given(st.lists(number_literals | st.text(max_size=8).map(json.dumps), max_size=6))
def test_numbers_and_strings_decode_as_json_decodes_them(literals: list[str]) -> None:
    pairs = ",".join(f'"k{i}":{each}' for i, each in enumerate(literals))
    decodes_or_rejects(raw().replace(b'"kwargs": {}', f'"kwargs":{{{pairs}}}'.encode()))


def test_the_test_environment_encodes_and_decodes_with_msgspec() -> None:
    # Else the tests above compare json with itself.
    fast, json_only = Wire(ORIGIN, MAX_BYTES), Wire(ORIGIN, MAX_BYTES, fast=False)
    assert fast._loads_fast is not None
    assert fast._dumps_fast is not None
    assert json_only._loads_fast is None
    assert json_only._dumps_fast is None


def test_a_wire_keeps_the_json_of_a_bounded_number_of_signal_names() -> None:
    from asyncsignal.bridge._envelope import _NAMES_KEPT

    wire = Wire(ORIGIN, MAX_BYTES)
    for n in range(_NAMES_KEPT + 10):
        body = wire.encode(f"signal-{n}", None, {"n": n})
        assert f'"signal":"signal-{n}"'.encode() in body
    assert len(wire._names) == _NAMES_KEPT
    assert wire.encode('a "quoted" name', None, {}).count(b'\\"quoted\\"') == 1
