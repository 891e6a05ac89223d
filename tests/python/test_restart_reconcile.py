"""A gateway SIGKILLed with orders working comes back knowing them.

The paper broker keeps its state in ``[paper] state_file`` and the gateway
keeps each order's owner beside ``[state] path``. After a SIGKILL and a
restart, the account is reconciled before it trades (``event=account_ready``
within 5 s), the working orders come back under their ``cl_ord_id`` for
their principal, the position is the broker's, the limits count what the
broker holds, and the principal's cancel-all reaches the orders.
"""

from __future__ import annotations

import time
import unittest
from decimal import Decimal

from gateway_harness import INSTRUMENTS_TOML, GatewayProcess, GatewayTestCase, Principal, wait_until


class RestartReconcile(GatewayTestCase):
    def setUp(self) -> None:
        self.directory = self.make_directory()
        self.principals = [Principal("trader")]
        self.instruments = INSTRUMENTS_TOML.replace(
            "[paper]\n", f'[paper]\nstate_file = "{self.directory / "paper.state"}"\n'
        ).replace("max_open_orders = 100", "max_open_orders = 3")
        self.extra = f'[state]\npath = "{self.directory / "ordergate.state"}"\n'
        self.processes: list[GatewayProcess] = []

    def tearDown(self) -> None:
        for process in self.processes:
            process.kill()

    def start(self) -> GatewayProcess:
        started = time.monotonic()
        process = GatewayProcess(self.directory, self.principals, extra_toml=self.extra, instruments=self.instruments)
        self.processes.append(process)
        ready = process.wait_for_log("account_ready", count=2, timeout=5.0)
        self.assertLess(time.monotonic() - started, 5.0)
        self.assertTrue(any("account=paper " in line or line.endswith("account=paper") for line in ready), ready)
        return process

    def test_working_orders_and_position_survive_a_sigkill_and_count_towards_the_limits(self) -> None:
        gateway = self.start()
        with gateway.connect("trader") as client:
            self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "m-1").accepted)
            for cl_ord_id, price in (("rest-1", "1.08000"), ("rest-2", "1.08001")):
                reply = client.submit("paper", "EURUSD", "buy", "limit", "2000", "gtc", cl_ord_id, price=price)
                self.assertTrue(reply.accepted, reply)
            # The broker reports only what it has made durable: wait for its
            # word on each order (FILLED for the market order, NEW for the limits).
            seen: dict[str, str] = {}
            while seen.get("m-1") != "FILLED" or seen.get("rest-1") != "NEW" or seen.get("rest-2") != "NEW":
                event = client.next_event(timeout=5.0)
                self.assertIsNotNone(event, f"reports so far: {seen}")
                seen[event.cl_ord_id] = event.status
        gateway.kill()  # SIGKILL: nothing is cancelled, nothing is flushed by the gateway

        gateway = self.start()
        log = gateway.log_text()
        self.assertRegex(log, r"event=account_ready account=paper held_orders=2 foreign_orders=0")
        with gateway.connect("trader") as client:
            orders = sorted(client.orders(), key=lambda order: order.cl_ord_id)
            self.assertEqual([order.cl_ord_id for order in orders], ["rest-1", "rest-2"])
            self.assertEqual([order.leaves_qty for order in orders], [Decimal("2000"), Decimal("2000")])
            positions = {(p.account, p.symbol): p for p in client.positions()}
            eurusd = next(p for (account, symbol), p in positions.items() if account == "paper" and "EUR" in symbol)
            self.assertEqual(eurusd.position, Decimal("1000"))
            self.assertEqual(eurusd.open_orders, 2)
            self.assertEqual(eurusd.working_buy, Decimal("4000"))

            # max_open_orders = 3: one more fits, a second would pass only
            # if the gateway had forgotten the two it held.
            self.assertTrue(client.submit("paper", "EURUSD", "buy", "limit", "1000", "gtc", "rest-3", price="1.08002").accepted)
            refused = client.submit("paper", "EURUSD", "buy", "limit", "1000", "gtc", "rest-4", price="1.08003")
            self.assertEqual(refused.reason, "MAX_OPEN_ORDERS")
            # The ids of the working orders stay the principal's.
            duplicate = client.submit("paper", "EURUSD", "buy", "limit", "1000", "gtc", "rest-1", price="1.08000")
            self.assertEqual(duplicate.reason, "DUPLICATE_CLIENT_ORDER_ID")

            cancelled = client.cancel_all()
            self.assertTrue(cancelled.accepted, cancelled)
            self.assertEqual(cancelled.count, 3)
            wait_until(lambda: client.orders() == [], what="the cancels to be done")
        gateway.kill()

        # What was cancelled stays cancelled after another SIGKILL.
        gateway = self.start()
        self.assertRegex(gateway.log_text(), r"event=account_ready account=paper held_orders=0 ")
        with gateway.connect("trader") as client:
            self.assertEqual(client.orders(), [])

    def test_an_amended_order_comes_back_under_its_new_id_with_its_new_terms(self) -> None:
        gateway = self.start()
        with gateway.connect("trader") as client:
            self.assertTrue(client.submit("paper", "EURUSD", "buy", "limit", "2000", "gtc", "am-1", price="1.08000").accepted)
            self.assertEqual(client.next_event(timeout=5.0).status, "NEW")
            self.assertTrue(client.replace("am-1", "am-2", qty="3000", price="1.08010").accepted)
            statuses = [client.next_event(timeout=5.0).status for _ in range(2)]
            self.assertEqual(statuses, ["PENDING_REPLACE", "REPLACED"])
        gateway.kill()

        gateway = self.start()
        self.assertRegex(gateway.log_text(), r"event=account_ready account=paper held_orders=1 foreign_orders=0")
        with gateway.connect("trader") as client:
            (order,) = client.orders()
            self.assertEqual((order.cl_ord_id, order.qty, order.price), ("am-2", Decimal("3000"), Decimal("1.0801")))
            # Both ids stay the principal's; the order takes amends again.
            for used in ("am-1", "am-2"):
                reply = client.submit("paper", "EURUSD", "buy", "limit", "1000", "gtc", used, price="1.08000")
                self.assertEqual(reply.reason, "DUPLICATE_CLIENT_ORDER_ID", used)
            self.assertTrue(client.replace("am-2", "am-3", qty="2500").accepted)
            wait_until(lambda: [o.cl_ord_id for o in client.orders()] == ["am-3"], what="the second amend")


if __name__ == "__main__":
    unittest.main()
