-- The money (issue 13) as read models over `events`: one row per application
-- (money_applications), one per application and month (money_months: what is entitled,
-- paid, and so still due), and one per line of a payment batch (payment_batch_lines: what
-- the batch asked and what the bank answered). As in 0009 the latest event by
-- (occurred_at, kafka_offset) wins; amounts are read from the payload as decimals (the
-- typed `amount` column is a float).

CREATE TABLE IF NOT EXISTS money_applications
(
    application_id   String,
    person_id        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city             AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    subsidy          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    policy           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    status           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    version          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    applicant        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    approver         AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    account_ref      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    account_masked   AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    employer_uscc    AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    applied_on       SimpleAggregateFunction(max, Date),
    approved_on      SimpleAggregateFunction(max, Date),
    paid             SimpleAggregateFunction(sum, Decimal128(2)),
    ordered          SimpleAggregateFunction(sum, Decimal128(2)),
    recovered        SimpleAggregateFunction(sum, Decimal128(2)),
    last_event_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY application_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_money_applications TO money_applications AS
SELECT
    JSONExtractString(payload, 'application_id') AS application_id,
    argMaxState(toString(events.person_id), (occurred_at, kafka_offset)) AS person_id,
    argMaxState(toString(region), (occurred_at, kafka_offset)) AS region,
    argMaxState(toString(city), (occurred_at, kafka_offset)) AS city,
    argMaxState(JSONExtractString(payload, 'subsidy'), (occurred_at, kafka_offset)) AS subsidy,
    argMaxStateIf(JSONExtractString(payload, 'policy'), (occurred_at, kafka_offset),
                  JSONExtractString(payload, 'policy') != '') AS policy,
    argMaxStateIf(multiIf(event_type = 'subsidy.checked' AND NOT JSONExtractBool(payload, 'eligible'),
                          'not_eligible', replaceOne(toString(event_type), 'subsidy.', '')),
                  (occurred_at, kafka_offset),
                  event_type NOT IN ('subsidy.recovery_ordered', 'subsidy.recovered')) AS status,
    argMaxStateIf(JSONExtractString(payload, 'version'), (occurred_at, kafka_offset),
                  JSONExtractString(payload, 'version') != '') AS version,
    argMaxStateIf(actor, (occurred_at, kafka_offset), event_type = 'subsidy.applied') AS applicant,
    argMaxStateIf(actor, (occurred_at, kafka_offset), event_type = 'subsidy.approved') AS approver,
    argMaxStateIf(JSONExtractString(payload, 'payee_account_ref'), (occurred_at, kafka_offset),
                  event_type = 'subsidy.applied') AS account_ref,
    argMaxStateIf(JSONExtractString(payload, 'payee_account_masked'), (occurred_at, kafka_offset),
                  event_type = 'subsidy.applied') AS account_masked,
    argMaxStateIf(JSONExtractString(payload, 'facts', 'employer_uscc'), (occurred_at, kafka_offset),
                  event_type = 'subsidy.applied') AS employer_uscc,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'applied_on')), toDate(occurred_at)),
          event_type = 'subsidy.applied') AS applied_on,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'approved_on')), toDate(occurred_at)),
          event_type = 'subsidy.approved') AS approved_on,
    sumIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
          event_type = 'subsidy.paid') AS paid,
    sumIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
          event_type = 'subsidy.recovery_ordered') AS ordered,
    sumIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
          event_type = 'subsidy.recovered') AS recovered,
    max(occurred_at) AS last_event_at
FROM events
WHERE event_type LIKE 'subsidy.%' AND events.person_id != ''
  AND JSONExtractString(payload, 'application_id') != ''
GROUP BY application_id;

