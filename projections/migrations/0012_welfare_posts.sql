-- Public-welfare posts (issue 13) as read models over `events`: one row per post (its
-- county, title, slots and the slots taken: +1 a seat, -1 a release) and one per holding
-- (a post's application: who, from which month to which, and whether they left). As in
-- 0009 the latest event by (occurred_at, kafka_offset) wins.

CREATE TABLE IF NOT EXISTS welfare_posts
(
    post_id          String,
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    city             AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    title            AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    village          AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    employer_name    AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    slots            AggregateFunction(argMax, UInt32, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    days_required    AggregateFunction(argMax, UInt8, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    opened_on        SimpleAggregateFunction(max, Date),
    opened           SimpleAggregateFunction(max, UInt8),
    seated           SimpleAggregateFunction(sum, Int64),
    overbooked       SimpleAggregateFunction(sum, UInt64),
    last_event_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY post_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_welfare_posts TO welfare_posts AS
SELECT
    JSONExtractString(payload, 'post_id') AS post_id,
    argMaxStateIf(toString(region), (occurred_at, kafka_offset), event_type = 'welfare_post.opened') AS region,
    argMaxStateIf(toString(city), (occurred_at, kafka_offset), event_type = 'welfare_post.opened') AS city,
    argMaxStateIf(JSONExtractString(payload, 'title'), (occurred_at, kafka_offset),
                  event_type = 'welfare_post.opened') AS title,
    argMaxStateIf(JSONExtractString(payload, 'village'), (occurred_at, kafka_offset),
                  event_type = 'welfare_post.opened') AS village,
    argMaxStateIf(JSONExtractString(payload, 'employer_name'), (occurred_at, kafka_offset),
                  event_type = 'welfare_post.opened') AS employer_name,
    argMaxStateIf(toUInt32(greatest(JSONExtractUInt(payload, 'slots'), 1)), (occurred_at, kafka_offset),
                  event_type = 'welfare_post.opened') AS slots,
    argMaxStateIf(toUInt8(if(JSONExtractUInt(payload, 'days_required') = 0, 22,
                             least(JSONExtractUInt(payload, 'days_required'), 31))),
                  (occurred_at, kafka_offset), event_type = 'welfare_post.opened') AS days_required,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'opened_on')), toDate(occurred_at)),
          event_type = 'welfare_post.opened') AS opened_on,
    max(toUInt8(event_type = 'welfare_post.opened')) AS opened,
    sum(multiIf(event_type = 'welfare_post.seated', 1, event_type = 'welfare_post.released', -1, 0)) AS seated,
    countIf(event_type = 'welfare_post.overbooked') AS overbooked,
    max(occurred_at) AS last_event_at
FROM events
WHERE event_type IN ('welfare_post.opened', 'welfare_post.seated', 'welfare_post.released',
                     'welfare_post.overbooked')
  AND JSONExtractString(payload, 'post_id') != ''
GROUP BY post_id;

-- A holding: a person's application for a post's pay once approved (assigned) and its end.
CREATE TABLE IF NOT EXISTS welfare_post_holdings
(
    post_id          String,
    application_id   String,
    person_id        AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    region           AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    first_month      AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    last_month       AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    starts_on        SimpleAggregateFunction(max, Date),
    vacated          SimpleAggregateFunction(max, UInt8),
    cause            AggregateFunction(argMax, String, Tuple(DateTime64(3, 'Asia/Shanghai'), UInt64)),
    months_recorded  SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    last_event_at    SimpleAggregateFunction(max, DateTime64(3, 'Asia/Shanghai'))
)
ENGINE = AggregatingMergeTree
ORDER BY (post_id, application_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_welfare_post_holdings TO welfare_post_holdings AS
SELECT
    JSONExtractString(payload, 'post_id') AS post_id,
    JSONExtractString(payload, 'application_id') AS application_id,
    argMaxState(toString(events.person_id), (occurred_at, kafka_offset)) AS person_id,
    argMaxState(toString(region), (occurred_at, kafka_offset)) AS region,
    argMaxStateIf(JSONExtractString(payload, 'first_month'), (occurred_at, kafka_offset),
                  event_type = 'welfare_post.assigned') AS first_month,
    argMaxStateIf(JSONExtractString(payload, 'last_month'), (occurred_at, kafka_offset),
                  event_type IN ('welfare_post.assigned', 'welfare_post.vacated')) AS last_month,
    maxIf(ifNull(toDateOrNull(JSONExtractString(payload, 'starts_on')), toDate(occurred_at)),
          event_type = 'welfare_post.assigned') AS starts_on,
    max(toUInt8(event_type = 'welfare_post.vacated')) AS vacated,
    argMaxStateIf(JSONExtractString(payload, 'cause'), (occurred_at, kafka_offset),
                  event_type = 'welfare_post.vacated') AS cause,
    groupUniqArrayArrayIf([JSONExtractString(payload, 'month')],
                          event_type = 'welfare_post.attendance_recorded') AS months_recorded,
    max(occurred_at) AS last_event_at
FROM events
WHERE event_type IN ('welfare_post.assigned', 'welfare_post.vacated',
                     'welfare_post.attendance_recorded')
  AND events.person_id != '' AND JSONExtractString(payload, 'application_id') != ''
GROUP BY post_id, application_id;
