"""Broker on a Redis server, for agents in several processes or machines.

Layout (every key starts with ``powergrid:<namespace>:``):

* ``mbox:<agent>``: the agent's mailbox, a list of wire strings (RPUSH to
  deliver; drained by LRANGE + DEL in one MULTI transaction);
* ``subs:<topic>``: the topic's subscribers, a set of agent names;
* ``keys``: a set of every mailbox and subscription key this namespace has
  made, so :meth:`RedisBroker.reset` deletes exactly its own keys without
  scanning the server.

:meth:`RedisBroker.publish` runs one Lua script that reads the subscriber set
and RPUSHes the message into each subscriber's mailbox, so fan-out is atomic
with respect to (un)subscriptions and is as durable as a direct send. Redis
pub/sub is not used: it drops messages nobody is listening for at that moment.

Brokers with the same URL and namespace share mailboxes (agents of one
environment in several processes); different namespaces never see each other.

redis-py is imported lazily: install the extra with ``pip install 'powergrid[redis]'``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from powergrid.messaging.base import (
    Broker,
    BrokerError,
    BrokerUnavailableError,
    Message,
    check_name,
    check_publish,
    check_send,
)
from powergrid.messaging.urls import MASK, mask_url

__all__ = ["RedisBroker"]

_NAMESPACE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")

# KEYS[1] subscriber set, KEYS[2] key registry; ARGV[1] mailbox key prefix, ARGV[2] wire message.
_PUBLISH_LUA = """
local agents = redis.call('SMEMBERS', KEYS[1])
for _, agent in ipairs(agents) do
  local box = ARGV[1] .. agent
  redis.call('RPUSH', box, ARGV[2])
  redis.call('SADD', KEYS[2], box)
end
return #agents
"""

# KEYS[1] key registry: delete every key it lists, then the registry itself.
_RESET_LUA = """
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys
"""


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisBroker needs redis-py; install it with: pip install 'powergrid[redis]'"
        ) from exc
    return redis


def _secrets_of(url: str, password: str | None) -> tuple[str, ...]:
    """The passwords that must never appear in a message, longest first."""
    found = {password} if password else set()
    try:
        parts = urlsplit(url)
        if parts.password:
            found |= {parts.password, unquote(parts.password)}
    except ValueError:
        pass
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


class RedisBroker(Broker):
    """Mailboxes and subscriptions kept on a Redis server.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://`` (TLS).
        password: overrides any password in ``url`` (keeps it out of the URL
            and thus out of logs altogether).
        namespace: key prefix isolating this environment on a shared server
            (letters, digits, ``_.-``; at most 128 characters). Default: a random
            uuid, private to this instance; its keys are deleted on :meth:`close`.
            A namespace given here is shared with every broker using it and is
            left in place on close (call :meth:`reset` to clear it).
        timeout_s: socket connect and read timeout in s. Commands are not
            retried, so an unreachable server fails within about ``timeout_s``.

    Raises:
        BrokerUnavailableError: the server does not answer a PING at construction.
    """

    def __init__(
        self,
        url: str,
        password: str | None = None,
        namespace: str | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self._url = mask_url(url)
        self._secrets = _secrets_of(url, password)
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self._owns_namespace = namespace is None
        if namespace is None:
            namespace = uuid.uuid4().hex
        elif not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise ValueError(f"namespace must be 1-128 letters, digits or '_.-', got {namespace!r}")
        self._namespace = namespace
        prefix = f"powergrid:{namespace}:"
        self._mbox_prefix = prefix + "mbox:"
        self._subs_prefix = prefix + "subs:"
        self._registry = prefix + "keys"
        self._closed = False

        redis = _import_redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._redis_errors = (redis.ConnectionError, redis.TimeoutError)
        self._redis_error = redis.RedisError
        try:
            self._client = redis.Redis.from_url(
                url,
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
                decode_responses=False,
            )
        except ValueError as exc:
            raise ValueError(f"invalid Redis URL {self._url}: {self._scrub(exc)}") from None
        if password is not None:
            self._client.connection_pool.connection_kwargs["password"] = password
        self._publish_script = self._client.register_script(_PUBLISH_LUA)
        self._reset_script = self._client.register_script(_RESET_LUA)
        try:
            self.ping()
        except BaseException:
            self._client.close()
            self._closed = True
            raise

    # ----------------------------------------------------------------- helpers

    @property
    def url(self) -> str:
        """The server URL with its password masked."""
        return self._url

    @property
    def namespace(self) -> str:
        """The key namespace; pass it to other brokers that should share mailboxes."""
        return self._namespace

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"RedisBroker(url={self._url!r}, namespace={self._namespace!r}{state})"

    def _scrub(self, exc: BaseException) -> str:
        """One line of ``exc``'s text, without any password."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    @contextmanager
    def _guard(self, action: str, all_unavailable: bool = False) -> Iterator[None]:
        """Turn redis-py errors into broker errors that name the masked URL.

        Connection errors and timeouts become :class:`BrokerUnavailableError`
        (every error does with ``all_unavailable``), the rest :class:`BrokerError`.
        """
        if self._closed:
            raise BrokerError(f"{self!r} is closed")
        try:
            yield
        except self._redis_error as exc:
            kind: type[BrokerError]
            if all_unavailable or isinstance(exc, self._redis_errors):
                kind, what = BrokerUnavailableError, "is unavailable"
            else:
                kind, what = BrokerError, "failed"
            raise kind(
                f"Redis broker at {self._url} {what} ({action}): {self._scrub(exc)}"
            ) from None

    # --------------------------------------------------------------- interface

    def publish(self, topic: str, message: Message) -> int:
        check_publish(topic, message)
        wire = message.to_json()
        with self._guard("publish"):
            return int(
                self._publish_script(
                    keys=[self._subs_prefix + topic, self._registry],
                    args=[self._mbox_prefix, wire],
                )
            )

    def subscribe(self, agent: str, topic: str) -> None:
        check_name("agent", agent)
        check_name("topic", topic)
        key = self._subs_prefix + topic
        with self._guard("subscribe"):
            pipe = self._client.pipeline(transaction=True)
            pipe.sadd(key, agent)
            pipe.sadd(self._registry, key)
            pipe.execute()

    def unsubscribe(self, agent: str, topic: str) -> None:
        check_name("agent", agent)
        check_name("topic", topic)
        with self._guard("unsubscribe"):
            self._client.srem(self._subs_prefix + topic, agent)

    def send(self, message: Message) -> None:
        key = self._mbox_prefix + check_send(message)
        wire = message.to_json()
        with self._guard("send"):
            pipe = self._client.pipeline(transaction=True)
            pipe.rpush(key, wire)
            pipe.sadd(self._registry, key)
            pipe.execute()

    def receive(self, agent: str) -> list[Message]:
        key = self._mbox_prefix + check_name("agent", agent)
        with self._guard("receive"):
            pipe = self._client.pipeline(transaction=True)
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            wires, _ = pipe.execute()
        return self._decode(agent, wires)

    def pending(self, agent: str) -> int:
        key = self._mbox_prefix + check_name("agent", agent)
        with self._guard("pending"):
            return int(self._client.llen(key))

    def reset(self) -> None:
        with self._guard("reset"):
            self._reset_script(keys=[self._registry], args=[])

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._owns_namespace:
                self.reset()  # nobody else knows a generated namespace: leave no keys behind
        except BrokerError:
            pass  # server gone: nothing to clean up
        finally:
            self._closed = True
            self._client.close()

    def ping(self) -> None:
        with self._guard("ping", all_unavailable=True):
            self._client.ping()
