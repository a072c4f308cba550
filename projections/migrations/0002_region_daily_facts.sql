-- Per-region daily facts, maintained by materialized views as events are projected.
CREATE TABLE IF NOT EXISTS region_daily_facts
(
    region                      LowCardinality(String),
    city                        LowCardinality(String),
    day                         Date,
    events                      UInt64,
    layoff_reports              UInt64,
    people_laid_off             UInt64,
    concentrated_layoffs        UInt64,
    vacancy_openings            UInt64,
    registrations               UInt64,
    reg_employment_difficulty   UInt64,
    reg_rural_surplus_labour    UInt64,
    reg_low_income_graduate     UInt64,
    reg_temporary_assistance    UInt64,
    claims                      UInt64,
    services                    UInt64,
    placements                  UInt64,
    subsidies_paid              UInt64,
    subsidy_amount_paid         Float64,
    disaster_flags              UInt64,
    disaster_clears             UInt64
)
ENGINE = SummingMergeTree
ORDER BY (region, day)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_region_daily_facts TO region_daily_facts AS
SELECT
    region,
    any(city) AS city,
    toDate(occurred_at) AS day,
    count() AS events,
    countIf(event_type = 'layoff.reported') AS layoff_reports,
    sumIf(laid_off, event_type = 'layoff.reported') AS people_laid_off,
    -- concentrated layoff: 200+ people at one enterprise in one report (published practice)
    countIf(event_type = 'layoff.reported' AND laid_off >= 200) AS concentrated_layoffs,
    sumIf(JSONExtractUInt(payload, 'openings'), event_type = 'vacancy.reported') AS vacancy_openings,
    countIf(event_type = 'person.registered') AS registrations,
    countIf(event_type = 'person.registered' AND target_group = 'employment_difficulty')
        AS reg_employment_difficulty,
    countIf(event_type = 'person.registered' AND target_group = 'rural_surplus_labour')
        AS reg_rural_surplus_labour,
    countIf(event_type = 'person.registered' AND target_group = 'low_income_graduate')
        AS reg_low_income_graduate,
    countIf(event_type = 'person.registered' AND target_group = 'temporary_assistance')
        AS reg_temporary_assistance,
    countIf(event_type = 'unemployment_claim.filed') AS claims,
    countIf(event_type = 'service.delivered') AS services,
    countIf(event_type = 'placement.recorded') AS placements,
    countIf(event_type = 'subsidy.paid') AS subsidies_paid,
    sumIf(amount, event_type = 'subsidy.paid') AS subsidy_amount_paid,
    toUInt64(0) AS disaster_flags,
    toUInt64(0) AS disaster_clears
FROM events
-- facts are about people and the labour market, not about the system's own responses
WHERE event_type NOT LIKE 'alert.%' AND event_type NOT LIKE 'notification.%'
GROUP BY region, day;

-- A disaster flag counts for each region it names (not for the region of the report).
CREATE MATERIALIZED VIEW IF NOT EXISTS mv_region_daily_disaster TO region_daily_facts AS
SELECT
    flagged AS region,
    any(flagged_city) AS city,
    toDate(occurred_at) AS day,
    toUInt64(0) AS events,
    toUInt64(0) AS layoff_reports, toUInt64(0) AS people_laid_off,
    toUInt64(0) AS concentrated_layoffs, toUInt64(0) AS vacancy_openings,
    toUInt64(0) AS registrations, toUInt64(0) AS reg_employment_difficulty,
    toUInt64(0) AS reg_rural_surplus_labour, toUInt64(0) AS reg_low_income_graduate,
    toUInt64(0) AS reg_temporary_assistance, toUInt64(0) AS claims, toUInt64(0) AS services,
    toUInt64(0) AS placements, toUInt64(0) AS subsidies_paid, toFloat64(0) AS subsidy_amount_paid,
    countIf(event_type = 'disaster_area.flagged') AS disaster_flags,
    countIf(event_type = 'disaster_area.cleared') AS disaster_clears
FROM events
ARRAY JOIN disaster_regions AS flagged, disaster_cities AS flagged_city
WHERE event_type IN ('disaster_area.flagged', 'disaster_area.cleared')
GROUP BY flagged, day;
