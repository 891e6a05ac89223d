#!/usr/bin/env python3
"""The performance targets, read from one run's measurements.

Reads the JSON of `ordergate-bench --benchmark_out_format=json` and the
output of `ordergate-load` (as `tools/run-load` prints it), and prints one
row per target: the figure, the floor it was measured next to, and whether
the target is met. A target whose measurement is missing, failed, or was
taken in conditions the target excludes is reported as not measured, never
as met. `tools/run-targets` runs the measurements and then this script;
docs/benchmarks.md ("Checking the targets") explains each row.

Exit status: 0 when every target was measured and met, 1 when one was
measured and missed, 2 when none was missed but one could not be measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys

# The targets (performance issue; docs/benchmarks.md).
ACCEPT_P50_NS = 150.0
ACCEPT_P99_NS = 300.0
ACCEPT_MAX_RTT_NS = 160.0
REJECT_ABOVE_FLOOR_NS = 80.0
VALIDATE_NS = 20.0
SOCKET_ORDERS_PER_SECOND = 400_000.0
SOCKET_WINDOW = 64
CLOSED_LOOP_RATIO = 1.15
BROKER_FLOOR_RATIO = 1.5

ACCEPT = "BM_GuardPipeline_Accept/metrics:1/iterations:200000"
EVENT_LOOP = "BM_GuardPipeline_Accept_EventLoop/iterations:200000"
REJECT = "BM_GuardPipeline_Reject/metrics:1"
VALIDATE = "BM_ValidateOrder/spelling:0/limit:0"
BROKER = {"OANDA": "BM_Broker_OrderRoundTrip/0/iterations:1", "Binance": "BM_Broker_OrderRoundTrip/1/iterations:1"}

MET = "met"
MISSED = "not met"
UNMEASURED = "not measured"


@dataclasses.dataclass
class Row:
    target: str
    figure: str
    floor: str
    verdict: str


@dataclasses.dataclass
class BenchRuns:
    """Each benchmark's repetitions (its `iteration` runs), by run name."""

    runs: dict[str, list[dict]]
    errors: dict[str, str]

    def of(self, name: str) -> tuple[list[dict], str | None]:
        if name in self.errors:
            return [], self.errors[name]
        runs = self.runs.get(name, [])
        return runs, None if runs else "not in this run"


def read_bench(document: dict) -> BenchRuns:
    runs: dict[str, list[dict]] = {}
    errors: dict[str, str] = {}
    for entry in document.get("benchmarks", []):
        name = entry.get("run_name", entry.get("name", ""))
        if entry.get("error_occurred"):
            errors[name] = entry.get("error_message", "failed")
            continue
        if entry.get("run_type", "iteration") != "iteration":
            continue
        runs.setdefault(name, []).append(entry)
    return BenchRuns(runs, errors)


_HEADER = re.compile(r"^ordergate-load: (\d+) client\(s\), .*window (\d+), (\d+) orders")
_FIELD = re.compile(r"(\S+)=(\S+)")


