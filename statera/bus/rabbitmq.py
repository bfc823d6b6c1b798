"""RabbitMQ bus, for API and agents on many hosts.

Hints go to one direct exchange, routed by provider name. Each subscriber (a provider agent
on some host) declares its own exclusive, auto-deleted queue bound to its provider, so every
agent of that provider hears every hint; a hint is only "look at X now", so a duplicate costs a
no-op converge and a lost one is repaired by the periodic resync. Publishing is best effort:
a broker outage is logged and never fails an API write (the database already holds it).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import pika
from pika.exceptions import AMQPError

from statera.bus.base import CONVERGE, Hint

LOG = logging.getLogger(__name__)
# pika logs every connection, channel and close at INFO (about 56 lines in two minutes of a
# test run); its warnings and errors still show. Statera logs its own broker problems.
logging.getLogger("pika").setLevel(logging.WARNING)
EXCHANGE = "statera.hints"


def _connect(url: str) -> Any:
    params = pika.URLParameters(url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 10
    return pika.BlockingConnection(params)


class RabbitMQSubscription:
    """A consumer thread with its own connection feeding a local queue."""

    def __init__(self, url: str, topic: str) -> None:
        self.url = url
        self.topic = topic
        self.queue: queue.SimpleQueue[Hint] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"bus-{topic}", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def get(self, timeout: float) -> Hint | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except AMQPError as exc:
                LOG.warning("bus: consumer for %s lost the broker (%s); reconnecting",
                            self.topic, exc)
                self._stop.wait(1.0)

    def _consume(self) -> None:
        conn = _connect(self.url)
        try:
            channel = conn.channel()
            channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
            declared = channel.queue_declare("", exclusive=True, auto_delete=True)
            name = declared.method.queue
            channel.queue_bind(name, EXCHANGE, routing_key=self.topic)
            self._ready.set()
            for _method, _props, body in channel.consume(name, auto_ack=True,
                                                         inactivity_timeout=0.2):
                if self._stop.is_set():
                    break
                if body is not None:
                    self._deliver(body)
            channel.cancel()
        finally:
            if conn.is_open:
                conn.close()

    def _deliver(self, body: bytes) -> None:
        try:
            message = json.loads(body)
            self.queue.put(Hint(str(message["lb_id"]), str(message.get("action", CONVERGE))))
        except (ValueError, KeyError, TypeError):
            LOG.warning("bus: dropped a malformed hint on %s", self.topic)


class RabbitMQBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._conn: Any = None
        self._channel: Any = None

    def publish(self, topic: str, lb_id: str, action: str = CONVERGE) -> None:
        body = json.dumps({"lb_id": lb_id, "action": action}).encode()
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._ensure_channel().basic_publish(EXCHANGE, topic, body)
                    return
                except AMQPError as exc:
                    self._reset()
                    if attempt == 2:
                        LOG.warning("bus: hint for %s not published (%s); the periodic "
                                    "resync will converge it", lb_id, exc)

    def subscribe(self, topic: str) -> RabbitMQSubscription:
        return RabbitMQSubscription(self.url, topic)

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _ensure_channel(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self._conn = _connect(self.url)
            self._channel = self._conn.channel()
            self._channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
        return self._channel

    def _reset(self) -> None:
        try:
            if self._conn is not None and self._conn.is_open:
                self._conn.close()
        except AMQPError:
            pass
        self._conn = self._channel = None
