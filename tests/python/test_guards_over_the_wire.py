"""Permission and rate-limit rejections as a socket client sees them."""

from __future__ import annotations

import time
import unittest

from gateway_harness import GatewayTestCase, Principal
from ordergate_client import Rejected, RequestRejected


class Permissions(GatewayTestCase):
    def setUp(self) -> None:
        self.gateway = self.start_gateway(
            [
                Principal("reader", permissions=("read",)),
                Principal("blind", permissions=("trade", "cancel")),
                Principal(
                    "narrow",
                    accounts=("paper",),
                    symbols=("EUR/USD",),
                    order_types=("limit",),
                    max_quantity="5000",
                ),
            ]
        )

    def test_principal_without_trade_or_cancel_is_permission_denied(self) -> None:
        reader = self.connect(self.gateway, "reader")
        submit = reader.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "r-1")
        self.assertEqual((submit.reason, submit.cl_ord_id), ("PERMISSION_DENIED", "r-1"))
        self.assertTrue(submit.message)
        self.assertEqual(reader.cancel("r-1").reason, "PERMISSION_DENIED")
        self.assertEqual(reader.cancel_all().reason, "PERMISSION_DENIED")
        self.assertEqual(reader.orders(), [])

    def test_principal_without_read_cannot_list_orders_or_positions(self) -> None:
        blind = self.connect(self.gateway, "blind")
        for call in (blind.orders, blind.positions):
            with self.assertRaises(RequestRejected) as raised:
                call()
            self.assertEqual(raised.exception.reason, "PERMISSION_DENIED")
        self.assertTrue(
            blind.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "b-1").accepted
        )

    def test_positions_show_only_the_accounts_the_principal_may_use(self) -> None:
        # Server bug (as of this test; the protocol does not say it either
        # way): positions lists every account, so a principal confined to
        # one account reads the positions of all the others.
        blind = self.connect(self.gateway, "blind")
        self.assertTrue(
            blind.submit(
                "paper2", "EURUSD", "buy", "limit", "1000", "gtc", "other-acct", price="1.08"
            ).accepted
        )
        narrow = self.connect(self.gateway, "narrow")  # accounts = ["paper"]
        self.assertEqual([p.account for p in narrow.positions() if p.account != "paper"], [])

    def test_allow_lists_and_max_quantity_of_the_principal(self) -> None:
        narrow = self.connect(self.gateway, "narrow")
        cases = {
            "ACCOUNT_NOT_PERMITTED": ("paper2", "EURUSD", "limit", "1000"),
            "SYMBOL_NOT_PERMITTED": ("paper", "USDJPY", "limit", "1000"),
            "ORDER_TYPE_NOT_PERMITTED": ("paper", "EURUSD", "market", "1000"),
            "MAX_QUANTITY_EXCEEDED": ("paper", "EURUSD", "limit", "5001"),
        }
        for n, (reason, (account, symbol, order_type, qty)) in enumerate(cases.items()):
            with self.subTest(reason):
                price = (
                    {"EURUSD": "1.08", "USDJPY": "151.000"}[symbol]
                    if order_type == "limit"
                    else None
                )
                tif = "gtc" if order_type == "limit" else "ioc"
                reply = narrow.submit(
                    account, symbol, "buy", order_type, qty, tif, f"n-{n}", price=price
                )
                self.assertEqual(reply.reason, reason)
        self.assertTrue(
            narrow.submit(
                "paper", "EURUSD", "buy", "limit", "5000", "gtc", "n-ok", price="1.08"
            ).accepted
        )

    def test_unknown_account_and_instrument_and_fat_finger_price(self) -> None:
        client = self.connect(self.gateway, "blind")
        self.assertEqual(
            client.submit("nowhere", "EURUSD", "buy", "market", "1", "ioc", "u-1").reason,
            "UNKNOWN_ACCOUNT",
        )
        self.assertEqual(
            client.submit("paper", "XAUUSD", "buy", "market", "1", "ioc", "u-2").reason,
            "UNKNOWN_INSTRUMENT",
        )
        self.assertEqual(
            client.submit(
                "paper", "EURUSD", "buy", "limit", "1", "gtc", "u-3", price="1.2"
            ).reason,
            "PRICE_OUT_OF_BAND",
        )


class RateLimits(GatewayTestCase):
    def setUp(self) -> None:
        self.gateway = self.start_gateway([Principal("bot", rate_limits=("3/1s",))])
        self.client = self.connect(self.gateway, "bot")

    def test_orders_over_the_budget_are_rate_limited_with_retry_after_and_admitted_after_it(
        self,
    ) -> None:
        replies = [
            self.client.submit(
                "paper", "EURUSD", "buy", "limit", "1000", "gtc", f"q-{n}", price="1.08"
            )
            for n in range(5)
        ]
        self.assertTrue(all(reply.accepted for reply in replies[:3]), replies)
        limited = replies[3]
        self.assertIsInstance(limited, Rejected)
        self.assertEqual((limited.reason, limited.cl_ord_id), ("RATE_LIMITED", "q-3"))
        self.assertIsNotNone(limited.retry_after_ms)
        self.assertGreater(limited.retry_after_ms, 0)
        self.assertLessEqual(limited.retry_after_ms, 1000)
        self.assertEqual(replies[4].reason, "RATE_LIMITED")

        # Cancels have their own budget: they pass while orders are limited.
        self.assertTrue(all(self.client.cancel(f"q-{n}").accepted for n in range(3)))

        # The gateway said when to come back: honour it (what a client
        # should do with retry_after_ms), and the order passes.
        time.sleep(replies[4].retry_after_ms / 1000 + 0.05)
        self.assertTrue(
            self.client.submit(
                "paper", "EURUSD", "buy", "limit", "1000", "gtc", "q-5", price="1.08"
            ).accepted
        )

    def test_rejected_orders_do_not_use_up_the_budget(self) -> None:
        for n in range(5):
            self.assertEqual(
                self.client.submit(
                    "paper", "EURUSD", "buy", "market", "0", "ioc", f"z-{n}"
                ).reason,
                "INVALID_QUANTITY",
            )
        replies = [
            self.client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", f"ok-{n}")
            for n in range(3)
        ]
        self.assertTrue(all(reply.accepted for reply in replies), replies)


if __name__ == "__main__":
    unittest.main()
