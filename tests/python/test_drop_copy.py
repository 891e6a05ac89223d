"""The drop copy over the wire: `subscribe` to executions, rejections and
trading states, against a real gateway process and its paper broker."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import unittest
from pathlib import Path

from gateway_harness import GatewayTestCase, Principal
from ordergate_client import Client, DropCopyEvent, ExecEvent, SubscriptionEnded

FAST = ("100000/1s",)


def drain(
    client: Client, until: int | None, timeout: float = 10.0
) -> list[DropCopyEvent | SubscriptionEnded]:
    """Drop-copy events (and notices) until `until` events came (None: all
    that come) or none came for `timeout` seconds."""
    seen: list[DropCopyEvent | SubscriptionEnded] = []
    count = 0
    for event in client.events(timeout=timeout):
        if isinstance(event, (DropCopyEvent, SubscriptionEnded)):
            seen.append(event)
            count += isinstance(event, DropCopyEvent)
            if until is not None and count >= until:
                break
    return seen


def own_reports(client: Client, orders: int, timeout: float = 10.0) -> list[ExecEvent]:
    """The session's own execution reports until `orders` orders finished."""
    reports: list[ExecEvent] = []
    done = 0
    for event in client.events(timeout=timeout):
        if isinstance(event, ExecEvent):
            reports.append(event)
            done += event.is_terminal
            if done == orders:
                break
    return reports


