-- Contingency-playbook runs, their steps, and temporary assistance, from the events.
-- Latest-wins values are argMaxIf states over (occurred_at, kafka_offset): late and
-- out-of-order events are normal, and a run's events share one partition (keyed by
-- run_id), so the offset orders events of the same instant. Values that never change
-- within a key (a run's playbook, area, trigger) are SimpleAggregateFunction(max, String):
-- a batch without the event that sets them writes '', which max never prefers.
-- Times that may not have happened yet are max with the epoch as "never" (the queries
-- turn it into None); first times are min over Nullable, so "never" cannot win.
CREATE TABLE IF NOT EXISTS playbook_runs
(
    run_id           String,
    playbook_id      SimpleAggregateFunction(max, String),
    area             SimpleAggregateFunction(max, String),
    region           SimpleAggregateFunction(max, String),
    city             SimpleAggregateFunction(max, String),
    level            AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    drill            SimpleAggregateFunction(max, UInt8),
    trigger_alert_id SimpleAggregateFunction(max, String),
    disaster_id      SimpleAggregateFunction(max, String),
    proposed_at      SimpleAggregateFunction(min, Nullable(DateTime64(3, 'Asia/Shanghai'))),
    activated_at     SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    activated_by     AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    declined_at      SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    declined_by      AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    decline_reason   AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    closed_at        SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    closed_by        AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    forced           SimpleAggregateFunction(max, UInt8),
    close_reason     AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    outcome          AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    -- the after-action report as the JSON text of the closing event's payload.report
    report           AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    notes            SimpleAggregateFunction(sum, UInt64),
    first_event_at   SimpleAggregateFunction(min, DateTime64(3, 'Asia/Shanghai')),
    last_event_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    events           SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY run_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_playbook_runs TO playbook_runs AS
SELECT
    aggregate_id AS run_id,
    maxIf(JSONExtractString(payload, 'playbook_id'),
          event_type IN ('playbook.proposed', 'playbook.activated', 'playbook.declined')) AS playbook_id,
    -- events.region: the bare name would be the alias `region` below (an aggregate)
    maxIf(if(JSONExtractString(payload, 'area') != '', JSONExtractString(payload, 'area'),
             toString(events.region)),
          event_type = 'playbook.proposed') AS area,
    max(toString(region)) AS region,
    max(toString(city)) AS city,
    argMaxIfState(JSONExtractString(payload, 'level'), (occurred_at, kafka_offset),
                  toUInt8(event_type IN ('playbook.proposed', 'playbook.activated')
                          AND JSONExtractString(payload, 'level') != '')) AS level,
    maxIf(JSONExtractBool(payload, 'drill'),
          event_type IN ('playbook.proposed', 'playbook.activated')) AS drill,
    maxIf(JSONExtractString(payload, 'trigger_alert_id'), event_type = 'playbook.proposed') AS trigger_alert_id,
    maxIf(disaster_id, event_type = 'playbook.proposed') AS disaster_id,
    minIfOrNull(occurred_at, event_type = 'playbook.proposed') AS proposed_at,
    maxIf(occurred_at, event_type = 'playbook.activated') AS activated_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.activated')) AS activated_by,
    maxIf(occurred_at, event_type = 'playbook.declined') AS declined_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.declined')) AS declined_by,
    argMaxIfState(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.declined')) AS decline_reason,
    maxIf(occurred_at, event_type = 'playbook.closed') AS closed_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS closed_by,
    maxIf(JSONExtractBool(payload, 'forced'), event_type = 'playbook.closed') AS forced,
    argMaxIfState(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS close_reason,
    argMaxIfState(JSONExtractString(payload, 'outcome'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS outcome,
    argMaxIfState(JSONExtractRaw(payload, 'report'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS report,
    countIf(event_type = 'playbook.note_added') AS notes,
    min(occurred_at) AS first_event_at,
    max(occurred_at) AS last_event_at,
    count() AS events
FROM events
WHERE event_type LIKE 'playbook.%'
GROUP BY aggregate_id;

-- Backfill from the events a store upgraded to this version already holds (the view only
-- sees new inserts). Only while playbook_runs is empty: a migration interrupted after
-- this statement and run again does not count anything twice. INSERT ... SELECT takes
-- columns by position: the SELECT is the view's, which lists them in the table's order.
INSERT INTO playbook_runs
SELECT
    aggregate_id AS run_id,
    maxIf(JSONExtractString(payload, 'playbook_id'),
          event_type IN ('playbook.proposed', 'playbook.activated', 'playbook.declined')) AS playbook_id,
    -- events.region: the bare name would be the alias `region` below (an aggregate)
    maxIf(if(JSONExtractString(payload, 'area') != '', JSONExtractString(payload, 'area'),
             toString(events.region)),
          event_type = 'playbook.proposed') AS area,
    max(toString(region)) AS region,
    max(toString(city)) AS city,
    argMaxIfState(JSONExtractString(payload, 'level'), (occurred_at, kafka_offset),
                  toUInt8(event_type IN ('playbook.proposed', 'playbook.activated')
                          AND JSONExtractString(payload, 'level') != '')) AS level,
    maxIf(JSONExtractBool(payload, 'drill'),
          event_type IN ('playbook.proposed', 'playbook.activated')) AS drill,
    maxIf(JSONExtractString(payload, 'trigger_alert_id'), event_type = 'playbook.proposed') AS trigger_alert_id,
    maxIf(disaster_id, event_type = 'playbook.proposed') AS disaster_id,
    minIfOrNull(occurred_at, event_type = 'playbook.proposed') AS proposed_at,
    maxIf(occurred_at, event_type = 'playbook.activated') AS activated_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.activated')) AS activated_by,
    maxIf(occurred_at, event_type = 'playbook.declined') AS declined_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.declined')) AS declined_by,
    argMaxIfState(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.declined')) AS decline_reason,
    maxIf(occurred_at, event_type = 'playbook.closed') AS closed_at,
    argMaxIfState(actor, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS closed_by,
    maxIf(JSONExtractBool(payload, 'forced'), event_type = 'playbook.closed') AS forced,
    argMaxIfState(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS close_reason,
    argMaxIfState(JSONExtractString(payload, 'outcome'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS outcome,
    argMaxIfState(JSONExtractRaw(payload, 'report'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.closed')) AS report,
    countIf(event_type = 'playbook.note_added') AS notes,
    min(occurred_at) AS first_event_at,
    max(occurred_at) AS last_event_at,
    count() AS events
FROM events
WHERE (event_type LIKE 'playbook.%')
  AND (SELECT count() FROM playbook_runs) = 0
GROUP BY aggregate_id;

-- One row state per (run, step). An assignment without an assignee or a deadline keeps
-- the previous one (as the run aggregate does); otherwise the latest assignment wins.
CREATE TABLE IF NOT EXISTS playbook_steps
(
    run_id           String,
    step_id          String,
    owner_role       AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    assignee         AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    due_at           AggregateFunction(argMaxIf, DateTime64(3, 'Asia/Shanghai'), Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    assigned_at      SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    assignments      SimpleAggregateFunction(sum, UInt64),
    completed_at     SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    -- payload completed_by, else the envelope's actor
    completed_by     AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    outcome          AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    note             AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    evidence         AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    -- JSON text of payload.counts of the completion
    counts           AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    overdue_at       SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    overdue_due_at   SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    notes            SimpleAggregateFunction(sum, UInt64),
    -- step order: first event of the step, then its log position (one partition per run)
    first_event_at   SimpleAggregateFunction(min, DateTime64(3, 'Asia/Shanghai')),
    first_offset     SimpleAggregateFunction(min, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (run_id, step_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_playbook_steps TO playbook_steps AS
SELECT
    aggregate_id AS run_id,
    JSONExtractString(payload, 'step_id') AS step_id,
    argMaxIfState(JSONExtractString(payload, 'owner_role'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_assigned')) AS owner_role,
    argMaxIfState(JSONExtractString(payload, 'assignee'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_assigned'
                          AND JSONExtractString(payload, 'assignee') != '')) AS assignee,
    argMaxIfState(parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'due_at'), 3, 'Asia/Shanghai'),
                  (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_assigned'
                          AND JSONExtractString(payload, 'due_at') != '')) AS due_at,
    maxIf(occurred_at, event_type = 'playbook.step_assigned') AS assigned_at,
    countIf(event_type = 'playbook.step_assigned') AS assignments,
    maxIf(occurred_at, event_type = 'playbook.step_completed') AS completed_at,
    argMaxIfState(if(JSONExtractString(payload, 'completed_by') != '',
                     JSONExtractString(payload, 'completed_by'), actor),
                  (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS completed_by,
    argMaxIfState(JSONExtractString(payload, 'outcome'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS outcome,
    argMaxIfState(JSONExtractString(payload, 'note'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS note,
    argMaxIfState(JSONExtractString(payload, 'evidence'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS evidence,
    argMaxIfState(JSONExtractRaw(payload, 'counts'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS counts,
    maxIf(occurred_at, event_type = 'playbook.step_overdue') AS overdue_at,
    maxIf(parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'due_at'), 3, 'Asia/Shanghai'),
          event_type = 'playbook.step_overdue') AS overdue_due_at,
    countIf(event_type = 'playbook.note_added') AS notes,
    min(occurred_at) AS first_event_at,
    min(kafka_offset) AS first_offset
FROM events
WHERE event_type IN ('playbook.step_assigned', 'playbook.step_completed', 'playbook.step_overdue')
   OR (event_type = 'playbook.note_added' AND JSONExtractString(payload, 'step_id') != '')
GROUP BY aggregate_id, step_id;

-- Backfill from the events a store upgraded to this version already holds (the view only
-- sees new inserts). Only while playbook_steps is empty: a migration interrupted after
-- this statement and run again does not count anything twice. INSERT ... SELECT takes
-- columns by position: the SELECT is the view's, which lists them in the table's order.
INSERT INTO playbook_steps
SELECT
    aggregate_id AS run_id,
    JSONExtractString(payload, 'step_id') AS step_id,
    argMaxIfState(JSONExtractString(payload, 'owner_role'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_assigned')) AS owner_role,
    argMaxIfState(JSONExtractString(payload, 'assignee'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_assigned'
                          AND JSONExtractString(payload, 'assignee') != '')) AS assignee,
    argMaxIfState(parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'due_at'), 3, 'Asia/Shanghai'),
                  (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_assigned'
                          AND JSONExtractString(payload, 'due_at') != '')) AS due_at,
    maxIf(occurred_at, event_type = 'playbook.step_assigned') AS assigned_at,
    countIf(event_type = 'playbook.step_assigned') AS assignments,
    maxIf(occurred_at, event_type = 'playbook.step_completed') AS completed_at,
    argMaxIfState(if(JSONExtractString(payload, 'completed_by') != '',
                     JSONExtractString(payload, 'completed_by'), actor),
                  (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS completed_by,
    argMaxIfState(JSONExtractString(payload, 'outcome'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS outcome,
    argMaxIfState(JSONExtractString(payload, 'note'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS note,
    argMaxIfState(JSONExtractString(payload, 'evidence'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS evidence,
    argMaxIfState(JSONExtractRaw(payload, 'counts'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'playbook.step_completed')) AS counts,
    maxIf(occurred_at, event_type = 'playbook.step_overdue') AS overdue_at,
    maxIf(parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'due_at'), 3, 'Asia/Shanghai'),
          event_type = 'playbook.step_overdue') AS overdue_due_at,
    countIf(event_type = 'playbook.note_added') AS notes,
    min(occurred_at) AS first_event_at,
    min(kafka_offset) AS first_offset
FROM events
WHERE (event_type IN ('playbook.step_assigned', 'playbook.step_completed', 'playbook.step_overdue')
   OR (event_type = 'playbook.note_added' AND JSONExtractString(payload, 'step_id') != ''))
  AND (SELECT count() FROM playbook_steps) = 0
GROUP BY aggregate_id, step_id;

-- Temporary assistance per person: the latest enrolment wins; the person's assistance has
-- ended when their latest temporary_assistance.ended is later than that enrolment.
-- starts_on / ends_on / ended_on are the payload's ISO dates ('' when not given).
CREATE TABLE IF NOT EXISTS temporary_assistance
(
    person_id        String,
    region           AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    city             AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    run_id           AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    disaster_id      AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    starts_on        AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    ends_on          AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    first_enrolled_at SimpleAggregateFunction(min, Nullable(DateTime64(3, 'Asia/Shanghai'))),
    enrolled_at      SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    enrolments       SimpleAggregateFunction(sum, UInt64),
    ended_at         SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    ended_on         AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8),
    end_reason       AggregateFunction(argMaxIf, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64), UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY person_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_temporary_assistance TO temporary_assistance AS
SELECT
    person_id,
    argMaxIfState(toString(region), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS region,
    argMaxIfState(toString(city), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS city,
    argMaxIfState(JSONExtractString(payload, 'playbook_run_id'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS run_id,
    argMaxIfState(disaster_id, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS disaster_id,
    argMaxIfState(JSONExtractString(payload, 'starts_on'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS starts_on,
    argMaxIfState(JSONExtractString(payload, 'ends_on'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS ends_on,
    minIfOrNull(occurred_at, event_type = 'temporary_assistance.enrolled') AS first_enrolled_at,
    maxIf(occurred_at, event_type = 'temporary_assistance.enrolled') AS enrolled_at,
    countIf(event_type = 'temporary_assistance.enrolled') AS enrolments,
    maxIf(occurred_at, event_type = 'temporary_assistance.ended') AS ended_at,
    argMaxIfState(JSONExtractString(payload, 'ended_on'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.ended')) AS ended_on,
    argMaxIfState(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.ended')) AS end_reason
FROM events
WHERE event_type IN ('temporary_assistance.enrolled', 'temporary_assistance.ended')
  AND person_id != ''
GROUP BY person_id;

-- Backfill from the events a store upgraded to this version already holds (the view only
-- sees new inserts). Only while temporary_assistance is empty: a migration interrupted after
-- this statement and run again does not count anything twice. INSERT ... SELECT takes
-- columns by position: the SELECT is the view's, which lists them in the table's order.
INSERT INTO temporary_assistance
SELECT
    person_id,
    argMaxIfState(toString(region), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS region,
    argMaxIfState(toString(city), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS city,
    argMaxIfState(JSONExtractString(payload, 'playbook_run_id'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS run_id,
    argMaxIfState(disaster_id, (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS disaster_id,
    argMaxIfState(JSONExtractString(payload, 'starts_on'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS starts_on,
    argMaxIfState(JSONExtractString(payload, 'ends_on'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.enrolled')) AS ends_on,
    minIfOrNull(occurred_at, event_type = 'temporary_assistance.enrolled') AS first_enrolled_at,
    maxIf(occurred_at, event_type = 'temporary_assistance.enrolled') AS enrolled_at,
    countIf(event_type = 'temporary_assistance.enrolled') AS enrolments,
    maxIf(occurred_at, event_type = 'temporary_assistance.ended') AS ended_at,
    argMaxIfState(JSONExtractString(payload, 'ended_on'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.ended')) AS ended_on,
    argMaxIfState(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  toUInt8(event_type = 'temporary_assistance.ended')) AS end_reason
FROM events
WHERE (event_type IN ('temporary_assistance.enrolled', 'temporary_assistance.ended')
  AND person_id != '')
  AND (SELECT count() FROM temporary_assistance) = 0
GROUP BY person_id;
