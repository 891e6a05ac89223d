"""Scale-out on Redis (docs/cluster.md): three real gateway processes on the
paper broker, sharing one kill switch through a real ``redis-server`` that
the test starts on a loopback port (its own directory, no persistence).

Orders go over each member's Unix socket, as a strategy's would. The
propagation figures in docs/cluster.md come from
``ORDERGATE_CLUSTER_SWITCHES=1000 python3 -m unittest test_cluster.Propagation`` (add
``ORDERGATE_CLUSTER_STATE_FILES=1`` to give each member a ``[state]`` file);
CI runs a short run (``ORDERGATE_CLUSTER_SWITCHES`` unset: 50 switches).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

from gateway_harness import (
    ALL_PERMISSIONS,
    INSTRUMENTS_TOML,
    GatewayProcess,
    GatewayTestCase,
    Principal,
    config_toml,
    ordergate_binary,
    wait_until,
)
from ordergate_client import Client
from redis_harness import RedisServer

FAIL_AFTER_S = 1.0
SWITCHES = int(os.environ.get("ORDERGATE_CLUSTER_SWITCHES", "50"))
#: With a [state] file per member, each applied change is also saved (fsync).
STATE_FILES = os.environ.get("ORDERGATE_CLUSTER_STATE_FILES") == "1"


def cluster_toml(url: str, name: str, fail_after: str = "1s", extra: str = "") -> str:
    return f'\n[cluster]\nredis = "{url}"\nname = "{name}"\nfail_after = "{fail_after}"\n{extra}\n'


class ClusterTestCase(GatewayTestCase):
    """A redis-server and helpers to start members of one cluster."""

    def setUp(self) -> None:
        self.root = self.make_directory()
        self.redis = RedisServer(self.root / "redis")
        self.addCleanup(self.redis.stop)
        self.principals = [Principal("ops", permissions=ALL_PERMISSIONS), Principal("trader")]

    def start_member(
        self,
        name: str,
        fail_after: str = "1s",
        extra: str = "",
        principals: list[Principal] | None = None,
        instruments: str = INSTRUMENTS_TOML,
        gateway: dict | None = None,
    ) -> GatewayProcess:
        directory = self.root / name
        directory.mkdir()
        return self.start_gateway(
            principals or self.principals,
            gateway=gateway,
            instruments=instruments,
            directory=directory,
            extra_toml=cluster_toml(self.redis.url, name, fail_after, extra),
        )

    def buy(self, client: Client, cl_ord_id: str, qty: str = "1") -> str:
        """Reason of a market IOC buy on the shared account ("OK" when accepted)."""
        answer = client.submit("paper", "EURUSD", "buy", "market", qty, "ioc", cl_ord_id)
        return "OK" if answer.accepted else answer.reason

    def status(self) -> str:
        """`ordergate cluster status` as the first member's configuration reaches it."""
        result = subprocess.run(
            [ordergate_binary(), "cluster", "status", "--config", str(self.members[0].config_path)],
            capture_output=True, text=True, timeout=20,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def flood(self, member: GatewayProcess, prefix: str, deadline: float, results: dict) -> None:
        """Market orders of 1 on `member` as fast as one client can until
        `deadline`: results[prefix] = (accepted, {reason: refusals})."""
        client = self.connect(member, "trader")
        accepted = 0
        reasons: dict[str, int] = {}
        n = 0
        while time.monotonic() < deadline:
            n += 1
            side = "buy" if n % 2 else "sell"  # the position stays near zero
            answer = client.submit("paper", "EURUSD", side, "market", "1", "ioc", f"{prefix}-{n}")
            if answer.accepted:
                accepted += 1
            else:
                reasons[answer.reason] = reasons.get(answer.reason, 0) + 1
        results[prefix] = (accepted, reasons)

    def flood_window(self, count: int, seconds: float, slice_tokens: int, what: str) -> None:
        """Floods every member of self.members at once for `seconds`, one
        client each, on one shared window of `count`/1s: all members
        together admit at most what one window would, plus one slice each."""
        import threading

        results: dict = {}
        start = time.monotonic()
        deadline = start + seconds
        threads = [threading.Thread(target=self.flood, args=(member, f"f{i}", deadline, results))
                   for i, member in enumerate(self.members)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        self.assertEqual(len(results), len(self.members), "every flooding client finished")
        total = sum(accepted for accepted, _ in results.values())
        # One GCRA window N/P admits at most N + D/(P/N) in D seconds (a full
        # burst, then one per emission interval); each member may add the
        # slice it held when the interval began.
        bound = count + int(elapsed * count) + len(self.members) * slice_tokens
        print(f"\n{what} {count}/1s, {len(self.members)} members, {elapsed:.1f} s: accepted {total} "
              f"(bound {bound}; per member {[r[0] for r in results.values()]})")
        self.assertLessEqual(total, bound)
        # Without sharing, each member would admit its own window: about 3x.
        self.assertGreater(total, bound // 2, "the members share the window, not starve on it")
        for accepted, reasons in results.values():
            self.assertGreater(accepted, 0, "every member gets a share")
            self.assertEqual(set(reasons), {"RATE_LIMITED"}, reasons)


class OneKillSwitch(ClusterTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.members = [self.start_member(f"gw-{n}") for n in (1, 2, 3)]
        self.ops = [self.connect(member, "ops") for member in self.members]
        self.traders = [self.connect(member, "trader") for member in self.members]
        self.orders = 0

    def next_id(self) -> str:
        self.orders += 1
        return f"o-{self.orders}"

    def test_a_halt_sent_to_one_member_is_enforced_by_the_other_two(self) -> None:
        for trader in self.traders:
            self.assertEqual(self.buy(trader, self.next_id()), "OK")
        self.ops[0].halt("global")
        for trader in self.traders[1:]:
            wait_until(lambda t=trader: self.buy(t, self.next_id()) == "TRADING_HALTED", timeout=2.0,
                       what="the halt on another member")
        self.assertEqual(self.buy(self.traders[0], self.next_id()), "TRADING_HALTED")
        # Resumed from another member: every member trades again.
        self.ops[2].resume("global")
        for trader in self.traders:
            wait_until(lambda t=trader: self.buy(t, self.next_id()) == "OK", timeout=2.0,
                       what="the resume on every member")

    def test_account_and_principal_scopes_and_disables_are_shared(self) -> None:
        self.ops[1].halt("account:paper")
        wait_until(lambda: self.buy(self.traders[2], self.next_id()) == "TRADING_HALTED", timeout=2.0,
                   what="the account halt")
        other_account = self.traders[2].submit("paper2", "EURUSD", "buy", "market", "1", "ioc", self.next_id())
        self.assertTrue(other_account.accepted)
        self.ops[1].resume("account:paper")
        self.ops[0].reduce("principal:trader")
        wait_until(lambda: self.buy(self.traders[1], self.next_id()) == "REDUCE_ONLY", timeout=2.0,
                   what="the principal's REDUCING")
        self.ops[0].resume("principal:trader")
        wait_until(lambda: self.buy(self.traders[1], self.next_id()) == "OK", timeout=2.0, what="the resume")
        self.ops[2].disable_principal("trader")
        # Disabled on every member: its sessions end and new hellos fail.
        for member in self.members[:2]:
            wait_until(lambda m=member: m.log_events("principal_disabled") or m is self.members[2], timeout=2.0,
                       what="the disable on another member")
        with self.assertRaises(Exception):
            self.members[0].connect("trader")
        self.ops[2].enable_principal("trader")
        wait_until(lambda: self.members[0].log_events("principal_enabled"), timeout=2.0, what="the enable")
        trader = self.connect(self.members[0], "trader")
        self.assertEqual(self.buy(trader, self.next_id()), "OK")

    def test_status_lists_members_their_health_and_the_shared_state(self) -> None:
        self.ops[0].halt("account:paper2")
        wait_until(lambda: "account:paper2: HALTED" in self.status(), timeout=2.0, what="the state in status")
        text = wait_until(lambda: (t := self.status()).count(" healthy ") == 3 and t, timeout=5.0,
                          what="three healthy members")
        for name in ("gw-1", "gw-2", "gw-3"):
            self.assertIn(f"  {name}  healthy  host=", text)
        self.assertIn("members: 3", text)
        # A member that stops leaves the list.
        self.members[2].terminate()
        wait_until(lambda: "members: 2" in self.status(), timeout=5.0, what="the member gone")

    def test_a_member_that_starts_later_reads_the_state_before_it_trades(self) -> None:
        self.ops[0].halt("global")
        late = self.start_member("gw-4")
        trader = self.connect(late, "trader")
        self.assertEqual(self.buy(trader, self.next_id()), "TRADING_HALTED")
        self.ops[0].resume("global")
        wait_until(lambda: self.buy(trader, self.next_id()) == "OK", timeout=2.0, what="the resume")

    def test_redis_loss_moves_every_member_to_reducing_and_the_state_read_back_restores_it(self) -> None:
        self.ops[0].halt("account:paper2")
        for trader in self.traders:
            wait_until(lambda t=trader: t.submit("paper2", "EURUSD", "buy", "market", "1", "ioc",
                                                 self.next_id()).reason == "TRADING_HALTED",
                       timeout=2.0, what="the account halt")
        self.redis.kill()
        # Every member REDUCING within fail_after + 1 s of the kill.
        deadline = time.monotonic() + FAIL_AFTER_S + 1.0
        for trader in self.traders:
            wait_until(lambda t=trader: self.buy(t, self.next_id()) == "REDUCE_ONLY",
                       timeout=max(deadline - time.monotonic(), 0.0),
                       what="REDUCING within fail_after + 1 s of the loss of Redis")
        for member in self.members:
            self.assertTrue(member.log_events("cluster_redis_lost"))
        # An operator's change during the outage is kept and written later.
        self.ops[1].halt("principal:ops")
        # A Redis that lost its data: the first member back writes its state,
        # and every member trades again only after it has read it.
        self.redis.start()
        for trader in self.traders:
            wait_until(lambda t=trader: self.buy(t, self.next_id()) == "OK", timeout=10.0,
                       what="ACTIVE once the state is read back")
        for member in self.members:
            self.assertTrue(member.log_events("cluster_connected"))
            lines = member.log_events("trading_floor")
            self.assertIn("floor=ACTIVE why=redis_state_read", lines[-1])
        for trader in self.traders:
            self.assertEqual(
                trader.submit("paper2", "EURUSD", "buy", "market", "1", "ioc", self.next_id()).reason,
                "TRADING_HALTED",
            )
        redis = self.redis.client()
        self.addCleanup(redis.close)
        state = redis.command("HGETALL", "ordergate:state")
        fields = dict(zip(state[::2], state[1::2]))
        self.assertEqual(fields.get("account:paper2"), "HALTED")
        self.assertEqual(fields.get("principal:ops"), "HALTED")


class ReadBack(ClusterTestCase):
    def test_after_an_outage_a_member_trades_only_on_the_state_it_read_back(self) -> None:
        members = [self.start_member(f"gw-{n}") for n in (1, 2)]
        traders = [self.connect(member, "trader") for member in members]
        for trader in traders:
            self.assertEqual(self.buy(trader, f"b-{time.monotonic_ns()}"), "OK")
        # A state the members have not seen (written without a message),
        # saved so that the restarted Redis comes back holding it.
        redis = self.redis.client()
        redis.command("HSET", "ordergate:state", "global", "HALTED")
        redis.command("HINCRBY", "ordergate:state", "version", 1)
        redis.command("SAVE")
        redis.close()
        for trader in traders:
            self.assertEqual(self.buy(trader, f"b-{time.monotonic_ns()}"), "OK", "no message, no change")
        self.redis.kill()
        for trader in traders:
            wait_until(lambda t=trader: self.buy(t, f"b-{time.monotonic_ns()}") == "REDUCE_ONLY",
                       timeout=FAIL_AFTER_S + 1.5, what="REDUCING after the loss of Redis")
        self.redis.start()
        # From REDUCING straight to the state read back: never ACTIVE between.
        for trader in traders:
            seen: list[str] = []
            wait_until(lambda t=trader: seen.append(self.buy(t, f"b-{time.monotonic_ns()}"))
                       or seen[-1] == "TRADING_HALTED", timeout=10.0, what="the state read back")
            self.assertEqual(set(seen) - {"REDUCE_ONLY", "TRADING_HALTED"}, set(), seen)
        for member in members:
            self.assertIn("by=cluster", member.log_events("trading_state_changed")[-1])


LOSS_LIMITED = INSTRUMENTS_TOML.replace(
    '[[accounts]]\nname = "paper"\nbroker = "paper"\n',
    '[[accounts]]\nname = "paper"\nbroker = "paper"\ncurrency = "USD"\nmax_daily_loss = "0.4"\n',
)


class LocalGuards(ClusterTestCase):
    def restart(self, member: GatewayProcess) -> GatewayProcess:
        """The same member (directory, name, [state] file) started again."""
        self.assertEqual(member.terminate(), 0)
        again = GatewayProcess(member.directory, self.principals, extra_toml=member.extra_toml,
                               instruments=member.instruments)
        self.addCleanup(again.terminate)
        return again

    def test_a_daily_loss_switch_stays_local_and_the_cluster_never_loosens_it(self) -> None:
        self.assertNotEqual(LOSS_LIMITED, INSTRUMENTS_TOML)
        first = self.start_member("gw-1", instruments=LOSS_LIMITED)
        second = self.start_member("gw-2", instruments=LOSS_LIMITED)
        trader = self.connect(first, "trader")
        # Bought at the ask, valued at the mid: 0.45 lost at once, past 0.4.
        self.assertEqual(self.buy(trader, "d-1", qty="30000"), "OK")
        first.wait_for_log("daily_loss_limit")
        self.assertEqual(self.buy(trader, "d-2"), "DAILY_LOSS_LIMIT")
        # Any change makes the first member read the shared state again; the
        # cluster holds the account ACTIVE (the switch is the first member's own).
        ops = self.connect(second, "ops")
        ops.halt("account:paper2")
        wait_until(lambda: trader.submit("paper2", "EURUSD", "buy", "market", "1", "ioc",
                                         f"d-{time.monotonic_ns()}").reason == "TRADING_HALTED",
                   timeout=2.0, what="the shared halt of paper2")
        self.assertEqual(self.buy(trader, "d-3"), "DAILY_LOSS_LIMIT")
        self.assertEqual(self.buy(self.connect(second, "trader"), "d-4"), "OK", "the other member's own account")
        # An operator's resume of that very scope, on any member, loosens it
        # (and the loss so far is forgiven), as on one gateway.
        ops.resume("account:paper")
        wait_until(lambda: self.buy(trader, f"d-{time.monotonic_ns()}") == "OK", timeout=2.0,
                   what="the operator's resume")
        first.wait_for_log("daily_loss_forgiven")
        # The cluster may tighten it further.
        ops.halt("account:paper")
        wait_until(lambda: self.buy(trader, f"d-{time.monotonic_ns()}") == "TRADING_HALTED", timeout=2.0,
                   what="the shared halt of paper")


    def test_a_restart_keeps_the_gateways_own_switch_and_follows_the_clusters_changes(self) -> None:
        def state_toml(name: str) -> str:
            return f'\n[state]\npath = "{self.root / name / "ordergate.state"}"\n'

        first = self.start_member("gw-1", instruments=LOSS_LIMITED, extra=state_toml("gw-1"))
        second = self.start_member("gw-2", instruments=LOSS_LIMITED, extra=state_toml("gw-2"))
        trader = self.connect(first, "trader")
        self.assertEqual(self.buy(trader, "r-1", qty="30000"), "OK")
        first.wait_for_log("daily_loss_limit")
        ops = self.connect(second, "ops")
        ops.halt("account:paper2")
        wait_until(lambda: (self.root / "gw-1" / "ordergate.state.cluster").exists()
                   and "paper2" in (self.root / "gw-1" / "ordergate.state.cluster").read_text(),
                   what="the last known shared state saved")
        # The first member restarts: its own REDUCING (by=daily_loss) is in its
        # state file, the cluster holds the account ACTIVE. The restart must
        # not loosen it.
        first = self.restart(first)
        trader = first.connect("trader")
        self.addCleanup(trader.close)
        self.assertNotEqual(self.buy(trader, "r-2"), "OK")
        self.assertEqual(
            trader.submit("paper2", "EURUSD", "buy", "market", "1", "ioc", "r-3").reason, "TRADING_HALTED")
        self.assertTrue(first.log_events("cluster_state_kept"))
        # A change the cluster made while a member was down reaches it when
        # it starts: the second member restarts after a resume of paper2.
        second.terminate()
        self.connect(first, "ops").resume("account:paper2")
        second = self.restart(second)
        other = second.connect("trader")
        self.addCleanup(other.close)
        self.assertTrue(other.submit("paper2", "EURUSD", "buy", "market", "1", "ioc", "r-4").accepted)


class Console(ClusterTestCase):
    def test_a_halt_from_one_members_console_is_enforced_by_the_other(self) -> None:
        window = {"account_rate_limits": ["100/1s"]}
        first = self.start_member("gw-1", extra='\n[http]\nlisten = "127.0.0.1:0"\n', gateway=window)
        second = self.start_member("gw-2", gateway=window)
        port = int(re.search(r"console=http://127\.0\.0\.1:(\d+)/", first.ready_line)[1])  # type: ignore[index]
        origin = {"Origin": f"http://127.0.0.1:{port}"}

        def request(path: str, body: str, headers: dict[str, str]) -> tuple[int, str, str]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
            try:
                connection.request("POST", path, body, {**origin, **headers})
                response = connection.getresponse()
                return response.status, response.getheader("Set-Cookie") or "", response.read().decode()
            finally:
                connection.close()

        status, cookie, body = request("/login", urllib.parse.urlencode({"token": self.principals[0].token}),
                                       {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        csrf = json.loads(body)["csrf"]
        # The console shows this member and its leases of the shared budget.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
        connection.request("GET", "/api/state", headers={**origin, "Cookie": cookie.split(";", 1)[0]})
        response = connection.getresponse()
        state = json.loads(response.read().decode())
        connection.close()
        self.assertEqual(response.status, 200)
        self.assertEqual(state["cluster"]["name"], "gw-1")
        self.assertTrue(state["cluster"]["connected"])
        self.assertEqual(state["cluster"]["floor"], "active")
        leases = {(lease["account"], lease["count"], lease["period_ms"]): lease["tokens"]
                  for lease in state["cluster"]["leases"]}
        self.assertEqual(set(leases), {("paper", 100, 1000), ("paper2", 100, 1000)})
        self.assertTrue(all(0 < tokens <= 5 for tokens in leases.values()), leases)

        status, _, body = request("/api/trading-state", json.dumps({"scope": "global", "state": "halted"}),
                                  {"Content-Type": "application/json", "X-CSRF-Token": csrf,
                                   "Cookie": cookie.split(";", 1)[0]})
        self.assertEqual(status, 200, body)
        trader = self.connect(second, "trader")
        wait_until(lambda: self.buy(trader, f"c-{time.monotonic_ns()}") == "TRADING_HALTED", timeout=2.0,
                   what="the console's halt on the other member")


class Reload(ClusterTestCase):
    def test_a_principal_added_by_a_reload_gets_the_shared_state_it_is_named_in(self) -> None:
        late = Principal("late")
        first = self.start_member("gw-1", principals=[*self.principals, late])
        second = self.start_member("gw-2")
        self.connect(first, "ops").halt("principal:late")
        wait_until(lambda: first.log_events("cluster_state_written"), what="the halt written")
        second.write_config([*self.principals, late])
        second.principals["late"] = late
        self.connect(second, "ops").reload()
        trader = self.connect(second, "late")
        wait_until(lambda: self.buy(trader, f"l-{time.monotonic_ns()}") == "TRADING_HALTED", timeout=2.0,
                   what="the shared halt of the added principal")


class SharedBudgets(ClusterTestCase):
    """Three members flooding one account whose window is 100/1s: the
    cluster admits what one process's window would, plus at most one slice
    (5 tokens, the default 5%) per member (docs/cluster.md)."""

    COUNT = 100
    SLICE = 5
    SECONDS = float(os.environ.get("ORDERGATE_CLUSTER_FLOOD_SECONDS", "10"))

    def setUp(self) -> None:
        super().setUp()
        self.principals = [Principal("ops", permissions=ALL_PERMISSIONS), Principal("trader", rate_limits=("100000/1s",))]
        window = {"account_rate_limits": [f"{self.COUNT}/1s"]}
        # Budgets alone: a flood's market orders in flight would also meet
        # each member's open-order lease (SharedExposure tests those).
        self.members = [self.start_member(f"gw-{n}", gateway=window, extra="share_exposure = false")
                        for n in (1, 2, 3)]

    def test_three_members_flooding_one_account_get_at_most_one_window_plus_a_slice_each(self) -> None:
        self.flood_window(self.COUNT, self.SECONDS, self.SLICE, "shared budget")

    def test_status_shows_the_shared_budget_and_each_members_lease(self) -> None:
        trader = self.connect(self.members[0], "trader")
        self.assertTrue(trader.submit("paper", "EURUSD", "buy", "market", "1", "ioc", "s-1").accepted)

        text = wait_until(lambda: (t := self.status()).count(" healthy ") == 3 and t.count("leases=") == 3 and t,
                          timeout=5.0, what="every member healthy with its leases in status")
        self.assertIn("shared budgets: 2", text)  # the accounts paper and paper2
        self.assertRegex(text, r"account:paper 100/1000ms: remaining=\d+")
        for name in ("gw-1", "gw-2", "gw-3"):
            self.assertRegex(text, rf"  {name}  healthy .* leases=paper:100/1000000000=\d+/5,paper2:")


POSITION_LIMITED = INSTRUMENTS_TOML.replace(
    'max_order_quantity = "1000000"\nmax_notional = "2000000"\nmax_position = "5000000"',
    'max_order_quantity = "100"\nmax_notional = "2000000"\nmax_position = "1000"',
)


class SharedExposure(ClusterTestCase):
    """Three members with one account whose EUR/USD position may be 1,000:
    the members' resting buys together never exceed it, and the leases of a
    member killed with SIGKILL go to the others once its key expires
    (docs/cluster.md, "Shared exposure")."""

    LIMIT = 1000
    ORDER = 100
    KEY = "ordergate:exposure:paper:position:EUR/USD"

    def setUp(self) -> None:
        super().setUp()
        self.assertNotEqual(POSITION_LIMITED, INSTRUMENTS_TOML)
        self.principals = [Principal("ops", permissions=ALL_PERMISSIONS),
                           Principal("trader", rate_limits=("100000/1s",))]
        self.members = [self.start_member(f"gw-{n}", instruments=POSITION_LIMITED) for n in (1, 2, 3)]
        self.traders = [self.connect(member, "trader") for member in self.members]
        self.accepted = [0, 0, 0]
        self.orders = 0

    def resting_buy(self, member: int) -> str:
        """A buy of ORDER below the market on member `member`: its reason."""
        self.orders += 1
        answer = self.traders[member].submit("paper", "EURUSD", "buy", "limit", str(self.ORDER), "gtc",
                                             f"x-{self.orders}", price="1.08000")
        if answer.accepted:
            self.accepted[member] += self.ORDER
            return "OK"
        return answer.reason

    def fill_until_refused(self, members: list[int], quiet_s: float = 0.5) -> None:
        """Round robin over `members` until none was accepted for `quiet_s`;
        what they hold together never exceeds the limit."""
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            for member in members:
                reason = self.resting_buy(member)
                if reason == "OK":
                    last = time.monotonic()
                else:
                    self.assertEqual(reason, "MAX_POSITION_EXCEEDED")
                self.assertLessEqual(sum(self.accepted[m] for m in members), self.LIMIT)

    def parts(self) -> dict[str, int]:
        client = self.redis.client()
        try:
            flat = client.command("HGETALL", self.KEY)
        finally:
            client.close()
        return {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def test_resting_orders_of_three_members_never_exceed_the_accounts_position_limit(self) -> None:
        self.fill_until_refused([0, 1, 2])
        total = sum(self.accepted)
        print(f"\nshared max_position {self.LIMIT}, 3 members, orders of {self.ORDER}: accepted {self.accepted}")
        self.assertLessEqual(total, self.LIMIT)
        # Each member may keep less than one order's room it cannot use.
        self.assertGreaterEqual(total, self.LIMIT - 3 * (self.ORDER - 1))
        for accepted in self.accepted:
            self.assertGreater(accepted, 0, "every member gets a share")
        parts = self.parts()
        self.assertEqual(set(parts), {"gw-1", "gw-2", "gw-3"})
        self.assertLessEqual(sum(parts.values()), 1_000_000)  # parts per million of the limit
        # Sells count in their own direction: a member can still sell.
        answer = self.traders[0].submit("paper", "EURUSD", "sell", "limit", "100", "gtc", "s-1", price="1.09000")
        self.assertTrue(answer.accepted, answer.reason)

    def test_a_killed_members_leases_go_to_the_others_after_its_ttl(self) -> None:
        self.fill_until_refused([0, 1, 2])
        held_by_third = self.accepted[2]
        self.assertGreater(held_by_third, 0)
        # gw-3 dies with its orders' exposure leased: the others stay refused
        # until its member key expires (fail_after + 2 heartbeats).
        ttl_s = FAIL_AFTER_S + 2 * FAIL_AFTER_S / 4
        heartbeat_s = FAIL_AFTER_S / 4
        self.members[2].kill()
        killed = time.monotonic()
        wait_until(lambda: self.resting_buy(0) == "OK" or self.resting_buy(1) == "OK", timeout=ttl_s + 1.0,
                   interval=0.01, what="the killed member's leases freed within its TTL + 1 s")
        freed_after = time.monotonic() - killed
        print(f"\nleases of a killed member freed after {freed_after:.2f} s (TTL {ttl_s:.2f} s)")
        # The key was last refreshed at most one heartbeat before the kill.
        self.assertGreaterEqual(freed_after, ttl_s - heartbeat_s - 0.1)
        self.fill_until_refused([0, 1])
        self.assertLessEqual(self.accepted[0] + self.accepted[1], self.LIMIT)
        self.assertNotIn("gw-3", self.parts())

    def test_status_shows_each_members_exposure_leases(self) -> None:
        self.assertEqual(self.resting_buy(0), "OK")

        # Each member's heartbeat brings its leases as of then: wait for all
        # three healthy, gw-1's position lease past its first order.
        text = wait_until(
            lambda: ((t := self.status()).count(" healthy ") == 3 and t.count("exposure=") == 3
                     and re.search(r"  gw-1  healthy .* exposure=paper:position:EUR/USD=[1-9]\d*/1000,", t) and t),
            timeout=5.0, what="every member healthy with its exposure leases in status")
        self.assertRegex(text, r"exposure:paper:position:EUR/USD: leased=\d+ of 1000000 ppm")


class SharedPrincipalBudgets(ClusterTestCase):
    """One principal connected to three members, its window 100/1s shared
    (`share_principal_budgets`): the three admit together what one window
    would, plus one slice (5) per member (docs/cluster.md)."""

    COUNT = 100
    SLICE = 5
    SECONDS = 5.0

    def setUp(self) -> None:
        super().setUp()
        self.principals = [Principal("ops", permissions=ALL_PERMISSIONS),
                           Principal("trader", rate_limits=(f"{self.COUNT}/1s",))]
        shared = "share_principal_budgets = true\nshare_budgets = false\nshare_exposure = false"
        self.members = [self.start_member(f"gw-{n}", extra=shared) for n in (1, 2, 3)]

    def test_one_principal_on_three_members_gets_at_most_one_window_plus_a_slice_each(self) -> None:
        self.flood_window(self.COUNT, self.SECONDS, self.SLICE, "shared principal window")
        text = self.status()
        self.assertRegex(text, r"  principal:trader 100/1000ms: remaining=\d+")
        self.assertRegex(text, r"  gw-1  healthy .* leases=principal:ops:\S+,principal:trader:100/1000000000=\d+/5")
        self.assertNotIn("account:paper", text)


class Propagation(ClusterTestCase):
    """HALT on one member, enforced by two others: the time from the admin
    reply to the first TRADING_HALTED on each other member's socket."""

    def test_propagation_latency_of_halt_and_resume(self) -> None:
        members = [
            self.start_member(
                f"gw-{n}",
                extra=f'\n[state]\npath = "{self.root / f"gw-{n}.state"}"\n' if STATE_FILES else "",
            )
            for n in (1, 2, 3)
        ]
        ops = self.connect(members[0], "ops")
        traders = [self.connect(member, "trader") for member in members[1:]]
        samples: list[float] = []
        count = 0

        def until(trader: Client, reason: str, start: float) -> float:
            nonlocal count
            deadline = start + 2.0
            while True:
                count += 1
                if self.buy(trader, f"p-{count}") == reason:
                    return time.perf_counter() - start
                if time.perf_counter() > deadline:
                    raise AssertionError(f"no {reason} within 2 s")

        for _ in range(SWITCHES):
            ops.halt("global")
            start = time.perf_counter()
            samples.extend(until(trader, "TRADING_HALTED", start) for trader in traders)
            ops.resume("global")
            start = time.perf_counter()
            samples.extend(until(trader, "OK", start) for trader in traders)
            for trader in traders:
                trader.pending_events()
        samples.sort()
        p50 = statistics.median(samples) * 1000
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
        print(f"\ncluster propagation ({'state files' if STATE_FILES else 'no state file'}): "
              f"{SWITCHES} halts and {SWITCHES} resumes, {len(samples)} samples: "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {samples[-1] * 1000:.2f} ms")
        # Correctness bound, not a speed test: every switch arrived, none
        # later than the 2 s above.
        self.assertEqual(len(samples), 4 * SWITCHES)


class MemberStart(ClusterTestCase):
    def test_a_second_live_member_with_the_same_name_is_refused(self) -> None:
        self.start_member("gw-1")
        directory = self.root / "duplicate"
        directory.mkdir()
        config = directory / "ordergate.toml"
        config.write_text(config_toml(self.principals, {"order_capacity": 4096},
                                      extra_toml=cluster_toml(self.redis.url, "gw-1")))
        result = subprocess.run(
            [ordergate_binary(), "run", "--config", str(config), "--socket", str(directory / "og.sock")],
            capture_output=True, text=True, timeout=30,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("the member name 'gw-1' is held by a live member", result.stderr)

    def test_a_bad_cluster_section_is_refused_with_a_clear_error(self) -> None:
        cases = {
            'redis = "http://127.0.0.1:6379"\nname = "gw-1"': "must start with redis:// or rediss://",
            'redis = "redis://:hunter2@127.0.0.1:6379"\nname = "gw-1"': "a password in the URL is refused",
            'redis = "redis://127.0.0.1:99999"\nname = "gw-1"': "the port after ':' must be a number from 1 to 65535",
            'redis = "redis://127.0.0.1:6379/x"\nname = "gw-1"': "the database after '/' must be a number",
            'redis = "rediss://127.0.0.1:6379"\nname = "gw-1"': "rediss:// (TLS) is not available in this build",
            'redis = "redis://127.0.0.1:6379"': "key 'cluster.name': is required",
            'redis = "redis://127.0.0.1:6379"\nname = "gw 1"': "key 'cluster.name': must be 1 to 64 letters",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\non_redis_loss = "active"':
                "on_redis_loss': must be \"reducing\" or \"halted\"",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\nfail_after = "10ms"': "must be between 100ms and 60s",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\npassword_env = "s3cret-value"':
                "must be a credential name",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\nleases = true': "leases",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\nbudget_slice_percent = 0':
                "budget_slice_percent': must be within 1..50",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\nshare_budgets = "yes"':
                "share_budgets': expected true or false",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\nexposure_headroom_percent = 51':
                "exposure_headroom_percent': must be within 1..50",
            'redis = "redis://127.0.0.1:6379"\nname = "gw-1"\nshare_exposure = 1':
                "share_exposure': expected true or false",
        }
        directory = self.root / "bad"
        directory.mkdir()
        config = directory / "ordergate.toml"
        for section, expected in cases.items():
            with self.subTest(section=section):
                config.write_text(config_toml(self.principals, extra_toml="\n[cluster]\n" + section + "\n"))
                result = subprocess.run(
                    [ordergate_binary(), "run", "--config", str(config), "--socket", str(directory / "og.sock")],
                    capture_output=True, text=True, timeout=30,
                )
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(expected, result.stderr)
                self.assertNotIn("hunter2", result.stderr)
                self.assertNotIn("s3cret-value", result.stderr)

    def test_the_redis_password_comes_from_secrets_and_a_wrong_one_is_refused_without_echo(self) -> None:
        password = secrets.token_urlsafe(24)
        guarded = RedisServer(self.root / "redis-auth", password=password)
        self.addCleanup(guarded.stop)
        extra = cluster_toml(guarded.url, "gw-auth", extra='password_env = "REDIS_PASSWORD"')
        self.set_environment("DEV_REDIS_PASSWORD", password)
        directory = self.root / "auth"
        directory.mkdir()
        member = self.start_gateway(self.principals, directory=directory, extra_toml=extra)
        self.assertEqual(self.buy(self.connect(member, "trader"), "a-1"), "OK")
        self.assertNotIn(password, member.log_text())

        wrong = secrets.token_urlsafe(24)
        self.set_environment("DEV_REDIS_PASSWORD", wrong)
        directory = self.root / "wrong"
        directory.mkdir()
        config = directory / "ordergate.toml"
        config.write_text(config_toml(self.principals, extra_toml=cluster_toml(guarded.url, "gw-wrong",
                                                                               extra='password_env = "REDIS_PASSWORD"')))
        result = subprocess.run(
            [ordergate_binary(), "run", "--config", str(config), "--socket", str(directory / "og.sock")],
            capture_output=True, text=True, timeout=30,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Redis refused the credentials", result.stderr)
        self.assertNotIn(wrong, result.stderr)
        self.assertNotIn(password, result.stderr)

    def set_environment(self, name: str, value: str) -> None:
        previous = os.environ.get(name)
        os.environ[name] = value

        def restore() -> None:
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous

        self.addCleanup(restore)

    def test_a_member_without_redis_keeps_its_accounts_closed_until_it_reads_the_state(self) -> None:
        self.redis.kill()
        member = self.start_member("gw-1")
        trader = self.connect(member, "trader")
        self.assertEqual(self.buy(trader, "n-1"), "ACCOUNT_NOT_READY")
        self.redis.start()
        wait_until(lambda: self.buy(trader, f"n-{time.monotonic_ns()}") == "OK", timeout=10.0,
                   what="trading once Redis is there")


if __name__ == "__main__":
    unittest.main()
