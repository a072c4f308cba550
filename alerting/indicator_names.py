"""Names of the risk indicators that rules may refer to.

The indicators are computed per region and period by the risk stream (``streams/risk``);
this module only names them so ``eams rules lint`` can reject a misspelt ``indicator:``.
Units, as the rules in ``alerting/rules/default.yaml`` assume them:

- ``people_laid_off_7d``: people laid off in the last 7 days (rolling), absolute
- ``people_laid_off_7d_per_million``: the same per million residents (cities, US states and
  the province: the regions whose population the reference has), so one threshold fits a
  city of 2 million and a state of 29 million
- ``concentrated_layoffs_7d``: ``layoff.reported`` events in the last 7 days with 200+
  people laid off at one enterprise
- ``job_loss_rate``: percent of the base headcount of monitored enterprises lost
- ``registrations_temporary_assistance_7d``: new temporary-assistance registrations, 7 days
- ``claims_vs_prior_years``: unemployment-insurance claims over the mean of the same
  period of the two earlier years (1.2 = 120 %)
- ``disaster_area``: disaster-area severity as a number (0 none, 1 = IV … 4 = I)
- ``vacancy_to_applicant_ratio``: vacancies per applicant (lower is worse; for dashboards)
- ``applicant_to_vacancy_ratio``: its inverse, applicants per vacancy (higher is worse;
  rules use this one so that higher values are always worse)
- ``zero_employment_households_open``: zero-employment households not yet cleared
- ``welfare_post_slots``: slots of the public-welfare posts open (not people: posts are
  advertised)
- ``welfare_post_holders``: people holding a public-welfare post now
- ``risk_index``: composite risk index, 0-100
- ``headcount_report_gap``: reporting periods overdue for ``enterprise.headcount_reported``
  (time since the region's last report divided by the rule's ``cadence``)
"""

from __future__ import annotations

__all__ = ["INDICATOR_NAMES"]

INDICATOR_NAMES: frozenset[str] = frozenset(
    {
        "people_laid_off_7d",
        "people_laid_off_7d_per_million",
        "concentrated_layoffs_7d",
        "job_loss_rate",
        "registrations_temporary_assistance_7d",
        "claims_vs_prior_years",
        "disaster_area",
        "vacancy_to_applicant_ratio",
        "applicant_to_vacancy_ratio",
        "zero_employment_households_open",
        "welfare_post_slots",
        "welfare_post_holders",
        "risk_index",
        "headcount_report_gap",
    }
)
