"""tools/targets/targets.py: the performance targets judged from a run.

A target is met only when it was measured in the conditions it names; a
missing, failed or out-of-condition measurement is reported as not
measured, never as met. The judging is checked on small documents with
known figures, then on the real outputs of ordergate-bench and of
ordergate-load against a real gateway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from gateway_harness import INSTRUMENTS_TOML, GatewayTestCase, Principal, load_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "targets"))
import targets  # noqa: E402


def iteration(name: str, **counters: float) -> dict:
    return {"run_name": name, "run_type": "iteration", **counters}


def accept(rtt: float, p50: float, p99: float) -> dict:
    return iteration(targets.ACCEPT, thread_rtt_p50_ns=rtt, p50_ns=p50, p99_ns=p99, floor_p50_ns=20.0)


def broker(venue: int, ratio: float) -> dict:
    return iteration(f"BM_Broker_OrderRoundTrip/{venue}/iterations:1", persistent_to_floor_p50=ratio,
                     caller_to_floor_p50=ratio, persistent_p50_ns=ratio * 30_000, tls_floor_p50_ns=30_000.0)


def all_met_bench() -> list[dict]:
    return [
        accept(150.0, 140.0, 280.0),
        iteration(targets.REJECT, p50_ns=90.0, floor_p50_ns=20.0),
        iteration(targets.VALIDATE, batch_mean_ns=19.0),
        broker(0, 1.4),
        broker(1, 1.45),
    ]


def load_text(echo_p50_us: float = 10.0, gateway_p50_us: float = 11.0, rate: int = 500_000,
              filled: int = 400_000, closed_filled: int = 200_000) -> str:
    return "\n".join([
        "ordergate-load: 1 client(s), closed loop, window 1, 200000 orders",
        f"echo     count=200000 throughput=98183/s p50={echo_p50_us}us p90=12.4us p99=14.9us p99.9=32.4us max=8451.2us",
        f"gateway  count=200000 throughput=75903/s p50={gateway_p50_us}us p90=13.4us p99=16.5us p99.9=61.2us "
        f"max=3963.2us reports_new=200000 reports_filled={closed_filled}",
        "gateway cpu per order (us): og-b:paper=13.15 ordergate=7.20  (a busy_spin broker thread counts its whole run)",
        f"gateway p50 / echo p50 = {gateway_p50_us / echo_p50_us:.2f}",
        "ordergate-load: 1 client(s), closed loop, window 64, 400000 orders",
        f"gateway  count=400000 throughput={rate}/s p50=108.9us p90=113.3us p99=169.5us p99.9=207.8us max=959.4us "
        f"reports_new=400000 reports_filled={filled}",
    ])


def judge(bench: list[dict], load: str | None) -> dict[str, targets.Row]:
    rows = targets.evaluate(targets.read_bench({"benchmarks": bench}), targets.read_load(load) if load else None)
    return {row.target.split(" ")[0] + ("-p99" if "p99 <=" in row.target else ""): row for row in rows}


class Judging(unittest.TestCase):
    def test_every_target_met_exits_zero(self) -> None:
        rows = targets.evaluate(targets.read_bench({"benchmarks": all_met_bench()}), targets.read_load(load_text()))
        self.assertEqual([row.verdict for row in rows], [targets.MET] * 8)
        self.assertEqual(targets.exit_status(rows), 0)

    def test_the_accept_path_counts_only_runs_with_a_fast_thread_round_trip(self) -> None:
        bench = all_met_bench()
        bench[0] = accept(150.0, 140.0, 280.0)
        bench.insert(0, accept(500.0, 400.0, 900.0))
        rows = judge(bench, load_text())
        self.assertEqual(rows["`Accept`"].verdict, targets.MET)
        self.assertIn("(1 of 2 runs)", rows["`Accept`"].figure)
        self.assertEqual(rows["`Accept`-p99"].verdict, targets.MET)

    def test_without_a_fast_run_the_accept_path_is_not_measured_rather_than_met(self) -> None:
        bench = all_met_bench()
        bench[0] = accept(500.0, 140.0, 280.0)
        rows = targets.evaluate(targets.read_bench({"benchmarks": bench}), targets.read_load(load_text()))
        accept_rows = [row for row in rows if row.target.startswith("`Accept`")]
        for row in accept_rows:
            self.assertTrue(row.verdict.startswith(targets.UNMEASURED), row)
            self.assertIn("round trip 500 ns", row.floor)
        self.assertEqual(targets.exit_status(rows), 2)

    def test_a_tail_above_the_target_is_missed_and_a_tsc_step_of_rounding_is_not(self) -> None:
        bench = all_met_bench()
        bench[0] = accept(150.0, 150.2, 300.3)
        self.assertEqual(judge(bench, load_text())["`Accept`-p99"].verdict, targets.MET)
        bench[0] = accept(150.0, 150.2, 310.0)
        rows = targets.evaluate(targets.read_bench({"benchmarks": bench}), targets.read_load(load_text()))
        self.assertEqual(judge(bench, load_text())["`Accept`-p99"].verdict, targets.MISSED)
        self.assertEqual(targets.exit_status(rows), 1)

    def test_aggregate_rows_are_not_read_as_runs(self) -> None:
        bench = all_met_bench()
        bench.append({"run_name": targets.VALIDATE, "run_type": "aggregate", "aggregate_name": "mean",
                      "batch_mean_ns": 500.0})
        self.assertEqual(judge(bench, load_text())["`validate_order`"].verdict, targets.MET)

    def test_a_failed_benchmark_is_not_measured_and_says_why(self) -> None:
        bench = [entry for entry in all_met_bench() if not entry["run_name"].startswith("BM_Broker")]
        bench.append({"run_name": "BM_Broker_OrderRoundTrip/0/iterations:1", "run_type": "iteration",
                      "error_occurred": True, "error_message": "ordergate-sim did not start (no ready line)"})
        rows = judge(bench, load_text())
        self.assertEqual(rows["OANDA"].verdict, "not measured: ordergate-sim did not start (no ready line)")
        self.assertEqual(rows["Binance"].verdict, "not measured: not in this run")

    def test_the_broker_round_trip_is_judged_on_its_floor_ratio(self) -> None:
        bench = all_met_bench()
        bench[3] = broker(0, 1.6)
        self.assertEqual(judge(bench, load_text())["OANDA"].verdict, targets.MISSED)
        self.assertEqual(judge(bench, load_text())["Binance"].verdict, targets.MET)

    def test_the_closed_loop_is_judged_against_the_echo_of_the_same_run(self) -> None:
        self.assertEqual(judge(all_met_bench(), load_text(10.0, 11.5))["socket"].verdict, targets.MET)
        rows = judge(all_met_bench(), load_text(10.0, 11.6))
        closed = next(row for key, row in rows.items() if "closed loop" in row.target)
        self.assertEqual(closed.verdict, targets.MISSED)
        self.assertIn("1.16x", closed.figure)
        self.assertEqual(closed.floor, "echo 10.0 us")

    def test_a_closed_loop_without_every_report_is_missed_however_fast(self) -> None:
        rows = targets.evaluate(targets.read_bench({"benchmarks": all_met_bench()}),
                                targets.read_load(load_text(10.0, 10.5, closed_filled=199_999)))
        closed = next(row for row in rows if "closed loop" in row.target)
        self.assertTrue(closed.verdict.startswith(targets.MISSED + ": not every order"), closed)
        self.assertEqual(targets.exit_status(rows), 1)

    def test_throughput_without_every_report_is_missed(self) -> None:
        rows = targets.evaluate(targets.read_bench({"benchmarks": all_met_bench()}),
                                targets.read_load(load_text(filled=399_999)))
        pipelined = next(row for row in rows if "window 64" in row.target)
        self.assertTrue(pipelined.verdict.startswith(targets.MISSED), pipelined)
        self.assertEqual(pipelined.figure, "500,000/s, p99.9 207.8 us")
        slow = targets.evaluate(targets.read_bench({"benchmarks": all_met_bench()}),
                                targets.read_load(load_text(rate=399_000)))
        self.assertEqual(next(row for row in slow if "window 64" in row.target).verdict, targets.MISSED)

    def test_no_load_output_leaves_the_socket_targets_not_measured(self) -> None:
        rows = targets.evaluate(targets.read_bench({"benchmarks": all_met_bench()}), None)
        socket = [row for row in rows if row.target.startswith("socket")]
        self.assertEqual(len(socket), 2)
        for row in socket:
            self.assertTrue(row.verdict.startswith(targets.UNMEASURED), row)
        self.assertEqual(targets.exit_status(rows), 2)


class EventLoopNote(unittest.TestCase):
    def test_the_event_loop_figures_are_split_by_round_trip_and_judge_nothing(self) -> None:
        loop = [iteration(targets.EVENT_LOOP, thread_rtt_p50_ns=150.0, p50_ns=150.0, p99_ns=290.0),
                iteration(targets.EVENT_LOOP, thread_rtt_p50_ns=500.0, p50_ns=540.0, p99_ns=820.0)]
        bench = targets.read_bench({"benchmarks": all_met_bench() + loop})
        note = targets.event_loop_note(bench)
        self.assertIn("round trip <= 160 ns: p50 150 ns, p99 290 ns (1 of 2 runs)", note)
        self.assertIn("slower round trips: p50 540 ns, p99 820 ns (1 of 2 runs)", note)
        rows = targets.evaluate(bench, targets.read_load(load_text()))
        self.assertEqual(targets.exit_status(rows), 0, "the event loop's slow run is not a target")
        self.assertIn(note + ".", targets.render(rows, ["CPUs: 2"], [note]))

    def test_no_event_loop_run_no_note(self) -> None:
        self.assertIsNone(targets.event_loop_note(targets.read_bench({"benchmarks": all_met_bench()})))


class RealOutputs(GatewayTestCase):
    def test_a_real_benchmark_run_is_read(self) -> None:
        bench_binary = os.environ.get("ORDERGATE_BENCH_BIN")
        if not bench_binary:
            self.skipTest("ordergate-bench is built by the release preset only")
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "bench.json"
            result = subprocess.run(
                [bench_binary,
                 "--benchmark_filter=^BM_GuardPipeline_Reject/metrics:1$|^BM_ValidateOrder/spelling:0/limit:0$",
                 "--benchmark_repetitions=2", "--benchmark_min_time=0.05", f"--benchmark_out={out}",
                 "--benchmark_out_format=json"],
                env={**os.environ, "ORDERGATE_BENCH_PIN": "0"}, capture_output=True, text=True, timeout=300)
            self.assertEqual(result.returncode, 0, result.stderr)
            document = json.loads(out.read_text())
        runs = targets.read_bench(document)
        validate = runs.runs[targets.VALIDATE]
        self.assertEqual(len(validate), 2, "two repetitions, the aggregates left out")
        rows = targets.evaluate(runs, None)
        validate_row = next(row for row in rows if row.target.startswith("`validate_order`"))
        self.assertIn(f"{min(run['batch_mean_ns'] for run in validate):.1f}", validate_row.figure)
        self.assertIn(validate_row.verdict, (targets.MET, targets.MISSED))
        reject_row = next(row for row in rows if row.target.startswith("`Reject`"))
        self.assertIn(reject_row.verdict, (targets.MET, targets.MISSED))
        self.assertIn("timing ", reject_row.floor)
        unmeasured = [row.target for row in rows if row.verdict.startswith(targets.UNMEASURED)]
        self.assertEqual(len(unmeasured), 6, unmeasured)  # accept x2, socket x2, broker x2
        self.assertIn(targets.exit_status(rows), (1, 2))

    def run_load(self, gateway, principal: str, *arguments: str) -> str:
        result = subprocess.run(
            [load_binary(), "--socket", str(gateway.socket_path), "--no-progress", *arguments],
            env={**os.environ, "ORDERGATE_TOKEN": gateway.token(principal)},
            capture_output=True, text=True, timeout=300)
        return result.stdout

    def test_the_load_tools_real_output_is_read(self) -> None:
        instruments = INSTRUMENTS_TOML.replace("max_open_orders = 100", "max_open_orders = 100000")
        gateway = self.start_gateway(
            [Principal("load", rate_limits=("10000000/1s",)), Principal("small", max_quantity="100")],
            gateway={"session_queue_budget": 4096},
            instruments=instruments,
        )
        output = self.run_load(gateway, "load", "--count", "500", "--qty", "1000")
        output += "\n" + self.run_load(gateway, "load", "--count", "2000", "--window", "64", "--qty", "1000",
                                       "--no-baseline")
        sections = targets.read_load(output)
        self.assertEqual([(s["clients"], s["window"], s["orders"]) for s in sections], [(1, 1, 500), (1, 64, 2000)])
        self.assertEqual(sections[1]["gateway"]["reports_filled"], 2000)
        rows = targets.evaluate(targets.read_bench({"benchmarks": []}), sections)
        for row in rows:
            if row.target.startswith("socket"):
                self.assertIn(row.verdict, (targets.MET, targets.MISSED), row)
        closed = next(row for row in rows if "closed loop" in row.target)
        ratio = sections[0]["gateway"]["p50"] / sections[0]["echo"]["p50"]
        self.assertIn(f"{ratio:.2f}x", closed.figure)

        # A run the gateway refuses has no reports: its rate is never a met target.
        refused = self.run_load(gateway, "small", "--count", "64", "--window", "64", "--qty", "1000", "--no-baseline")
        rows = targets.evaluate(targets.read_bench({"benchmarks": []}), targets.read_load(refused))
        pipelined = next(row for row in rows if "window 64" in row.target)
        self.assertTrue(pipelined.verdict.startswith(targets.MISSED + ": not every order"), pipelined)


if __name__ == "__main__":
    unittest.main()
