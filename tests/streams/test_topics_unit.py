"""What each topic keeps (topic_configs), without a broker: the in-sync minimum of a
replicated cluster reaches every topic, and only when it is asked for."""

from __future__ import annotations

from streams.topics import RAW_RETENTION_MS, TopicNames, topic_configs

NAMES = TopicNames.for_namespace("eams")


def test_without_a_minimum_the_brokers_default_holds() -> None:
    configs = topic_configs(NAMES, RAW_RETENTION_MS)
    assert set(configs) == set(NAMES.all())
    assert all("min.insync.replicas" not in c for c in configs.values())


def test_a_minimum_of_in_sync_replicas_reaches_every_topic() -> None:
    plain = topic_configs(NAMES, RAW_RETENTION_MS)
    configs = topic_configs(NAMES, RAW_RETENTION_MS, min_insync_replicas=2)
    for name in NAMES.all():
        assert configs[name] == plain[name] | {"min.insync.replicas": "2"}
