"""The client on its own, against a scripted fake gateway (no process needed)."""

from __future__ import annotations

import json
import select
import socket
import threading
import unittest
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from gateway_harness import new_token, short_temporary_directory
from ordergate_client import (
    Accepted,
    Client,
    ConnectionClosed,
    ExecEvent,
    GatewayError,
    PositionFillEvent,
    ProtocolError,
    Rejected,
    RequestRejected,
    Timeout,
    decimal_text,
)

EXEC = {
    "type": "exec",
    "cl_ord_id": "c-1",
    "status": "NEW",
    "account": "paper",
    "symbol": "EUR/USD",
    "side": "buy",
    "last_qty": "0",
    "last_px": "0",
    "cum_qty": "0",
    "leaves_qty": "1000",
    "avg_px": "0",
    "broker_order_id": "P-1",
    "time_ns": 1,
}

Script = Callable[[socket.socket, "FakeGateway"], None]


class FakeGateway:
    """Accepts one connection and runs ``script`` on it in a thread."""

    def __init__(self, script: Script) -> None:
        self._directory = short_temporary_directory("og-fake-")
        self.path = Path(self._directory.name) / "fake.sock"
        self.received: list[dict] = []
        self.raw = bytearray()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(1)
        self._script = script
        self._buffer = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            connection.settimeout(5.0)
            try:
                self._script(connection, self)
            except OSError:
                pass

    def read_request(self, connection: socket.socket) -> dict:
        while b"\n" not in self._buffer:
            chunk = connection.recv(65536)
            if not chunk:
                raise EOFError
            self.raw += chunk
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        self.received.append(message)
        return message

    @staticmethod
    def send(connection: socket.socket, *messages: dict) -> None:
        connection.sendall(b"".join(json.dumps(message).encode() + b"\n" for message in messages))

    def close(self) -> None:
        self._thread.join(timeout=5.0)
        self._listener.close()
        self._directory.cleanup()


class ClientTestCase(unittest.TestCase):
    def fake(self, script: Script) -> FakeGateway:
        gateway = FakeGateway(script)
        self.addCleanup(gateway.close)
        return gateway

    def client(self, gateway: FakeGateway, timeout: float = 2.0) -> Client:
        client = Client(gateway.path, timeout=timeout)
        self.addCleanup(client.close)
        return client


def silent(connection: socket.socket, gateway: FakeGateway) -> None:
    """Reads everything, answers nothing."""
    try:
        while True:
            gateway.read_request(connection)
    except EOFError:
        pass


