"""In-process broker: the default, pure Python and deterministic."""

from __future__ import annotations

import threading
from collections import deque

from powergrid.messaging.base import (
    Broker,
    BrokerError,
    Message,
    check_name,
    check_publish,
    check_send,
)

__all__ = ["InMemoryBroker"]


class InMemoryBroker(Broker):
    """A broker inside one Python process: a deque of wire strings per mailbox.

    Messages are stored in their JSON wire form and rebuilt on :meth:`receive`,
    so the semantics (copies, JSON-clean payloads) match
    :class:`~powergrid.messaging.redis_broker.RedisBroker` exactly. Fan-out
    visits subscribers in the order they subscribed, so runs are reproducible.
    Safe to share between threads.
    """

    def __init__(self) -> None:
        self._mailboxes: dict[str, deque[str]] = {}
        self._subscribers: dict[str, dict[str, None]] = {}  # topic -> ordered set of agents
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._mailboxes)} mailboxes"
        return f"InMemoryBroker({state})"

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError("InMemoryBroker is closed")

    def publish(self, topic: str, message: Message) -> int:
        check_publish(topic, message)
        wire = message.to_json()
        with self._lock:
            self._check_open()
            agents = self._subscribers.get(topic, {})
            for agent in agents:
                self._mailboxes.setdefault(agent, deque()).append(wire)
            return len(agents)

    def subscribe(self, agent: str, topic: str) -> None:
        check_name("agent", agent)
        check_name("topic", topic)
        with self._lock:
            self._check_open()
            self._subscribers.setdefault(topic, {})[agent] = None

    def unsubscribe(self, agent: str, topic: str) -> None:
        check_name("agent", agent)
        check_name("topic", topic)
        with self._lock:
            self._check_open()
            agents = self._subscribers.get(topic)
            if agents is not None:
                agents.pop(agent, None)
                if not agents:
                    del self._subscribers[topic]

    def send(self, message: Message) -> None:
        recipient = check_send(message)
        wire = message.to_json()
        with self._lock:
            self._check_open()
            self._mailboxes.setdefault(recipient, deque()).append(wire)

    def receive(self, agent: str) -> list[Message]:
        check_name("agent", agent)
        with self._lock:
            self._check_open()
            box = self._mailboxes.pop(agent, None)
        return self._decode(agent, box) if box else []

    def pending(self, agent: str) -> int:
        check_name("agent", agent)
        with self._lock:
            self._check_open()
            box = self._mailboxes.get(agent)
            return len(box) if box else 0

    def reset(self) -> None:
        with self._lock:
            self._check_open()
            self._mailboxes.clear()
            self._subscribers.clear()

    def close(self) -> None:
        with self._lock:
            self._mailboxes.clear()
            self._subscribers.clear()
            self._closed = True

    def ping(self) -> None:
        self._check_open()
