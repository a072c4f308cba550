-- The case ledger (援助台账) as read models over `events`: one row per person (case_ledger),
-- the groups each person is recognised in now (case_groups), an index of who and where each
-- case belongs to (case_index), every event of a person in log order (case_timeline), the
-- leads of active discovery (case_leads) and the zero-employment households' clearing
-- (zero_employment_households). As in 0003, the latest event by (occurred_at, kafka_offset)
-- wins; case fields the typed columns of `events` lack are read from `payload` here.
--
-- Scale (issue 12: caseload and due-visit reads p95 <= 100 ms over 1,000,000 persons): the
-- per-person state is keyed by person_id, so an officer's or a region's reads start from
-- case_index, ordered by (dimension, key, person_id): the candidates of one officer, office,
-- region or city are one range of it, and the ledger is then read only at those persons
-- (its small granules keep that read near the candidates' own rows). An index row is never
-- retracted (a handover leaves the old officer's row): the queries verify each candidate
-- against the ledger's current officer or region.

CREATE TABLE IF NOT EXISTS case_ledger
(
    person_id           String,
    region              AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city                AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    household_id        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    applied_group       AggregateFunction(argMin, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    national_id_masked  AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    name_masked         AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    phone_masked        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    registered_on       AggregateFunction(argMin, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    discovered_at       SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    -- first-inquiry responsibility: the first assignment owns the case until a handover
    first_office        AggregateFunction(argMin, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    first_officer       AggregateFunction(argMin, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    assigned_at         AggregateFunction(argMin, DateTime64(3, 'Asia/Shanghai'), Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    handed_office       AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    handed_officer      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    handed_at           SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    visit_due           AggregateFunction(argMax, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    visit_basis         AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    last_visit          SimpleAggregateFunction(max, Date),
    last_contact        SimpleAggregateFunction(max, Date),
    plan_id             AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    plan_version        AggregateFunction(argMax, UInt32, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    review_due          AggregateFunction(argMax, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    plan_active         AggregateFunction(argMax, UInt8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    unjustified_refusals SimpleAggregateFunction(sum, UInt64),
    placed_on           SimpleAggregateFunction(max, Date),
    exited_on           SimpleAggregateFunction(max, Date),
    exit_reason         AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    last_event_at       SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    events              SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY person_id
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000;

-- A contact (for the silent list) is what the case aggregate counts as one
-- (cases.case_state): a visit that reached the person, a service delivered, a plan agreed or
-- revised, a placement, a referral, a training enrolment, a lead contacted. A visit counts
-- on the day it was made; the others on the day they occurred.
CREATE MATERIALIZED VIEW IF NOT EXISTS mv_case_ledger TO case_ledger AS
SELECT
    person_id,
    argMaxStateIf(toString(region), (occurred_at, kafka_offset),
                  event_type IN ('person.registered', 'person.recognized', 'lead.discovered')) AS region,
    argMaxStateIf(toString(city), (occurred_at, kafka_offset),
                  event_type IN ('person.registered', 'person.recognized', 'lead.discovered')) AS city,
    argMaxStateIf(household_id, (occurred_at, kafka_offset), household_id != '') AS household_id,
    argMinStateIf(toString(target_group), (occurred_at, kafka_offset),
                  event_type = 'person.registered') AS applied_group,
    argMaxStateIf(JSONExtractString(payload, 'national_id_masked'), (occurred_at, kafka_offset),
                  JSONExtractString(payload, 'national_id_masked') != '') AS national_id_masked,
    argMaxStateIf(JSONExtractString(payload, 'name_masked'), (occurred_at, kafka_offset),
                  JSONExtractString(payload, 'name_masked') != '') AS name_masked,
    argMaxStateIf(JSONExtractString(payload, 'phone_masked'), (occurred_at, kafka_offset),
                  JSONExtractString(payload, 'phone_masked') != '') AS phone_masked,
    argMinStateIf(ifNull(toDateOrNull(JSONExtractString(payload, 'registered_on')), toDate(occurred_at)),
                  (occurred_at, kafka_offset), event_type = 'person.registered') AS registered_on,
    maxIf(occurred_at, event_type = 'lead.discovered') AS discovered_at,
    argMinStateIf(JSONExtractString(payload, 'office'), (occurred_at, kafka_offset),
                  event_type = 'case.assigned') AS first_office,
    argMinStateIf(JSONExtractString(payload, 'officer'), (occurred_at, kafka_offset),
                  event_type = 'case.assigned') AS first_officer,
    argMinStateIf(occurred_at, (occurred_at, kafka_offset), event_type = 'case.assigned') AS assigned_at,
    argMaxStateIf(JSONExtractString(payload, 'office'), (occurred_at, kafka_offset),
                  event_type = 'case.handed_over') AS handed_office,
    argMaxStateIf(JSONExtractString(payload, 'officer'), (occurred_at, kafka_offset),
                  event_type = 'case.handed_over') AS handed_officer,
    maxIf(occurred_at, event_type = 'case.handed_over') AS handed_at,
    argMaxStateIf(toDateOrZero(JSONExtractString(payload, 'due_on')), (occurred_at, kafka_offset),
                  event_type = 'visit.scheduled') AS visit_due,
    argMaxStateIf(JSONExtractString(payload, 'basis'), (occurred_at, kafka_offset),
                  event_type = 'visit.scheduled') AS visit_basis,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'visited_on')), toDate(occurred_at)),
          event_type = 'visit.recorded') AS last_visit,
    max(multiIf(
        event_type = 'visit.recorded' AND JSONExtractString(payload, 'outcome') != 'not_reached',
            ifNull(toDateOrNull(JSONExtractString(payload, 'visited_on')), toDate(occurred_at)),
        event_type IN ('service.delivered', 'plan.agreed', 'plan.revised', 'placement.recorded',
                       'referral.made', 'training.enrolled', 'lead.contacted'),
            toDate(occurred_at),
        toDate(0))) AS last_contact,
    argMaxStateIf(JSONExtractString(payload, 'plan_id'), (occurred_at, kafka_offset),
                  event_type IN ('plan.agreed', 'plan.revised')) AS plan_id,
    argMaxStateIf(toUInt32(greatest(JSONExtractUInt(payload, 'version'), 1)), (occurred_at, kafka_offset),
                  event_type IN ('plan.agreed', 'plan.revised')) AS plan_version,
    argMaxStateIf(toDateOrZero(JSONExtractString(payload, 'review_due')), (occurred_at, kafka_offset),
                  event_type IN ('plan.agreed', 'plan.revised')) AS review_due,
    argMaxStateIf(toUInt8(event_type IN ('plan.agreed', 'plan.revised')), (occurred_at, kafka_offset),
                  event_type IN ('plan.agreed', 'plan.revised', 'plan.ended', 'person.exited')) AS plan_active,
    countIf(event_type = 'service.refused' AND NOT JSONExtractBool(payload, 'justified')) AS unjustified_refusals,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'started_on')), toDate(occurred_at)),
          event_type = 'placement.recorded') AS placed_on,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'exited_on')), toDate(occurred_at)),
          event_type = 'person.exited') AS exited_on,
    argMaxStateIf(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  event_type = 'person.exited') AS exit_reason,
    max(occurred_at) AS last_event_at,
    count() AS events
