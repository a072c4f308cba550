"""``eams schema render``: the ClickHouse schema as SQL, for one node or for a cluster
(:mod:`projections.cluster`), from the same migrations ``eams run`` applies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from eams.cli.common import console
from projections.cluster import Cluster, script, write_directory

schema_app = typer.Typer(
    help="The ClickHouse schema of the projections, rendered from projections/migrations.",
    no_args_is_help=True,
)

RENDER_HELP = """Print the schema as SQL: what `eams run` applies to one node, or with --cluster
the same migrations for a ClickHouse cluster of replicated shards.

\b
On a cluster every CREATE, ALTER and DROP runs ON CLUSTER; MergeTree engines become
Replicated*MergeTree ('/clickhouse/tables/{shard}/{database}/{table}', '{replica}');
with 2 or more shards a sharded table is created as <name>_local on every node and a
Distributed table keeps <name>, so queries are unchanged, and the materialized views
read events_local and write the local tables. The record of each version goes into
schema_migrations as `eams run` would write it, so a worker started afterwards applies
nothing. Each table's placement (sharding key, or replicated on every node) and why:
projections/cluster.py (PLACEMENTS). `eams rebuild` does not render: do not run it
against a cluster (it would drop on one node and recreate the single-node schema).

\b
Examples:
  eams schema render                                  the single-node schema
  eams schema render --cluster eams > eams.sql        2 shards (the default)
  clickhouse-client --host ch-1-1 --multiquery < eams.sql
  eams schema render --cluster '{cluster}' --out sql/ one file per migration, the
                                                      cluster named by each server's macro
  eams schema render --cluster eams --shards 1        replicas only, no Distributed layer
"""


@schema_app.command("render", help=RENDER_HELP)
def render(
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Cluster name as in the servers' remote_servers (or '{cluster}' for their "
            "macro); unset = the single-node schema"
        ),
    ] = None,
    shards: Annotated[
        int,
        typer.Option(
            min=1,
            help="Shards of the cluster: 1 = replicated tables only; 2 or more = <name>_local "
            "tables under Distributed ones (the count itself is in remote_servers)",
        ),
    ] = 2,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write one file per migration into this folder (0000_schema_migrations.sql "
            "first; apply in name order) instead of one script to stdout"
        ),
    ] = None,
) -> None:
    """Print the ClickHouse schema as SQL (see --help)."""
    target = Cluster(cluster, shards=shards) if cluster is not None else None
    if out is None:
        sys.stdout.write(script(target))
        return
    for path in write_directory(target, out):
        console.print(f"wrote {path}")
