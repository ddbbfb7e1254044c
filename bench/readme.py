"""The README's benchmark table, rendered from ``bench/results.json`` (``python -m bench.readme``): every figure
next to its target and whether the last ``make bench`` met it, so the README never carries a number by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import RESULTS


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _cost_rows(cost: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """The two cost rows: ours against the target (with the architecture's floor), and against the conventional
    design."""
    if not cost:
        return []
    out: list[tuple[str, str, str, str]] = []
    prices = cost["prices"]
    floor = cost.get("floor_total_per_million")   # results from before the floor was measured have none
    out.append((f"AWS cost per million documents (list prices {prices['region']} {prices['architecture']}, "
                f"{prices['as_of']}; mixed workload)",
                f"${float(cost['total_per_million']):,.2f} (largest line: {cost['dominant_line']}, "
                f"{float(cost['dominant_share']):.0%}" + (f"; the architecture's floor ${float(floor):,.2f})"
                                                         if floor is not None else ")"),
                f"≤ ${float(cost['target_per_million']):,.0f}",
                _met(cost["met"]["per_million"]) + (" (the target is below the floor)"
                                                    if cost.get("target_below_floor") else "")))
    out.append(("AWS cost vs a conventional design (one Standard execution per document, INFO logs per step)",
                f"{cost['vs_conventional']}× (conventional ${float(cost['conventional_total_per_million']):,.2f} "
                "per million" + (f"; the floor {cost['floor_vs_conventional']}×)" if floor is not None else ")"),
                f"≤ {cost['target_vs_conventional']}×", _met(cost["met"]["vs_conventional"])))
    return out


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, measured, target, met) per figure; a missing section is reported as not run."""
    out: list[tuple[str, str, str, str]] = []
    cold = results.get("cold_start")
    if cold:
        targets = cold["targets"]
        functions = cold["functions"]
        ingest = functions["ingest"]
        out.append(("cold start, ingest vs boto3 + its clients",
                    f"{ingest['vs_floor']}× ({ingest['seconds']} s vs {ingest['floor_boto3_clients_seconds']} s)",
                    f"≤ {targets['ingest_vs_floor_max']}×", _met(ingest["vs_floor"] <= targets["ingest_vs_floor_max"])))
        worst = max(functions.items(), key=lambda item: item[1]["vs_conventional"])
        out.append(("cold start, worst function vs a conventional Powertools handler",
                    f"{worst[1]['vs_conventional']}× ({worst[0]}; conventional {cold['conventional_powertools_seconds']} s)",
                    f"≤ {targets['vs_conventional_max']}×",
                    _met(worst[1]["vs_conventional"] <= targets["vs_conventional_max"])))
        largest = max(function["asset_bytes"] for function in functions.values())
        out.append(("largest function asset", f"{largest:,} bytes", f"< {targets['asset_bytes_max'] // 1000} KB",
                    _met(largest < targets["asset_bytes_max"])))
        layer = cold["layer"]
        out.append((f"core layer ({layer['arch']}), unzipped", f"{layer['unzipped_mb']} MB ({layer['zipped_mb']} MB zipped)",
                    f"< {targets['layer_unzipped_mb_max']} MB", _met(layer["unzipped_mb"] < targets["layer_unzipped_mb_max"])))
    latency = results.get("ingest_latency")
    if latency:
        out.append(("ingest latency, warm, in-process, p99",
                    f"{latency['ingest']['p99_ms']} ms (p50 {latency['ingest']['p50_ms']} ms; HMAC + JSON alone: p99 "
                    f"{latency['baseline_hmac_json']['p99_ms']} ms)", f"≤ {latency['target_p99_ms']} ms",
                    _met(latency["target_met"])))
    throughput = results.get("throughput")
    if throughput:
        retired = "target_met" not in throughput   # issue 23 retired the 20,000/s target: the ratio is what travels
        out.append(("pure-core throughput, one core",
                    f"{throughput['documents_per_second']:,} documents/s ({throughput['vs_parse_only']}× of json.loads "
                    f"alone); {throughput['memory_mb_per_100k_documents']} MB per 100,000 journals kept (measured on "
                    f"{throughput['memory_documents']:,})",
                    "none (retired)" if retired else f"≥ {throughput['target_documents_per_second']:,}/s",
                    "—" if retired else _met(throughput["target_met"])))
    out.extend(_cost_rows(results.get("cost")))
    burst = results.get("burst")
    if burst:
        local, model = burst["local"], burst["aws_model"]
        out.append((f"month-end burst on the local stack ({local['burst_factor']}× for {local['burst_seconds']} s, "
                    f"{local['events']} events)",
                    f"ack p50 / p99 {local['ack_ms']['p50']} / {local['ack_ms']['p99']} ms; {local['status_5xx']} 5xx, "
                    f"{local['lost']} lost; drained in {local['drain_seconds']} s",
                    "0 5xx, 0 lost", _met(local["status_5xx"] == 0 and local["lost"] == 0)))
        out.append((f"month-end burst against AWS quotas ({model['burst_factor']}× {model['steady_events_per_second']} "
                    f"events/s for {model['burst_minutes']} min)",
                    f"tightest quota at {model['tightest']['utilization']:.0%} ({model['tightest']['quota']}); "
                    f"ERP drain: {model['drain_summary']}", "every quota < 100 %",
                    _met(model["within_quotas"])))
    calls = results.get("aws_calls")
    if calls:
        out.append(("billable AWS calls per document (moto, botocore events)",
                    f"{calls['billable_per_document']} ({calls['api_calls_per_document']} API calls + "
                    f"{calls['transitions_per_document']} Standard state transitions; the Express happy path is billed per "
                    "request)",
                    f"≤ {calls['target_per_document']}", _met(calls["target_met"])))
    cost = results.get("reconcile_cost")
    if cost:
        small, large = cost["small"], cost["large"]
        out.append((f"reconciliation cost, {small['documents']:,} vs {large['documents']:,} documents on one day",
                    f"calls ratio {cost['ledgerlink_calls_ratio']} ({large['ledgerlink_calls']} calls each), time ratio "
                    f"{cost['ledgerlink_seconds_ratio']}", f"≤ {cost['target_ratio']}", _met(cost["target_met"])))
    erp = results.get("erp")
    if erp:
        worst_ratio = max(row["ratio"] for row in erp["rows"])
        out.append((f"ERP calls per {erp['source_events']:,} source events, summarized vs line-level",
                    f"worst ratio {worst_ratio:.4f} across {len(erp['rows'])} ERPs", f"≤ {erp['target_ratio']}",
                    _met(erp["target_met"])))
        limited = erp["rate_limited_connection"]["over_a_day"]
        out.append(("rate-limited ERP connection, busiest minute / day",
                    f"{limited['max_calls_in_any_minute']} / {limited['max_calls_in_any_day']:,} calls, "
                    f"{limited['refused_429']} refused", f"≤ {limited['minute_limit']} / {limited['day_limit']:,}",
                    _met(limited["max_calls_in_any_minute"] <= limited["minute_limit"]
                         and limited["max_calls_in_any_day"] <= limited["day_limit"])))
    readback = results.get("erp_readback")
    if readback:
        worst = max(readback["rows"], key=lambda row: row["ratio"])
        out.append((f"ERP calls to read back one entity-day of {readback['documents']:,} posted documents "
                    "(reconciliation, per API ERP)",
                    f"worst {worst['calls_per_10000']} per 10,000 ({worst['erp']}, {worst['seconds']} s); "
                    + ", ".join(f"{row['erp']} {row['erp_calls']}" for row in readback["rows"]),
                    f"≤ {float(readback['target_ratio']):.0%}", _met(readback["target_met"])))
    cash = results.get("stripe_cash")
    if cash:
        thousand = cash["sizes"]["1000"]
        out.append(("Stripe API calls for cash data per 1,000 charges (payout balance transactions)",
                    f"{thousand['calls_per_1000']} ({thousand['calls']} list pages for 1,000 charges; one call per "
                    f"charge would be {thousand['baseline_calls_one_per_charge']:,})",
                    f"≤ {cash['target_calls_per_1000']}", _met(cash["target_met"])))
    local = results.get("local_stack")
    if local:
        before, met = local["targets"]["before"], local["met"]
        out.append((f"local stack, memory growth per event after warm-up ({local['events']:,} Stripe events)",
                    f"{local['mb_per_event']} MB (RSS {local['rss_mb_before']} → {local['rss_mb_after']} MB; before: "
                    f"{before['mb_per_event']} MB per event over {before['events']})",
                    f"< {local['targets']['mb_per_event_max']} MB", _met(met["memory"])))
        out.append((f"local stack, webhooks acknowledged / documents posted per second ({local['clients']} senders)",
                    f"{local['ingest_per_second']} / {local['end_to_end_per_second']} "
                    f"({local.get('ingest_per_second_vs_before')}× / {local.get('end_to_end_per_second_vs_before')}× "
                    f"before: {before['ingest_per_second']} / {before['end_to_end_per_second']}; GET /health "
                    f"{local['health_per_second']:,.0f}/s)",
                    f"≥ {local['targets']['speedup']}× before",
                    _met(met.get("ingest", False) and met.get("end_to_end", False))))
        out.append(("`local up`, SIGTERM → exit, idle / busy",
                    f"{local['stop_idle']['seconds']} s / {local['stop_busy']['seconds']} s (before: "
                    f"{before['stop_idle_seconds']} s / {before['stop_busy_seconds']} s)",
                    f"≤ {local['targets']['stop_seconds_max']:.0f} s", _met(met["stop"])))
    return out


def render(results: dict[str, Any]) -> str:
    measured = sorted({section["measured_at"][:16].replace("T", " ") for section in results.values()
                       if isinstance(section, dict) and "measured_at" in section})
    machines = sorted({section["machine"] for section in results.values()
                       if isinstance(section, dict) and "machine" in section})
    lines = [f"Latest `bench/results.json` ({', '.join(machines)}; measured {measured[0]}–{measured[-1]} UTC):", "",
             "| measure | measured | target | met |", "|---|---|---|---|"]
    lines += [f"| {measure} | {value} | {target} | {met} |" for measure, value, target, met in rows(results)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    path = Path(argv[0]) if argv else RESULTS
    print(render(json.loads(path.read_text())), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