FROM events
WHERE person_id != ''
GROUP BY person_id;

CREATE TABLE IF NOT EXISTS case_groups
(
    person_id     String,
    target_group  LowCardinality(String),
    recognised    AggregateFunction(argMax, UInt8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    since         AggregateFunction(argMax, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    rule_set      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    rule_id       AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    changed_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY (person_id, target_group)
SETTINGS non_replicated_deduplication_window = 10000;

-- Recognised now: the latest of a group's recognitions and revocations is a recognition.
CREATE MATERIALIZED VIEW IF NOT EXISTS mv_case_groups TO case_groups AS
SELECT
    person_id,
    target_group,
    argMaxState(toUInt8(event_type = 'person.recognized'), (occurred_at, kafka_offset)) AS recognised,
    argMaxStateIf(ifNull(toDateOrNull(JSONExtractString(payload, 'recognised_on')), toDate(occurred_at)),
                  (occurred_at, kafka_offset), event_type = 'person.recognized') AS since,
    argMaxStateIf(coalesce(nullIf(JSONExtractString(payload, 'rule_set'), ''),
                           JSONExtractString(payload, 'rule_ref')),
                  (occurred_at, kafka_offset), event_type = 'person.recognized') AS rule_set,
    argMaxStateIf(JSONExtractString(payload, 'rule_id'), (occurred_at, kafka_offset),
                  event_type = 'person.recognized') AS rule_id,
    max(occurred_at) AS changed_at
FROM events
WHERE event_type IN ('person.recognized', 'person.recognition_revoked')
  AND person_id != '' AND target_group != ''
GROUP BY person_id, target_group;

-- Where each case may be found: ('officer' | 'office', who or which office took it over) from
-- assignments and handovers, ('region' | 'city', code) from registrations, recognitions and
-- discoveries. Candidates only: the queries check the ledger's current values.
CREATE TABLE IF NOT EXISTS case_index
(
    dimension  LowCardinality(String),
    key        String,
    person_id  String
)
ENGINE = ReplacingMergeTree
ORDER BY (dimension, key, person_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_case_index TO case_index AS
SELECT entry.1 AS dimension, entry.2 AS key, person_id
FROM events
ARRAY JOIN arrayFilter(e -> e.2 != '', if(
    event_type IN ('case.assigned', 'case.handed_over'),
    [('officer', JSONExtractString(payload, 'officer')), ('office', JSONExtractString(payload, 'office'))],
    [('region', toString(region)), ('city', toString(city))])) AS entry
WHERE person_id != ''
  AND event_type IN ('case.assigned', 'case.handed_over', 'person.registered', 'person.recognized',
                     'lead.discovered');

-- Every event of a person's own stream (aggregate_id = the pseudonym), in log order: one
-- stream is one partition, so its offsets are its order. A household's events that name a
-- member stay in the household's stream. The timeline, and who owned the case when.
CREATE TABLE IF NOT EXISTS case_timeline
(
    person_id        String,
    kafka_partition  UInt16,
    kafka_offset     UInt64,
    event_id         UUID,
    event_type       LowCardinality(String),
    occurred_at      DateTime64(3, 'Asia/Shanghai'),
    recorded_at      DateTime64(3, 'Asia/Shanghai'),
    region           LowCardinality(String),
    city             LowCardinality(String),
    source           LowCardinality(String),
    actor            String,
    payload          String CODEC(ZSTD(3))
)
ENGINE = MergeTree
ORDER BY (person_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_case_timeline TO case_timeline AS
SELECT person_id, kafka_partition, kafka_offset, event_id, event_type, occurred_at, recorded_at,
       region, city, source, actor, payload
FROM events
WHERE person_id != '' AND aggregate_id = person_id;

CREATE TABLE IF NOT EXISTS case_leads
(
    person_id        String,
    lead_id          String,
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city             AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    lead_source      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    suggested_group  AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    stage            AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    office           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    officer          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    decline_reason   AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    discovered_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    assigned_at      SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    contacted_at     SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    converted_at     SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    declined_at      SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY (person_id, lead_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_case_leads TO case_leads AS
SELECT
    person_id,
    JSONExtractString(payload, 'lead_id') AS lead_id,
    argMaxStateIf(toString(region), (occurred_at, kafka_offset), event_type = 'lead.discovered') AS region,
    argMaxStateIf(toString(city), (occurred_at, kafka_offset), event_type = 'lead.discovered') AS city,
    argMaxStateIf(JSONExtractString(payload, 'source'), (occurred_at, kafka_offset),
                  event_type = 'lead.discovered') AS lead_source,
    argMaxStateIf(JSONExtractString(payload, 'suggested_target_group'), (occurred_at, kafka_offset),
                  event_type = 'lead.discovered') AS suggested_group,
    argMaxState(replaceOne(toString(event_type), 'lead.', ''), (occurred_at, kafka_offset)) AS stage,
    argMaxStateIf(JSONExtractString(payload, 'office'), (occurred_at, kafka_offset),
                  event_type = 'lead.assigned') AS office,
    argMaxStateIf(JSONExtractString(payload, 'officer'), (occurred_at, kafka_offset),
                  event_type = 'lead.assigned') AS officer,
    argMaxStateIf(JSONExtractString(payload, 'reason'), (occurred_at, kafka_offset),
                  event_type = 'lead.declined') AS decline_reason,
    maxIf(occurred_at, event_type = 'lead.discovered') AS discovered_at,
    maxIf(occurred_at, event_type = 'lead.assigned') AS assigned_at,
    maxIf(occurred_at, event_type = 'lead.contacted') AS contacted_at,
    maxIf(occurred_at, event_type = 'lead.converted') AS converted_at,
    maxIf(occurred_at, event_type = 'lead.declined') AS declined_at
FROM events
WHERE event_type IN ('lead.discovered', 'lead.assigned', 'lead.contacted', 'lead.declined',
                     'lead.converted')
  AND person_id != '' AND JSONExtractString(payload, 'lead_id') != ''
GROUP BY person_id, lead_id;

-- The current episode of each zero-employment household: identified (open) until cleared;
-- a household identified again after a clearing opens a new episode. on_time is the
-- clearing event's own judgement (-1: it gave none; the queries compare with the deadline).
CREATE TABLE IF NOT EXISTS zero_employment_households
(
    household_id     String,
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city             AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    open             AggregateFunction(argMax, UInt8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    members          AggregateFunction(argMax, UInt32, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    identified_on    AggregateFunction(argMax, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    deadline         AggregateFunction(argMax, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    cleared_on       AggregateFunction(argMax, Date, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    on_time          AggregateFunction(argMax, Int8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    escalated_to     AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    escalated_at     SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    identified_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    changed_at       SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY household_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_zero_employment_households TO zero_employment_households AS
SELECT
    household_id,
    argMaxStateIf(toString(region), (occurred_at, kafka_offset),
                  event_type = 'household.zero_employment_identified') AS region,
    argMaxStateIf(toString(city), (occurred_at, kafka_offset),
                  event_type = 'household.zero_employment_identified') AS city,
    argMaxStateIf(toUInt8(event_type = 'household.zero_employment_identified'), (occurred_at, kafka_offset),
                  event_type != 'household.clearing_overdue') AS open,
    argMaxStateIf(toUInt32(JSONExtractUInt(payload, 'members_of_working_age')), (occurred_at, kafka_offset),
                  event_type = 'household.zero_employment_identified') AS members,
    argMaxStateIf(ifNull(toDateOrNull(JSONExtractString(payload, 'identified_on')), toDate(occurred_at)),
                  (occurred_at, kafka_offset), event_type = 'household.zero_employment_identified') AS identified_on,
    argMaxStateIf(toDateOrZero(JSONExtractString(payload, 'deadline')), (occurred_at, kafka_offset),
                  event_type IN ('household.zero_employment_identified', 'household.clearing_overdue')
                  AND JSONExtractString(payload, 'deadline') != '') AS deadline,
    argMaxStateIf(ifNull(toDateOrNull(JSONExtractString(payload, 'cleared_on')), toDate(occurred_at)),
                  (occurred_at, kafka_offset), event_type = 'household.zero_employment_cleared') AS cleared_on,
    argMaxStateIf(toInt8(if(JSONType(payload, 'on_time') = 'Bool', toInt8(JSONExtractBool(payload, 'on_time')), -1)),
                  (occurred_at, kafka_offset), event_type = 'household.zero_employment_cleared') AS on_time,
    argMaxStateIf(JSONExtractString(payload, 'escalated_to'), (occurred_at, kafka_offset),
                  event_type = 'household.clearing_overdue') AS escalated_to,
    maxIf(occurred_at, event_type = 'household.clearing_overdue') AS escalated_at,
    maxIf(occurred_at, event_type = 'household.zero_employment_identified') AS identified_at,
    max(occurred_at) AS changed_at
FROM events
WHERE event_type IN ('household.zero_employment_identified', 'household.zero_employment_cleared',
                     'household.clearing_overdue')
  AND household_id != ''
GROUP BY household_id
