"""Policy assistance (专项就业政策援助): the money the notice moves to persons and employers.

Pure domain (no Kafka, no ClickHouse): the policy catalogue of each city and year as
versioned configuration (:mod:`subsidies.catalogue`), the facts an application adds to a
person's (:mod:`subsidies.application_facts`) and the eligibility check that judges them
and computes the amount and months (:mod:`subsidies.eligibility`).
"""
