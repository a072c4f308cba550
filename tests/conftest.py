"""Shared fixtures: the real broker and real workers live in fixtures.py."""

from fixtures import kafka, mailbox, worker, worker_factory  # noqa: F401
