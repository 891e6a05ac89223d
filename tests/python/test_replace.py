"""Amends (``replace``) over the socket against the paper broker: the order
is moved and known by its new id, every refusal is specific and changes
nothing, the amend budget is its own, and the asyncio client amends too."""

from __future__ import annotations

import asyncio
import decimal
import json
import unittest

from gateway_harness import GatewayTestCase, Principal
from ordergate_client import AsyncClient, Client, ExecEvent


def exec_events(client: Client, count: int) -> list[ExecEvent]:
    events: list[ExecEvent] = []
    while len(events) < count:
        event = client.next_event(timeout=10)
        if event is None:
            break
        if isinstance(event, ExecEvent):
            events.append(event)
    return events


class Replace(GatewayTestCase):
    def setUp(self) -> None:
        self.gateway = self.start_gateway(
            [
                Principal("trader", modify_rate_limits=("3/1s",)),
                Principal("other"),
                Principal("ops", permissions=("read", "admin")),
            ]
        )
        self.trader = self.connect(self.gateway, "trader")

    def rest(self, cl_ord_id: str, qty: str = "10000", price: str = "1.08000") -> None:
        reply = self.trader.submit("paper", "EURUSD", "buy", "limit", qty, "gtc", cl_ord_id, price=price)
        self.assertTrue(reply.accepted, reply)
        (new,) = exec_events(self.trader, 1)
        self.assertEqual((new.cl_ord_id, new.status), (cl_ord_id, "NEW"))

    def test_the_order_is_moved_and_known_by_its_new_id(self) -> None:
        self.rest("a-1")
        reply = self.trader.replace("a-1", "a-2", price="1.08100")
        self.assertTrue(reply.accepted, reply)
        self.assertEqual((reply.op, reply.cl_ord_id, reply.new_cl_ord_id), ("replace", "a-1", "a-2"))
        pending, replaced = exec_events(self.trader, 2)
        self.assertEqual(
            (pending.status, pending.cl_ord_id, pending.orig_cl_ord_id), ("PENDING_REPLACE", "a-2", "a-1")
        )
        self.assertEqual(
            (replaced.status, replaced.cl_ord_id, replaced.orig_cl_ord_id), ("REPLACED", "a-2", "a-1")
        )
        self.assertEqual(replaced.leaves_qty, decimal.Decimal("10000"))
        (order,) = self.trader.orders()
        self.assertEqual((order.cl_ord_id, order.price, order.replace_pending), ("a-2", decimal.Decimal("1.08100"), False))
        self.assertEqual(self.trader.cancel("a-1").reason, "UNKNOWN_ORDER")
        self.assertTrue(self.trader.cancel("a-2").accepted)
        (canceled,) = exec_events(self.trader, 1)
        self.assertEqual((canceled.status, canceled.cl_ord_id), ("CANCELED", "a-2"))
        # Nothing working is listed: the book is empty again.
        working = [p for p in self.trader.positions() if p.working_buy or p.working_sell or p.open_orders]
        self.assertEqual(working, [])

    def test_a_larger_quantity_is_reserved_and_a_marketable_price_fills(self) -> None:
        self.rest("q-1")
        self.assertTrue(self.trader.replace("q-1", "q-2", qty="25000").accepted)
        self.assertEqual([e.status for e in exec_events(self.trader, 2)], ["PENDING_REPLACE", "REPLACED"])
        (position,) = [p for p in self.trader.positions() if p.symbol == "EUR/USD"]
        self.assertEqual((position.working_buy, position.open_orders), (decimal.Decimal("25000"), 1))
        # The ask is 1.08463: a buy at 1.08470 crosses it at once.
        self.assertTrue(self.trader.replace("q-2", "q-3", price="1.08470").accepted)
        statuses = [(e.status, e.cl_ord_id) for e in exec_events(self.trader, 3)]
        self.assertEqual(statuses, [("PENDING_REPLACE", "q-3"), ("REPLACED", "q-3"), ("FILLED", "q-3")])
        (position,) = [p for p in self.trader.positions() if p.symbol == "EUR/USD"]
        self.assertEqual((position.position, position.working_buy), (decimal.Decimal("25000"), decimal.Decimal(0)))

    def test_each_refusal_is_specific_and_changes_nothing(self) -> None:
        self.rest("r-1")
        self.rest("r-other", qty="1000")
        other = self.connect(self.gateway, "other")
        cases = [
            (self.trader.replace, ("nope", "r-2"), {"qty": "5000"}, "UNKNOWN_ORDER"),
            (other.replace, ("r-1", "r-2"), {"qty": "5000"}, "UNKNOWN_ORDER"),
            (self.trader.replace, ("r-1", "r-other"), {"qty": "5000"}, "DUPLICATE_CLIENT_ORDER_ID"),
            (self.trader.replace, ("r-1", "r 2"), {"qty": "5000"}, "INVALID_CLIENT_ORDER_ID"),
            (self.trader.replace, ("r-1", "r-2"), {"price": "1.080001"}, "PRICE_PRECISION_EXCEEDED"),
            (self.trader.replace, ("r-1", "r-2"), {"price": "1.20000"}, "PRICE_OUT_OF_BAND"),
            (self.trader.replace, ("r-1", "r-2"), {"qty": "2000000"}, "MAX_QUANTITY_EXCEEDED"),
            (self.trader.replace, ("r-1", "r-2"), {"stop_price": "1.09000"}, "INVALID_PRICE"),
        ]
        for call, args, fields, reason in cases:
            with self.subTest(reason=reason, args=args):
                reply = call(*args, **fields)
                self.assertEqual(reply.reason, reason)
                self.assertEqual(reply.cl_ord_id, args[0])
        ops = self.connect(self.gateway, "ops")
        ops.halt("account:paper")
        self.assertEqual(self.trader.replace("r-1", "r-2", qty="5000").reason, "TRADING_HALTED")
        ops.reduce("account:paper")
        self.assertEqual(self.trader.replace("r-1", "r-2", qty="20000").reason, "REDUCE_ONLY")
        ops.resume("account:paper")
        self.assertEqual(sorted(o.cl_ord_id for o in self.trader.orders()), ["r-1", "r-other"])
        (position,) = [p for p in self.trader.positions() if p.symbol == "EUR/USD"]
        self.assertEqual((position.working_buy, position.open_orders), (decimal.Decimal("11000"), 2))
        self.assertIsNone(self.trader.next_event(timeout=0.2), "a refused amend sends no report")

    def test_the_wire_names_a_missing_or_foreign_field(self) -> None:
        for message, code, field in [
            ({"op": "replace", "cl_ord_id": "x", "qty": "1"}, "MISSING_FIELD", "new_cl_ord_id"),
            ({"op": "replace", "new_cl_ord_id": "y", "qty": "1"}, "MISSING_FIELD", "cl_ord_id"),
            ({"op": "replace", "cl_ord_id": "x", "new_cl_ord_id": "y", "side": "buy"}, "UNKNOWN_FIELD", "side"),
        ]:
            with self.subTest(code=code, field=field):
                message = {"id": f"w-{field}", **message}
                self.trader.send_raw(json.dumps(message).encode() + b"\n")
                reply = self.trader.wait_reply(message["id"])
                self.assertEqual((reply["type"], reply["code"]), ("error", code), reply)
                self.assertIn(field, reply["message"])
        # Well formed, but nothing to change.
        self.trader.send_raw(b'{"id":"w-none","op":"replace","cl_ord_id":"x","new_cl_ord_id":"y"}\n')
        self.assertEqual(self.trader.wait_reply("w-none")["reason"], "INVALID_REPLACE")
        with self.assertRaises(ValueError):
            self.trader.replace("x", "y")

    def test_amends_spend_their_own_budget_not_the_order_budget(self) -> None:
        self.rest("b-0")
        current = "b-0"
        for n in range(1, 4):
            self.assertTrue(self.trader.replace(current, f"b-{n}", qty=str(10000 + n)).accepted)
            exec_events(self.trader, 2)
            current = f"b-{n}"
        limited = self.trader.replace(current, "b-4", qty="20000")
        self.assertEqual(limited.reason, "RATE_LIMITED")
        self.assertIsNotNone(limited.retry_after_ms)
        # New orders are not held back by the spent amend budget.
        self.assertTrue(
            self.trader.submit("paper", "EURUSD", "buy", "limit", "1000", "gtc", "fresh", price="1.08000").accepted
        )

    def test_the_asyncio_client_amends(self) -> None:
        self.rest("x-1")

        async def run() -> tuple[str, list[str]]:
            client = await AsyncClient.connect(self.gateway.socket_path)
            try:
                await client.hello(self.gateway.token("trader"))
                reply = await client.replace("x-1", "x-2", qty="12000")
                self.assertTrue(reply.accepted, reply)
                statuses: list[str] = []
                async for event in client.events(timeout=10.0):
                    if isinstance(event, ExecEvent):
                        statuses.append(event.status)
                    if len(statuses) == 2:
                        break
                orders = await client.orders()
                return orders[0].cl_ord_id, statuses
            finally:
                await client.close()

        cl_ord_id, statuses = asyncio.run(asyncio.wait_for(run(), 20))
        self.assertEqual(cl_ord_id, "x-2")
        self.assertEqual(statuses, ["PENDING_REPLACE", "REPLACED"])


if __name__ == "__main__":
    unittest.main()
