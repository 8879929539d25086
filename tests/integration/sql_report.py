#!/usr/bin/env python3
"""sql_report.py REPORT.json — flattens what test_sql_interpose.c checks in a memwatch-analyze
JSON report into tab-separated lines (the C test reads them; Python's json does the parsing):

    Q  fingerprint  db  calls  bytes_allocated  bytes_leaked  text      one per sql.queries[]
    R  type  count  db  fingerprint-or-null  fn1,fn2,...             one per sql.leaked_resources[]
    W  variable  sql-fingerprint-or-None                              one per watch.events[]
    L  bytes  blocks  fn1,fn2,...                                     one per leaks.sites[]

Exits 1 with one line on stderr when the report is not JSON or lacks the contract's keys.
"""
import json
import sys


def funcs(stack):
    return ",".join((f.get("function") or "?") for f in stack)


def main():
    try:
        with open(sys.argv[1]) as f:
            r = json.load(f)
        sql = r["sql"]
        for q in sql["queries"]:
            text = (q["text"] or "").replace("\t", " ").replace("\n", " ")
            print("Q", q["fingerprint"], q["db"], q["calls"], q["bytes_allocated"],
                  q["bytes_leaked"], text, sep="\t")
        for x in sql["leaked_resources"]:
            print("R", x["type"], x["count"], x.get("db"), x.get("fingerprint"),
                  funcs(x["stack"]), sep="\t")
        for e in (r.get("watch") or {}).get("events", []):
            print("W", e["variable"], e["sql"], sep="\t")
        for s in r["leaks"]["sites"]:
            print("L", s["bytes"], s["blocks"], funcs(s["stack"]), sep="\t")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        print("sql_report.py: %s: %s" % (sys.argv[1] if len(sys.argv) > 1 else "?", e),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
