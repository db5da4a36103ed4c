#!/usr/bin/env python3
"""Summarises an Autobahn TestSuite report (kosoku's or Autobahn's own) for Berth.

Usage: summary.py REPORT_DIR [--cases N|any] [--failure TEXT]... [--wall SECONDS] [--list N]
                  [--json FILE]

REPORT_DIR holds index.json, laid out as Autobahn writes it:
    {AGENT: {CASE_ID: {"behavior", "behaviorClose", "duration" (ms), "remoteCloseCode",
                       "reportfile"}}}
AGENT is the server's `Server:` header (or host:port when a handshake failed), so one run may
be split over several agents: they are merged. Each case's own file, REPORT_DIR/<reportfile>,
has "description", "expectation", "result", "resultClose", "remoteCloseReason", ...

Prints the cases by verdict, the close-behaviour tally, a line per group (1.*, 2.*, ... with its
verdicts and the sum of its case durations), the wall time when --wall gives it, every case that
is not OK with the reason from its report, and last one line:

    conformance: N passed, M failed

passed = OK + INFORMATIONAL; failed = FAILED + NON-STRICT + UNIMPLEMENTED + ERROR. TOOL-ERROR
cases, ERROR results that are exceptions inside kosoku 0.1.0 itself (its py2-era hashing of
str in some 12.*/13.* cases, when the server sends a small message uncompressed, as RFC 7692
allows), are listed and counted apart: neither passed nor failed, and they do not fail the run.

The report must hold exactly --cases cases (default 517, the whole suite): a run cut short,
or a report missing cases, fails, each missing case counted as failed (`--cases any` accepts
a deliberate subset, such as a run with -i/-x). Each --failure TEXT (repeatable) is a problem
found outside the report — the server logged an error, exited badly — listed and counted as
one more failure.
Exit status: 0 when nothing failed, 1 when something did, 2 on an unreadable report.
"""

import argparse
import json
import os
import sys
from collections import Counter, defaultdict

PASS = ("OK", "INFORMATIONAL")
FAIL = ("FAILED", "NON-STRICT", "UNIMPLEMENTED", "ERROR")
ORDER = PASS + FAIL + ("TOOL-ERROR",)
# Exceptions raised by kosoku's own case code, not by anything the server did.
TOOL_BUGS = ("Strings must be encoded before hashing",)
# Cases in the Autobahn TestSuite as kosoku 0.1.0 runs it.
SUITE_CASES = 517


def case_key(case_id):
    return [int(p) if p.isdigit() else p for p in case_id.split(".")]


