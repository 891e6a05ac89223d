"""A restart never loosens a guard: trading states and disabled principals set
by an operator survive a SIGKILL right after the admin op was acknowledged
(``[state] path``, or the default beside the audit journal)."""

from __future__ import annotations

import unittest

from gateway_harness import GatewayProcess, GatewayTestCase, Principal
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
