"""Case management: the persons the provincial notice names, from discovery to stable work.

Pure domain (no Kafka, no ClickHouse): the recognition rules of each city as versioned
configuration (:mod:`cases.rules`), the facts they read (:mod:`cases.facts`), the engine
that judges them (:mod:`cases.recognition`), the case policy (visit schedules, exit,
clearing deadlines: :mod:`cases.policy`), the person's case and the household as command
aggregates (:mod:`cases.person`, :mod:`cases.household`) and the replay of a decision as of
a date (:mod:`cases.explain`).
"""
