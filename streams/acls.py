"""The broker ACLs of one EAMS namespace, created by the admin principal with its topics.

The broker denies whatever no ACL allows (``allow.everyone.if.no.acl.found=false``). Each
namespace gets LITERAL ACLs on its own topic names, so a test namespace ``t1-ab`` and the
production ``eams`` never grant each other anything, plus one PREFIXED ACL for the consumer
groups under ``<ns>.``:

============  ===========================================  ======================
principal     resource                                     operations
============  ===========================================  ======================
raw           topic ``<ns>.ingest.raw``                    WRITE, DESCRIBE
stream        topic ``<ns>.ingest.raw``                    READ, DESCRIBE
stream        topics ``<ns>.events``, ``<ns>.events.dlq``,  READ, WRITE, DESCRIBE
              ``<ns>.commands``, ``<ns>.commands.outcomes``
stream        groups prefixed ``<ns>.``                    READ
============  ===========================================  ======================

The idempotent producers need no cluster ``IDEMPOTENT_WRITE``: since Kafka 3.0 WRITE on a
topic implies it (KIP-679). The admin principal is a super user and needs no ACL.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DescribeAclsRequest,
)
from aiokafka.protocol.api import Request

from streams.errors import AclError
from streams.kafka import KafkaAccess
from streams.topics import TopicNames

__all__ = ["Acl", "AclError", "ensure_acls", "namespace_acls"]

_SECURITY_DISABLED = 54  # the broker runs without an authorizer


class ResourceType(enum.IntEnum):
    """Kafka's ``ResourceType`` codes."""

    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class PatternType(enum.IntEnum):
    """Kafka's ``PatternType`` codes."""

    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    """Kafka's ``AclOperation`` codes (the ones EAMS grants)."""

    ANY = 1
    READ = 3
    WRITE = 4
    DESCRIBE = 8


_ALLOW = 3
_ANY = 1


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: ``principal`` may do ``operation`` on a resource, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType
    operation: Operation

    def __str__(self) -> str:
        return (
            f"{self.principal} {self.operation.name} {self.resource_type.name.lower()} "
            f"{self.pattern.name.lower()} {self.resource_name!r}"
        )


def namespace_acls(namespace: str, names: TopicNames, raw: str, stream: str) -> list[Acl]:
    """The ACLs of ``namespace`` for the raw and stream principals (``User:<name>``)."""
    topic, literal = ResourceType.TOPIC, PatternType.LITERAL
    read, write, describe = Operation.READ, Operation.WRITE, Operation.DESCRIBE
    acls = [
        Acl(raw, topic, names.ingest_raw, literal, write),
        Acl(raw, topic, names.ingest_raw, literal, describe),
        Acl(stream, topic, names.ingest_raw, literal, read),
        Acl(stream, topic, names.ingest_raw, literal, describe),
    ]
    for name in (names.events, names.dlq, names.commands, names.outcomes):
        acls += [Acl(stream, topic, name, literal, op) for op in (read, write, describe)]
    acls.append(Acl(stream, ResourceType.GROUP, f"{namespace}.", PatternType.PREFIXED, read))
    return acls


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    """CreateAcls v1 with several rules in one request (aiokafka's builder takes one)."""

    API_KEY = 30

    def __init__(self, acls: list[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (a.resource_type, a.resource_name, a.pattern, a.principal, "*", a.operation, _ALLOW)
                for a in self._acls
            ]
        )


async def _existing(admin: AIOKafkaAdminClient, principal: str) -> set[Acl] | None:
    """The ALLOW ACLs of ``principal`` on this broker; None when it has no authorizer."""
    request = DescribeAclsRequest(_ANY, None, _ANY, principal, None, _ANY, _ANY)
    response: Any = await admin._send_request(request)
    if response.error_code == _SECURITY_DISABLED:
        return None
    if response.error_code:
        raise AclError(
            f"listing the ACLs of {principal} failed: error {response.error_code} "
            f"{response.error_message}"
        )
    found: set[Acl] = set()
    for rtype, rname, pattern, entries in response.resources:
        for who, _host, op, permission in entries:
            try:
                acl = Acl(who, ResourceType(rtype), rname, PatternType(pattern), Operation(op))
            except ValueError:
                continue  # a rule EAMS does not grant (ALTER, CLUSTER_ACTION …)
            if permission == _ALLOW:
                found.add(acl)
    return found


async def ensure_acls(
    access: KafkaAccess, namespace: str, names: TopicNames, raw: str, stream: str
) -> list[Acl]:
    """Create the ACLs of ``namespace`` that are missing (idempotent); return the new ones.

    ``access`` must be the admin principal. Returns without doing anything when the broker
    runs without an authorizer. Waits until the broker's own authorizer shows the new rules,
    so a client started right after is not refused.
    """
    wanted = namespace_acls(namespace, names, raw, stream)
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        have: set[Acl] = set()
        for principal in (raw, stream):
            found = await _existing(admin, principal)
            if found is None:
                return []
            have |= found
        missing = sorted(set(wanted) - have)
        if not missing:
            return []
        response: Any = await admin._send_request(_CreateAcls(missing))
        for acl, (code, message) in zip(missing, response.creation_responses, strict=True):
            if code:
                raise AclError(f"creating the ACL {acl} failed: error {code} {message}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            visible: set[Acl] = set()
            for principal in (raw, stream):
                visible |= await _existing(admin, principal) or set()
            if set(missing) <= visible:
                return missing
            await asyncio.sleep(0.1)
        raise AclError(f"the broker did not show {len(missing)} new ACLs within 15 s")
    finally:
        await admin.close()
