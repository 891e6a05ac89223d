"""A restart never loosens a guard: trading states and disabled principals set
by an operator survive a SIGKILL right after the admin op was acknowledged
(``[state] path``, or the default beside the audit journal)."""

from __future__ import annotations

import time
import unittest

from gateway_harness import GatewayProcess, GatewayTestCase, Principal, wait_until
from ordergate_client import RequestRejected


class ControlStateRestart(GatewayTestCase):
    def setUp(self) -> None:
        self.directory = self.make_directory()
        self.principals = [Principal("ops", permissions=("admin", "read")), Principal("trader"), Principal("other")]
        self.processes: list[GatewayProcess] = []

    def tearDown(self) -> None:
        for process in self.processes:
            process.kill()

    def start(self, extra_toml: str) -> GatewayProcess:
        process = GatewayProcess(self.directory, self.principals, extra_toml=extra_toml)
        self.processes.append(process)
        return process

    def buy(self, gateway: GatewayProcess, principal: str, cl_ord_id: str) -> str:
        with gateway.connect(principal) as client:
            reply = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", cl_ord_id)
            return "OK" if reply.accepted else str(reply.reason)

    def check_survives_sigkill(self, extra_toml: str) -> None:
        gateway = self.start(extra_toml)
        with gateway.connect("ops") as ops:
            ops.halt("account:paper")
            ops.disable_principal("other")
        gateway.kill()  # SIGKILL right after the acknowledgements

        gateway = self.start(extra_toml)
        self.assertEqual(self.buy(gateway, "trader", "k-1"), "TRADING_HALTED")
        with self.assertRaises(RequestRejected) as refused:
            gateway.connect("other")
        self.assertEqual(refused.exception.reason, "UNAUTHENTICATED", "other stays disabled")
        with gateway.connect("ops") as ops:
            ops.resume("account:paper")
            ops.enable_principal("other")
        gateway.kill()

        gateway = self.start(extra_toml)
        self.assertEqual(self.buy(gateway, "trader", "k-2"), "OK")
        self.assertEqual(self.buy(gateway, "other", "k-3"), "OK")
        gateway.kill()

    def buy_paced(self, gateway: GatewayProcess, cl_ord_ids: list[str]) -> list[str]:
        """Buys one order per id, waiting out RATE_LIMITED as its reply says."""
        results = []
        with gateway.connect("trader") as client:
            for cl_ord_id in cl_ord_ids:
                while True:
                    reply = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", cl_ord_id)
                    if reply.accepted or reply.reason != "RATE_LIMITED":
                        break
                    time.sleep((reply.retry_after_ms or 1) / 1000)
                results.append("OK" if reply.accepted else str(reply.reason))
        return results

    def test_the_days_order_count_survives_sigkill_and_a_restart_only_tightens_it(self) -> None:
        # 12 orders a day; the window "2/1s" admits at most 2 x (1 + 2) = 6
        # in the two seconds a checkpoint may lag: the slack an unclean
        # restart adds.
        self.principals = [Principal("trader", rate_limits=("2/1s",), max_orders_per_day=12)]
        state = self.directory / "control.state"
        extra = f'[state]\npath = "{state}"\n'
        gateway = self.start(extra)
        self.assertEqual(self.buy_paced(gateway, [f"d-{n}" for n in range(4)]), ["OK"] * 4)
        daily = self.directory / "control.state.daily"
        wait_until(lambda: daily.exists() and "principal trader 4 0" in daily.read_text(), timeout=10.0,
                   what="the day's counts checkpointed")
        gateway.kill()

        gateway = self.start(extra)
        self.assertIn("event=daily_counts_restored principals=1 same_day=yes exact=no", gateway.log_text())
        # 12 - (4 + 6): two more today, never the eight a reset would allow.
        self.assertEqual(self.buy_paced(gateway, [f"e-{n}" for n in range(3)]), ["OK", "OK", "DAILY_ORDER_LIMIT"])
        gateway.kill()

    def test_a_clean_stop_keeps_the_exact_count(self) -> None:
        self.principals = [Principal("trader", rate_limits=("100/1s",), max_orders_per_day=6)]
        state = self.directory / "control.state"
        extra = f'[state]\npath = "{state}"\n'
        gateway = self.start(extra)
        for n in range(4):
            self.assertEqual(self.buy(gateway, "trader", f"c-{n}"), "OK")
        self.assertEqual(gateway.terminate(), 0)

        gateway = self.start(extra)
        self.assertIn("event=daily_counts_restored principals=1 same_day=yes exact=yes", gateway.log_text())
        self.assertEqual([self.buy(gateway, "trader", f"r-{n}") for n in range(3)],
                         ["OK", "OK", "DAILY_ORDER_LIMIT"])
        gateway.kill()

    def test_halted_account_and_disabled_principal_survive_sigkill_with_a_state_path(self) -> None:
        state = self.directory / "control.state"
        self.check_survives_sigkill(f'[state]\npath = "{state}"\n')
        self.assertTrue(state.exists())

    def test_the_state_is_kept_beside_the_audit_journal_by_default(self) -> None:
        journal = self.directory / "audit.jsonl"
        self.check_survives_sigkill(f'[audit]\npath = "{journal}"\n')
        self.assertTrue((self.directory / "ordergate.state").exists())

    def test_without_a_state_file_a_restart_forgets_the_halt(self) -> None:
        gateway = self.start("")
        with gateway.connect("ops") as ops:
            ops.halt("account:paper")
        gateway.kill()
        gateway = self.start("")
        self.assertEqual(self.buy(gateway, "trader", "f-1"), "OK", "development: nothing was kept")
        gateway.kill()


if __name__ == "__main__":
    unittest.main()
