"""Shared fixtures: the real broker and real workers live in fixtures.py.

``--full`` selects the fuzz and fault suites' full profile (run by hand; the figures go in
the README); without it they run the CI profile, sized to fit CI's time.
"""

from __future__ import annotations

import pytest
from fixtures import clients, kafka, mailbox, worker, worker_factory  # noqa: F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="fuzz and fault suites: the full profile (100,000 inputs, 20+ kills) instead of CI's",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The full profile runs longer than pytest-timeout's per-test bound (pyproject.toml):
    ``--full`` lifts it unless ``--timeout`` is given."""
    if config.getoption("--full") and config.getoption("timeout", None) is None:
        config.option.timeout = 0.0


@pytest.fixture(scope="session")
def full_profile(request: pytest.FixtureRequest) -> bool:
    """True when the suites run their full profile (``pytest --full``)."""
    return bool(request.config.getoption("--full"))
