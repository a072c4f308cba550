"""The composite risk index (0-100) of a region, from its indicators.

    index = 100 * sum(w_i * clamp((v_i - floor_i) / (cap_i - floor_i), 0, 1)) / sum(w_i)

Each component is 0 at or below its floor and 1 at or above its cap; a region missing an
indicator contributes 0 for it. Weights, floors and caps are configuration
(``EAMS_RISK_INDEX`` points at a YAML file; the defaults below are documented in the
README with their sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from events.errors import ConfigError
from events.severity import LEVELS, NORMAL
from projections.indicators import Values


@dataclass(frozen=True)
class Component:
    """One weighted, normalised indicator of the index."""

    indicator: str
    weight: float
    floor: float
    cap: float


DEFAULT_COMPONENTS: tuple[Component, ...] = (
    # An active disaster flag is the strongest single signal; level I (rank 4) saturates it.
    Component("disaster_area", 0.30, float(NORMAL.rank), float(LEVELS[-1].rank)),
    # Concentrated layoffs: 200+ at one enterprise; three in a week saturate.
    Component("concentrated_layoffs_7d", 0.15, 0.0, 3.0),
    # People laid off in a week at city scale (WARN-style 500+ is one notice).
    Component("people_laid_off_7d", 0.20, 0.0, 2000.0),
    # EB-style trigger: 120 % of the prior years' level sits at 40 % of this component.
    Component("claims_vs_prior_years", 0.15, 1.0, 1.5),
    # Registered-rate bands 4/7/10 %: 10 % job loss saturates.
    Component("job_loss_rate", 0.10, 0.0, 10.0),
    # Temporary-assistance registrations in a week.
    Component("registrations_temporary_assistance_7d", 0.10, 0.0, 500.0),
)


def load_components(path: Path | None) -> tuple[Component, ...]:
    """The configured components, or the defaults when ``path`` is None."""
    if path is None:
        return DEFAULT_COMPONENTS
    try:
        doc = yaml.safe_load(path.read_text())
        items = doc["components"]
        found = tuple(
            Component(
                str(c["indicator"]), float(c["weight"]), float(c.get("floor", 0)), float(c["cap"])
            )
            for c in items
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: expected `components: [{{indicator, weight, floor, cap}}, …]`: {exc}"
        ) from exc
    for c in found:
        if c.cap <= c.floor or c.weight < 0:
            raise ConfigError(f"{path}: {c.indicator}: need cap > floor and weight >= 0")
    return found


def risk_index(values: Values, components: tuple[Component, ...]) -> dict[str, float]:
    """The index of every region that has any of the components' indicators."""
    total = sum(c.weight for c in components) or 1.0
    regions = {r for c in components for r in values.get(c.indicator, {})}
    out: dict[str, float] = {}
    for region in regions:
        score = 0.0
        for c in components:
            v = values.get(c.indicator, {}).get(region)
            if v is not None:
                score += c.weight * min(1.0, max(0.0, (v - c.floor) / (c.cap - c.floor)))
        out[region] = round(100.0 * score / total, 2)
    return out
