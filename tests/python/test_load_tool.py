"""ordergate-load against a real gateway process: what it counts.

A run counts an order done only with its ``accepted`` reply and its NEW and
FILLED reports; a run in which the gateway refuses orders fails and says
why. Both read the gateway's real lines over its Unix socket.
"""

from __future__ import annotations

import os
import re
import subprocess
import unittest

from gateway_harness import INSTRUMENTS_TOML, GatewayTestCase, Principal, load_binary



class LoadTool(GatewayTestCase):
    def run_load(self, gateway, principal: str, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [load_binary(), "--socket", str(gateway.socket_path), "--no-progress", "--no-baseline", *arguments],
            env={**os.environ, "ORDERGATE_TOKEN": gateway.token(principal)},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def test_a_pipelined_run_counts_every_order_with_its_reply_and_both_reports(self) -> None:
        # The client counts an order done at its `accepted`, before the
        # broker thread takes it: while that thread catches up, more than
        # the window's 64 orders can be open and waiting in the session's
        # queue (as examples/load.toml.in allows for).
        instruments = INSTRUMENTS_TOML.replace("max_open_orders = 100", "max_open_orders = 100000")
        gateway = self.start_gateway(
            [Principal("load", rate_limits=("10000000/1s",))],
            gateway={"session_queue_budget": 4096},
            instruments=instruments,
        )
        result = self.run_load(gateway, "load", "--count", "2000", "--window", "64", "--qty", "1000")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        line = next(line for line in result.stdout.splitlines() if line.startswith("gateway "))
        self.assertIn("count=2000 ", line)
        self.assertIn("reports_new=2000 reports_filled=2000", line)
        self.assertNotIn("rejected=", line)

    def test_a_run_the_gateway_refuses_fails_and_names_the_reason(self) -> None:
        gateway = self.start_gateway([Principal("small", max_quantity="100")])
        result = self.run_load(gateway, "small", "--count", "50", "--window", "8", "--qty", "1000")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        line = next(line for line in result.stdout.splitlines() if line.startswith("gateway "))
        self.assertIn("count=50 ", line)
        self.assertRegex(line, r"rejected=50 first_reason=MAX_QUANTITY_EXCEEDED$")
        self.assertIsNone(re.search(r"reports_(new|filled)=", line), "a refused order has no reports")


if __name__ == "__main__":
    unittest.main()
