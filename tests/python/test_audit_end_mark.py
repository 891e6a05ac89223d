"""A journal whose tail was removed while the gateway was down: the restart is
refused (new records would otherwise be numbered with the removed ones'
sequence numbers) and ``ordergate audit verify --journal`` reports the missing
records, although the shortened file is a valid chain on its own."""

from __future__ import annotations

import json
import subprocess
import unittest
from pathlib import Path

from gateway_harness import EXIT_TIMEOUT, GatewayProcess, GatewayTestCase, Principal, ordergate_binary


class AuditEndMark(GatewayTestCase):
    def test_restart_after_the_tail_was_removed_is_refused_and_verify_reports_it(self) -> None:
        directory = self.make_directory()
        journal = directory / "audit.jsonl"
        extra = f'[audit]\npath = "{journal}"\nfsync = "always"\n'
        gateway = self.start_gateway([Principal("trader")], directory=directory, extra_toml=extra)
        with gateway.connect("trader") as client:
            for n in range(5):
                reply = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", f"e-{n}")
                self.assertTrue(reply.accepted, reply)
        self.assertEqual(gateway.terminate(), 0)

        lines = journal.read_bytes().splitlines(keepends=True)
        self.assertGreater(len(lines), 6)
        verify = [ordergate_binary(), "audit", "verify", "--journal", str(journal)]
        clean = subprocess.run(verify, capture_output=True, text=True, timeout=EXIT_TIMEOUT)
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)

        kept = len(lines) - 3
        journal.write_bytes(b"".join(lines[:kept]))
        cut = subprocess.run(verify, capture_output=True, text=True, timeout=EXIT_TIMEOUT)
        self.assertEqual(cut.returncode, 1, cut.stdout + cut.stderr)
        self.assertIn("FAIL removed", cut.stdout)
        self.assertIn(f"records {kept + 1}..{len(lines)} are missing", cut.stdout)
        # Without the end mark's check the shortened chain verifies.
        files = subprocess.run([ordergate_binary(), "audit", "verify", str(journal)],
                               capture_output=True, text=True, timeout=EXIT_TIMEOUT)
        self.assertEqual(files.returncode, 0, files.stdout)

        restart = subprocess.run(
            [ordergate_binary(), "run", "--config", str(gateway.config_path), "--socket",
             str(directory / "again.sock")],
            capture_output=True, text=True, timeout=EXIT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertNotEqual(restart.returncode, 0)
        self.assertIn(f"ends at seq {kept}", restart.stderr)
        self.assertIn(f"up to seq {len(lines)}", restart.stderr)
        self.assertEqual(len(journal.read_bytes().splitlines()), kept, "the refused start wrote nothing")

        # The documented way on: move the journal aside; the new one continues
        # the numbering after the last record written.
        journal.rename(directory / "evidence.jsonl")
        again = GatewayProcess(directory, [Principal("trader")], extra_toml=extra,
                               socket_path=directory / "again.sock")
        try:
            with again.connect("trader") as client:
                self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "after").accepted)
        finally:
            self.assertEqual(again.terminate(), 0)
        first = journal.read_bytes().splitlines()[0]
        self.assertTrue(first.startswith(f'{{"seq":{len(lines) + 1},'.encode()), first)


    def test_repair_cuts_only_a_torn_last_line_and_records_it(self) -> None:
        directory = self.make_directory()
        journal = directory / "audit.jsonl"
        extra = f'[audit]\npath = "{journal}"\nfsync = "always"\n'
        principals = [Principal("trader")]
        gateway = GatewayProcess(directory, principals, extra_toml=extra)
        try:
            with gateway.connect("trader") as client:
                self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "r-1").accepted)
            # Never while a gateway holds the journal.
            busy = run(["audit", "repair", str(journal)])
            self.assertEqual(busy.returncode, 1)
            self.assertIn("in use by another process", busy.stdout)
        finally:
            self.assertEqual(gateway.terminate(), 0)
        records = len(journal.read_bytes().splitlines())
        anchor = directory / "kept-anchor.end"
        anchor.write_bytes((directory / "audit.jsonl.end").read_bytes())

        nothing = run(["audit", "repair", str(journal)])
        self.assertEqual(nothing.returncode, 1)
        self.assertIn("nothing to repair", nothing.stdout)

        # A crash in the middle of a write leaves part of a line.
        fragment = b'{"seq":%d,"time":"2026-12-' % (records + 1)
        with open(journal, "ab") as out:
            out.write(fragment)
        refused = subprocess.run(
            [ordergate_binary(), "run", "--config", str(gateway.config_path), "--socket", str(directory / "x.sock")],
            capture_output=True, text=True, timeout=EXIT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("incomplete", refused.stderr)

        repaired = run(["audit", "repair", str(journal)])
        self.assertEqual(repaired.returncode, 0, repaired.stdout + repaired.stderr)
        self.assertIn(f"after seq {records}; recorded as seq {records + 1}", repaired.stdout)
        last = json.loads(journal.read_bytes().splitlines()[-1])
        self.assertEqual((last["event"], last["detail"]), ("journal_repaired", f"cut {len(fragment)} bytes of a torn last line"))
        verified = run(["audit", "verify", "--journal", str(journal)])
        self.assertEqual(verified.returncode, 0, verified.stdout)
        self.assertEqual(run(["audit", "verify", "--anchor", str(anchor), "--journal", str(journal)]).returncode, 0)

        # A whole record whose newline was removed is not a crash's torn line:
        # the end mark says it was written.
        data = journal.read_bytes()
        journal.write_bytes(data[:-1])
        whole = run(["audit", "repair", str(journal)])
        self.assertEqual(whole.returncode, 1)
        self.assertIn("was written whole", whole.stdout)
        journal.write_bytes(data)

        # An anchor kept elsewhere finds a cut tail even when the end mark goes too.
        lines = data.splitlines(keepends=True)
        journal.write_bytes(b"".join(lines[:2]))
        (directory / "audit.jsonl.end").unlink()
        self.assertEqual(run(["audit", "verify", "--journal", str(journal)]).returncode, 0, "nothing else tells")
        cut = run(["audit", "verify", "--anchor", str(anchor), "--journal", str(journal)])
        self.assertEqual(cut.returncode, 1)
        self.assertIn("FAIL removed", cut.stdout)


def run(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ordergate_binary(), *arguments], capture_output=True, text=True, timeout=EXIT_TIMEOUT)


if __name__ == "__main__":
    unittest.main()
