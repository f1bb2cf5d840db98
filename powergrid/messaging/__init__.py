"""Message brokers for distributed control: agents talk only through messages.

>>> broker = make_broker()                          # in-process, the default
>>> broker.subscribe("mg2", "prices")
>>> broker.publish("prices", Message("dso", {"lmp": 41.5}, 900.0, topic="prices"))
1
>>> broker.send(Message("mg1", {"p_mw": 0.2}, 900.0, recipient="mg2"))
>>> [m.sender for m in broker.receive("mg2")]
['dso', 'mg1']

``make_broker("redis://127.0.0.1:6379/0")`` gives the same interface on a Redis
server (extra ``redis``), for agents in other processes or machines.
"""

from __future__ import annotations

from typing import Any

from powergrid.messaging.base import Broker, BrokerError, BrokerUnavailableError, Message
from powergrid.messaging.memory import InMemoryBroker
from powergrid.messaging.redis_broker import RedisBroker  # imports redis-py only when built
from powergrid.messaging.urls import mask_url

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerUnavailableError",
    "InMemoryBroker",
    "Message",
    "RedisBroker",
    "make_broker",
    "mask_url",
]

IN_MEMORY = "in_memory"
REDIS_SCHEMES = ("redis://", "rediss://")
REDIS_ONLY_OPTIONS = ("namespace", "timeout_s")


def make_broker(spec: str = IN_MEMORY, password: str | None = None, **kwargs: Any) -> Broker:
    """Build a broker from a spec string.

    Args:
        spec: ``"in_memory"`` for :class:`InMemoryBroker`, or a ``redis://`` /
            ``rediss://`` URL for :class:`RedisBroker`.
        password: the Redis password (kept out of the URL).
        **kwargs: passed to the broker (``namespace``, ``timeout_s`` for Redis).

    The Redis-only options (``password``, ``namespace``, ``timeout_s``) are
    accepted and ignored for ``"in_memory"``, so one call site serves both.

    Raises:
        ValueError: an unknown spec (named in the message, password masked).
        BrokerUnavailableError: the Redis server does not answer.
    """
    if spec == IN_MEMORY:
        for option in REDIS_ONLY_OPTIONS:
            kwargs.pop(option, None)
        return InMemoryBroker(**kwargs)
    if isinstance(spec, str) and spec.lower().startswith(REDIS_SCHEMES):
        return RedisBroker(spec, password=password, **kwargs)
    shown = mask_url(spec) if isinstance(spec, str) else repr(spec)
    raise ValueError(f"unknown broker {shown!r}: use 'in_memory' or a redis:// or rediss:// URL")
