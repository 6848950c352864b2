"""Turns bench results into target checks, a terminal table and a Markdown table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

OVERHEAD_P50_MS: Final = 1.0
OVERHEAD_P99_MS: Final = 3.0
ADDED_LATENCY_RATIO: Final = 5.0
COLD_START_RATIO: Final = 1.5
STATUS_OVERHEAD_P50_MS: Final = 1.0
CODE_OVERHEAD_P50_MS: Final = 1.5
# The figures of version 1 (committed once), shown beside this run's.
BEFORE_FILE: Final = "results-v1.json"
LABEL_WIDTH: Final = 50


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and pass/fail."""
    checks: list[dict[str, Any]] = []
    warm = results.get("warm")
    if warm:
        own = warm["ours"]["own_overhead_ms"]["all"]
        ratio = warm["ratio_added_latency_p50"]["all"]
        status = warm["ours"]["own_overhead_ms"]["status"]["p50"]
        code = warm["ours"]["own_overhead_ms"]["code"]["p50"]
        checks += [
            _check(
                "warm status-only overhead p50 <= 1.0 ms",
                status,
                " ms",
                status <= STATUS_OVERHEAD_P50_MS,
            ),
            _check(
                "code-check overhead beyond attempt store p50 <= 1.5 ms",
                code,
                " ms",
                code <= CODE_OVERHEAD_P50_MS,
            ),
            _check("warm overhead p50 <= 1.0 ms", own["p50"], " ms", own["p50"] <= OVERHEAD_P50_MS),
            _check("warm overhead p99 <= 3 ms", own["p99"], " ms", own["p99"] <= OVERHEAD_P99_MS),
            _check(
                ">= 5x less added latency than baseline, p50",
                ratio,
                "x",
                ratio >= ADDED_LATENCY_RATIO,
            ),
        ]
    if signing := results.get("signing"):
        kms = signing["kms_calls_status_only_and_wrong_pin"]
        signs = signing["kms_sign_per_correct_pin"]
        checks += [
            _check("no KMS call for status-only and wrong PINs", kms, " calls", kms == 0),
            _check("one kms:Sign per correct PIN", signs, "", signs == 1),
        ]
    resources = results.get("resources")
    if resources:
        ours = resources["ours"]
        allowed = math.ceil(resources["invocations"] / 1000)
        per = f" in {resources['invocations']}"
        checks += [
            _check(
                "1 Secrets Manager call per 1,000 invocations",
                ours["secrets_manager_calls"],
                per,
                ours["secrets_manager_calls"] <= allowed,
            ),
            _check(
                "1 upstream connection per 1,000 invocations",
                ours["upstream_connections"],
                per,
                ours["upstream_connections"] <= allowed,
            ),
        ]
    cold = results.get("cold")
    if cold:
        if shipped := cold.get("as_shipped"):
            ratio = shipped["ratio_ours_vs_import_boto3"]
            checks.append(
                _check(
                    "as shipped: cold start <= 1.5x import boto3",
                    ratio,
                    "x",
                    ratio <= COLD_START_RATIO,
                )
            )
        ratio = cold["ratio_ours_vs_import_boto3"]
        checks.append(
            _check(
                "bytecode cached: cold start <= 1.5x import boto3",
                ratio,
                "x",
                ratio <= COLD_START_RATIO,
            )
        )
    return checks


