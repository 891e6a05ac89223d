"""Process lifecycle: embedded default, cancel-on-disconnect, SIGTERM drain."""

from __future__ import annotations

import fcntl
import json
import os
import re
import selectors
import signal
import socket
import struct
import subprocess
import termios
import time
import unittest
import urllib.request

from gateway_harness import (
    EXIT_TIMEOUT,
    READY_TIMEOUT,
    GatewayTestCase,
    Principal,
    ordergate_binary,
    wait_until,
)
from ordergate_client import Client, ConnectionClosed, ExecEvent

DRAIN_DEADLINE = 10.0


def rest_orders(client: Client, prefix: str, count: int) -> list[str]:
    """Places ``count`` resting buy limits and waits until the broker has
    acknowledged each (NEW)."""
    ids = [f"{prefix}-{n}" for n in range(count)]
    for cl_ord_id in ids:
        reply = client.submit(
            "paper", "EURUSD", "buy", "limit", "1000", "gtc", cl_ord_id, price="1.08"
        )
        assert reply.accepted, reply
    acknowledged = {
        event.cl_ord_id for event in (client.next_event(5.0) for _ in ids) if event is not None
    }
    assert acknowledged == set(ids), acknowledged
    return ids


def events_until_closed(client: Client, timeout: float = DRAIN_DEADLINE) -> list[ExecEvent]:
    """Every execution report until the gateway closes the connection."""
    events: list[ExecEvent] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            event = client.next_event(max(0.0, deadline - time.monotonic()))
        except ConnectionClosed:
            return events
        if event is None:
            raise AssertionError(
                f"connection still open after {timeout}s; events so far: {events}"
            )
        events.append(event)


def wait_read_by_peer(sock_fd: int) -> None:
    wait_until(
        lambda: struct.unpack("i", fcntl.ioctl(sock_fd, termios.TIOCOUTQ, b"\0" * 4))[0] == 0,
        interval=0.0002,
        what="the gateway to read the pipelined requests",
    )


class EmbeddedDefault(GatewayTestCase):
    def test_without_config_the_ready_line_carries_a_dev_token_that_works(self) -> None:
        directory = self.make_directory()
        path = directory / "dev.sock"
        process = subprocess.Popen(
            [ordergate_binary(), "run", "--socket", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=directory,
        )
        self.addCleanup(lambda: process.poll() is None and (process.kill(), process.wait()))
        self.addCleanup(process.stdout.close)
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            self.assertTrue(selector.select(READY_TIMEOUT), "no ready line")
            line = process.stdout.readline().decode()
        match = re.fullmatch(
            r"ordergate ready socket=(\S+) environment=development principal=dev token=(\S+)"
            r" console=http://127\.0\.0\.1:(\d+)/\n",
            line,
        )
        self.assertIsNotNone(match, line)
        self.assertEqual(match[1], str(path))
        self.assertRegex(match[2], r"^[A-Za-z0-9_-]{43}$")
        # The embedded default serves metrics and health on loopback (9464,
        # or a free port when that is taken); the paper account is ready.
        readyz = f"http://127.0.0.1:{match[3]}/readyz"
        with urllib.request.urlopen(readyz, timeout=5.0) as response:
            self.assertEqual(response.status, 200)
            self.assertEqual(json.loads(response.read())["journal"], "disabled")
        with Client(path) as client:
            self.assertEqual(client.hello(match[2]).principal, "dev")
            reply = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "demo-1")
            self.assertTrue(reply.accepted, reply)
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(timeout=EXIT_TIMEOUT), 0)