class DecimalArguments(ClientTestCase):
    def test_float_arguments_are_refused_before_anything_is_sent(self) -> None:
        gateway = self.fake(silent)
        client = self.client(gateway)
        for field, kwargs in (
            ("qty", {"qty": 1000.0}),
            ("price", {"price": 1.0845}),
            ("stop_price", {"stop_price": 1.08}),
            ("stop_loss", {"stop_loss": 1.07}),
            ("take_profit", {"take_profit": 1.09}),
        ):
            with self.subTest(field):
                arguments = {"qty": "1000", **kwargs}
                with self.assertRaises(TypeError) as raised:
                    client.submit(
                        "paper",
                        "EURUSD",
                        "buy",
                        "limit",
                        arguments.pop("qty"),
                        "gtc",
                        "f-1",
                        **arguments,
                    )
                self.assertIn(field, str(raised.exception))
                self.assertIn("float", str(raised.exception))
        client.close()
        gateway.close()
        self.assertEqual(gateway.received, [])

    def test_decimal_text_is_exact_and_plain(self) -> None:
        self.assertEqual(decimal_text(Decimal("1.08463")), "1.08463")
        self.assertEqual(decimal_text("0.00001"), "0.00001")
        self.assertEqual(decimal_text(10000), "10000")
        self.assertEqual(decimal_text(Decimal("1E+4")), "10000")
        self.assertEqual(decimal_text(Decimal("1.0800")), "1.0800")
        for bad in (True, 1.5, None, [1]):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                decimal_text(bad)  # type: ignore[arg-type]
        for bad in ("lots", "NaN", "Infinity", "", "1,5"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                decimal_text(bad)

    def test_decimals_go_out_as_json_strings(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            request = gateway.read_request(connection)
            gateway.send(
                connection,
                {
                    "type": "accepted",
                    "op": "submit",
                    "id": request["id"],
                    "cl_ord_id": request["cl_ord_id"],
                    "order_id": 7,
                },
            )

        gateway = self.fake(script)
        reply = self.client(gateway).submit(
            "paper",
            "EURUSD",
            "buy",
            "limit",
            10000,
            "gtd",
            "d-1",
            price=Decimal("1.08450"),
            stop_loss="1.08",
            tag="t",
            expire_time_ns=5,
        )
        self.assertEqual(reply, Accepted(op="submit", id=1, cl_ord_id="d-1", order_id=7))
        gateway.close()
        (sent,) = gateway.received
        self.assertEqual(
            (sent["qty"], sent["price"], sent["stop_loss"]), ("10000", "1.08450", "1.08")
        )
        self.assertEqual(sent["expire_time_ns"], 5)
        self.assertNotIn("take_profit", sent)
        self.assertNotIn(b"1.0845,", bytes(gateway.raw))


class TokenSecrecy(ClientTestCase):
    def test_token_never_appears_in_repr_state_or_exceptions(self) -> None:
        token = new_token()

        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            request = gateway.read_request(connection)
            gateway.send(
                connection,
                {
                    "type": "rejected",
                    "id": request["id"],
                    "reason": "UNAUTHENTICATED",
                    "message": "session closed, revoked or never opened",
                },
            )
            request = gateway.read_request(connection)
            gateway.send(
                connection,
                {
                    "type": "error",
                    "id": request["id"],
                    "code": "INVALID_FIELD",
                    "message": "field 'token' is too long",
                },
            )

        gateway = self.fake(script)
        client = self.client(gateway)
        with self.assertRaises(RequestRejected) as first:
            client.hello(token)
        with self.assertRaises(ProtocolError) as second:
            client.hello(token)
        for error in (first.exception, second.exception):
            self.assertNotIn(token, str(error))
            self.assertNotIn(token, repr(error))
            self.assertNotIn(token, repr(error.args))
        self.assertNotIn(token, repr(first.exception.rejection))
        self.assertNotIn(token, repr(client))
        self.assertNotIn(token, repr(vars(client)) if hasattr(client, "__dict__") else "")
        self.assertEqual(first.exception.reason, "UNAUTHENTICATED")

    def test_hello_refuses_a_missing_token_without_sending(self) -> None:
        gateway = self.fake(silent)
        client = self.client(gateway)
        for bad in ("", None, b"bytes-token"):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                client.hello(bad)  # type: ignore[arg-type]
        client.close()
        gateway.close()
        self.assertEqual(gateway.received, [])


class ReplyMatching(ClientTestCase):
    def test_replies_are_matched_by_id_and_exec_reports_in_between_are_queued(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            first = gateway.read_request(connection)
            second = gateway.read_request(connection)
            # Out of order, with reports before, between and after.
            gateway.send(
                connection,
                EXEC,
                {"type": "pong", "id": second["id"]},
                {**EXEC, "status": "FILLED"},
                {"type": "accepted", "op": "cancel", "id": first["id"], "cl_ord_id": "c-1"},
                {**EXEC, "cl_ord_id": "c-2"},
            )
            silent(connection, gateway)

        gateway = self.fake(script)
        client = self.client(gateway)
        cancel = client.begin_cancel("c-1")
        ping = client.begin_ping()
        self.assertEqual(cancel.result(), Accepted(op="cancel", id=1, cl_ord_id="c-1"))
        ping.result()
        events = [client.next_event(1.0) for _ in range(3)]
        self.assertEqual(
            [(e.cl_ord_id, e.status) for e in events if e],
            [("c-1", "NEW"), ("c-1", "FILLED"), ("c-2", "NEW")],
        )
        self.assertEqual(events[0].leaves_qty, Decimal("1000"))
        self.assertIsNone(client.next_event(0.05))

    def test_a_position_fill_between_replies_is_queued_as_its_own_event(self) -> None:
        position_fill = {
            "type": "position_fill",
            "account": "fx",
            "symbol": "EUR/USD",
            "side": "sell",
            "qty": "10000",
            "price": "1.079",
            "source": "STOP_LOSS",
            "orig_cl_ord_id": "c-1",
            "broker_order_id": "7",
            "broker_reason": "STOP_LOSS_ORDER",
            "time_ns": 5,
        }

        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            request = gateway.read_request(connection)
            gateway.send(connection, EXEC, position_fill, {"type": "pong", "id": request["id"]})
            silent(connection, gateway)

        gateway = self.fake(script)
        client = self.client(gateway)
        client.begin_ping().result()
        first = client.next_event(1.0)
        second = client.next_event(1.0)
        self.assertIsInstance(first, ExecEvent)
        self.assertEqual(
            second,
            PositionFillEvent(
                account="fx",
                symbol="EUR/USD",
                side="sell",
                qty=Decimal("10000"),
                price=Decimal("1.079"),
                source="STOP_LOSS",
                orig_cl_ord_id="c-1",
                broker_order_id="7",
                time_ns=5,
                broker_reason="STOP_LOSS_ORDER",
            ),
        )
        assert second is not None
        self.assertFalse(second.is_terminal)
        self.assertIsNone(client.next_event(0.05))

    def test_rejections_are_values_for_orders_and_exceptions_for_other_ops(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            for _ in range(2):
                request = gateway.read_request(connection)
                gateway.send(
                    connection,
                    {
                        "type": "rejected",
                        "id": request["id"],
                        "cl_ord_id": "r-1",
                        "reason": "RATE_LIMITED",
                        "message": "rate limit exceeded; retry later",
                        "retry_after_ms": 120,
                    },
                )

        gateway = self.fake(script)
        client = self.client(gateway)
        reply = client.submit("paper", "EURUSD", "buy", "market", "1", "ioc", "r-1")
        self.assertEqual(
            reply,
            Rejected(
                reason="RATE_LIMITED",
                message="rate limit exceeded; retry later",
                id=1,
                cl_ord_id="r-1",
                retry_after_ms=120,
                op="submit",
            ),
        )
        self.assertFalse(reply.accepted)
        with self.assertRaises(RequestRejected) as raised:
            client.orders()
        self.assertEqual(
            (raised.exception.reason, raised.exception.rejection.retry_after_ms),
            ("RATE_LIMITED", 120),
        )
        self.assertIsInstance(raised.exception, GatewayError)

    def test_timeout_leaves_the_connection_usable_and_the_late_reply_collectable(self) -> None:
        release = threading.Event()

        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            request = gateway.read_request(connection)
            release.wait(5.0)
            gateway.send(connection, {"type": "pong", "id": request["id"]})
            request = gateway.read_request(connection)
            gateway.send(connection, {"type": "pong", "id": request["id"]})

        gateway = self.fake(script)
        client = self.client(gateway)
        pending = client.begin_ping()
        with self.assertRaises(Timeout):
            pending.result(timeout=0.05)
        release.set()
        pending.result()
        client.ping()

    def test_closing_error_is_reported_with_its_code(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            gateway.read_request(connection)
            gateway.send(
                connection,
                {"type": "error", "code": "LINE_TOO_LONG", "message": "line longer than 4096"},
            )
            connection.shutdown(socket.SHUT_RDWR)

        gateway = self.fake(script)
        client = self.client(gateway)
        with self.assertRaises(ConnectionClosed) as raised:
            client.ping()
        self.assertEqual(raised.exception.code, "LINE_TOO_LONG")
        self.assertTrue(client.closed)
        self.assertEqual(client.next_unmatched()["code"], "LINE_TOO_LONG")

    def test_next_event_with_zero_timeout_takes_what_has_arrived_without_waiting(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            gateway.send(connection, EXEC)
            silent(connection, gateway)

        gateway = self.fake(script)
        client = self.client(gateway)
        self.assertTrue(select.select([client.fileno()], [], [], 5.0)[0])
        event = client.next_event(0)
        self.assertIsNotNone(event)
        self.assertIsNone(client.next_event(0))

    def test_events_generator_ends_when_the_connection_closes(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            gateway.send(
                connection, EXEC, {**EXEC, "status": "CANCELED", "reason": "BROKER_UNAVAILABLE"}
            )
            connection.shutdown(socket.SHUT_RDWR)

        gateway = self.fake(script)
        events = list(self.client(gateway).events())
        self.assertEqual([event.status for event in events], ["NEW", "CANCELED"])
        self.assertEqual(events[-1].reason, "BROKER_UNAVAILABLE")
        self.assertTrue(events[-1].is_terminal)

    def test_a_reply_that_is_not_json_is_a_protocol_error(self) -> None:
        def script(connection: socket.socket, gateway: FakeGateway) -> None:
            gateway.read_request(connection)
            connection.sendall(b"this is not json\n")

        gateway = self.fake(script)
        with self.assertRaises(ProtocolError) as raised:
            self.client(gateway).ping()
        self.assertEqual(raised.exception.code, "BAD_REPLY")

    def test_connecting_to_a_missing_socket_raises_connection_closed(self) -> None:
        with short_temporary_directory() as directory:
            with self.assertRaises(ConnectionClosed):
                Client(Path(directory) / "nothing.sock")


if __name__ == "__main__":
    unittest.main()
