"""EAMS: the process around the domain (settings, keys, users, the local broker, the worker's
host and ``eams run``), with its HTTP API (``eams.http``), its command line (``eams.cli``)
and the tools that drive a worker from outside (``eams.tools``)."""
