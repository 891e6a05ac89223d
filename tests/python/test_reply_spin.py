"""``reply_spin``: after a read that had an order accepted, the I/O thread
polls for the order's reports before it writes, so the reply and the reports
leave together and the broker thread skips its wake-up call. Whether the
reports come within the spin or after it (a spin of 1 us almost always ends
first, and the broker thread must then wake the I/O thread after all), every
accepted order gets its ``accepted`` reply, then NEW, then FILLED, closed
loop and pipelined."""

from __future__ import annotations

import json
import socket
import time

from gateway_harness import INSTRUMENTS_TOML, GatewayTestCase, Principal

CLOSED_LOOP = 300
PIPELINED = 600


class Lines:
    """Newline-delimited JSON from a raw socket."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.buffer = b""

    def next(self, deadline: float) -> dict:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no reply in time")
            self.connection.settimeout(remaining)
            try:
                chunk = self.connection.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError("the gateway closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def order(cl_ord_id: str, side: str) -> bytes:
    return (
        json.dumps(
            {
                "op": "submit",
                "account": "paper",
                "symbol": "EURUSD",
                "side": side,
                "type": "market",
                "qty": "1000",
                "tif": "ioc",
                "cl_ord_id": cl_ord_id,
            }
        )
        + "\n"
    ).encode()


class ReplySpin(GatewayTestCase):
    def run_orders(self, spin: str) -> None:
        # Open orders are not limited below the burst: the paper broker may
        # fill them later than the I/O thread submits them, and only the
        # session's queue budget should refuse any.
        gateway = self.start_gateway(
            [Principal("trader", rate_limits=("100000/1s",))],
            gateway={"reply_spin": spin},
            instruments=INSTRUMENTS_TOML.replace("max_open_orders = 100", f"max_open_orders = {PIPELINED}"),
        )
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(str(gateway.socket_path))
            lines = Lines(connection)
            connection.sendall((json.dumps({"op": "hello", "token": gateway.token("trader")}) + "\n").encode())
            self.assertEqual(lines.next(time.monotonic() + 5.0)["type"], "welcome")

            # Closed loop: the next order goes once this one has filled.
            for n in range(CLOSED_LOOP):
                cl_ord_id = f"c-{n}"
                connection.sendall(order(cl_ord_id, "buy" if n % 2 == 0 else "sell"))
                deadline = time.monotonic() + 5.0
                seen = []
                while not seen or seen[-1] != "FILLED":
                    line = lines.next(deadline)
                    self.assertEqual(line.get("cl_ord_id"), cl_ord_id, line)
                    seen.append(line["status"] if line["type"] == "exec" else line["type"])
                self.assertEqual(seen, ["accepted", "NEW", "FILLED"], f"order {n}")

            # Pipelined: one write of many orders. Past the session's queue
            # budget some are refused (SESSION_QUEUE_FULL); every accepted one
            # gets both its reports.
            burst = b"".join(order(f"p-{n}", "buy" if n % 2 == 0 else "sell") for n in range(PIPELINED))
            connection.sendall(burst)
            by_order: dict[str, list[str]] = {}
            refusals: dict[str, str | None] = {}
            settled = 0
            deadline = time.monotonic() + 30.0
            while settled < PIPELINED:
                line = lines.next(deadline)
                seen = by_order.setdefault(line["cl_ord_id"], [])
                seen.append(line["status"] if line["type"] == "exec" else line["type"])
                if line["type"] == "rejected":
                    refusals[line["cl_ord_id"]] = line.get("reason")
                if seen[-1] in ("rejected", "FILLED"):
                    settled += 1
        self.assertEqual(set(by_order), {f"p-{n}" for n in range(PIPELINED)})
        accepted = 0
        for cl_ord_id, seen in by_order.items():
            if seen == ["rejected"]:
                self.assertEqual(refusals[cl_ord_id], "SESSION_QUEUE_FULL", cl_ord_id)
                continue
            self.assertEqual(seen, ["accepted", "NEW", "FILLED"], cl_ord_id)
            accepted += 1
        self.assertGreaterEqual(accepted, 256, "the session's queue budget at least")

    def test_every_order_is_answered_when_its_reports_come_within_the_spin(self) -> None:
        self.run_orders("500us")

    def test_every_order_is_answered_when_the_spin_ends_before_its_reports(self) -> None:
        self.run_orders("1us")


if __name__ == "__main__":
    import unittest

    unittest.main()
