-- Inhibition can end (the parent alert resolved, the playbook run closed): an alert is
-- inhibited while its latest alert.inhibited is later than its latest alert.inhibition_ended.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS
    inhibition_ended_at SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')) AFTER inhibited_at;

DROP VIEW IF EXISTS mv_alerts;

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
    maxIf(occurred_at, event_type = 'alert.inhibition_ended') AS inhibition_ended_at,
    count() AS events
FROM events
WHERE event_type LIKE 'alert.%'
GROUP BY aggregate_id;