def _value(text: str) -> float:
    """A load-tool figure in base units: times in ns, rates per second."""
    for suffix, scale in (("/s", 1.0), ("us", 1e3), ("ms", 1e6), ("ns", 1.0), ("s", 1e9)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


def read_load(text: str) -> list[dict]:
    """One dict per ordergate-load run: clients, window, orders, and the
    `echo` and `gateway` lines' fields (absent if the line is)."""
    sections: list[dict] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            sections.append({"clients": int(header[1]), "window": int(header[2]), "orders": int(header[3])})
            continue
        words = line.split()
        # The result lines only: "gateway  count=...", not the CPU or ratio lines.
        if not sections or len(words) < 2 or words[0] not in ("echo", "gateway") or not words[1].startswith("count="):
            continue
        fields = {}
        for key, raw in _FIELD.findall(line):
            try:
                fields[key] = _value(raw)
            except ValueError:
                pass
        sections[-1][words[0]] = fields
    return sections


def _scaled(value: float) -> tuple[str, str]:
    if value >= 1e6:
        return f"{value / 1e6:.2f}", "ms"
    if value >= 1e3:
        return f"{value / 1e3:.1f}", "us"
    return f"{value:.0f}", "ns"


def _ns(value: float) -> str:
    return " ".join(_scaled(value))


def _range(values: list[float], unit=None) -> str:
    """`low-high unit` of a figure's runs (one value when they agree)."""
    if unit is not None:
        low, high = unit(min(values)), unit(max(values))
        return low if low == high else f"{low}-{high}"
    (low, low_unit), (high, high_unit) = _scaled(min(values)), _scaled(max(values))
    if low_unit != high_unit:
        return f"{low} {low_unit}-{high} {high_unit}"
    return f"{low} {low_unit}" if low == high else f"{low}-{high} {low_unit}"


def _fast(run: dict) -> bool:
    """A repetition in the conditions of the accept targets."""
    return run["thread_rtt_p50_ns"] <= ACCEPT_MAX_RTT_NS


def accept_rows(bench: BenchRuns) -> list[Row]:
    runs, problem = bench.of(ACCEPT)
    names = (f"`Accept` p50 <= {ACCEPT_P50_NS:.0f} ns, thread round trip <= {ACCEPT_MAX_RTT_NS:.0f} ns",
             f"`Accept` p99 <= {ACCEPT_P99_NS:.0f} ns, same runs")
    if problem:
        return [Row(name, "-", "-", f"{UNMEASURED}: {problem}") for name in names]
    fast = [run for run in runs if _fast(run)]
    rtts = _range([run["thread_rtt_p50_ns"] for run in runs])
    if not fast:
        why = f"{UNMEASURED}: no run had a thread round trip <= {ACCEPT_MAX_RTT_NS:.0f} ns"
        p50s = _range([run["p50_ns"] for run in runs])
        p99s = _range([run["p99_ns"] for run in runs])
        seen = f"p50 {p50s}, p99 {p99s} outside the target's conditions"
        return [Row(name, seen, f"round trip {rtts} in {len(runs)} runs", why) for name in names]
    floor = f"round trip {_range([run['thread_rtt_p50_ns'] for run in fast])}; timing {_ns(fast[0]['floor_p50_ns'])}"
    rows = []
    for name, key, limit in ((names[0], "p50_ns", ACCEPT_P50_NS), (names[1], "p99_ns", ACCEPT_P99_NS)):
        values = [run[key] for run in fast]
        # Median over the runs in the target's conditions; the TSC steps
        # 10 ns here, so allow for its rounding.
        verdict = MET if statistics.median(values) <= limit + 0.5 else MISSED
        rows.append(Row(name, f"{_range(values)} ({len(fast)} of {len(runs)} runs)", floor, verdict))
    return rows


def reject_row(bench: BenchRuns) -> Row:
    name = f"`Reject` p50 <= {REJECT_ABOVE_FLOOR_NS:.0f} ns above the floor"
    runs, problem = bench.of(REJECT)
    if problem:
        return Row(name, "-", "-", f"{UNMEASURED}: {problem}")
    above = [run["p50_ns"] - run["floor_p50_ns"] for run in runs]
    floor = f"timing {_range([run['floor_p50_ns'] for run in runs])}"
    verdict = MET if statistics.median(above) <= REJECT_ABOVE_FLOOR_NS + 0.5 else MISSED
    return Row(name, f"{_range(above)} above", floor, verdict)


def validate_row(bench: BenchRuns) -> Row:
    name = f"`validate_order` <= {VALIDATE_NS:.0f} ns (market order, batch mean)"
    runs, problem = bench.of(VALIDATE)
    if problem:
        return Row(name, "-", "-", f"{UNMEASURED}: {problem}")
    means = [run["batch_mean_ns"] for run in runs]
    verdict = MET if statistics.median(means) <= VALIDATE_NS else MISSED
    return Row(name, _range(means, lambda v: f"{v:.1f}") + " ns", "none (untimed batch)", verdict)


def _load_section(load: list[dict], window: int) -> dict | None:
    for section in load:
        if section["clients"] == 1 and section["window"] == window:
            return section
    return None


def _whole(section: dict) -> bool:
    """Every order of the run had its reply and its NEW and FILLED reports:
    a run whose orders were refused answers fast and proves nothing."""
    gateway = section["gateway"]
    return all(gateway.get(key) == section["orders"] for key in ("count", "reports_new", "reports_filled"))


INCOMPLETE = f"{MISSED}: not every order has its reply, NEW and FILLED"


def socket_rows(load: list[dict] | None) -> list[Row]:
    names = (f"socket, one client, window {SOCKET_WINDOW}, >= {SOCKET_ORDERS_PER_SECOND:,.0f} orders/s",
             f"socket closed loop p50 <= {CLOSED_LOOP_RATIO}x the echo")
    rows = []
    pipelined = _load_section(load or [], SOCKET_WINDOW)
    gateway = pipelined.get("gateway") if pipelined else None
    if gateway is None:
        rows.append(Row(names[0], "-", "-", f"{UNMEASURED}: no window {SOCKET_WINDOW} run"))
    else:
        rate = gateway["throughput"]
        figure = f"{rate:,.0f}/s, p99.9 {_ns(gateway['p99.9'])}"
        if not _whole(pipelined):
            rows.append(Row(names[0], figure, "-", INCOMPLETE))
        else:
            rows.append(Row(names[0], figure, "-", MET if rate >= SOCKET_ORDERS_PER_SECOND else MISSED))
    closed = _load_section(load or [], 1)
    if closed is None or "gateway" not in closed or "echo" not in closed:
        rows.append(Row(names[1], "-", "-", f"{UNMEASURED}: no closed-loop run with its echo"))
    else:
        ratio = closed["gateway"]["p50"] / closed["echo"]["p50"]
        figure = f"{ratio:.2f}x: {_ns(closed['gateway']['p50'])}, p99.9 {_ns(closed['gateway']['p99.9'])}"
        verdict = INCOMPLETE if not _whole(closed) else MET if ratio <= CLOSED_LOOP_RATIO else MISSED
        rows.append(Row(names[1], figure, f"echo {_ns(closed['echo']['p50'])}", verdict))
    return rows


def broker_rows(bench: BenchRuns) -> list[Row]:
    rows = []
    for venue, run_name in BROKER.items():
        name = f"{venue} round trip p50 <= {BROKER_FLOOR_RATIO} floors (broker thread)"
        runs, problem = bench.of(run_name)
        if problem:
            rows.append(Row(name, "-", "-", f"{UNMEASURED}: {problem}"))
            continue
        ratios = [run["persistent_to_floor_p50"] for run in runs]
        caller = _range([run["caller_to_floor_p50"] for run in runs], lambda v: f"{v:.2f}")
        figure = (f"{_range(ratios, lambda v: f'{v:.2f}')} floors, "
                  f"{_range([run['persistent_p50_ns'] for run in runs])}; without a broker thread {caller}")
        floor = f"echo {_range([run['tls_floor_p50_ns'] for run in runs])}"
        rows.append(Row(name, figure, floor, MET if statistics.median(ratios) <= BROKER_FLOOR_RATIO else MISSED))
    return rows


def event_loop_note(bench: BenchRuns) -> str | None:
    """The accept path with the reports read after every order: no target
    of its own, printed beside the table (docs/benchmarks.md)."""
    runs, problem = bench.of(EVENT_LOOP)
    if problem:
        return None
    parts = []
    for label, selected in ((f"round trip <= {ACCEPT_MAX_RTT_NS:.0f} ns", [r for r in runs if _fast(r)]),
                            ("slower round trips", [r for r in runs if not _fast(r)])):
        if selected:
            parts.append(f"{label}: p50 {_range([r['p50_ns'] for r in selected])}, "
                         f"p99 {_range([r['p99_ns'] for r in selected])} ({len(selected)} of {len(runs)} runs)")
    return "`Accept` with the reports read after every order (no target): " + "; ".join(parts)


def evaluate(bench: BenchRuns, load: list[dict] | None) -> list[Row]:
    return [*accept_rows(bench), reject_row(bench), validate_row(bench), *socket_rows(load), *broker_rows(bench)]


def exit_status(rows: list[Row]) -> int:
    if any(row.verdict.startswith(MISSED) for row in rows):
        return 1
    if any(row.verdict.startswith(UNMEASURED) for row in rows):
        return 2
    return 0


def machine_facts(document: dict) -> list[str]:
    context = document.get("context", {})
    facts = [f"CPUs: {os.cpu_count()}"]
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            info = cpuinfo.read()
        model = re.search(r"^model name\s*:\s*(.*)$", info, re.M)
        if model:
            facts.append(f"model: {model[1]}")
        if re.search(r"^flags\s*:.*\bhypervisor\b", info, re.M):
            facts.append("virtual machine")
    except OSError:
        pass
    for label, path in (("cpuidle", "/sys/devices/system/cpu/cpuidle/current_driver"),
                        ("guest_halt_poll_ns", "/sys/module/haltpoll/parameters/guest_halt_poll_ns")):
        try:
            with open(path, encoding="utf-8") as source:
                facts.append(f"{label}: {source.read().strip()}")
        except OSError:
            pass
    if "load_avg" in context:
        averages = ", ".join(f"{value:.2f}" for value in context["load_avg"])
        facts.append(f"load average at the benchmark's start: {averages}")
    return facts


def render(rows: list[Row], facts: list[str], notes: list[str] = ()) -> str:
    lines = ["Machine: " + "; ".join(facts), ""]
    if (os.cpu_count() or 0) < 3:
        lines += ["Fewer than three CPUs: the closed loop (client, I/O thread, broker thread) and the broker",
                  "round trip (measuring thread, broker thread, simulator) share CPUs here.", ""]
    lines += ["| target | figure | floor | verdict |", "| --- | --- | --- | --- |"]
    lines += [f"| {row.target} | {row.figure} | {row.floor} | {row.verdict} |" for row in rows]
    lines += [""] + [f"{note}." for note in notes]
    lines += ["Memory per order and per session: checked by the test suite (`GatewayMemory.*`,",
              "tests/gateway/memory_test.cpp), not here."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="ordergate-bench JSON output")
    parser.add_argument("--load", help="ordergate-load output (tools/run-load)")
    args = parser.parse_args(argv)
    with open(args.bench, encoding="utf-8") as source:
        document = json.load(source)
    load = None
    if args.load:
        with open(args.load, encoding="utf-8") as source:
            load = read_load(source.read())
    bench = read_bench(document)
    rows = evaluate(bench, load)
    print(render(rows, machine_facts(document), [note for note in (event_loop_note(bench),) if note]))
    return exit_status(rows)


if __name__ == "__main__":
    sys.exit(main())
