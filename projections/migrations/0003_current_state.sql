-- Current state of disaster areas, persons and households: the latest event by
-- occurred_at wins (late and out-of-order events are normal), ties broken by log order.
CREATE TABLE IF NOT EXISTS disaster_area_state
(
    region        LowCardinality(String),
    disaster_id   String,
    city          SimpleAggregateFunction(any, String),
    active        AggregateFunction(argMax, UInt8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    kind          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    severity      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    since         SimpleAggregateFunction(min, DateTime64(3, 'Asia/Shanghai')),
    changed_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    flagged_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY (region, disaster_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_disaster_area_state TO disaster_area_state AS
SELECT
    flagged AS region,
    disaster_id,
    any(flagged_city) AS city,
    argMaxState(toUInt8(event_type != 'disaster_area.cleared'), (occurred_at, kafka_offset)) AS active,
    argMaxState(toString(disaster_kind), (occurred_at, kafka_offset)) AS kind,
    argMaxState(toString(severity), (occurred_at, kafka_offset)) AS severity,
    min(occurred_at) AS since,
    max(occurred_at) AS changed_at,
    maxIf(occurred_at, event_type != 'disaster_area.cleared') AS flagged_at
FROM events
ARRAY JOIN disaster_regions AS flagged, disaster_cities AS flagged_city
WHERE event_type IN ('disaster_area.flagged', 'disaster_area.updated', 'disaster_area.cleared')
GROUP BY flagged, disaster_id;

-- A clear that names no regions clears every region of its disaster, including regions
-- whose flag arrives after the clear (offices report late): the queries compare times.
CREATE TABLE IF NOT EXISTS disaster_clears
(
    disaster_id   String,
    cleared_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY disaster_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_disaster_clears TO disaster_clears AS
SELECT disaster_id, max(occurred_at) AS cleared_at
FROM events
WHERE event_type = 'disaster_area.cleared' AND empty(disaster_regions)
GROUP BY disaster_id;

CREATE TABLE IF NOT EXISTS persons
(
    person_id       String,
    region          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city            AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    target_group    AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    status          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    household_id    AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    registered_at   SimpleAggregateFunction(min, DateTime64(3, 'Asia/Shanghai')),
    last_event_at   SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    events          SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY person_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Region, group and status come only from the events that set them; a service or visit
-- touches last_event_at and events but never blanks what registration recorded.
CREATE MATERIALIZED VIEW IF NOT EXISTS mv_persons TO persons AS
SELECT
    person_id,
    argMaxStateIf(toString(region), (occurred_at, kafka_offset),
                  event_type IN ('person.registered', 'person.recognized')) AS region,
    argMaxStateIf(toString(city), (occurred_at, kafka_offset),
                  event_type IN ('person.registered', 'person.recognized')) AS city,
    argMaxStateIf(toString(target_group), (occurred_at, kafka_offset), target_group != '') AS target_group,
    argMaxStateIf(toString(status), (occurred_at, kafka_offset), status != '') AS status,
    argMaxStateIf(household_id, (occurred_at, kafka_offset), household_id != '') AS household_id,
    minIf(occurred_at, event_type = 'person.registered') AS registered_at,
    max(occurred_at) AS last_event_at,
    count() AS events
FROM events
WHERE person_id != ''
GROUP BY person_id;

CREATE TABLE IF NOT EXISTS households
(
    household_id     String,
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    zero_employment  AggregateFunction(argMax, UInt8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    changed_at       SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY household_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_households TO households AS
SELECT
    household_id,
    argMaxState(toString(region), (occurred_at, kafka_offset)) AS region,
    argMaxState(toUInt8(event_type = 'household.zero_employment_identified'),
                (occurred_at, kafka_offset)) AS zero_employment,
    max(occurred_at) AS changed_at
FROM events
WHERE event_type IN ('household.zero_employment_identified', 'household.zero_employment_cleared')
  AND household_id != ''
GROUP BY household_id;
