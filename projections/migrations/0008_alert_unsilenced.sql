-- An alert's silence can be ended before its time (alert.unsilenced): the latest of its
-- alert.silenced (until) and alert.unsilenced (now) events says until when it is silenced.
-- silenced_until kept the largest `until` ever given, so an ended silence still showed.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS
    silence_end AggregateFunction(argMaxIf, DateTime64(3, 'Asia/Shanghai'),
                                  Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8)
    AFTER silenced_until;

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
    argMaxIfState(if(event_type = 'alert.silenced',
                     parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'until'), 3, 'Asia/Shanghai'),
                     occurred_at),
                  (occurred_at, kafka_offset),
                  toUInt8(event_type IN ('alert.silenced', 'alert.unsilenced'))) AS silence_end,
    maxIf(occurred_at, event_type = 'alert.inhibited') AS inhibited_at,
    maxIf(occurred_at, event_type = 'alert.inhibition_ended') AS inhibition_ended_at,
    count() AS events
FROM events
WHERE event_type LIKE 'alert.%'
GROUP BY aggregate_id;

-- The alerts projected before: their silences, from the log (only the new column; the
-- other columns' defaults merge away: every read takes anyIf(…, != '') and max/min).
INSERT INTO alerts (alert_id, silence_end)
SELECT aggregate_id AS alert_id,
       argMaxIfState(if(event_type = 'alert.silenced',
                        parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'until'), 3, 'Asia/Shanghai'),
                        occurred_at),
                     (occurred_at, kafka_offset),
                     toUInt8(event_type IN ('alert.silenced', 'alert.unsilenced'))) AS silence_end
FROM events
WHERE event_type IN ('alert.silenced', 'alert.unsilenced')
GROUP BY aggregate_id;
