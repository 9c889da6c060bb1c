#!/usr/bin/env python3
"""The closing lines of scripts/test.sh: which tests were skipped and why, then the counts.

    scripts/test_summary.py RESULTS_DIR

RESULTS_DIR holds the JUnit XML that scripts/test.sh asks both runners for:
  unit-swift-testing.xml (and unit.xml, XCTest's)  swift test --xunit-output RESULTS_DIR/unit.xml
  unit.log                                         swift test's console output (there only if it ran)
  integration.xml                                  pytest --junitxml

Prints every skipped test with its reason, a count line per runner, and last
`total: N passed, N failed, N skipped`, the run's closing line. A runner that ran but left no XML (a crash)
is reported, and then no total is printed: the counts would leave its tests out."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (test, reason)

    def line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {len(self.skipped)} skipped"


def read_junit(path: Path, counts: Counts) -> None:
    for case in ET.parse(path).getroot().iter("testcase"):
        outcomes = {child.tag: child for child in case}
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        if "failure" in outcomes or "error" in outcomes:
            counts.failed += 1
        elif "skipped" in outcomes:
            skip = outcomes["skipped"]
            reason = skip.get("message") or (skip.text or "").strip() or "(no reason given)"
            counts.skipped.append((name, reason))
        else:
            counts.passed += 1


def main() -> int:
    results = Path(sys.argv[1])
    runners: list[tuple[str, Counts]] = []
    complete = True

    unit_files = [p for p in (results / "unit-swift-testing.xml", results / "unit.xml") if p.exists()]
    if unit_files:
        unit = Counts()
        for path in unit_files:
            read_junit(path, unit)
        runners.append(("unit", unit))
    elif (results / "unit.log").exists():
        print(f"unit: swift test ran but wrote no JUnit XML in {results}; see its output above")
        complete = False

    if (results / "integration.xml").exists():
        integration = Counts()
        read_junit(results / "integration.xml", integration)
        runners.append(("integration", integration))
    else:
        print(f"integration: pytest wrote no JUnit XML in {results}; see its output above")
        complete = False

    skipped = [(runner, test, reason) for runner, counts in runners for test, reason in counts.skipped]
    print(f"skipped tests: {len(skipped)}" + ("" if skipped else " (none)"))
    for runner, test, reason in skipped:
        print(f"  {runner}: {test}: {reason}")
    for runner, counts in runners:
        print(f"{runner}: {counts.line()}")
    if complete and runners:
        total = Counts(passed=sum(c.passed for _, c in runners), failed=sum(c.failed for _, c in runners),
                       skipped=[s for _, c in runners for s in c.skipped])
        print(f"total: {total.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
