"""Kafka stream processing: the Faust app, the ingest agent, producers and the dead-letter topic."""
