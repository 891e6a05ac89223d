"""Kill loop: SIGKILL a gateway at random moments of a mixed load against a
real ``ordergate-sim`` (OANDA, TLS on loopback), restart it, and check after
every restart that nothing a restart must keep was lost:

- the orders the simulator holds as pending are the gateway's open orders of
  their principal, and the position is the simulator's;
- no order was ever placed twice (one simulator order per venue client id);
- the last acknowledged admin op (a principal disabled or enabled) holds;
- the audit journal verifies against its end mark (after ``ordergate audit
  repair`` when the kill tore its last line).

CI runs 3 kills; ``ORDERGATE_KILL_LOOP=20`` runs the full loop.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import ssl
import subprocess
import threading
import unittest
from collections import Counter
from decimal import Decimal
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
from ordergate_client import Client, RequestRejected

ACCOUNT = "101-001-0000000-001"


class KillLoop(unittest.TestCase):
    def setUp(self) -> None:
        handle = short_temporary_directory("og-kill-")
        self.addCleanup(handle.cleanup)
        self.directory = Path(handle.name)
        self.oanda_token = f"kill{secrets.token_hex(16)}"
        self.trader = new_token()
        self.ops = new_token()
        self.idle = new_token()
        self.journal = self.directory / "audit.jsonl"
        self.random = random.Random(int(os.environ.get("ORDERGATE_KILL_SEED", "7")))
        sim = SimProcess(self, self.directory, {"SIM_OANDA_TOKEN": self.oanda_token}, venues="oanda")
        self.port, self.ca = sim.port, sim.ca

    # ---- processes

    def config(self) -> str:
        return f"""
