"""With ``fsync = "always"`` an acknowledgement leaves the gateway only once
its audit record is written and synced, so a crash of the process right after
it loses no record of an acknowledged order. (A killed process keeps what it
wrote; the test covers the window in which a record is still in the
journal's queue when the reply would otherwise go out.)"""

from __future__ import annotations

import json
import signal
import subprocess
import unittest
from pathlib import Path

from gateway_harness import EXIT_TIMEOUT, Principal, config_toml, ordergate_binary, short_temporary_directory
from ordergate_client import Client
from test_secret_canaries import read_ready_line


class AuditDurability(unittest.TestCase):
    def test_every_acknowledged_order_is_in_the_journal_after_a_kill(self) -> None:
        with short_temporary_directory("og-audit-") as name:
            directory = Path(name)
            bot = Principal("bot", rate_limits=("100000/1s",))
            journal = directory / "audit.jsonl"
            config = directory / "ordergate.toml"
            config.write_text(config_toml([bot]) + f'\n[audit]\npath = "{journal}"\nfsync = "always"\n')
            log = directory / "gateway.log"
            socket_path = directory / "og.sock"
            with open(log, "wb") as stderr:
                process = subprocess.Popen(
                    [ordergate_binary(), "run", "--config", str(config), "--socket", str(socket_path)],
                    stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
            try:
                read_ready_line(process, log, "gateway")
                acknowledged: set[str] = set()
                refusals: set[str] = set()
                with Client(socket_path) as client:
                    client.hello(bot.token)
                    pending = [
                        (f"d-{n}", client.begin_submit("paper", "EURUSD", "buy" if n % 2 else "sell", "market",
                                                       "1000", "ioc", f"d-{n}"))
                        for n in range(300)
                    ]
                    for cl_ord_id, request in pending:
                        reply = request.result()
                        if reply.accepted:
                            acknowledged.add(cl_ord_id)
                        else:
                            refusals.add(str(reply.reason))
                    # No goodbye, no drain: the process dies right here.
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=EXIT_TIMEOUT)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                assert process.stdout is not None
                process.stdout.close()

            # A busy machine can leave fills behind the burst, so the open-order
            # limit may refuse some; those were never acknowledged.
            self.assertLessEqual(refusals, {"MAX_OPEN_ORDERS"})
            self.assertGreaterEqual(len(acknowledged), 50)
            recorded = set()
            for line in journal.read_bytes().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut by the kill was never acknowledged
                if record.get("event") == "order_accepted":
                    recorded.add(record["cl_ord_id"])
            self.assertEqual(acknowledged - recorded, set(), "acknowledged orders without an audit record")


if __name__ == "__main__":
    unittest.main()
