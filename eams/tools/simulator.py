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

``casework`` adds what case management reads (issue 12) without moving anything above: the
same slots, times, regions, groups and flood (its draws come from a generator of their own,
so the alerts and playbooks see the same figures). After a slot's event come its follow-ups,
in the same slot:

- each registration's facts (``person.facts_recorded``: birth date and gender as the ID says,
  work, and what its group's rules read: unemployed_since, disability, land lost; hukou,
  willing and transferred for rural labour; graduated_on and a 低保 / low-income household
  for graduates; the flood's disaster_id for temporary assistance) and the household it
  belongs to (members of one household share its id: a registration joins a household of
  its county now and then; every member registered is unemployed, so such a household is
  zero-employment until someone is placed, unless the civil-affairs roster names an
  employed member);
- civil-affairs leads (``lead.discovered``, source ``civil_affairs``): some of registered
  persons (matched by pseudonym at ingest), some of persons not registered yet
  (:attr:`Scenario.leads` keeps their clear IDs for the demo's officers to register);
- officers' visits from the offices' ledgers (``visit.recorded``).

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
    #: Case management's follow-ups after the slots' events (facts, households, leads,
    #: visits); False plays the scenario as it was before issue 12.
    casework: bool = False
    lead_share: float = 0.06  # of the slots: a civil-affairs lead of someone not registered
    visit_share: float = 0.05  # of the slots: a visit recorded in an office's ledger


@dataclass(frozen=True)
class Unregistered:
    """A person a civil-affairs lead names who has not registered (their clear ID is what an
    officer types from the card when registering them)."""

    national_id: str
    name: str
    county: str
    group: str
    household_id: str
    facts: dict[str, Any]


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
        # casework's own draws: the scenario's figures do not move with it
        self.case_rng = random.Random(f"{config.seed}|casework")
        self.households: dict[str, list[tuple[str, int]]] = {}  # county -> (id, members)
        self.leads: list[Unregistered] = []
        self.groups: dict[str, str] = {}  # national id -> registered target group
        self._pending: list[dict[str, Any]] = []
        self._slot = 0

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
        if self.cfg.casework:
            self._casework_registration(i, county, payload)
        self.registered.append((payload["national_id"], county.code))
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
        empty (``ordinary`` below 1), which a player paced by slots lets pass; with
        ``casework``, a slot's follow-ups come right after it (:attr:`slot` is the slot
        being played)."""
        flood_index = int(self.cfg.count * self.cfg.flood_at)
        for i in range(self.cfg.count):
            self._slot = i + 1
            if i == flood_index:
                yield self.flood_flag(i)
            elif i > flood_index and self.rng.random() < 0.3:
                yield self.flood_aftermath(i)
            elif self.cfg.ordinary >= 1 or self.rng.random() < self.cfg.ordinary:
                yield self.baseline(i)
            else:
                yield None
            if self.cfg.casework:
                yield from self._follow_ups(i)

    @property
    def slot(self) -> int:
        """The slot being played (1-based; follow-ups belong to the slot before them)."""
        return self._slot

    # -- casework (issue 12) ---------------------------------------------------------------
    def _casework_registration(self, i: int, county: Region, payload: dict[str, Any]) -> None:
        """Give a registration its household (and a graduate an age that fits), and queue
        its facts and, now and then, a civil-affairs lead of the same person."""
        rng = self.case_rng
        group = payload["target_group"]
        day = self._day(i)
        if group == "low_income_graduate":  # 21 to 27 years old: within or past the period
            born = day - dt.timedelta(days=rng.randrange(365 * 21, 365 * 27))
            payload["national_id"] = make_national_id(county.code, born, self._serial % 1000)
        nid = payload["national_id"]
        household = self._household(county.code, joinable=group != "temporary_assistance")
        payload["household_id"] = household
        self.groups[nid] = group
        own = self._group_facts(group, day, payload.get("disaster_id"))
        facts = {**self._identity_facts(nid), "household_id": household, "employed": False,
                 "able_to_work": True, **own}  # fmt: skip
        self._pending.append(self._facts_event(i, county.code, nid, facts, "registration"))
        if rng.random() < 0.15:  # the roster names a registered person too: matched at ingest
            need: dict[str, Any] = {
                k: facts[k] for k in ("minimum_living_allowance", "low_income") if k in facts
            }
            lead: dict[str, Any] = {
                "household_id": household,
                **(need or {"minimum_living_allowance": True}),
            }
            self._pending.append(self._lead_event(i, county.code, nid, None, group, lead))

    def _day(self, i: int) -> dt.date:
        return dt.datetime.fromisoformat(self._at(i)).date()

    def _household(self, county: str, *, joinable: bool) -> str:
        """A household of ``county`` with room (now and then), else a new one."""
        rng = self.case_rng
        homes = self.households.setdefault(county, [])
        open_ = [k for k, (_, members) in enumerate(homes) if members < 4]
        if joinable and open_ and rng.random() < 0.3:
            k = rng.choice(open_)
            home, members = homes[k]
            homes[k] = (home, members + 1)
            return home
        home = f"hh-{county}-{rng.randrange(10**6):06d}"
        homes.append((home, 1))
        return home

    @staticmethod
    def _identity_facts(nid: str) -> dict[str, Any]:
        """Gender and birth date as the resident ID says (the 17th digit, characters 7-14)."""
        born = dt.date(int(nid[6:10]), int(nid[10:12]), int(nid[12:14]))
        return {"gender": "male" if int(nid[16]) % 2 else "female", "birth_date": born.isoformat()}

    def _group_facts(self, group: str, day: dt.date, disaster: str | None) -> dict[str, Any]:
        """What the rules of ``group`` read, drawn so that most are recognised and some
        are refused (a rural labourer already transferred, a graduate past two years)."""
        rng = self.case_rng
        since = (day - dt.timedelta(days=rng.randrange(30, 720))).isoformat()
        if group == "employment_difficulty":
            out: dict[str, Any] = {"unemployed_since": since}
            roll = rng.random()
            if roll < 0.25:
                out |= {"disability": True, "disability_grade": rng.randint(1, 4)}
            elif roll < 0.4:
                out["land_lost"] = True
            elif roll < 0.6:
                out["minimum_living_allowance"] = True
            return out
        if group == "rural_surplus_labour":
            return {"hukou": "rural", "willing_to_work": True,
                    "transferred": rng.random() < 0.1, "unemployed_since": since}  # fmt: skip
        if group == "low_income_graduate":
            graduated = day - dt.timedelta(days=rng.randrange(20, 900))
            need = "minimum_living_allowance" if rng.random() < 0.5 else "low_income"
            return {"graduated_on": graduated.isoformat(), need: True}
        # temporary assistance: linked to the flood when the registration cites it (before
        # the flag, nothing links them: refused until a disaster is recorded)
        linked = {"disaster_id": disaster} if disaster else {}
        return {**linked, "unemployed_since": day.isoformat()}

    def _facts_event(
        self, i: int, region: str, nid: str, facts: dict[str, Any], source: str
    ) -> dict[str, Any]:
        payload = {"national_id": nid, "facts": facts, "observed_on": self._day(i).isoformat(),
                   "source": source}  # fmt: skip
        return self._case_envelope(i, "person.facts_recorded", region, payload)

    def _lead_event(
        self,
        i: int,
        region: str,
        nid: str,
        name: str | None,
        group: str,
        facts: dict[str, Any],
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "national_id": nid,
            "lead_id": f"mz:{nid}",
            "source": "civil_affairs",
            "suggested_target_group": group,
            "facts": facts,
            "record_on": self._day(i).isoformat(),
        }
        if name:
            payload["name"] = name
        event = self._case_envelope(i, "lead.discovered", region, payload)
        event["source"] = "civil-affairs-import"
        event["actor"] = f"civil-affairs-{self.ref.city_of(region) or region}"
        return event

    def _case_envelope(
        self, i: int, event_type: str, region: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        at = self._at(i)
        return {
            "event_id": str(uuid.UUID(int=self.case_rng.getrandbits(128), version=4)),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": at,
            "recorded_at": at,
            "region": region,
            "source": self.cfg.source,
            "actor": f"case-officer-{region}",
            "payload": payload,
        }

    def _follow_ups(self, i: int) -> Iterator[dict[str, Any]]:
        """The slot's queued follow-ups, then perhaps a lead of someone not registered and
        a visit recorded in an office's ledger."""
        out, self._pending = self._pending, []
        yield from out
        rng = self.case_rng
        if rng.random() < self.cfg.lead_share:
            yield from self._discovered(i)
        if self.registered and rng.random() < self.cfg.visit_share:
            nid, county = self.registered[rng.randrange(len(self.registered))]
            payload = {"national_id": nid, "channel": rng.choice(("home_visit", "phone", "office")),
                       "visited_on": self._day(i).isoformat(), "outcome": "contacted"}  # fmt: skip
            yield self._case_envelope(i, "visit.recorded", county, payload)

    def _discovered(self, i: int) -> Iterator[dict[str, Any]]:
        """A 低保 / low-income household member found in the civil-affairs roster, not
        registered; in three households of ten the roster names an employed member too (so
        that household is no zero-employment one)."""
        rng = self.case_rng
        city = rng.choices(self.cities, self.weights)[0]
        county = rng.choice(self.counties[city.code])
        day = self._day(i)
        graduate = rng.random() < 0.35
        years = (21, 26) if graduate else (25, 58)
        born = day - dt.timedelta(days=rng.randrange(365 * years[0], 365 * years[1]))
        self._serial += 1
        nid = make_national_id(county.code, born, self._serial % 1000)
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        group = "low_income_graduate" if graduate else "employment_difficulty"
        household = self._household(county.code, joinable=False)
        need = "minimum_living_allowance" if rng.random() < 0.6 else "low_income"
        facts: dict[str, Any] = {**self._identity_facts(nid), "household_id": household,
                                 need: True, "employed": False}  # fmt: skip
        if graduate:
            facts["graduated_on"] = (day - dt.timedelta(days=rng.randrange(30, 600))).isoformat()
        self.leads.append(Unregistered(nid, name, county.code, group, household, facts))
        yield self._lead_event(i, county.code, nid, name, group, facts)
        if rng.random() < 0.3:
            self._serial += 1
            older = day - dt.timedelta(days=rng.randrange(365 * 30, 365 * 50))
            worker = make_national_id(county.code, older, self._serial % 1000)
            working = {**self._identity_facts(worker), "household_id": household,
                       need: True, "employed": True}  # fmt: skip
            yield self._lead_event(i, county.code, worker, None, "employment_difficulty", working)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (event for event in self.timeline() if event is not None)
