#!/bin/sh
# Apply the cluster schema to the ClickHouse cluster through one of its servers, as
# migrate() does on one node: schema_migrations first, then each migration whose version
# it does not hold yet, in order (each file records its version at its end).
#
#   apply-schema.sh DIR     DIR: `eams schema render --cluster eams --out DIR`
#
# Environment: CLICKHOUSE_HOST (a server of the cluster), CLICKHOUSE_EAMS_PASSWORD.
# Run it with the same EAMS release as the workers, before them: `eams run` then finds every
# version applied and applies nothing (it would apply the single-node form otherwise).
set -eu
dir=${1:?usage: apply-schema.sh DIR (the output of eams schema render --cluster eams --out DIR)}
host=${CLICKHOUSE_HOST:?set CLICKHOUSE_HOST to a server of the cluster}
: "${CLICKHOUSE_EAMS_PASSWORD:?set CLICKHOUSE_EAMS_PASSWORD}"

client() {
    clickhouse-client --host "$host" --user eams --password "$CLICKHOUSE_EAMS_PASSWORD" "$@"
}

# ON CLUSTER statements wait for every server: wait until all four answer.
tries=0
until [ "$(client --query "SELECT count() FROM clusterAllReplicas('eams', system.one)" 2>/dev/null)" = 4 ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 90 ]; then
        echo "apply-schema: the 4 servers of cluster eams do not all answer through $host after 180 s" >&2
        exit 1
    fi
    sleep 2
done

client --multiquery < "$dir/0000_schema_migrations.sql"
for file in "$dir"/[0-9][0-9][0-9][0-9]_*.sql; do
    name=${file##*/}
    version=$(expr "${name%%_*}" + 0)
    [ "$version" -eq 0 ] && continue
    applied=$(client --query "SELECT count() FROM schema_migrations WHERE version = $version")
    if [ "$applied" = 0 ]; then
        echo "apply-schema: applying $name"
        client --multiquery < "$file"
    fi
done
# Every replica must hold the records before a worker reads them (through any server): a
# worker that found a version missing would apply the single-node form of it.
client --query "SYSTEM SYNC REPLICA ON CLUSTER 'eams' schema_migrations" >/dev/null
echo "apply-schema: cluster eams holds every version of $dir"