class CancelOnDisconnect(GatewayTestCase):
    def setUp(self) -> None:
        self.gateway = self.start_gateway(
            [Principal("bot", cancel_on_disconnect=True), Principal("keeper")]
        )

    def test_disconnect_cancels_the_resting_orders_of_a_cancel_on_disconnect_principal(
        self,
    ) -> None:
        bot = self.connect(self.gateway, "bot")
        watcher = self.connect(
            self.gateway, "bot"
        )  # orders shows the principal's orders, any session
        ids = rest_orders(bot, "cod", 3)
        self.assertEqual(sorted(order.cl_ord_id for order in watcher.orders()), ids)
        bot.close()
        wait_until(
            lambda: watcher.orders() == [], what="the disconnected bot's orders to be canceled"
        )
        (line,) = self.gateway.wait_for_log("cancel_on_disconnect")
        self.assertIn("orders=3", line)

    def test_disconnect_right_after_submitting_still_cancels_everything(self) -> None:
        # A bot that crashes right after it sent its orders. Server bug (as
        # of this test): the cancels go to the broker queue without the
        # session's producer token and can overtake the submits, so the
        # broker drops them as unknown and the orders rest on.
        bot = self.connect(self.gateway, "bot")
        watcher = self.connect(self.gateway, "bot")
        for n in range(20):
            bot.begin_submit(
                "paper", "EURUSD", "buy", "limit", "1000", "gtc", f"crash-{n}", price="1.08"
            )
        # The end of the stream right behind the orders, as when the process dies.
        with socket.socket(fileno=os.dup(bot.fileno())) as raw:
            raw.shutdown(socket.SHUT_WR)
        (line,) = self.gateway.wait_for_log("cancel_on_disconnect")
        self.assertIn("orders=20", line)
        wait_until(
            lambda: watcher.orders() == [],
            timeout=3.0,
            what="the crashed bot's orders to be canceled",
        )

    def test_orders_of_a_principal_without_it_survive_a_disconnect(self) -> None:
        keeper = self.connect(self.gateway, "keeper")
        ids = rest_orders(keeper, "keep", 2)
        keeper.close()
        self.gateway.wait_for_log("disconnected")
        watcher = self.connect(self.gateway, "keeper")
        self.assertEqual(sorted(order.cl_ord_id for order in watcher.orders()), ids)
        self.assertEqual(self.gateway.log_events("cancel_on_disconnect"), [])


class Shutdown(GatewayTestCase):
    def test_sigterm_answers_pending_requests_reports_cancels_and_exits_zero(self) -> None:
        gateway = self.start_gateway(
            [Principal("bot", cancel_on_disconnect=True), Principal("keeper")]
        )
        bot = self.connect(gateway, "bot")
        keeper = self.connect(gateway, "keeper")
        bot_ids = rest_orders(bot, "bot", 2)
        keeper_ids = rest_orders(keeper, "keep", 2)

        # Requests the gateway has read but whose replies nobody read yet.
        pending = [keeper.begin_ping() for _ in range(50)] + [
            keeper.begin_submit(
                "paper", "EURUSD", "buy", "limit", "1000", "gtc", "last-order", price="1.08"
            )
        ]
        wait_read_by_peer(keeper.fileno())

        started = time.monotonic()
        gateway.signal(signal.SIGTERM)
        for request in pending[:-1]:
            request.result(timeout=DRAIN_DEADLINE)
        self.assertTrue(pending[-1].result(timeout=DRAIN_DEADLINE).accepted)

        for client, ids in ((bot, bot_ids), (keeper, keeper_ids + ["last-order"])):
            events = client.pending_events() + events_until_closed(client)
            final = {event.cl_ord_id: event.status for event in events if event.is_terminal}
            self.assertEqual(final, {cl_ord_id: "CANCELED" for cl_ord_id in ids}, events)

        self.assertEqual(gateway.process.wait(timeout=DRAIN_DEADLINE), 0)
        self.assertLess(time.monotonic() - started, DRAIN_DEADLINE)
        self.assertFalse(gateway.socket_path.exists())
        self.assertTrue(gateway.log_events("stopped"))

    def test_sigint_drains_like_sigterm(self) -> None:
        gateway = self.start_gateway()
        client = self.connect(gateway, "trader")
        rest_orders(client, "int", 1)
        gateway.signal(signal.SIGINT)
        events = events_until_closed(client)
        self.assertEqual([event.status for event in events], ["CANCELED"])
        self.assertEqual(gateway.process.wait(timeout=DRAIN_DEADLINE), 0)

    def test_a_client_that_stops_reading_does_not_hold_the_shutdown(self) -> None:
        gateway = self.start_gateway()
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(stuck.close)
        stuck.connect(str(gateway.socket_path))
        # Enough replies to fill the socket buffers, never read.
        request = b'{"op":"ping","id":"' + b"y" * 60 + b'"}\n'
        for _ in range(400):
            stuck.sendall(request * 10)
            wait_read_by_peer(stuck.fileno())
        started = time.monotonic()
        gateway.signal(signal.SIGTERM)
        self.assertEqual(gateway.process.wait(timeout=DRAIN_DEADLINE), 0)
        self.assertLess(time.monotonic() - started, DRAIN_DEADLINE)

    def test_new_connections_are_refused_once_draining_is_over(self) -> None:
        gateway = self.start_gateway()
        self.assertEqual(gateway.terminate(), 0)
        with self.assertRaises(ConnectionClosed):
            Client(gateway.socket_path, timeout=1.0)


if __name__ == "__main__":
    unittest.main()
