"""The message brokers: one suite run against InMemoryBroker and RedisBroker.

The Redis half talks to a real server at ``POWERGRID_REDIS_URL`` (default
``redis://127.0.0.1:6379/0``). Without one it is skipped, unless
``POWERGRID_REQUIRE_REDIS=1`` (as in CI), where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powergrid.messaging import (
    Broker,
    BrokerError,
    BrokerUnavailableError,
    InMemoryBroker,
    Message,
    RedisBroker,
    make_broker,
    mask_url,
)

REDIS_URL = os.environ.get("POWERGRID_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("POWERGRID_REQUIRE_REDIS") == "1"
SECRET = "hunter2-s3cret"


@functools.cache
def _redis_py_missing() -> str | None:
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install -e '.[redis]')"
    return None


@functools.cache
def _redis_problem() -> str | None:
    """Why the Redis tests cannot run, or None if a server answers."""
    missing = _redis_py_missing()
    if missing:
        return missing
    try:
        RedisBroker(REDIS_URL, timeout_s=1.0).close()
    except BrokerUnavailableError as exc:
        return str(exc)
    return None


def _skip_or_fail(problem: str) -> None:
    if REQUIRE_REDIS:
        pytest.fail(f"POWERGRID_REQUIRE_REDIS=1 but {problem}", pytrace=False)
    pytest.skip(f"no Redis server to test against ({problem}); set POWERGRID_REDIS_URL")


def need_redis() -> None:
    """Skip (or fail, with POWERGRID_REQUIRE_REDIS=1) unless a Redis server answers."""
    problem = _redis_problem()
    if problem:
        _skip_or_fail(problem)


def need_redis_py() -> None:
    """Skip (or fail, with POWERGRID_REQUIRE_REDIS=1) unless redis-py is installed."""
    problem = _redis_py_missing()
    if problem:
        _skip_or_fail(problem)


@pytest.fixture(params=["in_memory", "redis"])
def new_broker(request: pytest.FixtureRequest) -> Iterator[Callable[..., Broker]]:
    """A factory of brokers of one kind, all reset and closed after the test."""
    if request.param == "redis":
        need_redis()
    made: list[Broker] = []

    def factory(**kwargs: object) -> Broker:
        if request.param == "redis":
            broker: Broker = RedisBroker(REDIS_URL, **kwargs)  # type: ignore[arg-type]
        else:
            broker = InMemoryBroker(**kwargs)  # type: ignore[arg-type]
        made.append(broker)
        return broker

    yield factory
    for broker in made:
        with contextlib.suppress(BrokerError):  # already closed by the test
            broker.reset()
        broker.close()


@pytest.fixture
def broker(new_broker: Callable[..., Broker]) -> Broker:
    return new_broker()


def direct(sender: str, recipient: str, t: float, **payload: object) -> Message:
    return Message(sender, dict(payload), t, recipient=recipient)


def broadcast(sender: str, topic: str, t: float, **payload: object) -> Message:
    return Message(sender, dict(payload), t, topic=topic)


# --------------------------------------------------------------------- both brokers


def test_direct_send_receive_in_order(broker: Broker) -> None:
    for k in range(5):
        broker.send(direct("mg1", "mg2", 900.0 * k, k=k))
    broker.send(direct("dso", "mg2", 4500.0, k=99))
    got = broker.receive("mg2")
    assert [m.payload["k"] for m in got] == [0, 1, 2, 3, 4, 99]
    assert [m.sender for m in got] == ["mg1"] * 5 + ["dso"]
    assert got[0] == direct("mg1", "mg2", 0.0, k=0)
    assert broker.receive("mg1") == []


def test_publish_fans_out_to_subscribers_only(broker: Broker) -> None:
    for agent in ("mg1", "mg2", "dso"):
        broker.subscribe(agent, "prices")
    broker.subscribe("mg3", "voltages")
    msg = broadcast("dso", "prices", 900.0, lmp=41.5)
    assert broker.publish("prices", msg) == 3
    for agent in ("mg1", "mg2", "dso"):  # the publisher hears itself if subscribed
        assert broker.receive(agent) == [msg]
    assert broker.receive("mg3") == []
    assert broker.publish("nobody-listens", broadcast("dso", "nobody-listens", 0.0)) == 0


def test_subscribe_is_idempotent(broker: Broker) -> None:
    broker.subscribe("mg1", "prices")
    broker.subscribe("mg1", "prices")
    assert broker.publish("prices", broadcast("dso", "prices", 0.0)) == 1
    assert broker.pending("mg1") == 1


def test_subscribe_after_publish_gets_nothing_old(broker: Broker) -> None:
    broker.publish("prices", broadcast("dso", "prices", 0.0, lmp=1.0))
    broker.subscribe("mg1", "prices")
    assert broker.pending("mg1") == 0
    broker.publish("prices", broadcast("dso", "prices", 900.0, lmp=2.0))
    assert [m.payload["lmp"] for m in broker.receive("mg1")] == [2.0]


def test_unsubscribe_stops_delivery_but_keeps_delivered(broker: Broker) -> None:
    broker.subscribe("mg1", "prices")
    broker.subscribe("mg1", "alarms")
    broker.publish("prices", broadcast("dso", "prices", 0.0, n=1))
    broker.unsubscribe("mg1", "prices")
    broker.unsubscribe("mg1", "prices")  # no-op the second time
    broker.unsubscribe("mg9", "never-subscribed")  # no-op
    assert broker.publish("prices", broadcast("dso", "prices", 900.0, n=2)) == 0
    broker.publish("alarms", broadcast("dso", "alarms", 900.0, n=3))
    assert [m.payload["n"] for m in broker.receive("mg1")] == [1, 3]


def test_receive_drains_the_mailbox(broker: Broker) -> None:
    broker.send(direct("a", "b", 0.0))
    broker.send(direct("a", "b", 1.0))
    assert len(broker.receive("b")) == 2
    assert broker.receive("b") == []
    assert broker.pending("b") == 0
    broker.send(direct("a", "b", 2.0))  # the mailbox works again after a drain
    assert [m.timestamp for m in broker.receive("b")] == [2.0]


def test_pending_counts(broker: Broker) -> None:
    assert broker.pending("mg1") == 0
    broker.subscribe("mg1", "prices")
    for k in range(3):
        broker.send(direct("dso", "mg1", float(k)))
    broker.publish("prices", broadcast("dso", "prices", 3.0))
    assert broker.pending("mg1") == 4
    assert broker.pending("mg2") == 0
    broker.receive("mg1")
    assert broker.pending("mg1") == 0


def test_direct_and_broadcast_share_one_ordered_mailbox(broker: Broker) -> None:
    broker.subscribe("mg1", "prices")
    broker.send(direct("dso", "mg1", 0.0, n=0))
    broker.publish("prices", broadcast("dso", "prices", 1.0, n=1))
    broker.send(direct("mg2", "mg1", 2.0, n=2))
    got = broker.receive("mg1")
    assert [m.payload["n"] for m in got] == [0, 1, 2]
    assert [m.is_broadcast for m in got] == [False, True, False]
    assert got[1].topic == "prices" and got[1].recipient is None


def test_reset_drops_mailboxes_and_subscriptions(broker: Broker) -> None:
    broker.subscribe("mg1", "prices")
    broker.send(direct("dso", "mg2", 0.0))
    broker.publish("prices", broadcast("dso", "prices", 0.0))
    broker.reset()
    assert broker.pending("mg1") == broker.pending("mg2") == 0
    assert broker.receive("mg2") == []
    assert broker.publish("prices", broadcast("dso", "prices", 900.0)) == 0  # unsubscribed
    broker.send(direct("dso", "mg2", 900.0))  # usable after a reset
    assert broker.pending("mg2") == 1


def test_separate_brokers_are_isolated(new_broker: Callable[..., Broker]) -> None:
    """Two environments (on Redis: one server, two random namespaces) never mix."""
    env_a, env_b = new_broker(), new_broker()
    for env in (env_a, env_b):
        env.subscribe("mg1", "prices")
    env_a.send(direct("dso", "mg1", 0.0, env="a"))
    env_a.publish("prices", broadcast("dso", "prices", 0.0, env="a"))
    env_b.send(direct("dso", "mg1", 0.0, env="b"))
    assert [m.payload["env"] for m in env_a.receive("mg1")] == ["a", "a"]
    assert [m.payload["env"] for m in env_b.receive("mg1")] == ["b"]
    env_b.send(direct("dso", "mg1", 1.0, env="b"))
    env_a.reset()  # resets only its own namespace
    assert env_b.pending("mg1") == 1


NESTED = {
    "obs": {"v_pu": [1.0, 0.9875, 1.0312499999999998], "soc": 0.5},
    "setpoints": [{"id": "bat1", "p_mw": -0.25, "q_mvar": 1e-12}, {"id": "pv2", "p_mw": 3.1e7}],
    "flags": [True, False, None],
    "count": 12345678901234567890,
    "neg_zero": -0.0,
    "text": 'Ünïcødé ⚡ "quoted" \\ \n tab\t',
    "empty": {"list": [], "dict": {}},
}


def test_payload_round_trips_exactly(broker: Broker) -> None:
    original = Message("mg1", NESTED, 0.1 + 0.2, recipient="mg2")
    broker.send(original)
    (got,) = broker.receive("mg2")
    assert got == original
    assert got.to_json() == original.to_json()  # byte-exact on the wire
    assert got.payload["neg_zero"] == 0.0 and math.copysign(1.0, got.payload["neg_zero"]) < 0
    assert isinstance(got.payload["count"], int) and isinstance(got.payload["obs"]["soc"], float)
    assert got.timestamp == 0.30000000000000004


def test_receivers_get_their_own_payload_copies(broker: Broker) -> None:
    payload = {"p": [1.0, 2.0]}
    for agent in ("mg1", "mg2"):
        broker.subscribe(agent, "t")
    broker.publish("t", Message("dso", payload, 0.0, topic="t"))
    payload["p"].append(3.0)  # the sender changing its dict afterwards changes nothing
    (a,) = broker.receive("mg1")
    (b,) = broker.receive("mg2")
    a.payload["p"].append(99.0)
    assert b.payload == {"p": [1.0, 2.0]}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20) + 1, 10**20 - 1)  # powergrid.jsontext.MAX_INT_DIGITS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.text(), json_values, max_size=5), t=st.floats(0, 1e9))
def test_any_json_payload_round_trips(broker: Broker, payload: dict, t: float) -> None:
    broker.subscribe("rx", "t")
    msg = Message("tx", payload, t, topic="t")
    broker.publish("t", msg)
    (got,) = broker.receive("rx")
    assert got == msg and got.to_json() == msg.to_json()


def test_many_messages_stay_ordered(broker: Broker) -> None:
    broker.subscribe("rx", "feed")
    n = 600
    for k in range(n):
        if k % 3:
            broker.send(Message(f"tx{k % 3}", {"k": k}, float(k), recipient="rx"))
        else:
            broker.publish("feed", Message("tx0", {"k": k}, float(k), topic="feed"))
    assert broker.pending("rx") == n
    got = broker.receive("rx")
    assert [m.payload["k"] for m in got] == list(range(n))
    assert [m.timestamp for m in got] == [float(k) for k in range(n)]


def test_publish_and_send_check_their_message(broker: Broker) -> None:
    with pytest.raises(ValueError, match="topic='prices'"):
        broker.publish("prices", broadcast("dso", "alarms", 0.0))
    with pytest.raises(ValueError, match="topic"):
        broker.publish("prices", direct("dso", "mg1", 0.0))
    with pytest.raises(ValueError, match="use publish"):
        broker.send(broadcast("dso", "prices", 0.0))
    with pytest.raises(TypeError):
        broker.send({"sender": "dso"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="agent"):
        broker.receive("")
    with pytest.raises(ValueError, match="topic"):
        broker.subscribe("mg1", "")


def test_closed_broker_refuses_work(broker: Broker) -> None:
    broker.ping()
    broker.close()
    broker.close()  # idempotent
    with pytest.raises(BrokerError, match="closed"):
        broker.send(direct("a", "b", 0.0))
    with pytest.raises(BrokerError, match="closed"):
        broker.receive("b")


def test_broker_is_a_context_manager(new_broker: Callable[..., Broker]) -> None:
    with new_broker() as broker:
        broker.send(direct("a", "b", 0.0))
    with pytest.raises(BrokerError, match="closed"):
        broker.pending("b")


# ------------------------------------------------------------------------ Redis only


def _raw_keys(pattern: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    try:
        return client.keys(pattern)
    finally:
        client.close()


def test_redis_same_namespace_shares_mailboxes() -> None:
    """Agents of one environment in several processes: same URL, same namespace."""
    need_redis()
    ns = f"test-shared-{os.getpid()}-{time.monotonic_ns()}"
    with RedisBroker(REDIS_URL, namespace=ns) as env, RedisBroker(REDIS_URL, namespace=ns) as agent:
        try:
            agent.subscribe("mg1", "prices")
            env.publish("prices", broadcast("dso", "prices", 0.0, lmp=3.0))
            env.send(direct("dso", "mg1", 1.0))
            assert [m.timestamp for m in agent.receive("mg1")] == [0.0, 1.0]
            assert env.pending("mg1") == 0
        finally:
            env.reset()
    assert _raw_keys(f"powergrid:{ns}:*") == []


def test_redis_keys_live_under_the_namespace_and_go_on_reset() -> None:
    need_redis()
    with RedisBroker(REDIS_URL) as broker:
        ns = broker.namespace
        broker.subscribe("mg1", "prices")
        broker.send(direct("dso", "mg1", 0.0))
        keys = sorted(k.decode() for k in _raw_keys(f"powergrid:{ns}:*"))
        assert keys == [
            f"powergrid:{ns}:keys",
            f"powergrid:{ns}:mbox:mg1",
            f"powergrid:{ns}:subs:prices",
        ]
        broker.reset()
        assert _raw_keys(f"powergrid:{ns}:*") == []
        broker.send(direct("dso", "mg1", 0.0))
    assert _raw_keys(f"powergrid:{ns}:*") == []  # a generated namespace is purged on close

    named = f"test-kept-{os.getpid()}-{time.monotonic_ns()}"
    with RedisBroker(REDIS_URL, namespace=named) as broker:
        broker.send(direct("dso", "mg1", 0.0))
    try:
        assert len(_raw_keys(f"powergrid:{named}:*")) == 2  # shared namespaces stay
    finally:
        with RedisBroker(REDIS_URL, namespace=named) as broker:
            broker.reset()


def test_redis_rejects_bad_namespace_and_timeout() -> None:
    need_redis_py()
    for bad in ("", "a:b", "a b", "x" * 129, "a*"):
        with pytest.raises(ValueError, match="namespace"):
            RedisBroker(REDIS_URL, namespace=bad)
    with pytest.raises(ValueError, match="timeout_s"):
        RedisBroker(REDIS_URL, timeout_s=0)


def test_make_broker_builds_a_redis_broker() -> None:
    need_redis()
    with make_broker(REDIS_URL, timeout_s=1.0) as broker:
        assert isinstance(broker, RedisBroker)
        broker.ping()


@pytest.mark.parametrize(
    ("url", "password"),
    [(f"redis://:{SECRET}@127.0.0.1:1/0", None), ("redis://127.0.0.1:1/0", SECRET)],
)
def test_unreachable_server_fails_fast_with_masked_url(url: str, password: str | None) -> None:
    need_redis_py()
    start = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as info:
        make_broker(url, password=password)
    assert time.monotonic() - start < 5.0
    text = str(info.value)
    assert "127.0.0.1:1" in text and SECRET not in text and "\n" not in text
    if password is None:
        assert "redis://:***@127.0.0.1:1/0" in text
    assert isinstance(info.value, ConnectionError)


def test_silent_server_times_out_instead_of_hanging() -> None:
    """A port that accepts connections but never answers: a timeout, not a hang."""
    need_redis_py()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match="unavailable"):
            RedisBroker(f"redis://:{SECRET}@127.0.0.1:{port}/0", timeout_s=0.3)
        assert time.monotonic() - start < 2.0


def test_redis_broker_repr_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    need_redis_py()
    monkeypatch.setattr(RedisBroker, "ping", lambda self: None)  # no server needed
    for url, password in [
        (f"redis://user:{SECRET}@127.0.0.1:1/0", None),
        ("rediss://127.0.0.1:1/0", SECRET),
    ]:
        broker = RedisBroker(url, password=password, namespace="repr-test")
        assert SECRET not in repr(broker) and SECRET not in str(broker)
        assert SECRET not in broker.url and "127.0.0.1:1" in repr(broker)
        broker._owns_namespace = False  # nothing to purge on an unreachable server
        broker.close()


# -------------------------------------------------------------- factory, URLs, messages


def test_make_broker_defaults_to_in_memory() -> None:
    with make_broker() as broker:
        assert isinstance(broker, InMemoryBroker)
    assert isinstance(make_broker("in_memory"), InMemoryBroker)


@pytest.mark.parametrize("spec", ["", "memory", "In_Memory", "http://localhost:6379", "redis:/x"])
def test_make_broker_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown broker") as info:
        make_broker(spec)
    assert repr(spec) in str(info.value)


def test_make_broker_masks_a_password_in_a_bad_spec() -> None:
    with pytest.raises(ValueError) as info:
        make_broker(f"http://:{SECRET}@cache:6379/0")
    assert SECRET not in str(info.value) and "http://:***@cache:6379/0" in str(info.value)


def test_make_broker_in_memory_ignores_redis_options() -> None:
    broker = make_broker("in_memory", password=SECRET, namespace="env-1", timeout_s=1.0)
    assert isinstance(broker, InMemoryBroker)
    with pytest.raises(TypeError):
        make_broker("in_memory", nmaespace="typo")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://alice:p%40ss@cache:6380/1", "rediss://alice:***@cache:6380/1"),
        ("redis://alice@cache/0", "redis://alice@cache/0"),
        ("redis://h:6379/0?password=pw&db=2", "redis://h:6379/0?password=***&db=2"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("in_memory", "in_memory"),
        ("redis://:pw@[::1", "redis://:***@[::1"),  # unparseable: masked by pattern
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"recipient": "b", "topic": "t"}, "exactly one"),
        ({}, "exactly one"),
        ({"recipient": "b", "payload": {"x": (1, 2)}}, r"payload\['x'\] is a tuple"),
        ({"recipient": "b", "payload": {"x": {1: "a"}}}, "non-string key 1"),
        ({"recipient": "b", "payload": {"x": [float("nan")]}}, r"payload\['x'\]\[0\] is nan"),
        ({"recipient": "b", "payload": {"x": {1, 2}}}, "is a set"),
        ({"recipient": "b", "payload": [1]}, "payload must be a dict"),
        ({"recipient": "b", "timestamp": True}, "timestamp"),
        ({"recipient": "b", "timestamp": float("inf")}, "timestamp"),
        ({"recipient": "b", "sender": ""}, "sender"),
        ({"recipient": ""}, "recipient"),
    ],
)
def test_message_validation(kwargs: dict, match: str) -> None:
    fields = {"sender": "a", "payload": {}, "timestamp": 0.0} | kwargs
    with pytest.raises(ValueError, match=match):
        Message(**fields)


def test_message_normalises_timestamp_and_copies_payload() -> None:
    payload = {"x": [1]}
    msg = Message("a", payload, 900, recipient="b")
    payload["x"].append(2)
    assert msg.timestamp == 900.0 and isinstance(msg.timestamp, float)
    assert msg.payload == {"x": [1]}
    assert Message.from_json(msg.to_json()) == msg


@pytest.mark.parametrize(
    "wire",
    [
        "not json",
        "[]",
        '{"sender":"a"}',
        '{"sender":"a","recipient":"b","topic":null,"timestamp":NaN,"payload":{}}',
    ],
)
def test_malformed_wire_message(wire: str) -> None:
    with pytest.raises(BrokerError, match="malformed"):
        Message.from_json(wire)
