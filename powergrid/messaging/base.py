"""Messages and the broker interface for distributed control.

In distributed mode agents talk only through a :class:`Broker`. A broker keeps
one *mailbox* per agent: :meth:`Broker.send` puts a message into its
recipient's mailbox, :meth:`Broker.publish` puts a copy into the mailbox of
every agent subscribed to the topic at publish time, and :meth:`Broker.receive`
drains a mailbox in delivery order. Nothing is ever dropped for want of a
listener: a message waits in the mailbox until the agent receives it or the
broker is reset.

Messages travel as JSON (see :meth:`Message.to_json`), so every broker gives
the receiver its own copy of the payload, and a payload that would not survive
the JSON round trip unchanged is refused when the message is built.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from powergrid.jsontext import loads_bounded

__all__ = ["Broker", "BrokerError", "BrokerUnavailableError", "Message"]

_WIRE_KEYS = frozenset({"sender", "recipient", "topic", "timestamp", "payload"})
#: bounds of a message on the wire: the protocols send a few numbers each
MAX_WIRE_BYTES = 64 * 1024
MAX_WIRE_DEPTH = 16


class BrokerError(RuntimeError):
    """Base class of the messaging errors (misuse of a closed broker, bad data)."""


class BrokerUnavailableError(BrokerError, ConnectionError):
    """The broker's server cannot be reached (refused, timed out, auth failed)."""


def _encode(value: Any) -> str:
    """Compact, strict JSON (no NaN/Infinity; non-ASCII escaped)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _why_not_json(value: Any, path: str) -> str | None:
    """Where ``value`` stops being plain JSON, as a readable reason (None if clean)."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r} (not finite)"
    if isinstance(value, list):
        for i, item in enumerate(value):
            reason = _why_not_json(item, f"{path}[{i}]")
            if reason:
                return reason
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has the non-string key {key!r}"
            reason = _why_not_json(item, f"{path}[{key!r}]")
            if reason:
                return reason
        return None
    return f"{path} is a {type(value).__name__}, not a JSON type (dict/list/str/number/bool/None)"


