-- A recovery order can be cut (subsidy.recovery_cancelled: a later correction found more
-- owed to the person than the order assumed): what an application has ordered back is the
-- orders less their cuts, and a cut is not a status of the application.

DROP VIEW IF EXISTS mv_money_applications;

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
                  event_type NOT IN ('subsidy.recovery_ordered', 'subsidy.recovered',
                                     'subsidy.recovery_cancelled')) AS status,
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
          event_type = 'subsidy.recovery_ordered')
      - sumIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
              event_type = 'subsidy.recovery_cancelled') AS ordered,
    sumIf(toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(payload, 'amount')), 2),
          event_type = 'subsidy.recovered') AS recovered,
    max(occurred_at) AS last_event_at
FROM events
WHERE event_type LIKE 'subsidy.%' AND events.person_id != ''
  AND JSONExtractString(payload, 'application_id') != ''
GROUP BY application_id;