environment = "development"
[gateway]
order_capacity = 4096
[secrets]
use_environment = true
[audit]
path = "{self.journal}"
fsync = "always"
[state]
path = "{self.directory / 'ordergate.state'}"
[brokers.oanda-sim]
kind = "oanda"
base_url = "https://localhost:{self.port}"
account_id = "{ACCOUNT}"
token_env = "OANDA_TOKEN"
ca_file = "{self.ca}"
pricing_interval = "50ms"
instruments = ["EUR/USD"]
cancel_on_stop = false
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = "1"
min_quantity = "1"
max_quantity = "10000000"
max_order_quantity = "1000000"
max_notional = "2000000"
max_position = "100000000"
price_band_bps = 200
max_open_orders = 1000
max_quote_age = "30s"
[[accounts]]
name = "fx"
broker = "oanda-sim"
[[principals]]
name = "trader"
token_sha256 = "{token_sha256(self.trader)}"
permissions = ["trade", "cancel", "read"]
accounts = ["fx"]
symbols = ["EUR/USD"]
rate_limits = ["200/1s"]
[[principals]]
name = "idle"
token_sha256 = "{token_sha256(self.idle)}"
permissions = ["read"]
accounts = ["fx"]
symbols = ["EUR/USD"]
rate_limits = ["10/1s"]
[[principals]]
name = "ops"
token_sha256 = "{token_sha256(self.ops)}"
permissions = ["admin", "read"]
accounts = ["*"]
symbols = ["*"]
rate_limits = ["10/1s"]
"""

    def start_gateway(self) -> tuple[subprocess.Popen[bytes], Path]:
        config = self.directory / "ordergate.toml"
        config.write_text(self.config())
        log = self.directory / "gateway.log"
        socket_path = self.directory / "og.sock"
        env = dict(os.environ, DEV_OANDA_TOKEN=self.oanda_token)
        for attempt in range(2):
            with open(log, "wb") as stderr:
                process = subprocess.Popen(
                    [ordergate_binary(), "run", "--config", str(config), "--socket", str(socket_path)],
                    stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, cwd=self.directory, env=env)
            self.addCleanup(stop_process, process)
            try:
                read_ready_line(process, log, "gateway")
                break
            except AssertionError:
                text = log.read_text(errors="replace")
                if attempt == 1 or "repair" not in text:
                    raise
                # The kill tore the journal's last line: the operator's fix.
                repaired = subprocess.run([ordergate_binary(), "audit", "repair", str(self.journal)],
                                          capture_output=True, text=True)
                self.assertEqual(repaired.returncode, 0, repaired.stdout + repaired.stderr)
                self.repairs += 1
        wait_until(lambda: "event=account_ready account=fx" in log.read_text(errors="replace"), timeout=10.0,
                   what="account fx reconciled")
        return process, socket_path

    # ---- the simulator's truth

    def sim_orders(self) -> list[dict[str, str]]:
        context = ssl.create_default_context(cafile=str(self.ca))
        connection = http.client.HTTPSConnection("localhost", self.port, context=context, timeout=10)
        try:
            connection.request("GET", "/sim/orders?venue=oanda")
            return json.loads(connection.getresponse().read())["orders"]
        finally:
            connection.close()

    def check_invariants(self, socket_path: Path, idle_disabled: bool) -> None:
        orders = self.sim_orders()
        per_id = Counter(order["client_order_id"] for order in orders if order["client_order_id"])
        self.assertEqual([cid for cid, n in per_id.items() if n > 1], [], "an order placed twice at the simulator")
        pending = sorted(order["client_order_id"] for order in orders if order["state"] == "PENDING")
        self.pending_at_sim = len(pending)
        net = sum((Decimal(order["units"]) for order in orders if order["state"] == "FILLED"), Decimal(0))
        with Client(socket_path, timeout=10) as client:
            client.hello(self.trader)
            open_orders = client.orders()
            self.assertEqual(len(open_orders), len(pending), "open orders of trader == pending at the simulator")
            self.assertEqual(len({order.cl_ord_id for order in open_orders}), len(open_orders))
            position = sum((p.position for p in client.positions() if p.account == "fx"), Decimal(0))
            self.assertEqual(position, net, "the gateway's position is the simulator's")
        with Client(socket_path, timeout=10) as client:
            if idle_disabled:
                with self.assertRaises(RequestRejected):
                    client.hello(self.idle)
            else:
                client.hello(self.idle)

    # ---- the load

    def load(self, socket_path: Path, stop: threading.Event, counter: list[int]) -> None:
        rng = random.Random(self.random.random())
        try:
            with Client(socket_path, timeout=5) as client:
                client.hello(self.trader)
                resting: list[str] = []
                while not stop.is_set():
                    counter[0] += 1
                    cl_ord_id = f"k{counter[0]}-{secrets.token_hex(3)}"
                    roll = rng.random()
                    if roll < 0.4:
                        reply = client.submit("fx", "EUR/USD", rng.choice(["buy", "sell"]), "market", "1000", "ioc", cl_ord_id)
                    elif roll < 0.8 or not resting:
                        side = rng.choice(["buy", "sell"])
                        price = "1.07000" if side == "buy" else "1.10000"
                        reply = client.submit("fx", "EUR/USD", side, "limit", "1000", "gtc", cl_ord_id, price=price)
                        if reply.accepted:
                            resting.append(cl_ord_id)
                    else:
                        client.cancel(resting.pop(rng.randrange(len(resting))))
                    while client.next_event(timeout=0) is not None:
                        pass
        except Exception:
            pass  # the gateway was killed under it

    def test_sigkill_at_random_moments_loses_nothing_a_restart_must_keep(self) -> None:
        kills = int(os.environ.get("ORDERGATE_KILL_LOOP", "3"))
        self.repairs = 0
        self.held: list[int] = []  # orders pending at the simulator after each restart
        idle_disabled = False
        submitted = [0]
        for round_number in range(kills + 1):
            process, socket_path = self.start_gateway()
            if round_number > 0:
                # Reconciliation takes a moment to book fills it learns of.
                wait_until(lambda: self._consistent(socket_path, idle_disabled), timeout=10.0,
                           what=f"consistent state after kill {round_number}")
                self.check_invariants(socket_path, idle_disabled)
                self.held.append(self.pending_at_sim)
            if round_number == kills:
                break
            # An admin op, acknowledged, then the load and a kill at a random moment.
            with Client(socket_path, timeout=10) as ops:
                ops.hello(self.ops)
                if idle_disabled:
                    ops.enable_principal("idle")
                else:
                    ops.disable_principal("idle")
                idle_disabled = not idle_disabled
            stop = threading.Event()
            worker = threading.Thread(target=self.load, args=(socket_path, stop, submitted))
            worker.start()
            # The random moment of the kill: after a random number of the
            # load's requests (counted as they are sent).
            target = submitted[0] + self.random.randint(50, 600)
            wait_until(lambda: submitted[0] >= target or not worker.is_alive(), timeout=30.0, interval=0.001,
                       what="the load to reach the kill moment")
            process.kill()
            process.wait()
            stop.set()
            worker.join(timeout=10)
        verified = subprocess.run([ordergate_binary(), "audit", "verify", "--journal", str(self.journal)],
                                  capture_output=True, text=True)
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        print(f"\nkill loop: {kills} kills, {submitted[0]} requests, {self.repairs} journal repairs, "
              f"orders held across each restart: {self.held}")
        self.assertGreater(max(self.held), 0, "the load left orders working across a kill")

    def _consistent(self, socket_path: Path, idle_disabled: bool) -> bool:
        try:
            self.check_invariants(socket_path, idle_disabled)
            return True
        except AssertionError:
            return False


if __name__ == "__main__":
    unittest.main()