@dataclass(frozen=True)
class Message:
    """One message between agents.

    Exactly one of ``recipient`` (a direct message, see :meth:`Broker.send`) and
    ``topic`` (a broadcast, see :meth:`Broker.publish`) is set.

    Attributes:
        sender: name of the sending agent.
        payload: a JSON-clean dict: string keys; values dicts, lists, strings,
            finite numbers, booleans or None (no tuples, sets, numpy types).
            The message holds its own copy; later changes to the dict passed in
            do not reach it.
        timestamp: simulation time in s at which the message was sent.
        recipient: the agent a direct message is for.
        topic: the topic a broadcast is published on.
    """

    sender: str
    payload: dict[str, Any]
    timestamp: float
    recipient: str | None = None
    topic: str | None = None

    def __post_init__(self) -> None:
        self._check_header()
        if not isinstance(self.payload, dict):
            raise ValueError(f"payload must be a dict, got {type(self.payload).__name__}")
        try:
            text = _encode(self.payload)
        except (TypeError, ValueError) as exc:
            reason = _why_not_json(self.payload, "payload") or str(exc)
            raise ValueError(f"payload is not JSON-clean: {reason}") from exc
        try:  # what the wire refuses is refused here, when the message is built
            copy = loads_bounded(text, MAX_WIRE_DEPTH - 1, MAX_WIRE_BYTES - 1024)
        except ValueError as exc:
            raise ValueError(f"payload is not a message payload: {exc}") from None
        if copy != self.payload:  # tuples, non-string keys: JSON would change them
            reason = _why_not_json(self.payload, "payload") or "it changes in a JSON round trip"
            raise ValueError(f"payload is not JSON-clean: {reason}")
        object.__setattr__(self, "payload", copy)
        object.__setattr__(self, "_payload_json", text)

    def _check_header(self) -> None:
        """Validate every field but the payload; make the timestamp a float."""
        if not isinstance(self.sender, str) or not self.sender:
            raise ValueError(f"sender must be a non-empty string, got {self.sender!r}")
        if (self.recipient is None) == (self.topic is None):
            raise ValueError(
                "a message needs exactly one of recipient and topic, got "
                f"recipient={self.recipient!r}, topic={self.topic!r}"
            )
        for name in ("recipient", "topic"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        ts = self.timestamp
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
            raise ValueError(f"timestamp must be a finite number of seconds, got {ts!r}")
        object.__setattr__(self, "timestamp", float(ts))

    @property
    def is_broadcast(self) -> bool:
        """True for a topic message, False for a direct one."""
        return self.topic is not None

    def to_json(self) -> str:
        """The wire form: one compact JSON object; :meth:`from_json` inverts it exactly."""
        head = _encode(
            {
                "sender": self.sender,
                "recipient": self.recipient,
                "topic": self.topic,
                "timestamp": self.timestamp,
            }
        )
        payload_json = self.__dict__.get("_payload_json")
        if payload_json is None:  # a message rebuilt by from_json: encode on first use
            payload_json = _encode(self.payload)
            object.__setattr__(self, "_payload_json", payload_json)
        return f'{head[:-1]},"payload":{payload_json}}}'

    @classmethod
    def from_json(cls, text: str | bytes) -> Message:
        """Rebuild a message from :meth:`to_json` output (str or UTF-8 bytes).

        A payload parsed from JSON is JSON-clean by construction (non-finite
        constants are refused), so only the other fields are checked again.

        Raises:
            BrokerError: ``text`` is not a message in the wire form.
        """
        try:
            data = loads_bounded(text, MAX_WIRE_DEPTH, MAX_WIRE_BYTES)
        except (ValueError, RecursionError) as exc:
            raise BrokerError(f"malformed message on the wire: {exc}") from None
        if (
            not isinstance(data, dict)
            or data.keys() != _WIRE_KEYS
            or not isinstance(data["payload"], dict)
        ):
            raise BrokerError(f"malformed message on the wire: {str(text)[:200]!r}")
        message = object.__new__(cls)
        for name, value in data.items():
            object.__setattr__(message, name, value)
        try:
            message._check_header()
        except ValueError as exc:
            raise BrokerError(f"malformed message on the wire: {exc}") from exc
        return message


class Broker(ABC):
    """Mailbox-based message broker shared by the agents of one environment.

    Guarantees of every implementation:

    * per-mailbox order: :meth:`receive` returns messages in the order they were
      delivered to that mailbox (for one sender, the order it sent them);
    * durability: messages wait in the mailbox until received or :meth:`reset`;
    * fan-out at publish time: a subscriber gets the broadcasts published while
      it is subscribed, never older ones (a publisher subscribed to its own
      topic gets its own message too);
    * copies: a received message is rebuilt from its JSON wire form, so its
      payload is the receiver's own.

    Agent and topic names are non-empty strings. A broker is a context manager
    that closes itself.
    """

    @abstractmethod
    def publish(self, topic: str, message: Message) -> int:
        """Deliver ``message`` to every agent subscribed to ``topic``.

        ``message.topic`` must equal ``topic``. Returns the number of mailboxes
        it was delivered to (0 if nobody is subscribed).
        """

    @abstractmethod
    def subscribe(self, agent: str, topic: str) -> None:
        """Subscribe ``agent`` to ``topic`` (idempotent)."""

    @abstractmethod
    def unsubscribe(self, agent: str, topic: str) -> None:
        """Unsubscribe ``agent`` from ``topic`` (no-op if not subscribed).

        Broadcasts already in the mailbox stay there.
        """

    @abstractmethod
    def send(self, message: Message) -> None:
        """Deliver a direct message to ``message.recipient``'s mailbox."""

    @abstractmethod
    def receive(self, agent: str) -> list[Message]:
        """Drain ``agent``'s mailbox: all waiting messages, in delivery order."""

    def dropped(self, agent: str) -> int:
        """Messages for ``agent`` dropped so far because they were not messages in the
        wire form (written into the mailbox by another client of the server: malformed
        JSON, extra keys, too deep or too large, numbers out of range)."""
        return self._dropped.get(agent, 0) if hasattr(self, "_dropped") else 0

    def _decode(self, agent: str, wires: Iterable[Any]) -> list[Message]:
        """The messages among ``wires``; the others are dropped and counted."""
        out: list[Message] = []
        for wire in wires:
            try:
                out.append(Message.from_json(wire))
            except BrokerError:
                counts = self.__dict__.setdefault("_dropped", {})
                counts[agent] = counts.get(agent, 0) + 1
        return out

    @abstractmethod
    def pending(self, agent: str) -> int:
        """Number of messages waiting in ``agent``'s mailbox."""

    @abstractmethod
    def reset(self) -> None:
        """Drop every mailbox and subscription of this broker (e.g. at episode reset)."""

    @abstractmethod
    def close(self) -> None:
        """Release the broker's resources; idempotent. The broker is unusable afterwards."""

    @abstractmethod
    def ping(self) -> None:
        """Check the broker is reachable; raise :class:`BrokerUnavailableError` if not."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a non-empty string, else raise ValueError naming ``kind``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} must be a non-empty string, got {name!r}")
    return name


def check_publish(topic: str, message: Message) -> None:
    """Validate the arguments of :meth:`Broker.publish`."""
    check_name("topic", topic)
    if not isinstance(message, Message):
        raise TypeError(f"expected a Message, got {type(message).__name__}")
    if message.topic != topic:
        raise ValueError(
            f"publish on topic {topic!r} needs a message with topic={topic!r}, "
            f"got topic={message.topic!r} (recipient={message.recipient!r})"
        )


def check_send(message: Message) -> str:
    """Validate the argument of :meth:`Broker.send`; return the recipient."""
    if not isinstance(message, Message):
        raise TypeError(f"expected a Message, got {type(message).__name__}")
    if message.recipient is None:
        raise ValueError(
            f"send needs a direct message (recipient set); this one is for topic "
            f"{message.topic!r}, use publish"
        )
    return message.recipient
