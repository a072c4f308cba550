"""The ``eams`` command line.  Run ``eams --help`` for the tour.

Every command reads its settings from ``EAMS_*`` variables (see README, Configuration).
Errors of the project (``EamsError``) are printed as one line that says what was wrong and
what to do, with exit code 2; no stack traces for users.

One module per command group (``kafka``, ``worker``: run, status and rebuild, ``tools``:
import, simulate and demo, ``catalogue``: events and regions, ``alerts`` with silences,
``rules``, ``playbooks``, ``users`` with API keys, ``quarantine``, ``dlq``, ``grafana``);
:mod:`eams.cli.app` assembles them into one Typer app, and :mod:`eams.cli.common` holds
what they share. The console script is ``eams = "eams.cli:main"``.
"""

from eams.cli.app import app, main

__all__ = ["app", "main"]
