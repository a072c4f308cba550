"""A period's evaluation computed from the read models (:func:`compute`: the measures of
:mod:`projections.evaluation_queries` scored by :mod:`subsidies.evaluation`), and a frozen
one as files a department sends on: Excel (xlsxwriter) and PDF (weasyprint, with a bar
chart of the cities' totals drawn as SVG). Both files show exactly the frozen figures
(``evaluation.frozen``), in Chinese or English, with region names, the period, the instant
the figures are as of, and the indicator table (weights, targets, what each counts) and its
checksum.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter

from events.regions import RegionReference
from projections.client import Store
from projections.evaluation_queries import count_measures, evaluate
from subsidies.evaluation import MEASURES, EvaluationTable, Period, score

__all__ = ["compute", "percent", "to_pdf", "to_xlsx"]


def compute(
    store: Store,
    reference: RegionReference,
    table: EvaluationTable,
    period: Period,
    as_of: dt.datetime,
    positions: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Every region's evaluation of ``period`` under ``table`` as the log was known at
    ``as_of`` (and below ``positions``, the log's next offset per partition, when given):
    counts, values, scores, total and rank (the scores of ``evaluation.frozen``)."""
    days = {i.measure: i.days for i in table.indicators if i.days is not None}
    counts = count_measures(store, period.start_at, period.end_at, as_of, days, positions)
    by_region, levels = evaluate(counts, reference, {i.id: i.measure for i in table.indicators})
    return score(table, by_region, levels)


_T = {
    "zh": {
        "rank": "排名",
        "region": "地区",
        "code": "代码",
        "city": "所属市",
        "total": "总分",
        "cities": "各市",
        "counties": "各县（市、区）",
        "indicators": "指标",
        "period": "评价期",
        "as_of": "数据截至",
        "table": "指标体系",
        "weight": "权重",
        "target": "目标值",
        "measure": "计算口径",
        "value": "值",
        "score": "得分",
        "counted": "分子/分母",
        "na": "不适用",
    },
    "en": {
        "rank": "Rank",
        "region": "Region",
        "code": "Code",
        "city": "City",
        "total": "Total",
        "cities": "Cities",
        "counties": "Counties",
        "indicators": "Indicators",
        "period": "Period",
        "as_of": "Figures as of",
        "table": "Indicator table",
        "weight": "Weight",
        "target": "Target",
        "measure": "What it counts",
        "value": "Value",
        "score": "Score",
        "counted": "Counted",
        "na": "n/a",
    },
}


def percent(value: str | None) -> str:
    """A value (0-1) as people read it: ``95.2%``; none: ``—``."""
    return "—" if value is None else f"{Decimal(value) * 100:.1f}%"


def _count(value: str) -> str:
    d = Decimal(value)
    return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,.2f}"


def _title(ind: Any, lang: str) -> str:
    return str(ind.title if lang == "zh" else ind.title_en)


def _rows(doc: Mapping[str, Any], level: str) -> list[Mapping[str, Any]]:
    return [r for r in doc["regions"] if r["level"] == level]


def to_xlsx(
    doc: Mapping[str, Any], names: Mapping[str, str], table: EvaluationTable, lang: str = "zh"
) -> bytes:
    """The workbook: the cities, the counties, and the indicator table."""
    t = _T[lang]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True})
    pct = book.add_format({"num_format": "0.0%", "border": 1})
    num = book.add_format({"num_format": "#,##0.00", "border": 1})
    cell = book.add_format({"border": 1})
    for level, label in (("city", t["cities"]), ("county", t["counties"])):
        sheet = book.add_worksheet(label[:31])
        sheet.write(0, 0, f"{doc['title']} — {label}", bold)
        sheet.write(1, 0, f"{t['period']}: {doc['period']} ({doc['start']} – {doc['end']})")
        sheet.write(2, 0, f"{t['as_of']}: {doc['as_of']}   {t['table']}: {doc['table']}")
        columns = [t["rank"], t["region"], t["code"]] + ([t["city"]] if level == "county" else [])
        columns.append(t["total"])
        for ind in table.indicators:
            columns += [f"{_title(ind, lang)} {t['value']}", f"{t['score']} ({ind.weight})"]
        sheet.write_row(4, 0, columns, head)
        for n, r in enumerate(_rows(doc, level), start=5):
            values: list[Any] = [
                r.get("rank") or "—",
                names.get(r["region"], r["region"]),
                r["region"],
            ]
            if level == "county":
                city = f"{r['region'][:4]}00"
                values.append(names.get(city, city))
            sheet.write_row(n, 0, values, cell)
            col = len(values)
            if r.get("total") is None:
                sheet.write(n, col, t["na"], cell)
            else:
                sheet.write_number(n, col, float(r["total"]), num)
            col += 1
            for ind in table.indicators:
                got = r["indicators"].get(ind.id, {})
                if got.get("value") is None:
                    sheet.write(n, col, t["na"], cell)
                    sheet.write(n, col + 1, t["na"], cell)
                else:
                    sheet.write_number(n, col, float(got["value"]), pct)
                    sheet.write_number(n, col + 1, float(got["score"]), num)
                col += 2
        sheet.set_column(0, 0, 6)
        sheet.set_column(1, 3, 14)
        sheet.set_column(4, len(columns), 12)
        sheet.freeze_panes(5, 2)
    sheet = book.add_worksheet(t["indicators"][:31])
    sheet.write(0, 0, f"{t['table']}: {doc['table']}", bold)
    sheet.write_row(2, 0, ["id", t["indicators"], t["weight"], t["target"], t["measure"]], head)
    for n, ind in enumerate(table.indicators, start=3):
        sheet.write_row(
            n,
            0,
            [
                ind.id,
                _title(ind, lang),
                float(ind.weight),
                float(ind.target),
                MEASURES[ind.measure],
            ],
            cell,
        )
    sheet.set_column(0, 1, 24)
    sheet.set_column(4, 4, 90)
    book.close()
    return out.getvalue()


