"""The example strategy (clients/python/examples/ma_cross.py) against a real gateway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

from gateway_harness import GatewayProcess, GatewayTestCase, Principal, new_token

SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "python" / "examples" / "ma_cross.py"


class MaCrossExample(GatewayTestCase):
    def run_strategy(
        self, gateway: GatewayProcess, principal: str, *args: str, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = dict(os.environ)
        environment["ORDERGATE_SOCKET"] = str(gateway.socket_path)
        environment.pop("ORDERGATE_TOKEN", None)
        if token is None:
            token = gateway.token(principal)
        if token:
            environment["ORDERGATE_TOKEN"] = token
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--interval", "0", *args],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_trades_the_crosses_prints_fills_and_ends_flat_with_a_summary(self) -> None:
        gateway = self.start_gateway([Principal("strategy")])
        result = self.run_strategy(gateway, "strategy", "--bars", "200")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("as strategy", result.stdout)
        fills = re.findall(
            r"^  fill ma-\S+: (buy|sell) (\d+) EUR/USD @ (\d+\.\d+)", result.stdout, re.MULTILINE
        )
        self.assertGreaterEqual(len(fills), 2, result.stdout)
        self.assertIn("--- summary ---", result.stdout)
        self.assertRegex(result.stdout, r"position +0\n")
        self.assertRegex(result.stdout, r"total P&L +-?\d+\.\d\d\n")
        self.assertNotIn(gateway.token("strategy"), result.stdout + result.stderr)
        # Every order the strategy sent was filled: nothing is left open.
        with gateway.connect("strategy") as client:
            self.assertEqual(client.orders(), [])
            (position,) = client.positions() or [None]
            self.assertTrue(position is None or position.position == 0, position)

    def test_waits_out_rate_limits_and_still_ends_flat(self) -> None:
        gateway = self.start_gateway([Principal("strategy", rate_limits=("1/200ms",))])
        result = self.run_strategy(gateway, "strategy", "--bars", "200")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("rate limited: retrying", result.stdout)
        self.assertRegex(result.stdout, r"rejections +.*RATE_LIMITED x\d+")
        self.assertRegex(result.stdout, r"position +0\n")

    def test_skips_signals_while_trading_is_halted(self) -> None:
        gateway = self.start_gateway(
            [Principal("strategy"), Principal("ops", permissions=("admin",))]
        )
        with gateway.connect("ops") as ops:
            ops.halt("principal:strategy")
        result = self.run_strategy(gateway, "strategy", "--bars", "100")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("rejected: TRADING_HALTED", result.stdout)
        self.assertRegex(result.stdout, r"filled orders +0\n")

    def test_takes_a_token_that_begins_with_a_dash_as_token_equals(self) -> None:
        # 1 in 64 base64url tokens from older gateways (and any hand-made
        # one) begin with '-': "--token TOKEN" would read it as an option.
        dash_token = "-" + new_token()[1:]
        gateway = self.start_gateway([Principal("strategy", token=dash_token)])
        result = self.run_strategy(
            gateway, "strategy", "--bars", "60", f"--token={dash_token}", token=""
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("as strategy", result.stdout)
        self.assertIn("--- summary ---", result.stdout)

    def test_reads_a_token_that_begins_with_a_dash_from_a_file_and_the_environment(self) -> None:
        dash_token = "-" + new_token()[1:]
        gateway = self.start_gateway([Principal("strategy", token=dash_token)])
        from_environment = self.run_strategy(gateway, "strategy", "--bars", "30")
        self.assertEqual(from_environment.returncode, 0, from_environment.stderr)
        self.assertIn("as strategy", from_environment.stdout)
        token_file = self.make_directory() / "strategy.token"
        token_file.write_text(dash_token + "\n")
        from_file = self.run_strategy(
            gateway, "strategy", "--bars", "30", "--token-file", str(token_file), token=""
        )
        self.assertEqual(from_file.returncode, 0, from_file.stderr)
        self.assertIn("as strategy", from_file.stdout)

    def test_refuses_to_start_without_a_token_and_with_a_wrong_one(self) -> None:
        gateway = self.start_gateway([Principal("strategy")])
        missing = self.run_strategy(gateway, "strategy", token="")
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("ORDERGATE_TOKEN", missing.stderr)
        wrong = self.run_strategy(gateway, "strategy", token="not-the-token")
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("UNAUTHENTICATED", wrong.stderr)
        self.assertNotIn("not-the-token", wrong.stdout + wrong.stderr)


if __name__ == "__main__":
    unittest.main()
