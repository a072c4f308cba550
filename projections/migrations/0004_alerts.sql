-- Current state of every alert, from its alert.* events (the lifecycle is in the log).
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id        String,
    rule            SimpleAggregateFunction(any, String),
    region          SimpleAggregateFunction(any, String),
    city            SimpleAggregateFunction(any, String),
    indicator       SimpleAggregateFunction(any, String),
    summary         SimpleAggregateFunction(any, String),
    level           AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    value           AggregateFunction(argMaxIf, Float64, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    threshold       AggregateFunction(argMaxIf, Float64, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    firing_since    SimpleAggregateFunction(min, Nullable(DateTime64(3, 'Asia/Shanghai'))),
    resolved_at     SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    acknowledged_at SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    acknowledged_by AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    ack_note        AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    silenced_until  SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    inhibited_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    events          SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY alert_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_alerts TO alerts AS
SELECT
    aggregate_id AS alert_id,
    anyIf(JSONExtractString(payload, 'rule'), JSONExtractString(payload, 'rule') != '') AS rule,
    any(toString(region)) AS region,
    any(toString(city)) AS city,
    anyIf(JSONExtractString(payload, 'indicator'), event_type = 'alert.raised') AS indicator,
    anyIf(JSONExtractString(payload, 'summary'), event_type = 'alert.raised') AS summary,
    argMaxIfState(JSONExtractString(payload, 'level'), (occurred_at, kafka_offset),
                  toUInt8(event_type IN ('alert.raised', 'alert.level_changed'))) AS level,
    argMaxIfState(JSONExtractFloat(payload, 'value'), (occurred_at, kafka_offset),
                  toUInt8(event_type IN ('alert.raised', 'alert.level_changed'))) AS value,
    argMaxIfState(JSONExtractFloat(payload, 'threshold'), (occurred_at, kafka_offset),
                  toUInt8(event_type IN ('alert.raised', 'alert.level_changed'))) AS threshold,
    minIfOrNull(occurred_at, event_type = 'alert.raised') AS firing_since,
    maxIf(occurred_at, event_type = 'alert.resolved') AS resolved_at,
    maxIf(occurred_at, event_type = 'alert.acknowledged') AS acknowledged_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'alert.acknowledged')) AS acknowledged_by,
    argMaxIfState(JSONExtractString(payload, 'note'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'alert.acknowledged')) AS ack_note,
    maxIf(parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'until'), 3, 'Asia/Shanghai'),
          event_type = 'alert.silenced') AS silenced_until,
    maxIf(occurred_at, event_type = 'alert.inhibited') AS inhibited_at,
    count() AS events
FROM events
WHERE event_type LIKE 'alert.%'
GROUP BY aggregate_id;
