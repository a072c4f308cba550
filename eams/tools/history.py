"""The seeded history before the live scenario: ordinary activity in every city, day by day.

``eams demo`` backfills it before the flood plays, so the trends show curves and the rules
that judge a value against its own past have that past: the temporary-assistance surge (the
4 weeks before), claims against the same 28 days of the two earlier years, the job-loss rate
against its 12-month low. :data:`DEFAULT_DAYS` is two years *and* the 28 days the oldest of
those windows reaches back (see :func:`prior_years_warning`).

What one day of one city holds is a pure function of (seed, city, date): the same seed gives
the same events, ids included, whatever window is asked for, so a rerun the same day adds
nothing and a rerun a day later adds only the day that became history.

How much (province-wide means per day at ``scale`` 1 in :data:`DAILY`, shared among the
cities by population; ~187 events a day, ~142,000 over the default 760 days): registrations
of the four target groups, services and unemployment claims of registered persons,
vacancies, a small layoff now and then, and the monthly headcount of two monitored
enterprises per county. In normal times this stays below every default threshold with a
margin even in 东营市 Dongying, the smallest city (2 % of the population). The rates are
sized for that, not for realism: the surge rule needs five or so temporary-assistance
registrations a week in Dongying to stay quiet on its own noise, so that group is 40 % of
the registrations here, and claims (45 a day) outnumber the services (30).

Counts are sampled systematically: a series' count on day *d* is
``floor(C(d + 1) + φ) - floor(C(d) + φ)``, where *C* is its expected count summed from
1 January and φ a seeded phase. So the count in any window is within one of what was
expected (two across a New Year): the rules compare a week, or 28 days, with earlier ones,
and Poisson noise on the few temporary-assistance registrations a small city has in a week
would trip them on chance alone. The noise is in the rate instead: ±20 % a day, drawn per
calendar week so that it cancels within the week. The seasons:

- offices close for the Spring Festival (除夕 to 初六) and National Day (1-7 October) and are
  quiet at weekends: registrations, services, vacancies and layoff reports;
- rural surplus labour registers after the Spring Festival (up to x2.5 for about three
  weeks), graduates around July (up to x3) and employers post vacancies for the spring
  hiring season (春风行动, up to x1.8);
- claims are filed online (no closures), with a mild yearly cycle (+12 % at the end of
  January, -12 % at the end of July) that the same-period comparison cancels.

Days come newest first: the evaluator runs while a backfill is projected, and what it
reads as of now (the last 7 and 28 days, the latest headcounts) is whole first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eams.tools.simulator import GIVEN, INDUSTRIES, SERVICES, SURNAMES
from events.clock import SHANGHAI
from events.identity import make_national_id, make_uscc
from events.regions import Region, RegionReference

#: Two years, the 28-day window the claims comparison reads two years back, and 2 to spare.
DEFAULT_DAYS = 760
#: The least history holding that window whole (with a 29 February among the days).
WHOLE_PRIOR_YEARS = 758
NAMESPACE = uuid.UUID("5d1c7e52-3f0a-4b8e-9a61-2c4f8e0b7d93")
GROUPS = ("employment_difficulty", "rural_surplus_labour", "low_income_graduate",
          "temporary_assistance")  # fmt: skip
#: Province-wide mean events a day of each series (before the seasons) at ``scale`` 1.
DAILY: dict[str, float] = {
    "employment_difficulty": 20.0,
    "rural_surplus_labour": 20.0,
    "low_income_graduate": 14.0,
    "temporary_assistance": 36.0,
    "service": 30.0,
    "claim": 45.0,
    "vacancy": 12.0,
    "layoff": 1.5,
}
#: The event type of each series (registrations are named by their target group).
EVENT_TYPES = {
    **dict.fromkeys(GROUPS, "person.registered"),
    "service": "service.delivered",
    "claim": "unemployment_claim.filed",
    "vacancy": "vacancy.reported",
    "layoff": "layoff.reported",
}
NOISE = 0.2  # ± share of a day's rate
OFFICE_OPENS, OFFICE_CLOSES = 8 * 3600 + 1800, 17 * 3600  # seconds after midnight
MONITORED_PER_COUNTY = 2
LOOKBACK_DAYS = 90  # a service or claim is for someone registered up to this long before
#: 春节, the first day of the lunar year; other years fall back on 5 February.
SPRING_FESTIVAL = {
    2018: (2, 16), 2019: (2, 5), 2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22),
    2024: (2, 10), 2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13),
    2030: (2, 3), 2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8),
}  # fmt: skip
_OFFICE_WEEKDAY, _OFFICE_WEEKEND = 7 / 5.7, 0.35 * 7 / 5.7  # a week averages 1
_ONLINE_WEEKDAY, _ONLINE_WEEKEND = 7 / 6.4, 0.7 * 7 / 6.4


def spring_festival(year: int) -> dt.date:
    """The first day of the lunar year ``year`` begins in."""
    month, day = SPRING_FESTIVAL.get(year, (2, 5))
    return dt.date(year, month, day)


def prior_years_warning(days: int) -> str | None:
    """What is wrong with ``days`` of history for the claims comparison, if anything: from
    a year to :data:`WHOLE_PRIOR_YEARS` it holds only part of the same 28 days of the two
    earlier years, and ``claims_vs_prior_years`` divides by a mean that counts the rest as
    no claims."""
    if 365 <= days < WHOLE_PRIOR_YEARS:
        return (
            f"{days} days of history hold only part of the same 28 days of the two earlier "
            f"years: claims_vs_prior_years will read high (its rule fires after a day); "
            f"give {WHOLE_PRIOR_YEARS} or more (default {DEFAULT_DAYS}), or less than 365"
        )
    return None


def _bump(day: dt.date, centre: dt.date, half_width: float) -> float:
    """A raised cosine: 1 at ``centre``, 0 from ``half_width`` days either side."""
    x = abs((day - centre).days) / half_width
    return 0.5 * (1 + math.cos(math.pi * x)) if x < 1 else 0.0


def season(series: str, day: dt.date) -> float:
    """How busy ``day`` is for ``series`` against its yearly mean (about 1)."""
    weekend = day.weekday() >= 5
    if series == "claim":
        cycle = 1 + 0.12 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 30) / 365.25)
        return cycle * (_ONLINE_WEEKEND if weekend else _ONLINE_WEEKDAY)
    sf = spring_festival(day.year)
    if -1 <= (day - sf).days <= 5 or (day.month == 10 and day.day <= 7):
        # offices closed: a few online registrations, emergencies at the duty desk
        return 0.6 if series == "temporary_assistance" else 0.1
    factor = _OFFICE_WEEKEND if weekend else _OFFICE_WEEKDAY
    if series == "rural_surplus_labour":
        factor *= 1 + 1.5 * _bump(day, sf + dt.timedelta(days=17), 12)
    elif series == "low_income_graduate":
        factor *= 1 + 2.0 * _bump(day, dt.date(day.year, 7, 5), 25)
    elif series == "vacancy":
        factor *= 1 + 0.8 * _bump(day, sf + dt.timedelta(days=21), 16)
    return factor


def _office(rng: random.Random) -> int:
    """A time in office hours, in seconds after midnight."""
    return rng.randrange(OFFICE_OPENS, OFFICE_CLOSES)


def _digest(*parts: object) -> int:
    """A 128-bit number named by ``parts`` (what one person or enterprise is made of)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")


