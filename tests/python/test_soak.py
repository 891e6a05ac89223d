"""Soak: many more orders than order records through a real gateway process.

A gateway with ``order_capacity = 4096`` takes ORDERGATE_SOAK_ORDERS market
orders (default 200,000 in CI; ``tools/run-soak`` runs 2,000,000) from the
load generator over its Unix socket, open loop at ORDERGATE_SOAK_RATE orders
a second (default 20,000). Every order is accepted (none is
refused for capacity: finished orders' records are reused), resident memory
at the end is within 5% of its value after the first 100,000 orders, and a
client order id used before all that reuse is still refused inside
``duplicate_window``, after a SIGKILL and a restart too.
"""

from __future__ import annotations

import os
import subprocess
import unittest
from pathlib import Path

from gateway_harness import INSTRUMENTS_TOML, GatewayProcess, GatewayTestCase, Principal, load_binary

FIRST_PHASE = 100_000


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")



class OrderRecordReuse(GatewayTestCase):
    def run_load(self, gateway, count: int) -> str:
        result = subprocess.run(
            [
                load_binary(),
                "--socket", str(gateway.socket_path),
                "--token", gateway.token("soak"),
                "--clients", "2",
                # Open loop at a rate the paper broker keeps up with (also
                # in the sanitizer builds): the records in use are the
                # orders in flight, far below 4096.
                "--rate", os.environ.get("ORDERGATE_SOAK_RATE", "20000"),
                "--count", str(count),
                "--no-baseline",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        summary = [line for line in result.stdout.splitlines() if "throughput=" in line]
        self.assertEqual(len(summary), 1, result.stdout)
        self.assertIn(f"count={count}", summary[0])
        self.assertNotIn("rejected=", summary[0], "no order may be refused, for capacity or anything else")
        return summary[0]

    def test_millions_of_orders_through_4096_records_in_flat_memory(self) -> None:
        total = int(os.environ.get("ORDERGATE_SOAK_ORDERS", "200000"))
        self.assertGreater(total, FIRST_PHASE)
        soak = Principal("soak", rate_limits=("10000000/1s",))
        directory = self.make_directory()
        settings = {
                "order_capacity": 4096,
                # Every id of the run stays in the window (24 h by default).
                "duplicate_capacity": max(1 << 19, 2 * total),
                "session_queue_budget": 4096,
            }
        # Only the order table may bound the orders in flight here.
        instruments = INSTRUMENTS_TOML.replace("max_open_orders = 100", "max_open_orders = 100000")
        state = f'[state]\npath = "{directory / "ordergate.state"}"\n'
        gateway = self.start_gateway(
            [soak], gateway=settings, directory=directory, extra_toml=state, instruments=instruments
        )
        client = self.connect(gateway, "soak")
        first = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "soak-first")
        self.assertTrue(first.accepted, first)

        self.run_load(gateway, FIRST_PHASE)
        after_first = resident_kib(gateway.process.pid)
        summary = self.run_load(gateway, total - FIRST_PHASE)
        at_end = resident_kib(gateway.process.pid)
        print(
            f"\nsoak: {total} orders, order_capacity 4096; resident {after_first} KiB after "
            f"{FIRST_PHASE}, {at_end} KiB at the end ({at_end / after_first - 1:+.2%}); {summary}"
        )
        if os.environ.get("ORDERGATE_SANITIZE"):
            # AddressSanitizer keeps freed memory in quarantine (up to 256 MiB)
            # and adds shadow memory: resident size says nothing about leaks
            # there (LeakSanitizer checks those at exit).
            print("soak: resident memory not compared in a sanitizer build")
        else:
            self.assertLessEqual(at_end, after_first * 1.05, "resident memory grew by more than 5%")

        again = client.submit("paper", "EURUSD", "sell", "market", "1000", "ioc", "soak-first")
        self.assertFalse(again.accepted)
        self.assertEqual(again.reason, "DUPLICATE_CLIENT_ORDER_ID")
        fresh = client.submit("paper", "EURUSD", "sell", "market", "1000", "ioc", "soak-last")
        self.assertTrue(fresh.accepted, fresh)
        # Its fill says the order reached the broker thread, which kept its
        # owner line (an order killed while still queued never left).
        while True:
            event = client.next_event(timeout=10.0)
            self.assertIsNotNone(event, "no fill for soak-last")
            if event.cl_ord_id == "soak-last" and event.status == "FILLED":
                break
        client.close()

        # And after a SIGKILL and a restart: the ids come back from the
        # order-owner files beside the state file.
        gateway.kill()
        restarted = GatewayProcess(directory, [soak], settings, extra_toml=state, instruments=instruments)
        self.addCleanup(restarted.kill)
        with restarted.connect("soak") as client:
            for cl_ord_id in ("soak-first", "soak-last"):
                again = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", cl_ord_id)
                self.assertEqual(again.reason, "DUPLICATE_CLIENT_ORDER_ID", cl_ord_id)
            self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "soak-new").accepted)


if __name__ == "__main__":
    unittest.main()