def _bars(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    """A horizontal bar chart (SVG) of the totals, highest first."""
    shown = [r for r in rows if r.get("total") is not None]
    width, bar, gap, left = 640, 16, 6, 90
    height = len(shown) * (bar + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for i, r in enumerate(shown):
        y = 5 + i * (bar + gap)
        w = float(r["total"]) / 100 * (width - left - 60)
        name = html.escape(names.get(r["region"], r["region"]))
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" font-size="11">{name}</text>'
        )
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="#3b6fb6"/>')
        parts.append(
            f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="11">{r["total"]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(
    rows: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    table: EvaluationTable,
    lang: str,
    county: bool,
) -> str:
    t = _T[lang]
    head = [t["rank"], t["region"]] + ([t["city"]] if county else []) + [t["total"]]
    head += [_title(ind, lang) for ind in table.indicators]
    out = [
        "<table><thead><tr>",
        *(f"<th>{html.escape(h)}</th>" for h in head),
        "</tr></thead><tbody>",
    ]
    for r in rows:
        cells = [str(r.get("rank") or "—"), names.get(r["region"], r["region"])]
        if county:
            city = f"{r['region'][:4]}00"
            cells.append(names.get(city, city))
        cells.append(r["total"] if r.get("total") is not None else t["na"])
        for ind in table.indicators:
            got = r["indicators"].get(ind.id, {})
            cells.append(
                t["na"] if got.get("value") is None else f"{percent(got['value'])} ({got['score']})"
            )
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


_CSS = """
@page { size: A4 landscape; margin: 12mm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 9pt; }
h1 { font-size: 15pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 12pt 0 4pt; }
p.meta { color: #444; margin: 0 0 2pt; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #999; padding: 2pt 3pt; text-align: right; }
th { background: #dce6f1; } td:nth-child(2), td:nth-child(3) { text-align: left; }
tr { page-break-inside: avoid; }
"""


def to_pdf(
    doc: Mapping[str, Any], names: Mapping[str, str], table: EvaluationTable, lang: str = "zh"
) -> bytes:
    """The report: the cities' totals as a chart, the cities' and counties' tables, the
    indicator table."""
    import weasyprint  # imported when a report is made: it loads pango and its fonts

    t = _T[lang]
    cities, counties = _rows(doc, "city"), _rows(doc, "county")
    defs = "".join(
        f"<tr><td>{html.escape(_title(i, lang))}</td><td>{i.weight}</td><td>{i.target}</td>"
        f"<td style='text-align:left'>{html.escape(MEASURES[i.measure])}</td></tr>"
        for i in table.indicators
    )
    period = f"{html.escape(str(doc['period']))} ({doc['start']} – {doc['end']})"
    as_of = f"{html.escape(str(doc['as_of']))} · {t['table']}: {html.escape(str(doc['table']))}"
    body = f"""
    <h1>{html.escape(str(doc["title"]))}</h1>
    <p class="meta">{t["period"]}: {period}</p>
    <p class="meta">{t["as_of"]}: {as_of}</p>
    <h2>{t["cities"]} — {t["total"]}</h2>{_bars(cities, names)}
    <h2>{t["cities"]}</h2>{_html_table(cities, names, table, lang, county=False)}
    <h2>{t["counties"]}</h2>{_html_table(counties, names, table, lang, county=True)}
    <h2>{t["indicators"]}</h2>
    <table><thead><tr><th>{t["indicators"]}</th><th>{t["weight"]}</th><th>{t["target"]}</th>
    <th>{t["measure"]}</th></tr></thead><tbody>{defs}</tbody></table>
    """
    page = (
        f"<html><head><meta charset='utf-8'><style>{_CSS}</style></head><body>{body}</body></html>"
    )
    return bytes(weasyprint.HTML(string=page).write_pdf())
