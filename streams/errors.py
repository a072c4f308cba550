"""Exceptions of the stream loops and their Kafka clients.

All derive from the project root ``events.errors.EamsError``::

    EamsError
    └── StreamsError                  a stream loop or a Kafka client could not do what was asked
        ├── CommandTimeoutError       no command handler answered within the timeout
        ├── CommandLayoutError        <ns>.commands and <ns>.events are partitioned differently
        ├── KafkaAccessError          client settings incomplete or contradictory (kafka.py)
        ├── AclError                  the broker refused to list or create ACLs (acls.py)
        ├── TopicConfigError          the broker refused a topic or its configuration (topics.py)
        ├── DeadLetterKeyError        the DLQ key is missing, malformed or another (dlq.py)
        ├── EventsNotAcknowledgedError  decided events wait for the broker (writer.py)
        ├── RecordRefusedError        a record no broker takes as it is (also a ValueError)
        └── FlushTimeoutError         records not acknowledged in time (also a TimeoutError)

Messages say what was wrong and what to do.
"""

from __future__ import annotations

from events.errors import EamsError

__all__ = [
    "AclError",
    "CommandLayoutError",
    "CommandTimeoutError",
    "DeadLetterKeyError",
    "EventsNotAcknowledgedError",
    "FlushTimeoutError",
    "KafkaAccessError",
    "RecordRefusedError",
    "StreamsError",
    "TopicConfigError",
]


class StreamsError(EamsError):
    """Root of the exceptions raised by the stream loops."""


class CommandTimeoutError(StreamsError):
    """No command handler answered in time. The command may still be decided later: sending
    it again with the same command id is harmless (it is decided at most once)."""


class CommandLayoutError(StreamsError):
    """The command topic cannot be handled: its partitions do not match the event log's, so
    a handler could not fold an aggregate's events from the partition of its commands."""


class KafkaAccessError(StreamsError):
    """Kafka client settings are incomplete or contradictory; says which setting to fix."""


class AclError(StreamsError):
    """The broker refused to list or create ACLs; the message has its error code."""


class TopicConfigError(StreamsError):
    """The broker refused to create a topic or to change its configuration."""


class DeadLetterKeyError(StreamsError):
    """The DLQ key is missing, malformed or not the one the entries were sealed with."""


class EventsNotAcknowledgedError(StreamsError):
    """Events of a component are not (yet) in the log; they are kept and retried, and what
    they decide takes effect once the broker acknowledges them."""


class RecordRefusedError(StreamsError, ValueError):
    """A record that can never be written as it is (larger than a batch or than the broker
    takes per record): sending it again fails the same way, so its writer must set it
    aside (dead-letter it) rather than retry."""


class FlushTimeoutError(StreamsError, TimeoutError):
    """A caller's records were not all acknowledged within its flush timeout. They stay in
    flight (aiokafka keeps retrying them until its own request timeout): flush the same
    futures again to keep waiting, or re-add the records whose future failed."""
