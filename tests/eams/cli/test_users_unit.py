"""``eams apikeys add|list``: allow-lists are checked, printed, stored and listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from eams.auth import AuthError, UserStore
from eams.cli import app


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir of its own for the CLI."""
    monkeypatch.setenv("EAMS_STATE_DIR", str(tmp_path))
    return tmp_path


def test_a_key_with_allow_lists_says_what_it_may_do(state: Path) -> None:
    runner = CliRunner()
    types = "layoff.reported,person.registered"
    done = runner.invoke(app, ["apikeys", "add", "civil-affairs", "--types", types,
                               "--region", "371300"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "may submit layoff.reported, person.registered for 371300" in done.output
    key = done.output.strip().splitlines()[-1]
    who = UserStore(state / "users.sqlite").api_key(key)
    assert who is not None and who.types == ("layoff.reported", "person.registered")
    assert who.regions == ("371300",)
    listed = runner.invoke(app, ["apikeys", "list"])
    assert "types: layoff.reported, person.registered; regions: 371300" in listed.output


def test_the_default_is_every_source_type_and_region_and_is_printed(state: Path) -> None:
    done = CliRunner().invoke(app, ["apikeys", "add", "tax-bureau"])
    assert done.exit_code == 0, done.output
    assert "may submit every source event type for every region" in done.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--types", "layoff.reportd"], "unknown event type 'layoff.reportd'"),
        (["--types", "alert.acknowledged"], "recorded by EAMS itself"),
        (["--region", "379999"], "'379999' is not a region code"),
    ],
)
def test_wrong_allow_lists_are_refused(state: Path, args: list[str], says: str) -> None:
    done = CliRunner().invoke(app, ["apikeys", "add", "civil-affairs", *args])
    assert isinstance(done.exception, AuthError)  # `eams` prints it as one line, exit code 2
    assert says in str(done.exception)
    assert UserStore(state / "users.sqlite").api_keys() == []
