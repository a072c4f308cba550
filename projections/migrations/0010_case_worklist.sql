-- Case officers' worklists at provincial scale (issue 12: caseload and due-visit reads
-- p95 <= 100 ms over 1,000,000 persons). The ledger (0009) is ordered by person, so an
-- officer's ~300 persons lie in ~300 granules of it and each of its 29 aggregate columns
-- costs ~8 ms there (benchmarks/caseload.py, README). case_worklist holds each case's
-- current values, finalised, once under every key it was ever found by (officer, office,
-- region, city): an officer's list is one key range of it. projections.worklist keeps it:
-- the projector tells it which persons a batch touched, it reads their ledger rows and
-- writes them again under each of their keys with a newer version (ReplacingMergeTree:
-- the newest row of a (key, person) wins). A row under a former officer holds the current
-- officer, so readers check the row's values, as they checked the ledger's.
--
-- The keys a person was ever found by are now a ledger column (keys_ever), so the
-- worklist writes a handed-over case again under its former officer's key too.

ALTER TABLE case_ledger
    ADD COLUMN IF NOT EXISTS keys_ever SimpleAggregateFunction(groupUniqArrayArray, Array(Tuple(String, String)));

DROP VIEW IF EXISTS mv_case_ledger;

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
    count() AS events,
    groupUniqArrayArray(arrayFilter(e -> e.2 != '', multiIf(
        event_type IN ('case.assigned', 'case.handed_over'),
            [('officer', JSONExtractString(payload, 'officer')),
             ('office', JSONExtractString(payload, 'office'))],
        event_type IN ('person.registered', 'person.recognized', 'lead.discovered'),
            [('region', toString(events.region)), ('city', toString(events.city))],
        CAST([], 'Array(Tuple(String, String))')))) AS keys_ever
FROM events
WHERE person_id != ''
GROUP BY person_id;

-- The keys of the cases projected before this migration (case_index holds every key).
INSERT INTO case_ledger (person_id, keys_ever)
SELECT person_id, groupUniqArray((dimension, key)) FROM case_index GROUP BY person_id;

CREATE TABLE IF NOT EXISTS case_worklist
(
    dimension            LowCardinality(String),
    key                  String,
    person_id            String,
    version              UInt64,
    region               String,
    city                 String,
    household_id         String,
    applied_group        String,
    national_id_masked   String,
    name_masked          String,
    phone_masked         String,
    registered_on        Date,
    office               String,
    officer              String,
    owner_since          DateTime64(3, 'Asia/Shanghai'),
    visit_due            Date,
    visit_basis          String,
    last_visit           Date,
    last_contact         Date,
    plan_active          UInt8,
    plan_id              String,
    plan_version         UInt32,
    review_due           Date,
    unjustified_refusals UInt64,
    placed_on            Date,
    exited_on            Date,
    exit_reason          String,
    discovered_at        DateTime64(3, 'Asia/Shanghai'),
    last_event_at        DateTime64(3, 'Asia/Shanghai'),
    events               UInt64,
    groups               Array(String)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (dimension, key, person_id);
