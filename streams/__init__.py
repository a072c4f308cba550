"""Kafka stream processing: the ingest stream, producers, topics and the dead-letter topic."""
