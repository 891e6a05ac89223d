"""The read ops (``orders``, ``positions``) scan tables on the gateway's only
I/O thread, so each connection has a budget of them (``read_rate_limit``):
a pipelined flood of them is answered RATE_LIMITED past the budget, and the
other connections are served all along."""

from __future__ import annotations

import json
import socket
import time

from gateway_harness import GatewayTestCase, Principal

FLOOD = 4000
READ_RATE_LIMIT = "5/1s"


def read_lines(connection: socket.socket, count: int, deadline: float) -> list[dict]:
    data = b""
    while data.count(b"\n") < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            received = len(data.splitlines())
            raise AssertionError(f"only {received} of {count} replies in time")
        connection.settimeout(remaining)
        try:
            chunk = connection.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError("the gateway closed the connection")
        data += chunk
    return [json.loads(line) for line in data.splitlines()]


class ReadBudget(GatewayTestCase):
    def test_a_pipelined_flood_of_orders_and_positions_is_rate_limited_per_connection(self) -> None:
        gateway = self.start_gateway(
            [Principal("reader"), Principal("trader")], gateway={"read_rate_limit": READ_RATE_LIMIT}
        )
        trader = self.connect(gateway, "trader")

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as flood:
            flood.connect(str(gateway.socket_path))
            flood.sendall((json.dumps({"op": "hello", "token": gateway.token("reader")}) + "\n").encode())
            (welcome,) = read_lines(flood, 1, time.monotonic() + 5.0)
            self.assertEqual(welcome["type"], "welcome")

            started = time.monotonic()
            burst = "".join(
                json.dumps({"op": "orders" if n % 2 else "positions", "id": n}) + "\n" for n in range(FLOOD)
            )
            flood.sendall(burst.encode())
            # Another connection is served while the flood is answered.
            self.assertTrue(trader.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "t-1").accepted)
            replies = read_lines(flood, FLOOD, time.monotonic() + 30.0)
            elapsed = time.monotonic() - started

        self.assertEqual([reply["id"] for reply in replies], list(range(FLOOD)))
        answered = [reply for reply in replies if reply["type"] in ("orders", "positions")]
        limited = [reply for reply in replies if reply.get("reason") == "RATE_LIMITED"]
        self.assertEqual(len(answered) + len(limited), FLOOD)
        # The burst of 5, plus 5 per second of the flood's duration.
        self.assertGreaterEqual(len(answered), 5)
        self.assertLessEqual(len(answered), 5 + int(elapsed * 5) + 1)
        self.assertTrue(all(reply["retry_after_ms"] > 0 for reply in limited))

        # A new connection has a budget of its own.
        reader = self.connect(gateway, "reader")
        self.assertEqual(reader.orders(), [])


if __name__ == "__main__":
    import unittest

    unittest.main()
