"""Account-level limits as a socket client meets them: gross notional across
EUR/USD and USD/JPY counted in USD, the figures in the ``positions`` reply,
and a drop-copy subscriber told when the daily loss limit switches the
account (driven by a paper fill the account loses on at once)."""

from __future__ import annotations

import decimal
import unittest

from gateway_harness import INSTRUMENTS_TOML, GatewayTestCase, Principal, wait_until
from ordergate_client import DropCopyEvent

D = decimal.Decimal

LIMITED = INSTRUMENTS_TOML.replace(
    '[[accounts]]\nname = "paper"\nbroker = "paper"\n',
    '[[accounts]]\nname = "paper"\nbroker = "paper"\ncurrency = "USD"\n'
    'max_gross_notional = "50000"\nmax_net_notional = "40000"\n'
    'max_daily_loss = "0.4"\nhalt_daily_loss = "1000"\n',
)


class AccountLimitsOverTheSocket(GatewayTestCase):
    def setUp(self) -> None:
        assert LIMITED != INSTRUMENTS_TOML
        self.gateway = self.start_gateway(
            [Principal("trader", rate_limits=("100/1s",)), Principal("risk", permissions=("monitor", "read"))],
            instruments=LIMITED,
        )

    def figures(self, client, account: str = "paper"):
        return next(f for f in client.account_figures() if f.account == account)

    def test_gross_notional_across_two_quote_currencies_and_the_figures_in_positions(self) -> None:
        trader = self.connect(self.gateway, "trader")
        # 20,000 EUR resting at 1.08 (worth 21,692.30 at mid) and 25,000 USD
        # resting short against JPY (worth exactly 25,000).
        self.assertTrue(trader.submit("paper", "EURUSD", "buy", "limit", "20000", "gtc", "g-1", price="1.08").accepted)
        self.assertTrue(
            trader.submit("paper", "USDJPY", "sell", "limit", "25000", "gtc", "g-2", price="151.500").accepted
        )
        figures = self.figures(trader)
        self.assertEqual(figures.currency, "USD")
        self.assertEqual(figures.gross_notional, D("46692.3"))
        self.assertEqual(figures.net_notional, D("25000"))
        self.assertEqual((figures.max_gross_notional, figures.max_net_notional), (D("50000"), D("40000")))
        self.assertEqual(figures.loss_switch, "ACTIVE")
        # 5,000 EUR more would make 52,115.375.
        refused = trader.submit("paper", "EURUSD", "buy", "limit", "5000", "gtc", "g-3", price="1.08")
        self.assertEqual(refused.reason, "MAX_GROSS_NOTIONAL_EXCEEDED")
        self.assertTrue(refused.message)
        # An account without a currency is not listed, and is not limited.
        self.assertEqual([f.account for f in trader.account_figures()], ["paper"])
        self.assertTrue(trader.submit("paper2", "EURUSD", "buy", "limit", "5000", "gtc", "g-4", price="1.08").accepted)

    def test_a_loss_past_the_limit_switches_the_account_and_the_drop_copy_sees_it(self) -> None:
        risk = self.connect(self.gateway, "risk")
        self.assertEqual(risk.subscribe(("trading_state",)), ["trading_state"])
        trader = self.connect(self.gateway, "trader")
        # Bought at the ask, valued at the mid: 30,000 x 0.000015 = 0.45 lost
        # at once, past max_daily_loss = 0.4.
        bought = trader.submit("paper", "EURUSD", "buy", "market", "30000", "ioc", "l-1")
        self.assertTrue(bought.accepted, bought)
        switched = risk.next_event(timeout=5.0)
        self.assertIsInstance(switched, DropCopyEvent)
        self.assertEqual((switched.stream, switched.fields["scope"], switched.fields["state"]),
                         ("trading_state", "account:paper", "REDUCING"))
        self.assertEqual(switched.fields["by"], "daily_loss")
        wait_until(lambda: self.figures(trader).loss_switch == "REDUCING", what="loss switch visible in positions")
        self.assertEqual(self.figures(trader).daily_pnl, D("-0.45"))
        more = trader.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "l-2")
        self.assertEqual(more.reason, "DAILY_LOSS_LIMIT")
        self.assertTrue(trader.submit("paper", "EURUSD", "sell", "market", "1000", "ioc", "l-3").accepted)
        self.assertIn("event=daily_loss_limit account=paper loss=0.45 limit=0.4 currency=USD action=REDUCING",
                      self.gateway.log_text())


if __name__ == "__main__":
    unittest.main()