def load(report_dir):
    with open(os.path.join(report_dir, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    cases = {}
    for agent, agent_cases in index.items():
        for case_id, case in agent_cases.items():
            cases[case_id] = dict(case, agent=agent)
    return index, cases


def detail(report_dir, case):
    """The case's own report, or {} when it cannot be read."""
    try:
        with open(os.path.join(report_dir, case["reportfile"]), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, KeyError):
        return {}


def verdict(report_dir, case):
    """The case's verdict (TOOL-ERROR told apart from ERROR) and the reason to show."""
    behavior = case.get("behavior", "?")
    close = case.get("behaviorClose", "?")
    if behavior in PASS and close in PASS:
        return behavior, ""
    d = detail(report_dir, case)
    reason = str(d.get("result") or "").strip()
    if close not in PASS:
        reason += f" | close {close}: {d.get('resultClose') or ''}".rstrip()
    if case.get("remoteCloseCode") is not None:
        reason += f" | server closed with {case['remoteCloseCode']} {d.get('remoteCloseReason') or ''}".rstrip()
    if behavior == "ERROR" and any(bug in reason for bug in TOOL_BUGS):
        return "TOOL-ERROR", reason
    return behavior, reason


def summarise(report_dir, cases):
    by_verdict, by_close = Counter(), Counter()
    groups = defaultdict(Counter)
    group_ms = Counter()
    listed = []
    for case_id in sorted(cases, key=case_key):
        case = cases[case_id]
        v, reason = verdict(report_dir, case)
        group = case_id.split(".")[0]
        by_verdict[v] += 1
        by_close[case.get("behaviorClose", "?")] += 1
        groups[group][v] += 1
        group_ms[group] += case.get("duration") or 0
        if v not in PASS or reason:
            listed.append((case_id, v, case.get("behaviorClose", "?"), case.get("duration"), reason))
    return by_verdict, by_close, groups, group_ms, listed


def main():
    ap = argparse.ArgumentParser(description="Summarise an Autobahn/kosoku report for Berth.")
    ap.add_argument("report_dir")
    ap.add_argument("--cases", default=str(SUITE_CASES), metavar="N|any",
                    help=f"cases the report must hold (default {SUITE_CASES}, the whole suite; "
                         "`any` for a deliberate subset)")
    ap.add_argument("--failure", action="append", default=[], metavar="TEXT",
                    help="a failure found outside the report (repeatable)")
    ap.add_argument("--wall", type=float, default=None, help="wall time of the run, in seconds")
    ap.add_argument("--list", type=int, default=60,
                    help="list at most this many non-OK cases (default 60; UNIMPLEMENTED "
                         "cases are shown per subgroup)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the summary as JSON")
    a = ap.parse_args()
    if a.cases != "any" and not a.cases.isdigit():
        ap.error("--cases takes a number or `any`")
    try:
        index, cases = load(a.report_dir)
    except (OSError, ValueError) as e:
        print(f"cannot read {a.report_dir}/index.json: {e}", file=sys.stderr)
        return 2
    if not cases:
        print(f"no cases in {a.report_dir}/index.json", file=sys.stderr)
        return 2
    by_verdict, by_close, groups, group_ms, listed = summarise(a.report_dir, cases)

    agents = ", ".join(f"{agent} ({len(index[agent])})" for agent in sorted(index))
    print(f"{len(cases)} cases; agent {agents}")
    print("by verdict: " + ", ".join(f"{v} {by_verdict[v]}" for v in ORDER if by_verdict[v])
          + "".join(f", {v} {n}" for v, n in sorted(by_verdict.items()) if v not in ORDER))
    print("close behaviour: " + ", ".join(f"{k} {n}" for k, n in sorted(by_close.items())))
    print("by group:")
    for group in sorted(groups, key=case_key):
        counts = groups[group]
        print(f"  {group + '.*':6} {sum(counts.values()):4} cases: "
              + ", ".join(f"{v} {counts[v]}" for v in ORDER if counts[v])
              + f"  ({group_ms[group] / 1000:.1f} s of case time)")
    if a.wall is not None:
        print(f"wall time: {a.wall:.1f} s (sum of case durations {sum(group_ms.values()) / 1000:.1f} s)")

    unimplemented = Counter(".".join(cid.split(".")[:2]) for cid, v, *_ in listed if v == "UNIMPLEMENTED")
    if unimplemented:
        print("UNIMPLEMENTED (permessage-deflate not negotiated, if 12.*/13.*): "
              + ", ".join(f"{g}.* {n}" for g, n in sorted(unimplemented.items(), key=lambda kv: case_key(kv[0]))))
    others = [row for row in listed if row[1] != "UNIMPLEMENTED"]
    tool_errors = [row for row in others if row[1] == "TOOL-ERROR"]
    problems = [row for row in others if row[1] != "TOOL-ERROR"]
    if problems:
        print("cases not OK:")
        for case_id, v, close, ms, reason in problems[:a.list]:
            print(f"  {case_id}: {v}/{close} ({ms} ms) {reason}")
        if len(problems) > a.list:
            print(f"  ... and {len(problems) - a.list} more (see {a.report_dir}/index.json)")
    if tool_errors:
        print(f"TOOL-ERROR ({len(tool_errors)}, kosoku's own exception, neither passed nor failed; "
              "cover these with a real client):")
        for case_id, _v, _close, ms, reason in tool_errors:
            print(f"  {case_id}: ({ms} ms) {reason[:160]}")

    passed = sum(by_verdict[v] for v in PASS)
    failed = sum(by_verdict[v] for v in FAIL) + sum(n for v, n in by_verdict.items() if v not in ORDER)
    problems_outside = list(a.failure)
    if a.cases != "any" and len(cases) != int(a.cases):
        expected = int(a.cases)
        missing = max(expected - len(cases), 0)
        problems_outside.append(f"the report holds {len(cases)} cases, not the {expected} of the "
                                "whole suite" + (f": {missing} missing, counted as failed"
                                                 if missing else ""))
        failed += max(missing, 1) - 1
    if problems_outside:
        print("failures outside the cases:")
        for problem in problems_outside:
            print(f"  {problem}")
    failed += len(problems_outside)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"cases": len(cases), "expected_cases": a.cases, "passed": passed,
                   "failed": failed, "failures_outside": problems_outside,
                       "tool_errors": by_verdict["TOOL-ERROR"], "verdicts": dict(by_verdict),
                       "close": dict(by_close), "groups": {g: dict(c) for g, c in groups.items()},
                       "wall_seconds": a.wall,
                       "not_ok": {cid: v for cid, v, *_ in listed}}, f, indent=1)
    print(f"conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
