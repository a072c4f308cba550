-- Events of the log the projector could not write, parked with the reason so that the
-- projection of everything after them goes on (see projections/quarantine.py): a value its
-- column cannot hold, a document it cannot read, rows ClickHouse refused. Not a projection:
-- `eams rebuild` keeps this table (projections.migrations.KEPT), so nothing parked is
-- forgotten. One row per log position; the latest state wins (ReplacingMergeTree).
CREATE TABLE IF NOT EXISTS quarantine
(
    topic            LowCardinality(String),
    partition        UInt16,
    offset           UInt64,
    event_id         String,
    event_type       String,
    region           String,
    field            String,
    error            String,
    -- the record exactly as it is in the log (base64): pseudonymised, no clear personal data
    value_b64        String CODEC(ZSTD(3)),
    -- parked: waiting for a fix; projected: a retry wrote it (or found it already written)
    status           LowCardinality(String),
    attempts         UInt32,
    quarantined_at   DateTime64(3, 'Asia/Shanghai'),
    updated_at       DateTime64(6, 'Asia/Shanghai'),
    updated_by       String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (topic, partition, offset)
