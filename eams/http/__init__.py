"""The HTTP API of ``eams run``: ingest for source systems, reads of the projections, the
commands of duty officers and incident teams, and the web console.

:func:`eams.http.app.create_api` builds the app over a running :class:`eams.host.Host`:
one router per resource (``ingest``, ``overview``, ``alerts``, ``silences``, ``rules``,
``playbooks``, ``quarantine``, ``dlq``, ``console``, ``admin``, and the session routes of
``auth``); :mod:`eams.http.errors` turns the errors routes raise into status codes, in one
place; :mod:`eams.http.scope` is the caller's region scope, which every route reading
region data declares; :mod:`eams.http.disclosure` and :mod:`eams.http.limits` stand in
front of every route; :mod:`eams.http.openapi` documents the routes' own 422 messages.
"""
