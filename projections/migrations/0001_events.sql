-- Every event of eams.events, one row each, written together with its log position.
-- non_replicated_deduplication_window lets the projector retry a batch with the same
-- insert_deduplication_token after a crash: rows already written are skipped, and the
-- materialized views below (deduplicated with the same token) fill whatever they missed.
CREATE TABLE IF NOT EXISTS events
(
    event_id          UUID,
    event_type        LowCardinality(String),
    schema_version    UInt16,
    occurred_at       DateTime64(3, 'Asia/Shanghai'),
    recorded_at       DateTime64(3, 'Asia/Shanghai'),
    region            LowCardinality(String),
    -- 1 for a statistical development zone (GB/T 2260 codes xx7x): accepted, but flagged
    region_is_statistical_zone UInt8,
    city              LowCardinality(String),
    aggregate_id      String,
    source            LowCardinality(String),
    actor             String,
    correlation_id    String,
    causation_id      String,
    person_id         String,
    household_id      String,
    target_group      LowCardinality(String),
    status            LowCardinality(String),
    enterprise        String,
    laid_off          UInt32,
    headcount_before  UInt32,
    disaster_id       String,
    disaster_kind     LowCardinality(String),
    severity          LowCardinality(String),
    disaster_regions  Array(String),
    disaster_cities   Array(String),
    amount            Float64,
    payload           String CODEC(ZSTD(3)),
    kafka_partition   UInt16,
    kafka_offset      UInt64,
    projected_at      DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3)
)
ENGINE = MergeTree
-- Yearly partitions: imports of historical notices (US WARN data reaches back to 1999)
-- put decades into one insert, and ClickHouse refuses more than 100 partitions per block.
PARTITION BY toYear(occurred_at)
ORDER BY (event_type, region, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Write-ahead record of each batch: written before the batch's rows, so a restart knows
-- the exact range (and so the exact deduplication token) of a batch that may be half done.
CREATE TABLE IF NOT EXISTS projection_positions
(
    projector       LowCardinality(String),
    topic           LowCardinality(String),
    partition       UInt16,
    first_offset    UInt64,
    last_offset     UInt64,
    rows            UInt32,
    written_at      DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (projector, topic, partition, last_offset);
