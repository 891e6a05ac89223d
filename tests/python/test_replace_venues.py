"""Amends over the socket against the real simulator for both venues (TLS
on loopback): a resting order on OANDA (EUR/USD) and on Binance (BTC/USDT)
is moved, reported PENDING_REPLACE then REPLACED under its new id, listed
and cancelled by that id; an amend the venue refuses (the simulator's
fault knob) is REPLACE_REJECTED and leaves the order working on its old
terms; and a fill racing an amend wins or loses whole, never both. The adapters' every outcome, lost
replies included, is tested in tests/brokers (OandaAmend, BinanceAmend)."""

from __future__ import annotations

import decimal
import json
import ssl
import subprocess
import unittest
import urllib.request
from pathlib import Path

from gateway_harness import (
    SimProcess,
    new_token,
    ordergate_binary,
    read_ready_line,
    short_temporary_directory,
    stop_process,
    token_sha256,
    wait_until,
)
from ordergate_client import Client, ExecEvent

OANDA_ACCOUNT = "101-001-0000000-001"


class ReplaceAtTheVenues(unittest.TestCase):
    def setUp(self) -> None:
        handle = short_temporary_directory("og-amend-")
        self.directory = Path(handle.name)
        self.addCleanup(handle.cleanup)
        self.oanda_token = new_token()
        self.binance_key = new_token()
        self.binance_secret = new_token()
        self.trader_token = new_token()
        sim = SimProcess(self, self.directory, {"SIM_OANDA_TOKEN": self.oanda_token,
                                                "SIM_BINANCE_KEY": self.binance_key,
                                                "SIM_BINANCE_SECRET": self.binance_secret})
        self.port, self.ca = sim.port, sim.ca
        self.socket_path = self.start_gateway()
        self.client = Client(self.socket_path)
        self.addCleanup(self.client.close)
        self.client.hello(self.trader_token)

    # ---- processes

    def start_gateway(self) -> Path:
        secrets_file = self.directory / "secrets.toml"
        secrets_file.write_text(f'DEV_OANDA_TOKEN = "{self.oanda_token}"\nDEV_BINANCE_KEY = "{self.binance_key}"\n'
                                f'DEV_BINANCE_SECRET = "{self.binance_secret}"\n')
        secrets_file.chmod(0o600)
        config = self.directory / "gateway.toml"
        config.write_text(f"""
environment = "development"
[gateway]
order_capacity = 4096
[secrets]
use_environment = false
files = ["{secrets_file}"]
[brokers.oanda-sim]
kind = "oanda"
base_url = "https://localhost:{self.port}"
account_id = "{OANDA_ACCOUNT}"
token_env = "OANDA_TOKEN"
ca_file = "{self.ca}"
pricing_interval = "50ms"
instruments = ["EUR/USD"]
[brokers.binance-sim]
kind = "binance"
base_url = "https://localhost:{self.port}"
api_key_env = "BINANCE_KEY"
secret_key_env = "BINANCE_SECRET"
ca_file = "{self.ca}"
pricing_interval = "50ms"
instruments = ["BTC/USDT"]
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = "1"
min_quantity = "1"
max_quantity = "10000000"
max_order_quantity = "1000000"
max_notional = "2000000"
max_position = "5000000"
price_band_bps = 300
max_open_orders = 50
max_quote_age = "30s"
[[instruments]]
name = "BTC/USDT"
tick_size = "0.01"
lot_step = "0.00001"
min_quantity = "0.00001"
max_quantity = "100"
max_order_quantity = "10"
max_notional = "1000000"
max_position = "50"
price_band_bps = 300
max_open_orders = 50
max_quote_age = "30s"
[[accounts]]
name = "fx"
broker = "oanda-sim"
[[accounts]]
name = "crypto"
broker = "binance-sim"
[[principals]]
name = "trader"
token_sha256 = "{token_sha256(self.trader_token)}"
permissions = ["trade", "cancel", "read"]
accounts = ["fx", "crypto"]
symbols = ["EUR/USD", "BTC/USDT"]
rate_limits = ["100/1s"]
""")
        log = self.directory / "gateway.log"
        socket_path = self.directory / "og.sock"
        with open(log, "wb") as stderr:
            process = subprocess.Popen([ordergate_binary(), "run", "--config", str(config), "--socket", str(socket_path)],
                                       stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                                       cwd=self.directory)
        self.addCleanup(stop_process, process)
        read_ready_line(process, log, "gateway")
        return socket_path

    def fault(self, **knobs: object) -> None:
        """Sets one of the simulator's fault knobs (its admin endpoint, HTTPS with its own CA)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        request = urllib.request.Request(f"https://localhost:{self.port}/sim/faults", data=json.dumps(knobs).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            self.assertEqual(response.status, 200)

    # ---- helpers

    def events(self, count: int) -> list[ExecEvent]:
        found: list[ExecEvent] = []
        while len(found) < count:
            event = self.client.next_event(timeout=15)
            if event is None:
                break
            if isinstance(event, ExecEvent):
                found.append(event)
        return found

    def rest(self, account: str, symbol: str, qty: str, price: str, cl_ord_id: str) -> None:
        """A resting buy, retried while the account is still being reconciled or has no quote yet."""

        def accepted() -> bool:
            reply = self.client.submit(account, symbol, "buy", "limit", qty, "gtc", cl_ord_id, price=price)
            if reply.accepted:
                return True
            self.assertIn(reply.reason, ("ACCOUNT_NOT_READY", "NO_REFERENCE_PRICE"), reply)
            return False

        wait_until(accepted, 20.0, interval=0.05, what=f"a resting order on {account}")
        (new,) = self.events(1)
        self.assertEqual((new.cl_ord_id, new.status), (cl_ord_id, "NEW"))

    def amend_and_cancel(self, account: str, symbol: str, qty: str, price: str, new_qty: str, new_price: str,
                         prefix: str) -> None:
        self.rest(account, symbol, qty, price, f"{prefix}-1")
        reply = self.client.replace(f"{prefix}-1", f"{prefix}-2", qty=new_qty, price=new_price)
        self.assertTrue(reply.accepted, reply)
        pending, replaced = self.events(2)
        self.assertEqual((pending.status, pending.cl_ord_id, pending.orig_cl_ord_id),
                         ("PENDING_REPLACE", f"{prefix}-2", f"{prefix}-1"))
        self.assertEqual((replaced.status, replaced.cl_ord_id, replaced.orig_cl_ord_id),
                         ("REPLACED", f"{prefix}-2", f"{prefix}-1"))
        self.assertEqual(replaced.leaves_qty, decimal.Decimal(new_qty))
        (order,) = [o for o in self.client.orders() if o.account == account]
        self.assertEqual((order.cl_ord_id, order.qty, order.price), (f"{prefix}-2", decimal.Decimal(new_qty),
                                                                    decimal.Decimal(new_price)))
        self.assertEqual(self.client.cancel(f"{prefix}-1").reason, "UNKNOWN_ORDER")
        self.assertTrue(self.client.cancel(f"{prefix}-2").accepted)
        (canceled,) = self.events(1)
        self.assertEqual((canceled.status, canceled.cl_ord_id), ("CANCELED", f"{prefix}-2"))

    def refused_amend_leaves_the_order(self, account: str, symbol: str, qty: str, price: str, new_price: str,
                                       prefix: str) -> None:
        self.rest(account, symbol, qty, price, f"{prefix}-1")
        self.fault(fail_next_replace_cancel=1)
        self.assertTrue(self.client.replace(f"{prefix}-1", f"{prefix}-2", price=new_price).accepted)
        pending, refused = self.events(2)
        self.assertEqual(pending.status, "PENDING_REPLACE")
        self.assertEqual((refused.status, refused.cl_ord_id), ("REPLACE_REJECTED", f"{prefix}-1"))
        (order,) = [o for o in self.client.orders() if o.account == account]
        self.assertEqual((order.cl_ord_id, order.price, order.replace_pending),
                         (f"{prefix}-1", decimal.Decimal(price), False))
        self.assertTrue(self.client.cancel(f"{prefix}-1").accepted)
        (canceled,) = self.events(1)
        self.assertEqual((canceled.status, canceled.cl_ord_id), ("CANCELED", f"{prefix}-1"))

    def post(self, path: str, body: dict) -> None:
        context = ssl.create_default_context(cafile=str(self.ca))
        request = urllib.request.Request(f"https://localhost:{self.port}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            self.assertEqual(response.status, 200)

    def venue_orders(self, venue: str) -> list[dict]:
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(f"https://localhost:{self.port}/sim/orders?venue={venue}", context=context,
                                    timeout=10) as response:
            return json.loads(response.read())["orders"]

    def fill_races_amend(self, account: str, symbol: str, venue: str, instrument: str, qty: str, price: str,
                         crossing: dict, restore: dict, new_price: str, prefix: str, rounds: int) -> dict[str, int]:
        """Each round: a resting buy, then a price that fills it sent to the
        venue while an amend moving it away travels. The fill wins or the
        amend does, never both: the original filled and no replacement
        works, or it was replaced and never filled."""
        import threading

        outcomes = {"filled": 0, "replaced": 0}
        for round_ in range(rounds):
            old, new = f"{prefix}{round_}-1", f"{prefix}{round_}-2"
            self.rest(account, symbol, qty, price, old)
            cross = {"venue": venue, "instrument": instrument, **crossing}
            if round_ % 2 == 0:
                # The venue fills first; the gateway learns of it after it
                # sent the amend (or before, and refuses the amend itself).
                self.post("/sim/price", cross)
                reply = self.client.replace(old, new, price=new_price)
            else:
                # Both at once: either may reach the venue first.
                crosser = threading.Thread(target=self.post, args=("/sim/price", cross))
                crosser.start()
                reply = self.client.replace(old, new, price=new_price)
                crosser.join()
            statuses: dict[tuple[str, str], int] = {}

            def settled() -> bool:
                event = self.client.next_event(timeout=0.2)
                if isinstance(event, ExecEvent):
                    key = (event.cl_ord_id, event.status)
                    statuses[key] = statuses.get(key, 0) + 1
                filled = statuses.get((old, "FILLED"), 0) > 0
                replaced = statuses.get((new, "REPLACED"), 0) > 0
                amend_done = not reply.accepted or replaced or statuses.get((old, "REPLACE_REJECTED"), 0) > 0
                return amend_done and (filled or replaced)

            wait_until(settled, 20.0, interval=0.0, what=f"round {round_}: the fill or the amend")
            filled = statuses.get((old, "FILLED"), 0)
            replaced = statuses.get((new, "REPLACED"), 0)
            self.assertEqual(filled + replaced, 1, f"round {round_}: exactly one wins: {statuses}")
            self.assertEqual(statuses.get((new, "FILLED"), 0), 0, statuses)
            if filled:
                outcomes["filled"] += 1
                self.assertEqual([o for o in self.client.orders() if o.account == account], [])
            else:
                outcomes["replaced"] += 1
                (order,) = [o for o in self.client.orders() if o.account == account]
                self.assertEqual((order.cl_ord_id, order.price), (new, decimal.Decimal(new_price)))
                self.assertTrue(self.client.cancel(new).accepted)
                self.assertEqual([e.status for e in self.events(1)], ["CANCELED"])
            self.post("/sim/price", {"venue": venue, "instrument": instrument, **restore})
        # The venue agrees: as many orders filled there as the gateway reported.
        venue_filled = [o for o in self.venue_orders(venue) if o["state"] in ("FILLED", "filled")]
        self.assertEqual(len(venue_filled), outcomes["filled"], venue_filled)
        print(f"\n{venue}: fill raced amend {rounds} times: {outcomes}")
        self.assertGreaterEqual(outcomes["filled"], rounds // 2, "the fill wins whenever it reached the venue first")
        return outcomes

    # ---- the tests (quotes near EUR/USD 1.0845 and BTC/USDT 64000; the
    # prices rest about 1% below them)

    def test_a_fill_racing_an_amend_at_oanda_wins_or_loses_whole(self) -> None:
        self.fill_races_amend("fx", "EURUSD", "oanda", "EUR_USD", "1000", "1.07400",
                              {"bid": "1.07380", "ask": "1.07390"}, {"bid": "1.08450", "ask": "1.08460"}, "1.07200",
                              "ro", rounds=8)

    def test_a_fill_racing_an_amend_at_binance_wins_or_loses_whole(self) -> None:
        self.fill_races_amend("crypto", "BTCUSDT", "binance", "BTCUSDT", "0.001", "63400.00",
                              {"bid": "63390.00", "ask": "63390.01"}, {"bid": "64000.00", "ask": "64000.01"},
                              "63200.00", "rb", rounds=8)

    def test_an_oanda_order_is_amended_listed_and_cancelled_by_its_new_id(self) -> None:
        self.amend_and_cancel("fx", "EURUSD", "1000", "1.07400", "1500", "1.07500", "ox")

    def test_a_binance_order_is_amended_listed_and_cancelled_by_its_new_id(self) -> None:
        self.amend_and_cancel("crypto", "BTCUSDT", "0.001", "63400.00", "0.002", "63500.00", "bx")

    def test_an_amend_oanda_refuses_leaves_the_order_working_as_it_was(self) -> None:
        self.refused_amend_leaves_the_order("fx", "EURUSD", "1000", "1.07400", "1.07500", "or")

    def test_an_amend_binance_refuses_leaves_the_order_working_as_it_was(self) -> None:
        self.refused_amend_leaves_the_order("crypto", "BTCUSDT", "0.001", "63400.00", "63500.00", "br")


if __name__ == "__main__":
    unittest.main()