-- A month of an application: its entitlement (the latest for the month: a correction
-- replaces it) and what was paid for it. A payment without a month (a playbook's one-time
-- batch) counts for the month it was made in.
CREATE TABLE IF NOT EXISTS money_months
(
    application_id   String,
    month            String,
    person_id        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city             AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    subsidy          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    entitled         AggregateFunction(argMax, Decimal128(2), Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    entitled_at      SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    paid             SimpleAggregateFunction(sum, Decimal128(2)),
    payments         SimpleAggregateFunction(sum, UInt64),
    paid_regions     SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    last_paid_on     SimpleAggregateFunction(max, Date)
)
ENGINE = AggregatingMergeTree
ORDER BY (application_id, month)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_money_months TO money_months AS
SELECT
    JSONExtractString(payload, 'application_id') AS application_id,
    if(JSONExtractString(payload, 'month') != '', JSONExtractString(payload, 'month'),
       formatDateTime(occurred_at, '%Y-%m')) AS month,
    argMaxState(toString(events.person_id), (occurred_at, kafka_offset)) AS person_id,
    argMaxStateIf(toString(region), (occurred_at, kafka_offset), event_type = 'subsidy.entitled') AS region,
    argMaxStateIf(toString(city), (occurred_at, kafka_offset), event_type = 'subsidy.entitled') AS city,
    argMaxState(JSONExtractString(payload, 'subsidy'), (occurred_at, kafka_offset)) AS subsidy,
    argMaxStateIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
                  (occurred_at, kafka_offset), event_type = 'subsidy.entitled') AS entitled,
    maxIf(occurred_at, event_type = 'subsidy.entitled') AS entitled_at,
    sumIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
          event_type = 'subsidy.paid') AS paid,
    countIf(event_type = 'subsidy.paid') AS payments,
    groupUniqArrayArrayIf([toString(events.region)], event_type = 'subsidy.paid') AS paid_regions,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'paid_on')), toDate(occurred_at)),
          event_type = 'subsidy.paid') AS last_paid_on
FROM events
WHERE event_type IN ('subsidy.entitled', 'subsidy.paid') AND events.person_id != ''
  AND JSONExtractString(payload, 'application_id') != ''
GROUP BY application_id, month;

-- Every line of every payment batch: what it asks (payment_batch.created) and the bank's
-- answer (payment_batch.reconciled; empty while none came).
CREATE TABLE IF NOT EXISTS payment_batch_lines
(
    batch_id         String,
    line             UInt32,
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    batch_month      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    person_id        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    application_id   AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    subsidy          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    month            AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    amount           AggregateFunction(argMax, Decimal128(2), Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    account_ref      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    account_masked   AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    name_masked      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    created_at       SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai')),
    outcome          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    reason           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    paid_on          SimpleAggregateFunction(max, Date),
    reconciled_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY (batch_id, line)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_payment_batch_created TO payment_batch_lines AS
SELECT
    JSONExtractString(payload, 'batch_id') AS batch_id,
    toUInt32(JSONExtractUInt(line_json, 'line')) AS line,
    argMaxState(toString(region), (occurred_at, kafka_offset)) AS region,
    argMaxState(JSONExtractString(payload, 'month'), (occurred_at, kafka_offset)) AS batch_month,
    argMaxState(JSONExtractString(line_json, 'person_id'), (occurred_at, kafka_offset)) AS person_id,
    argMaxState(JSONExtractString(line_json, 'application_id'), (occurred_at, kafka_offset)) AS application_id,
    argMaxState(JSONExtractString(line_json, 'subsidy'), (occurred_at, kafka_offset)) AS subsidy,
    argMaxState(JSONExtractString(line_json, 'month'), (occurred_at, kafka_offset)) AS month,
    argMaxState(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(line_json, 'amount')), 2),
                (occurred_at, kafka_offset)) AS amount,
    argMaxState(JSONExtractString(line_json, 'payee_account_ref'), (occurred_at, kafka_offset)) AS account_ref,
    argMaxState(JSONExtractString(line_json, 'payee_account_masked'), (occurred_at, kafka_offset)) AS account_masked,
    argMaxState(JSONExtractString(line_json, 'name_masked'), (occurred_at, kafka_offset)) AS name_masked,
    max(occurred_at) AS created_at
FROM events
ARRAY JOIN JSONExtractArrayRaw(payload, 'lines') AS line_json
WHERE event_type = 'payment_batch.created'
GROUP BY batch_id, line;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_payment_batch_reconciled TO payment_batch_lines AS
SELECT
    JSONExtractString(payload, 'batch_id') AS batch_id,
    toUInt32(JSONExtractUInt(result_json, 'line')) AS line,
    argMaxState(JSONExtractString(result_json, 'outcome'), (occurred_at, kafka_offset)) AS outcome,
    argMaxState(JSONExtractString(result_json, 'reason'), (occurred_at, kafka_offset)) AS reason,
    maxIf(ifNull(toDateOrNull(JSONExtractString(result_json, 'paid_on')), toDate(occurred_at)),
          JSONExtractString(result_json, 'outcome') = 'paid') AS paid_on,
    max(occurred_at) AS reconciled_at
FROM events
ARRAY JOIN JSONExtractArrayRaw(payload, 'results') AS result_json
WHERE event_type = 'payment_batch.reconciled'
GROUP BY batch_id, line;
