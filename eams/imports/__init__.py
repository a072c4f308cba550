"""File import: real files from real offices turned into events by a mapping alone.

- ``readers``: CSV/TSV (a real CSV parser), Excel ``.xlsx``/``.xls`` (python-calamine),
  NDJSON; encodings detected or set; header rows chosen, merged header rows joined.
- ``values``: dates, numbers, normalisers, value maps, and what Excel did to a cell.
- ``places``: region names at any level to region codes (former names, ambiguity).
- ``mapping``: the mapping language (YAML, JSON Schema, lint with file:line).
- ``convert``: one record to one event, by a mapping.
- ``check`` and ``suggest``: ``eams import --check`` and ``eams mapping suggest``.

Sending to Kafka is :mod:`eams.tools.importer`'s; nothing here does I/O but reading files.
"""
