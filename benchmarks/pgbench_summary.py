#!/usr/bin/env python3
"""Summarise pgbench_compare.sh results (TSV) as a Markdown table.

Per cell (mode x clients): median TPS of each target over the rounds, the ratios schemaproxy/PgBouncer,
schemaproxy/direct, mapped/unmapped, metrics on/off and B/A (where both targets ran), and each proxy's CPU time
per transaction (median over the rounds). With --detail also each proxy's user and sys CPU time per transaction
and its preemptions (involuntary context switches) per transaction, medians over the rounds."""
import argparse
import csv
import statistics
from collections import defaultdict

ORDER = ["direct", "pgbouncer", "schemaproxy", "schemaproxy_b", "schemaproxy_mapped", "schemaproxy_nometrics"]
LABEL = {"direct": "direct", "pgbouncer": "PgBouncer", "schemaproxy": "schemaproxy",
         "schemaproxy_b": "schemaproxy B", "schemaproxy_mapped": "schemaproxy (mapped)",
         "schemaproxy_nometrics": "schemaproxy (no metrics)"}
# column, numerator target, denominator target (TPS medians)
RATIOS = [("spx/PgB", "schemaproxy", "pgbouncer"), ("spx/direct", "schemaproxy", "direct"),
          ("mapped/spx", "schemaproxy_mapped", "schemaproxy"),
          ("metrics on/off", "schemaproxy", "schemaproxy_nometrics"), ("B/A", "schemaproxy_b", "schemaproxy")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--title", default="")
    ap.add_argument("--detail", action="store_true", help="user, sys and preemptions per transaction too")
    a = ap.parse_args()

    tps = defaultdict(list)
    cpu_us = defaultdict(list)
    user_us, sys_us, preemptions = defaultdict(list), defaultdict(list), defaultdict(list)
    failed = defaultdict(int)
    cells, targets = [], set()
    with open(a.tsv) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["mode"], int(row["clients"]), row["target"])
            cell = key[:2]
            if cell not in cells:
                cells.append(cell)
            targets.add(row["target"])
            if row["tps"] == "NA":
                failed[key] += 1
                continue
            tps[key].append(float(row["tps"]))
            tx = int(row["transactions"])
            if row["cpu_ticks"] != "NA" and tx > 0:
                per_tx_us = 1e6 / int(row["clk_tck"]) / tx
                cpu_us[key].append(int(row["cpu_ticks"]) * per_tx_us)
                # Files written before these columns existed have none: their --detail cells stay empty.
                if row.get("user_ticks") not in (None, "NA"):
                    user_us[key].append(int(row["user_ticks"]) * per_tx_us)
                    sys_us[key].append(int(row["sys_ticks"]) * per_tx_us)
                    preemptions[key].append(int(row["preemptions"]) / tx)

    present = [t for t in ORDER if t in targets]
    proxies = [t for t in present if t != "direct"]

    def med(d, key, fmt):
        if key in d and d[key]:
            return fmt(statistics.median(d[key]))
        return "failed" if failed.get(key) else "—"

    def ratio(k1, k2):
        if tps.get(k1) and tps.get(k2):
            return f"{statistics.median(tps[k1]) / statistics.median(tps[k2]):.2f}"
        return "—"

    ratios = [r for r in RATIOS if r[1] in present and r[2] in present]
    head = ["-M", "clients"] + [f"{LABEL[t]} TPS" for t in present] + [name for name, _, _ in ratios]
    head += [f"{LABEL[t]} µs CPU/tx" for t in proxies]
    if a.detail:
        for t in proxies:
            head += [f"{LABEL[t]} user µs/tx", f"{LABEL[t]} sys µs/tx", f"{LABEL[t]} preemptions/tx"]

    lines = []
    if a.title:
        lines += [a.title, ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for mode, c in cells:
        k = lambda t: (mode, c, t)  # noqa: E731
        row = [mode, str(c)] + [med(tps, k(t), lambda v: f"{v:,.0f}") for t in present]
        row += [ratio(k(num), k(den)) for _, num, den in ratios]
        row += [med(cpu_us, k(t), lambda v: f"{v:.1f}") for t in proxies]
        if a.detail:
            for t in proxies:
                row += [med(user_us, k(t), lambda v: f"{v:.1f}"), med(sys_us, k(t), lambda v: f"{v:.1f}"),
                        med(preemptions, k(t), lambda v: f"{v:.2f}")]
        lines.append("| " + " | ".join(row) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
