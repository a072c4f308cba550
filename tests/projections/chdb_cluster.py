"""Run SQL on a one-node ClickHouse "cluster" in chDB, in a process of its own.

``python tests/projections/chdb_cluster.py CONFIG.xml < job.json`` prints a JSON answer.
The job holds ``parse`` (statements for ClickHouse's own parser: ``formatQuery``), ``run``
(statements executed in order; the first failure stops) and ``queries`` (rows back as
lists). chDB starts with CONFIG (``remote_servers`` with one local shard and the macros),
so Distributed tables work, and the process keeps its own engine: a pytest process may
already hold one with another configuration.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    import chdb

    job: dict[str, Any] = json.load(sys.stdin)
    connection = chdb.connect(f":memory:?config-file={sys.argv[1]}")
    cursor = connection.cursor()
    answer: dict[str, Any] = {"parse": [], "run": None, "queries": {}}
    for statement in job.get("parse", []):
        try:
            literal = statement.replace("\\", "\\\\").replace("'", "\\'")
            cursor.execute(f"SELECT formatQuery('{literal}')")
            cursor.fetchall()
            answer["parse"].append(None)
        except Exception as exc:  # noqa: BLE001 - every parser error is reported back
            answer["parse"].append(str(exc)[:500])
    for index, statement in enumerate(job.get("run", [])):
        try:
            cursor.execute(statement)
        except Exception as exc:  # noqa: BLE001
            answer["run"] = {"index": index, "statement": statement[:300], "error": str(exc)[:800]}
            break
    for name, sql in job.get("queries", {}).items():
        try:
            cursor.execute(sql)
            answer["queries"][name] = [list(map(str, row)) for row in cursor.fetchall()]
        except Exception as exc:  # noqa: BLE001
            answer["queries"][name] = {"error": str(exc)[:800]}
    connection.close()
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