class DropCopy(GatewayTestCase):
    def setUp(self) -> None:
        self.principals = [
            Principal("risk", permissions=("monitor",)),
            Principal("desk", permissions=("read",), accounts=("paper",)),
            Principal("ops", permissions=("admin",)),
            Principal("alice", accounts=("paper",), rate_limits=FAST),
            Principal("bob", accounts=("paper2",), rate_limits=FAST),
            Principal("nobody", permissions=("trade",)),
        ]
        self.gateway = self.start_gateway(self.principals)
        self.alice = self.connect(self.gateway, "alice")
        self.bob = self.connect(self.gateway, "bob")

    def trade(self, client: Client, account: str, prefix: str, count: int) -> None:
        pending = [
            client.begin_submit(account, "EURUSD", "buy", "market", "1000", "ioc", f"{prefix}-{i}")
            for i in range(count)
        ]
        for reply in pending:
            self.assertTrue(reply.result().accepted)

    def test_monitor_sees_every_execution_of_two_principals_once_and_in_order(self) -> None:
        risk = self.connect(self.gateway, "risk")
        self.assertEqual(risk.subscribe(("executions",)), ["executions"])
        self.trade(self.alice, "paper", "a", 40)
        self.trade(self.bob, "paper2", "b", 40)
        alice_reports = own_reports(self.alice, 40)
        bob_reports = own_reports(self.bob, 40)
        events = drain(risk, len(alice_reports) + len(bob_reports))

        self.assertTrue(all(isinstance(e, DropCopyEvent) for e in events), events[-1:])
        self.assertEqual([e.seq for e in events], list(range(1, len(events) + 1)), "numbered, no gap")
        self.assertTrue(all(e.stream == "executions" for e in events))
        for principal, account, reports in (("alice", "paper", alice_reports), ("bob", "paper2", bob_reports)):
            copied = [e.execution for e in events if e.principal == principal]
            # Exactly what the principal's own session saw, in the same order.
            self.assertEqual(
                [(r.cl_ord_id, r.status, r.cum_qty) for r in copied],  # type: ignore[union-attr]
                [(r.cl_ord_id, r.status, r.cum_qty) for r in reports],
            )
            self.assertTrue(all(r.account == account for r in copied))  # type: ignore[union-attr]
        self.assertIsNone(risk.next_event(0.2), "nothing twice")

    def test_read_sees_the_accounts_it_may_use_and_nothing_of_others(self) -> None:
        desk = self.connect(self.gateway, "desk")
        desk.subscribe(("executions", "rejections"))
        self.trade(self.bob, "paper2", "b", 5)
        self.trade(self.alice, "paper", "a", 5)
        own_reports(self.alice, 5)
        events = drain(desk, 10)
        self.assertEqual({e.principal for e in events if isinstance(e, DropCopyEvent)}, {"alice"})
        self.assertEqual(len(events), 10)
        self.assertIsNone(desk.next_event(0.2), "bob's paper2 orders never reach desk")

    def test_rejections_and_trading_states_are_events_too(self) -> None:
        risk = self.connect(self.gateway, "risk")
        risk.subscribe(("rejections", "trading_state"))
        ops = self.connect(self.gateway, "ops")
        too_big = self.alice.submit("paper", "EURUSD", "buy", "market", "999999999", "ioc", "big-1")
        self.assertFalse(too_big.accepted)
        unknown = self.alice.cancel("never-placed")
        self.assertFalse(unknown.accepted)
        ops.halt("account:paper")
        ops.resume("account:paper")
        events = drain(risk, 4)
        self.assertEqual([e.seq for e in events], [1, 2, 3, 4])
        rejection, cancel, halt, resume = events
        assert isinstance(rejection, DropCopyEvent) and isinstance(cancel, DropCopyEvent)
        self.assertEqual(rejection.stream, "rejections")
        self.assertEqual(
            {k: rejection.fields.get(k) for k in ("op", "principal", "cl_ord_id", "account", "symbol", "reason")},
            {
                "op": "submit",
                "principal": "alice",
                "cl_ord_id": "big-1",
                "account": "paper",
                "symbol": "EUR/USD",
                "reason": too_big.reason,
            },
        )
        self.assertEqual((cancel.fields["op"], cancel.fields["reason"]), ("cancel", "UNKNOWN_ORDER"))
        assert isinstance(halt, DropCopyEvent) and isinstance(resume, DropCopyEvent)
        self.assertEqual(
            [(e.stream, e.fields["scope"], e.fields["state"], e.fields["by"]) for e in (halt, resume)],
            [
                ("trading_state", "account:paper", "HALTED", "ops"),
                ("trading_state", "account:paper", "ACTIVE", "ops"),
            ],
        )

    def test_a_reload_that_takes_monitor_away_ends_the_subscription(self) -> None:
        risk = self.connect(self.gateway, "risk")
        risk.subscribe(("executions",))
        self.trade(self.alice, "paper", "a", 1)
        self.assertEqual(len(drain(risk, 2)), 2)
        demoted = [dataclasses.replace(p, permissions=("trade",)) if p.name == "risk" else p for p in self.principals]
        self.gateway.write_config(demoted)
        self.connect(self.gateway, "ops").reload()
        self.trade(self.alice, "paper", "b", 1)
        ended = risk.next_event(5.0)
        self.assertIsInstance(ended, SubscriptionEnded)
        self.assertEqual(ended.code, "SUBSCRIPTION_ENDED")  # type: ignore[union-attr]
        self.assertIsNone(risk.next_event(0.3), "nothing after the notice")

    def test_subscribing_needs_read_or_monitor_and_known_streams(self) -> None:
        nobody = self.connect(self.gateway, "nobody")
        reply = nobody.request("subscribe", streams=["executions"])
        self.assertEqual((reply["type"], reply["reason"]), ("rejected", "PERMISSION_DENIED"))
        risk = self.connect(self.gateway, "risk")
        for streams in ([], ["fills"], "executions", ["executions", "executions"], [1]):
            reply = risk.request("subscribe", streams=streams)
            self.assertEqual((reply["type"], reply["code"]), ("error", "INVALID_FIELD"), streams)
        with self.assertRaises(TypeError):
            risk.subscribe(())
        # Refused subscriptions left nothing behind: no event arrives.
        self.trade(self.alice, "paper", "a", 1)
        self.assertIsNone(risk.next_event(0.3))


