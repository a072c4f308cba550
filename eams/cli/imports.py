"""``eams import`` and ``eams mapping lint|suggest|schema``: files from offices, through a
mapping (:mod:`eams.imports`), into the running worker (:mod:`eams.tools.importer`)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TimeRemainingColumn,
)

from eams.broker import ensure_broker
from eams.cli.common import console, err, settings
from eams.imports.check import render, run_check
from eams.imports.convert import Converter
from eams.imports.mapping import json_schema, lint_mapping
from eams.imports.readers import Table, open_table
from eams.imports.suggest import suggest_mapping
from eams.tools.importer import (
    CHECKPOINT_EVERY,
    ImportReport,
    format_spec,
    import_file,
    open_input,
)
from events.regions import load_reference

mapping_app = typer.Typer(
    help="Import mappings (YAML): check one, start one from a file's header, or get the "
    "JSON Schema for an editor.",
    no_args_is_help=True,
)

Format = Annotated[
    str | None,
    typer.Option("--format", help="auto, csv, tsv, xlsx, xls or ndjson (default: by suffix)"),
]
Encoding = Annotated[
    str | None, typer.Option(help="utf-8, utf-8-sig, gb18030 … (default: detected)")
]
Sheet = Annotated[str | None, typer.Option(help="Excel sheet name or 1-based number")]
HeaderRow = Annotated[int | None, typer.Option(help="1-based row of the header (titles above)")]
HeaderRows = Annotated[int | None, typer.Option(help="Rows the header spans (merged headers)")]


def _sheet(value: str | None) -> str | int | None:
    return int(value) if value is not None and value.isdigit() else value


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, Excel (.xlsx/.xls) or NDJSON file")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML mapping (columns -> event fields); see deploy/mappings/"),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Convert and report, send nothing (no worker needed)")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the checkpoint of an interrupted import")
    ] = False,
    sample: Annotated[int, typer.Option(help="--check: events shown as JSON")] = 3,
    checkpoint_every: Annotated[
        int, typer.Option(min=100, help="Records between checkpoints (each waits for the broker)")
    ] = CHECKPOINT_EVERY,
    fmt: Format = None,
    encoding: Encoding = None,
    sheet: Sheet = None,
    header_row: HeaderRow = None,
    header_rows: HeaderRows = None,
) -> None:
    """Import a file's records as events (validated again by the running worker).

    With a mapping, a record becomes an event or is dead-lettered with the line, the column
    and the reason (`eams dlq list`); skip rules and repeated records are counted. NDJSON
    without a mapping is one event per line. Look first, send nothing:

        eams import il.csv --mapping deploy/mappings/warn_il.yaml --check

    Ctrl-C writes a checkpoint within a thousand records and stops; the same command resumes
    there (nothing lost, nothing doubled). Start a mapping with `eams mapping suggest FILE`.
    """
    s = settings()
    table, doc = open_input(
        file, mapping, kind=fmt, encoding=encoding, sheet=_sheet(sheet),
        header_row=header_row, header_rows=header_rows,
    )  # fmt: skip
    total = table.count()
    if check:
        if doc is None or not isinstance(table, Table):
            raise typer.BadParameter("--check needs --mapping", param_hint="--check")
        reference = load_reference(doc.hierarchy or s.region_hierarchy)
        converter = Converter(doc, table.columns, reference, source=f"import:{file.name}")
        with _progress() as bar:
            task = bar.add_task(f"checking {file.name}", total=total)
            checked = run_check(
                table, converter, str(mapping), sample=sample,
                progress=lambda n: bar.update(task, completed=n),
            )  # fmt: skip
        sys.stdout.write(render(checked) + "\n")
        return
    ensure_broker(s)
    stop = asyncio.Event()

    async def run() -> ImportReport:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with _progress() as bar:
            task = bar.add_task(f"importing {file.name}", total=total)
            return await import_file(
                table, doc, kafka=s.kafka("raw"), dlq_kafka=s.kafka("stream"),
                topic_names=s.topics, hierarchy=s.region_hierarchy, signing_key=s.ingest_key(),
                dlq_key=s.dead_letter_key(), state_dir=s.state_dir, mapping_path=mapping,
                restart=restart, checkpoint_every=checkpoint_every, stop=stop,
                on_progress=lambda n: bar.update(task, completed=n),
            )  # fmt: skip

    report = asyncio.run(run())
    _summary(report, doc is None)
    if report.interrupted:
        raise typer.Exit(130)


def _summary(report: ImportReport, raw: bool) -> None:
    """The summary, one plain line each (never wrapped: scripts read it)."""
    resumed = f" (resumed after record {report.resumed_from:,})" if report.resumed_from else ""
    skipped = sum(report.skipped.values())
    if raw:
        lines = [
            f"{report.records} records{resumed}: {report.submitted} submitted to "
            f"eams.ingest.raw, {report.dead_lettered} dead-lettered (see `eams dlq list`)"
        ]
    else:
        lines = [
            f"{report.records:,} records{resumed}: {report.accepted:,} accepted and submitted "
            f"to eams.ingest.raw, {report.dead_lettered:,} dead-lettered (see `eams dlq list`), "
            f"{skipped:,} skipped"
        ]
        lines += [f"  skipped {n:,}: {why}" for why, n in report.skipped.most_common()]
    sys.stdout.write("\n".join(lines) + "\n")
    if report.interrupted:
        err.print(
            f"interrupted after record {report.records:,}: run the same command again to "
            f"resume there (checkpoint {report.checkpoint})"
        )


@mapping_app.command("lint")
def lint_cmd(
    mapping: Annotated[Path, typer.Argument(help="The mapping (YAML)")],
    file: Annotated[
        Path | None, typer.Option(help="Also check the columns it names against this file")
    ] = None,
    fmt: Format = None,
    encoding: Encoding = None,
    sheet: Sheet = None,
    header_row: HeaderRow = None,
    header_rows: HeaderRows = None,
) -> None:
    """Check a mapping: every problem as file:line: where: message, with a did-you-mean for a
    misspelt key, event type, field or column (exit 1 if any)."""
    columns = None
    if file is not None:
        spec = format_spec(None, kind=fmt, encoding=encoding, sheet=_sheet(sheet),
                           header_row=header_row, header_rows=header_rows)  # fmt: skip
        columns = list(open_table(file, spec).columns)
    problems = lint_mapping(mapping, columns)
    for problem in problems:
        sys.stdout.write(problem + "\n")
    if problems:
        err.print(f"{len(problems)} problem(s) in {mapping}")
        raise typer.Exit(1)
    console.print(f"{mapping}: OK")


@mapping_app.command("suggest")
def suggest_cmd(
    file: Annotated[Path, typer.Argument(help="The file to map (CSV, TSV, Excel)")],
    out: Annotated[
        Path | None, typer.Option(help="Write the mapping here (default: print it)")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option(help="The event type (default: guessed from the headers)")
    ] = None,
    fmt: Format = None,
    encoding: Encoding = None,
    sheet: Sheet = None,
    header_row: HeaderRow = None,
    header_rows: HeaderRows = None,
) -> None:
    """Write a starting mapping from a file's headers and first rows (English and Chinese
    synonyms: 姓名, 公民身份号码, 登记日期, 企业名称, 裁员人数 …) for a person to edit, then
    check it with `eams import FILE --mapping M --check`."""
    spec = format_spec(None, kind=fmt, encoding=encoding, sheet=_sheet(sheet),
                       header_row=header_row, header_rows=header_rows)  # fmt: skip
    text = suggest_mapping(open_table(file, spec), spec, event_type=event_type)
    if out is None:
        sys.stdout.write(text)
        return
    if out.exists():
        raise typer.BadParameter(f"{out} exists; choose another name", param_hint="--out")
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}: edit it, then `eams import {file} --mapping {out} --check`")


@mapping_app.command("schema")
def schema_cmd() -> None:
    """The JSON Schema of a mapping file (for an editor's completion and checks)."""
    sys.stdout.write(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")