@dataclass(frozen=True)
class HistoryConfig:
    """Which history: ``days`` whole days before ``end`` (a date; default today)."""

    seed: int = 7
    days: int = DEFAULT_DAYS
    end: dt.date | None = None
    scale: float = 1.0  # multiplies every rate of DAILY
    source: str = "simulator"


@dataclass(frozen=True)
class Enterprise:
    """A monitored enterprise: reports its headcount on ``report_day`` of every month."""

    uscc: str
    county: str
    industry: str
    base: int
    loss_pct: float  # its usual job loss against the base headcount
    report_day: int


class History:
    """The events of the history, newest day first; ``len()`` is their number."""

    def __init__(self, reference: RegionReference, config: HistoryConfig) -> None:
        if config.days < 0:
            raise ValueError(f"history days must be 0 or more, got {config.days}")
        self.cfg = config
        self.end = config.end or dt.datetime.now(SHANGHAI).date()
        self.first = self.end - dt.timedelta(days=config.days)
        self.cities = reference.cities()
        total = sum(max(1, c.population or 1) for c in self.cities)
        self.share = {c.code: max(1, c.population or 1) / total for c in self.cities}
        self.counties = {
            c.code: [k for k in reference.children(c.code) if not k.is_statistical_zone] or [c]
            for c in self.cities
        }
        self.enterprises = {c.code: self._monitored(c) for c in self.cities}
        self._tables: dict[tuple[str, str, int], list[int]] = {}
        self._seasons: dict[tuple[str, int], list[float]] = {}

    def count(self, series: str, city: str, day: dt.date) -> int:
        """Events of ``series`` in ``city`` on ``day`` (whether in the window or not)."""
        key = (series, city, day.year)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._table(series, city, day.year)
        return table[day.timetuple().tm_yday - 1]

    def _table(self, series: str, city: str, year: int) -> list[int]:
        jan1 = dt.date(year, 1, 1)
        days = [jan1 + dt.timedelta(days=i) for i in range((dt.date(year + 1, 1, 1) - jan1).days)]
        seasons = self._seasons.get((series, year))
        if seasons is None:
            seasons = self._seasons[(series, year)] = [season(series, d) for d in days]
        mean = DAILY[series] * self.share[city] * self.cfg.scale
        expected = random.Random(f"{self.cfg.seed}|{series}|{city}|{year}").random()  # phase
        noise: list[float] = []
        out = []
        for day, factor in zip(days, seasons, strict=True):
            if not noise or day.weekday() == 0:
                noise = self._week_noise(series, city, day - dt.timedelta(days=day.weekday()))
            before = math.floor(expected)
            expected += mean * factor * (1 + noise[day.weekday()])
            out.append(math.floor(expected) - before)
        return out

    def _week_noise(self, series: str, city: str, monday: dt.date) -> list[float]:
        """The noise of each day of one week: ±:data:`NOISE`, summing to nothing over the
        week (a week's count is what the season makes it; the days vary)."""
        rng = random.Random(f"{self.cfg.seed}|{series}|{city}|{monday.isoformat()}")
        draws = [NOISE * (2 * rng.random() - 1) for _ in range(7)]
        mean = sum(draws) / 7
        return [d - mean for d in draws]

    def days(self) -> list[dt.date]:
        """The days of the window, newest first."""
        return [self.end - dt.timedelta(days=i) for i in range(1, self.cfg.days + 1)]

    def __len__(self) -> int:
        days = self.days()
        reports = sum(
            1 for day in days for c in self.cities for e in self.enterprises[c.code]
            if e.report_day == day.day
        )  # fmt: skip
        return reports + sum(
            self.count(s, c.code, day) for day in days for c in self.cities for s in DAILY
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for day in self.days():
            events = [e for city in self.cities for e in self.day(city, day)]
            events.sort(key=lambda e: str(e["occurred_at"]))
            yield from events

    def day(self, city: Region, day: dt.date) -> list[dict[str, Any]]:
        """Everything that happened in ``city`` on ``day``."""
        rng = random.Random(f"{self.cfg.seed}|{city.code}|{day.isoformat()}")
        out = [
            self._registration(city, day, group, k)
            for group in GROUPS
            for k in range(self.count(group, city.code, day))
        ]
        payload: dict[str, Any]
        for k in range(self.count("service", city.code, day)):
            nid, county = self._someone(rng, city, day)
            payload = {"national_id": nid, "service": rng.choice(SERVICES),
                       "delivered_on": day.isoformat()}  # fmt: skip
            out.append(self._event(city, "service", k, day, _office(rng), county, payload))
        for k in range(self.count("claim", city.code, day)):
            nid, county = self._someone(rng, city, day)
            payload = {"national_id": nid, "filed_on": day.isoformat(),
                       "insured_months": rng.randint(12, 180)}  # fmt: skip
            at = rng.randrange(7 * 3600, 23 * 3600)  # filed online, at any hour
            out.append(self._event(city, "claim", k, day, at, county, payload))
        for k in range(self.count("vacancy", city.code, day)):
            county = rng.choice(self.counties[city.code]).code
            payload = {
                "vacancy_id": f"v-{county}-{day:%Y%m%d}-{k}",
                "employer_uscc": self._uscc(county, rng.randrange(10**9)),
                "openings": rng.randint(20, 50),
            }
            out.append(self._event(city, "vacancy", k, day, _office(rng), county, payload))
        for k in range(self.count("layoff", city.code, day)):
            county = rng.choice(self.counties[city.code]).code
            payload = {
                "enterprise_uscc": self._uscc(county, rng.randrange(10**9)),
                "industry": rng.choice(INDUSTRIES),
                "headcount_before": rng.randint(40, 400),
                "laid_off": rng.randint(1, 15),
                "reason": rng.choice(("business_downturn", "restructuring")),
            }
            out.append(self._event(city, "layoff", k, day, _office(rng), county, payload))
        out.extend(self._reports(city, day))
        return out

    def _event(
        self,
        city: Region,
        series: str,
        k: int,
        day: dt.date,
        seconds: int,
        region: str,
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        """The envelope of event ``k`` of ``series`` in ``city`` on ``day``, ``seconds``
        after midnight; its id is named by those (and the seed)."""
        event_type = EVENT_TYPES.get(series, "enterprise.headcount_reported")
        at = dt.datetime.combine(day, dt.time(), SHANGHAI) + dt.timedelta(seconds=seconds)
        stamp = at.isoformat(timespec="milliseconds")
        name = f"{self.cfg.seed}|{city.code}|{day.isoformat()}|{series}|{k}"
        return {
            "event_id": str(uuid.uuid5(NAMESPACE, name)),
            "event_type": event_type,
            "schema_version": 2 if event_type == "layoff.reported" else 1,
            "occurred_at": stamp,
            "recorded_at": stamp,
            "region": region,
            "source": self.cfg.source,
            "actor": f"case-officer-{region}",
            "payload": payload,
        }

    def _person(self, city: Region, day: dt.date, group: str, k: int) -> tuple[str, str, int]:
        """(national id, county, digest) of registration ``k`` of ``group`` on ``day``."""
        h = _digest("person", self.cfg.seed, city.code, day, group, k)
        counties = self.counties[city.code]
        county = counties[h % len(counties)].code
        if group == "low_income_graduate":  # graduates of the last three years
            born = dt.date(day.year - 25, 1, 1) + dt.timedelta(days=(h >> 8) % (365 * 4))
        else:
            born = dt.date(day.year - 58, 1, 1) + dt.timedelta(days=(h >> 8) % (365 * 38))
        return make_national_id(county, born, (h >> 24) % 1000), county, h

    def _registration(self, city: Region, day: dt.date, group: str, k: int) -> dict[str, Any]:
        nid, county, h = self._person(city, day, group, k)
        given = GIVEN[(h >> 40) % len(GIVEN)] + GIVEN[(h >> 48) % len(GIVEN)] * ((h >> 56) % 2)
        payload = {
            "national_id": nid,
            "name": SURNAMES[(h >> 34) % len(SURNAMES)] + given,
            "phone": f"1{'3589'[(h >> 60) % 4]}{(h >> 64) % 10**9:09d}",
            "target_group": group,
            "employment_status": "unemployed",
            "household_id": f"hh-{county}-{(h >> 96) % 10**6:06d}",
            "registered_on": day.isoformat(),
        }
        seconds = OFFICE_OPENS + (h >> 100) % (OFFICE_CLOSES - OFFICE_OPENS)
        return self._event(city, group, k, day, seconds, county, payload)

    def _someone(self, rng: random.Random, city: Region, day: dt.date) -> tuple[str, str]:
        """(national id, county) of someone registered in ``city`` in the window, on ``day``
        or up to :data:`LOOKBACK_DAYS` before (the first day of the window with anyone
        registered if those days had nobody)."""
        span = min(LOOKBACK_DAYS, (day - self.first).days + 1)
        tries = (day - dt.timedelta(days=rng.randrange(span)) for _ in range(20))
        every = (self.first + dt.timedelta(days=i) for i in range(self.cfg.days))
        for back in itertools.chain(tries, every):
            counts = [self.count(g, city.code, back) for g in GROUPS]
            if sum(counts):
                pick = rng.randrange(sum(counts))
                for group, n in zip(GROUPS, counts, strict=True):
                    if pick < n:
                        nid, county, _ = self._person(city, back, group, pick)
                        return nid, county
                    pick -= n
        raise ValueError(f"nobody registers in {city.code} in the whole history; raise scale")

    def _uscc(self, county: str, serial: int) -> str:
        return make_uscc(f"91{county}{serial:09d}")

    def _monitored(self, city: Region) -> list[Enterprise]:
        out = []
        for county in self.counties[city.code]:
            for j in range(MONITORED_PER_COUNTY):
                h = _digest("enterprise", self.cfg.seed, county.code, j)
                out.append(Enterprise(
                    uscc=self._uscc(county.code, h % 10**9), county=county.code,
                    industry=INDUSTRIES[(h >> 30) % len(INDUSTRIES)],
                    base=150 + (h >> 40) % 2350, loss_pct=0.3 + (h >> 60) % 90 / 100,
                    report_day=3 + (h >> 70) % 23,
                ))  # fmt: skip
        return out

    def _reports(self, city: Region, day: dt.date) -> list[dict[str, Any]]:
        """Headcount reports of the monitored enterprises whose reporting day is ``day``
        (each for the month before)."""
        period = (day.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        out = []
        for e in self.enterprises[city.code]:
            if e.report_day != day.day:
                continue
            jitter = (_digest("headcount", self.cfg.seed, e.uscc, period) % 31 - 15) / 100
            current = round(e.base * (1 - (e.loss_pct + jitter) / 100))
            payload = {
                "uscc": e.uscc,
                "industry": e.industry,
                "period": period,
                "base_headcount": e.base,
                "current_headcount": current,
            }
            seconds = 9 * 3600 + e.report_day * 600
            out.append(self._event(city, f"headcount-{e.uscc}", 0, day, seconds, e.county, payload))
        return out