def _dig(results: dict[str, Any] | None, *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def v1_shipped_ratio_path(before: dict[str, Any] | None) -> Any:
    deployed = _dig(before, "cold", "as_deployed_no_bundled_bytecode")
    return {"value": _dig(deployed, "ratio_ours_lambda_like_vs_import_boto3")}


def before_after(results: dict[str, Any], before: dict[str, Any] | None) -> Section:
    """The headline figures of version 1 beside this run's."""
    section = Section(
        "Before (version 1, bench/results-v1.json) and now", ["before", "now", "unit"]
    )
    v1_shipped = _dig(before, "cold", "as_deployed_no_bundled_bytecode", "ours_lambda_like")
    rows: list[tuple[str, Any, Any, str]] = [
        (
            "cold start as shipped (Lambda-like env), median",
            _dig(v1_shipped, "median_ms"),
            _dig(results, "cold", "as_shipped", "ours", "median_ms"),
            "ms",
        ),
        (
            "bare import boto3 from bytecode, median",
            _dig(before, "cold", "boto3", "median_ms"),
            _dig(results, "cold", "as_shipped", "boto3", "median_ms"),
            "ms",
        ),
        (
            "as shipped / import boto3",
            _dig(
                before,
                "cold",
                "as_deployed_no_bundled_bytecode",
                "ratio_ours_lambda_like_vs_import_boto3",
            ),
            _dig(results, "cold", "as_shipped", "ratio_ours_vs_import_boto3"),
            "x",
        ),
        (
            "cold start, bytecode cached, Lambda-like env",
            _dig(before, "cold", "ours_lambda_like", "median_ms"),
            _dig(results, "cold", "ours_lambda_like", "median_ms"),
            "ms",
        ),
        (
            "warm status-only overhead p50",
            _dig(before, "warm", "ours", "own_overhead_ms", "status", "p50"),
            _dig(results, "warm", "ours", "own_overhead_ms", "status", "p50"),
            "ms",
        ),
        (
            "warm code-check overhead beyond attempt store p50",
            _dig(before, "warm", "ours", "own_overhead_ms", "code", "p50"),
            _dig(results, "warm", "ours", "own_overhead_ms", "code", "p50"),
            "ms",
        ),
        (
            "  wrong PIN (v1: every code check)",
            _dig(before, "warm", "ours", "own_overhead_ms", "code", "p50"),
            _dig(results, "warm", "ours", "own_overhead_ms", "wrong", "p50"),
            "ms",
        ),
        (
            "warm status-only added latency p50",
            _dig(before, "warm", "ours", "status", "added_latency_ms", "p50"),
            _dig(results, "warm", "ours", "status", "added_latency_ms", "p50"),
            "ms",
        ),
        (
            "warm wrong-PIN added latency p50 (attempt store in)",
            _dig(before, "warm", "ours", "code", "added_latency_ms", "p50"),
            _dig(results, "warm", "ours", "wrong", "added_latency_ms", "p50"),
            "ms",
        ),
        (
            "bare attempt-store round trip p50 (the reference)",
            _dig(before, "warm", "bare_attempt_store_ms", "p50"),
            _dig(results, "warm", "bare_attempt_store_ms", "p50"),
            "ms",
        ),
        (
            "correct PIN, token signed, wall p50 (bench.signing)",
            None,
            _dig(results, "signing", "correct_pin_signed_ms", "p50"),
            "ms",
        ),
        (
            "  of which signing (signed - unsigned p50)",
            None,
            _dig(results, "signing", "signing_cost_p50_ms"),
            "ms",
        ),
        (
            "asset zipped",
            _dig(before, "package", "zipped_mib"),
            _dig(results, "package", "zipped_mib"),
            "MiB",
        ),
        (
            "asset unzipped",
            _dig(before, "package", "unzipped_mib"),
            _dig(results, "package", "unzipped_mib"),
            "MiB",
        ),
        ("asset files", _dig(before, "package", "files"), _dig(results, "package", "files"), ""),
    ]
    for label, old, new, unit in rows:
        section.rows.append(
            [label, "-" if old is None else str(old), "-" if new is None else str(new), unit]
        )
    section.notes.append(
        "before: the asset carried no bytecode (compiled on every cold start), X-Ray SDK on; "
        "v1 measured 'as shipped' with an uncompiled package cache instead of a twin asset"
    )
    section.notes.append(
        "v1 sent the right PIN on every code check and had no token: its right and wrong "
        "PINs took the same path, so its code-check figure is the wrong-PIN 'before'; v1's "
        "bare attempt-store reference was its own one-counter UpdateItem, now the v2 request"
    )
    return section


def _check(target: str, value: float, unit: str, ok: bool) -> dict[str, Any]:
    return {"target": target, "value": value, "unit": unit, "pass": ok}


def _p(stats: dict[str, float]) -> list[str]:
    return [f"{stats['p50']:.3f}", f"{stats['p90']:.3f}", f"{stats['p99']:.3f}"]


def sections(results: dict[str, Any], before: dict[str, Any] | None = None) -> list[Section]:
    found: list[Section] = [before_after(results, before)] if before is not None else []
    if warm := results.get("warm"):
        found.append(_warm_section(warm))
    if traced := results.get("warm_lambda_like"):
        found.append(_traced_section(traced))
    if signing := results.get("signing"):
        found.append(_signing_section(signing))
    if cold := results.get("cold"):
        found += _cold_sections(cold)
    if resources := results.get("resources"):
        found.append(_resources_section(resources))
    if package := results.get("package"):
        found.append(_package_section(package))
    return found


def _warm_section(warm: dict[str, Any]) -> Section:
    ours, base = warm["ours"], warm["baseline"]
    counts = warm.get("samples") or {"status": warm["iterations"] // 2}
    mix = (
        f"{counts['status']} status-only GET, {counts['correct']} right-PIN and "
        f"{counts['wrong']} wrong-PIN POST"
        if "wrong" in counts
        else f"{counts['status']} status-only GET, the rest code-check POST"
    )
    section = Section(
        f"Warm path, ms: {warm['iterations']} invocations each of ours and the baseline, "
        f"interleaved ({mix}; token signing off, see the signing table)",
        ["p50", "p90", "p99"],
    )
    section.rows = [
        ["ours: handler wall time", *_p(ours["all"]["wall_ms"])],
        ["baseline: handler wall time", *_p(base["all"]["wall_ms"])],
        ["bare upstream round trip (keep-alive POST)", *_p(warm["bare_upstream_ms"])],
        ["bare attempt-store round trip (UpdateItem)", *_p(warm["bare_attempt_store_ms"])],
        ["ours: added latency (wall - bare upstream)", *_p(ours["all"]["added_latency_ms"])],
        ["  status-only GET", *_p(ours["status"]["added_latency_ms"])],
        ["  code-check POST (attempt store included)", *_p(ours["code"]["added_latency_ms"])],
        ["    right PIN", *_p(ours["correct"]["added_latency_ms"])],
        ["    wrong PIN", *_p(ours["wrong"]["added_latency_ms"])],
        ["baseline: added latency (wall - bare upstream)", *_p(base["all"]["added_latency_ms"])],
        ["  status-only GET", *_p(base["status"]["added_latency_ms"])],
        ["  code-check GET", *_p(base["code"]["added_latency_ms"])],
        ["ours: overhead (also - bare attempt store)", *_p(ours["own_overhead_ms"]["all"])],
        ["  status-only GET", *_p(ours["own_overhead_ms"]["status"])],
        ["  code-check POST", *_p(ours["own_overhead_ms"]["code"])],
        ["    right PIN", *_p(ours["own_overhead_ms"]["correct"])],
        ["    wrong PIN", *_p(ours["own_overhead_ms"]["wrong"])],
        ["ours: CPU time of the handler process", *_p(ours["all"]["cpu_ms"])],
        ["baseline: CPU time of the handler process", *_p(base["all"]["cpu_ms"])],
    ]
    ratio, cpu = warm["ratio_added_latency_p50"], warm["ratio_cpu_p50"]
    section.notes = [
        f"added latency, baseline / ours at p50: {ratio['all']}x all, "
        f"{ratio['status']}x status-only, {ratio['code']}x code-check",
        f"CPU time, baseline / ours at p50: {cpu['all']}x all, "
        f"{cpu['status']}x status-only, {cpu['code']}x code-check",
    ]
    return section


def _traced_section(traced: dict[str, Any]) -> Section:
    ours = traced["ours"]
    return Section(
        f"Warm path in a Lambda-like environment, ms: {traced['iterations']} invocations of "
        "ours (the variables Powertools reads inside Lambda; no X-Ray SDK)",
        ["p50", "p90", "p99"],
        [
            ["ours: handler wall time", *_p(ours["all"]["wall_ms"])],
            ["ours: overhead (wall - bare round trips)", *_p(ours["own_overhead_ms"]["all"])],
            ["  status-only GET", *_p(ours["own_overhead_ms"]["status"])],
            ["  code-check POST", *_p(ours["own_overhead_ms"]["code"])],
            ["ours: CPU time of the handler process", *_p(ours["all"]["cpu_ms"])],
        ],
    )


def _signing_section(signing: dict[str, Any]) -> Section:
    section = Section(
        "Verification token cost, ms (python -m bench.signing, in-process handler, moto KMS on "
        f"loopback, alternating blocks with signing on and off, {signing['samples_per_arm']} "
        "samples per arm)",
        ["p50", "p90", "p99"],
        [
            ["correct PIN, token signed", *_p(signing["correct_pin_signed_ms"])],
            ["correct PIN, signing off", *_p(signing["correct_pin_unsigned_ms"])],
            ["TokenSigner.issue alone (one kms:Sign)", *_p(signing["issue_ms"])],
        ],
    )
    for label, key in (
        ("status-only, signing on", "status_only_signing_on_ms"),
        ("wrong PIN, signing on", "wrong_pin_signing_on_ms"),
    ):
        if key in signing:
            section.rows.append([label, *_p(signing[key])])
    section.notes = [
        f"signing cost (difference of the p50s): {signing['signing_cost_p50_ms']:.3f} ms; "
        f"kms:Sign per correct PIN {signing['kms_sign_per_correct_pin']:.2f}; "
        f"KMS calls for status-only and wrong PINs {signing['kms_calls_status_only_and_wrong_pin']}"
        f"; token {signing['token_bytes']} bytes",
        "real KMS adds its in-region round trip instead of moto's loopback one",
    ]
    return section


def _cold_sections(cold: dict[str, Any]) -> list[Section]:
    runs = cold["ours"]["runs"]
    main = Section(
        f"Cold start, ms: fresh interpreter -> import -> first response, median of {runs}, "
        "bytecode cached",
        ["total", "import", "first call"],
    )
    rows = (
        ("ours", "ours"),
        ("baseline", "baseline"),
        ("import boto3", "boto3"),
        ("ours, Lambda-like env", "ours_lambda_like"),
    )
    for label, key in rows:
        if key not in cold:
            continue
        entry = cold[key]
        first = entry.get("first_invoke_median_ms")
        main.rows.append(
            [
                label,
                f"{entry['median_ms']:.1f}",
                f"{entry['import_median_ms']:.1f}",
                "-" if first is None else f"{first:.1f}",
            ]
        )
    main.notes.append(
        f"ours / import boto3: {cold['ratio_ours_vs_import_boto3']}x; "
        f"baseline / import boto3: {cold['ratio_baseline_vs_import_boto3']}x; "
        f"ours in a Lambda-like env / import boto3: "
        f"{cold.get('ratio_ours_lambda_like_vs_import_boto3', '-')}x"
    )
    sections_found = [main]
    if shipped := cold.get("as_shipped"):
        twin = shipped["twin"]
        section = Section(
            f"Cold start as shipped, ms: fresh CPython {shipped['python']} -> first 200, median "
            f"of {shipped['ours']['runs']}, x86_64 twin of the asset (same bundling code), "
            "read-only, no bytecode writing, Lambda-like env",
            ["total", "import", "first call"],
        )
        for label, key in (("ours", "ours"), ("import boto3 (runtime's, from bytecode)", "boto3")):
            entry = shipped[key]
            first = entry.get("first_invoke_median_ms")
            section.rows.append(
                [
                    label,
                    f"{entry['median_ms']:.1f}",
                    f"{entry['import_median_ms']:.1f}",
                    "-" if first is None else f"{first:.1f}",
                ]
            )
        section.notes.append(
            f"ours / import boto3: {shipped['ratio_ours_vs_import_boto3']}x; twin built in "
            f"{twin['build_s']} s for {twin['platform']}"
        )
        sections_found.append(section)
    importtime = cold["importtime"]
    imports = Section(
        f"python -X importtime of our handler (total {importtime['total_ms']:.0f} ms): "
        "top 10 cumulative, ms",
        ["cumulative", "self"],
        [
            [row["module"], f"{row['cumulative_ms']:.1f}", f"{row['self_ms']:.1f}"]
            for row in importtime["top_cumulative"]
        ],
    )
    packages = ", ".join(
        f"{row['package']} {row['self_ms']:.0f}" for row in importtime["by_top_level_package"][:6]
    )
    imports.notes.append(f"self time by top-level package: {packages}")
    if lambda_like := cold.get("importtime_lambda_like"):
        top = ", ".join(
            f"{row['package']} {row['self_ms']:.0f}"
            for row in lambda_like["by_top_level_package"][:6]
        )
        imports.notes.append(
            f"in a Lambda-like env: total "
            f"{lambda_like['total_ms']:.0f} ms; self time by package: {top}"
        )
    if as_shipped := cold.get("importtime_as_shipped"):
        top = ", ".join(
            f"{row['package']} {row['self_ms']:.0f}"
            for row in as_shipped["by_top_level_package"][:6]
        )
        imports.notes.append(
            f"as shipped (twin, Lambda-like env): total {as_shipped['total_ms']:.0f} ms; "
            f"self time by package: {top}"
        )
    return [*sections_found, imports]


def _resources_section(resources: dict[str, Any]) -> Section:
    section = Section(
        f"Resources: {resources['invocations']} invocations per target in a fresh process, "
        "counted at the servers",
        [
            "Secrets Manager calls",
            "upstream TCP connections",
            "attempt-store calls",
            "peak RSS MiB",
        ],
    )
    for label in ("ours", "baseline"):
        entry = resources[label]
        section.rows.append(
            [
                label,
                str(entry["secrets_manager_calls"]),
                str(entry["upstream_connections"]),
                str(entry["attempt_store_calls"]),
                f"{entry['peak_rss_mib']:.1f}",
            ]
        )
    return section


def _package_section(package: dict[str, Any]) -> Section:
    if package["status"] != "ok":
        return Section(
            "Package", ["zipped MiB"], [["deployment asset", "-"]], [package.get("note", "")]
        )
    section = Section(
        "Package: the synthesised Lambda asset, zipped (deflate 9)",
        ["zipped MiB", "unzipped MiB", "files"],
        [
            [
                "deployment asset",
                f"{package['zipped_mib']:.2f}",
                f"{package['unzipped_mib']:.2f}",
                str(package["files"]),
            ]
        ],
    )
    largest = ", ".join(
        f"{name} {size:.2f}" for name, size in package["largest_zipped_mib"].items()
    )
    section.notes = [
        f"{package['asset']}; bytecode (__pycache__) included: "
        f"{'yes' if package['has_pycache'] else 'no'}",
        f"largest, zipped MiB: {largest}",
    ]
    return section


def header_line(results: dict[str, Any]) -> str:
    meta = results["machine"]
    load = results.get("load_average")
    load_text = f", load average {load[0]:.2f} at start" if load else ""
    return (
        f"{results['date']} on {meta['arch']}, {meta['cpu']}, {meta['cores']} cores, "
        f"Python {meta['python']} ({meta['os']}){load_text}"
    )


def render_text(results: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    lines = [f"Telephone Status API benchmark - {header_line(results)}", ""]
    for section in sections(results, before):
        widths = [
            max([len(column)] + [len(row[i + 1]) for row in section.rows])
            for i, column in enumerate(section.columns)
        ]
        lines.append(section.title)
        head = "  ".join(c.rjust(w) for c, w in zip(section.columns, widths, strict=True))
        lines.append(f"  {'':<{LABEL_WIDTH}}  {head}")
        for row in section.rows:
            cells = "  ".join(c.rjust(w) for c, w in zip(row[1:], widths, strict=True))
            lines.append(f"  {row[0]:<{LABEL_WIDTH}}  {cells}")
        lines.extend(f"  {note}" for note in section.notes)
        lines.append("")
    lines.append("Targets")
    for check in results["checks"]:
        value = f"{check['value']}{check['unit']}"
        lines.append(f"  {verdict(check['pass'])}  {check['target']:<48} {value}")
    return "\n".join(lines)


def render_markdown(results: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    lines = [
        "## Benchmark",
        "",
        f"Latest `make bench`: {header_line(results)}; the whole run took "
        f"{results.get('duration_s', '?')} s.",
        "",
        "Everything runs on 127.0.0.1: the ProxStop sandbox (instant answers, own process) and "
        "moto for Secrets Manager and DynamoDB. Logger, Metrics and request/response "
        "validation are on, their output goes to /dev/null; the function has no X-Ray SDK "
        "(Lambda's active tracing records its segments). The baseline (`bench/baseline.py`) "
        "does what ProxStop's sample clients do: the key from Secrets Manager on every call, "
        "a URL with the key in it, a new connection per call, `minidom`.",
        "",
    ]
    for section in sections(results, before):
        lines.append(f"**{section.title}**")
        lines.append("")
        lines.append("| | " + " | ".join(section.columns) + " |")
        lines.append("|---|" + "---:|" * len(section.columns))
        for row in section.rows:
            label = row[0].strip()
            label = f"&nbsp;&nbsp;{label}" if row[0].startswith("  ") else label
            lines.append(f"| {label} | " + " | ".join(row[1:]) + " |")
        lines.append("")
        for note in section.notes:
            lines.append(f"- {note}")
        if section.notes:
            lines.append("")
    lines += ["| target | measured | |", "|---|---:|---|"]
    for check in results["checks"]:
        lines.append(
            f"| {check['target']} | {check['value']}{check['unit']} | {verdict(check['pass'])} |"
        )
    lines += [
        "",
        "Added latency is the handler's wall time minus the median bare round trip to the "
        "sandbox on a kept-alive connection, per request kind. Overhead also subtracts the "
        "median bare round trip to the attempt store from code checks (each PIN check is "
        "counted in DynamoDB before the upstream is asked, SPEC section 6): a raw UpdateItem "
        "with the function's own update and condition expressions, values and return "
        "options, so that only the client side differs; the baseline has no attempt limit. "
        "Code checks alternate right and wrong PINs; the warm runs have token signing off, "
        "and the signing table gives what a correct PIN costs with it. MAX_CODE_ATTEMPTS and "
        "MAX_CODE_CHECKS are at their maxima and every answer is checked: a 429 or any "
        "other unexpected answer stops the run instead of being measured. "
        "The baseline's added latency includes its Secrets Manager call and "
        "its new TCP connection on every request. On loopback the baseline's flaws are "
        "cheap (a new TCP connection costs a fraction of a millisecond here, a new TLS "
        "connection to ProxStop costs internet round trips), and moto's service times (about "
        "10 ms per UpdateItem or GetSecretValue, with a wide tail, and a new connection per "
        "call) are not AWS's: the network parts of these figures are the emulator's.",
        "",
        "Reproduce with `make bench` (figures: `bench/results.json`).",
    ]
    return "\n".join(lines) + "\n"
