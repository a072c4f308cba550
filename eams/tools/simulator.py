"""The Shandong scenario generator behind ``eams simulate`` and ``eams demo``.

Seeded and reproducible: the same seed gives the same events, ids included, so running it
twice shows the pipeline's dedupe. The scenario, in phases of the event count:

1. baseline (the whole run): registrations of the four target groups across the 16 cities
   in proportion to population, services to registered people, unemployment claims,
   vacancies, and now and then a small layoff;
2. at ``flood_at`` (a share of the run): a flood flags counties of one city (Linyi by
   default) as a natural-disaster area, severity II;
3. after the flag: enterprises in the flooded counties report layoffs, and people who lost
   work register as temporary-assistance persons citing the flag.

``ordinary`` below 1 leaves that share of the baseline slots empty (:meth:`Scenario.timeline`
yields None there), for a run that follows a history: the flood keeps its place in the run.

Events are dicts exactly as a source system would send them (clear national ids and names
included: pseudonymising them is the pipeline's job).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from events.clock import SHANGHAI
from events.identity import make_national_id, make_uscc
from events.regions import Region, RegionReference

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
INDUSTRIES = (
    "manufacturing",
    "construction",
    "textiles",
    "food_processing",
    "logistics",
    "retail",
    "chemicals",
    "agriculture_processing",
)
TARGET_GROUPS = (
    ("employment_difficulty", 0.35),
    ("rural_surplus_labour", 0.40),
    ("low_income_graduate", 0.20),
    ("temporary_assistance", 0.05),
)
SERVICES = ("ledger", "career_guidance", "job_referral", "policy_briefing", "counselling")


@dataclass(frozen=True)
class ScenarioConfig:
    """Parameters of one simulated run."""

    seed: int = 7
    count: int = 10_000
    flood_city: str = "371300"  # 临沂市 Linyi
    flood_at: float = 0.4  # share of the run after which the flood is flagged
    flood_counties: int = 4
    start: dt.datetime | None = None  # occurred_at of the first event (default: now)
    span: dt.timedelta = dt.timedelta(0)  # occurred_at spread over the run (0 = all "now")
    source: str = "simulator"
    #: Share of the baseline slots that hold an event. 1 plays weeks of ordinary activity
    #: within the run; after a history (:mod:`eams.tools.history`) the demo keeps about a
    #: day's worth of it, so that the rules comparing with the past see the flood and not
    #: the compressed baseline.
    ordinary: float = 1.0


class Scenario:
    """Generates the events of one run; iterate to get them in order."""

    def __init__(self, reference: RegionReference, config: ScenarioConfig) -> None:
        if reference.get(config.flood_city) is None:
            raise ValueError(f"flood city {config.flood_city} is not in the reference")
        self.ref = reference
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.start = config.start or dt.datetime.now(SHANGHAI)
        cities = reference.cities()
        self.cities = cities
        self.weights = [max(1, c.population or 1) for c in cities]
        self.counties = {
            c.code: [k for k in reference.children(c.code) if not k.is_statistical_zone] or [c]
            for c in cities
        }
        flood_pool = self.counties[config.flood_city]
        self.flooded = sorted(
            self.rng.sample(flood_pool, min(config.flood_counties, len(flood_pool))),
            key=lambda r: r.code,
        )
        self.disaster_id = f"flood-{config.flood_city}-{config.seed}"
        self.flag_event_id: uuid.UUID | None = None
        self.registered: list[tuple[str, str]] = []  # (national id, county)
        self._serial = 0

    # -- helpers ---------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _at(self, i: int) -> str:
        if self.cfg.span and self.cfg.count > 1:
            when = self.start + self.cfg.span * (i / (self.cfg.count - 1))
        elif self.cfg.start is None:
            when = dt.datetime.now(SHANGHAI)
        else:
            when = self.start
        return when.isoformat(timespec="milliseconds")

    def _envelope(
        self, i: int, event_type: str, region: str, payload: dict[str, Any], version: int = 1
    ) -> dict[str, Any]:
        at = self._at(i)
        return {
            "event_id": self._uuid(),
            "event_type": event_type,
            "schema_version": version,
            "occurred_at": at,
            "recorded_at": at,
            "region": region,
            "source": self.cfg.source,
            "actor": f"case-officer-{region}",
            "payload": payload,
        }

    def _county(self, city: Region | None = None) -> Region:
        city = city or self.rng.choices(self.cities, self.weights)[0]
        return self.rng.choice(self.counties[city.code])

    def _person(self, county: Region) -> tuple[str, str]:
        self._serial += 1
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 365 * 40))
        nid = make_national_id(county.code, birth, self._serial % 1000)
        name = self.rng.choice(SURNAMES) + "".join(
            self.rng.choices(GIVEN, k=self.rng.randint(1, 2))
        )
        return nid, name

    def _group(self) -> str:
        return self.rng.choices([g for g, _ in TARGET_GROUPS], [w for _, w in TARGET_GROUPS])[0]

    def _enterprise(self) -> str:
        body = "9137" + "".join(self.rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=13))
        return make_uscc(body)

    # -- events ----------------------------------------------------------------------------
    def registration(
        self,
        i: int,
        county: Region,
        *,
        group: str | None = None,
        status: str = "unemployed",
        cites: str | None = None,
    ) -> dict[str, Any]:
        """A person registers with the employment service."""
        nid, name = self._person(county)
        self.registered.append((nid, county.code))
        payload: dict[str, Any] = {
            "national_id": nid,
            "name": name,
            "phone": "1" + self.rng.choice("3589") + "".join(self.rng.choices("0123456789", k=9)),
            "target_group": group or self._group(),
            "employment_status": status,
            "household_id": f"hh-{county.code}-{self.rng.randrange(10**6):06d}",
        }
        if cites:
            payload["cites_event"] = cites
            payload["disaster_id"] = self.disaster_id
        return self._envelope(i, "person.registered", county.code, payload)

    def baseline(self, i: int) -> dict[str, Any]:
        """One event of ordinary activity."""
        roll = self.rng.random()
        if roll < 0.45 or not self.registered:
            return self.registration(i, self._county())
        if roll < 0.75:
            nid, county = self.rng.choice(self.registered)
            return self._envelope(
                i,
                "service.delivered",
                county,
                {"national_id": nid, "service": self.rng.choice(SERVICES)},
            )
        if roll < 0.88:
            nid, county = self.rng.choice(self.registered)
            return self._envelope(i, "unemployment_claim.filed", county, {"national_id": nid})
        if roll < 0.97:
            where = self._county()
            return self._envelope(
                i,
                "vacancy.reported",
                where.code,
                {
                    "vacancy_id": f"v-{self._uuid()[:8]}",
                    "employer_uscc": self._enterprise(),
                    "openings": self.rng.randint(1, 30),
                },
            )
        where = self._county()
        before = self.rng.randint(40, 400)
        return self._envelope(
            i,
            "layoff.reported",
            where.code,
            {
                "enterprise_uscc": self._enterprise(),
                "industry": self.rng.choice(INDUSTRIES),
                "headcount_before": before,
                "laid_off": self.rng.randint(1, max(1, before // 10)),
                "reason": "business_downturn",
            },
            version=2,
        )

    def flood_flag(self, i: int) -> dict[str, Any]:
        """The flood: counties of one city flagged as a natural-disaster area."""
        event = self._envelope(
            i,
            "disaster_area.flagged",
            self.cfg.flood_city,
            {
                "disaster_id": self.disaster_id,
                "kind": "natural_disaster",
                "severity": "II",
                "regions": [c.code for c in self.flooded],
                "title": f"{self.ref.get(self.cfg.flood_city).name}洪涝灾害",  # type: ignore[union-attr]
                "period_start": self._at(i)[:10],
            },
        )
        self.flag_event_id = uuid.UUID(event["event_id"])
        return event

    def flood_aftermath(self, i: int) -> dict[str, Any]:
        """Layoffs and temporary-assistance registrations in the flooded counties."""
        county = self.rng.choice(self.flooded)
        if self.rng.random() < 0.25:
            before = self.rng.randint(150, 1200)
            return self._envelope(
                i,
                "layoff.reported",
                county.code,
                {
                    "enterprise_uscc": self._enterprise(),
                    "industry": self.rng.choice(INDUSTRIES),
                    "headcount_before": before,
                    "laid_off": self.rng.randint(before // 5, before // 2),
                    "reason": "natural_disaster",
                },
                version=2,
            )
        return self.registration(
            i,
            county,
            group="temporary_assistance",
            status="lost_work_due_to_disaster",
            cites=str(self.flag_event_id),
        )

    def timeline(self) -> Iterator[dict[str, Any] | None]:
        """Every slot of the run in order: its event, or None for a baseline slot left
        empty (``ordinary`` below 1), which a player paced by slots lets pass."""
        flood_index = int(self.cfg.count * self.cfg.flood_at)
        for i in range(self.cfg.count):
            if i == flood_index:
                yield self.flood_flag(i)
            elif i > flood_index and self.rng.random() < 0.3:
                yield self.flood_aftermath(i)
            elif self.cfg.ordinary >= 1 or self.rng.random() < self.cfg.ordinary:
                yield self.baseline(i)
            else:
                yield None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (event for event in self.timeline() if event is not None)