class BlotterExample(GatewayTestCase):
    SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "python" / "examples" / "blotter.py"

    def test_prints_executions_rejections_and_states_as_they_happen(self) -> None:
        gateway = self.start_gateway(
            [Principal("risk", permissions=("monitor",)), Principal("ops", permissions=("admin",)), Principal("alice")]
        )
        environment = dict(os.environ, ORDERGATE_SOCKET=str(gateway.socket_path), ORDERGATE_TOKEN=gateway.token("risk"))
        blotter = subprocess.Popen(
            [sys.executable, str(self.SCRIPT), "--idle", "2"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(blotter.kill)
        assert blotter.stdout is not None
        self.assertEqual(blotter.stdout.readline(), "blotter for risk: executions, rejections, trading_state\n")
        alice = self.connect(gateway, "alice")
        self.assertTrue(alice.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "blot-1").accepted)
        own_reports(alice, 1)  # the streams are ordered by when things happen: the fill first
        self.assertFalse(alice.submit("paper", "EURUSD", "buy", "market", "999999999", "ioc", "blot-2").accepted)
        self.connect(gateway, "ops").halt("account:paper")
        out, err = blotter.communicate(timeout=30)
        self.assertEqual(blotter.returncode, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ +1 EXEC +alice +blot-1 +NEW ")
        self.assertRegex(lines[1], r"^ +2 EXEC +alice +blot-1 +FILLED +buy +1000 @ \d+\.\d+ EUR/USD paper")
        self.assertRegex(lines[2], r"^ +3 REJECT alice +blot-2 +INVALID_QUANTITY +submit EUR/USD paper$")
        self.assertEqual(lines[3].split(), ["4", "STATE", "account:paper", "->", "HALTED", "by", "ops"])
        self.assertEqual(len(lines), 4, out)
        self.assertNotIn(gateway.token("risk"), out + err)


class SlowSubscriber(GatewayTestCase):
    def test_a_reader_that_falls_behind_is_dropped_and_nobody_else_notices(self) -> None:
        gateway = self.start_gateway(
            [
                Principal("risk", permissions=("monitor",)),
                Principal("alice", rate_limits=FAST),
            ],
        )
        alice = self.connect(gateway, "alice")
        fast = self.connect(gateway, "risk")
        slow = self.connect(gateway, "risk")
        fast.subscribe(("executions",))
        slow.subscribe(("executions",))
        orders = 3000
        # The fast subscriber reads all along on its own thread; the slow
        # one reads nothing until the end. 6,000 events of some 350 bytes
        # are far more than the socket buffer and the 512 KiB a subscriber
        # may fall behind (half of max_output_bytes).
        received: list[DropCopyEvent | SubscriptionEnded] = []
        # It stops once nothing came for 10 s: long after the last order.
        reader = threading.Thread(target=lambda: received.extend(drain(fast, None, timeout=10.0)))
        reader.start()
        alice_reports: list[ExecEvent] = []
        for batch in range(orders // 50):  # max_open_orders is 100
            pending = [
                alice.begin_submit("paper", "EURUSD", "buy", "market", "1", "ioc", f"s{batch}-{i}")
                for i in range(50)
            ]
            for reply in pending:
                verdict = reply.result()
                self.assertTrue(verdict.accepted, verdict)
            alice_reports += own_reports(alice, 50)
        reader.join(timeout=60.0)
        self.assertFalse(reader.is_alive())
        expected = len(alice_reports)
        self.assertTrue(all(isinstance(e, DropCopyEvent) for e in received), [e for e in received if not isinstance(e, DropCopyEvent)])
        self.assertEqual([e.seq for e in received], list(range(1, expected + 1)))  # type: ignore[union-attr]

        # The slow one: what it got is numbered without a gap, then the
        # notice, then nothing.
        late = drain(slow, None, timeout=2.0)
        self.assertIsInstance(late[-1], SubscriptionEnded)
        self.assertEqual(late[-1].code, "SUBSCRIPTION_DROPPED")  # type: ignore[union-attr]
        copied = late[:-1]
        self.assertLess(len(copied), expected)
        self.assertEqual([e.seq for e in copied], list(range(1, len(copied) + 1)))  # type: ignore[union-attr]
        # Its connection still serves it, and it hears nothing more.
        slow.ping()
        self.assertTrue(
            alice.submit("paper", "EURUSD", "buy", "market", "1", "ioc", "after").accepted
        )
        self.assertIsNone(slow.next_event(0.3), "no event after the notice")


if __name__ == "__main__":
    unittest.main()
