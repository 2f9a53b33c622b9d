"""The report as one self-contained HTML page with plots (matplotlib, rendered here, PNGs
embedded as data URIs): the hourly load curve, the 15 s answer rate against its target,
waits as a distribution, traffic per legacy line.  Chinese labels need a CJK font (Debian's
``fonts-wqy-microhei``, installed by ``tools/bootstrap``); without one the plots fall back
to English labels (never boxes for missing glyphs)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.reports.report import ROWS, Report, show

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: where Debian and its derivatives put CJK fonts matplotlib can read (first found wins)
CJK_FONT_FILES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


@lru_cache(maxsize=1)
def cjk_font(candidates: Sequence[str] = CJK_FONT_FILES) -> str | None:
    """The family name of the first CJK font found (registered with matplotlib), or None."""
    from matplotlib import font_manager

    for path in candidates:
        if Path(path).is_file():
            try:
                font_manager.fontManager.addfont(path)
                return str(font_manager.FontProperties(fname=path).get_name())
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def _label(zh: str, en: str, cjk: bool) -> str:
    return f"{zh} {en}" if cjk else en


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, 3.2), dpi=100, layout="constrained")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _style(ax: Axes) -> None:
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def plots(report: Report, font: str | None) -> dict[str, str]:
    """Each plot as a PNG data URI, keyed by name."""
    from matplotlib import rc_context

    cjk = font is not None
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    out: dict[str, str] = {}
    hours = list(range(24))
    with rc_context({"font.family": families, "axes.unicode_minus": False}):
        fig = _figure()
        ax = fig.add_subplot()
        ax.bar(hours, [int(report.hourly[h]["offered"] or 0) for h in hours], color="#9db7d9",
               label=_label("呼入", "offered", cjk))
        ax.plot(hours, [int(report.hourly[h]["answered"] or 0) for h in hours], color="#1f4e8c",
                marker="o", ms=3, label=_label("接听", "answered", cjk))
        ax.set_xticks(hours[::2])
        ax.set_xlabel(_label("时", "hour", cjk))
        ax.set_title(_label("每小时话务量", "hourly load", cjk))
        ax.legend(loc="upper left", frameon=False)
        _style(ax)
        out["load"] = _png(fig)

        fig = _figure()
        ax = fig.add_subplot()
        shares = [report.hourly[h]["within_target_share"] for h in hours]
        ax.plot([h for h, v in zip(hours, shares, strict=True) if v is not None],
                [100 * float(v) for v in shares if v is not None], color="#1f4e8c", marker="o",
                ms=3, label=_label("15秒接通率", "answered within 15 s", cjk))
        ax.axhline(100 * report.connection_target, color="#c0392b", ls="--",
                   label=_label("目标", "target", cjk) + f" {report.connection_target:.0%}")
        ax.set_ylim(0, 105)
        ax.set_xlim(-0.5, 23.5)
        ax.set_xticks(hours[::2])
        ax.set_xlabel(_label("时", "hour", cjk))
        ax.set_ylabel("%")
        ax.set_title(_label("15秒接通率", "answered within 15 s", cjk))
        ax.legend(loc="lower left", frameon=False)
        _style(ax)
        out["service_level"] = _png(fig)

        fig = _figure()
        ax = fig.add_subplot()
        names = list(report.waits)
        colors = ["#2e86c1" if not n.startswith(">") and int(n.split("-")[1]) <= report.target_s
                  else "#e67e22" for n in names]
        ax.bar(names, list(report.waits.values()), color=colors)
        ax.set_xlabel(_label("等待时长 (秒)", "wait (s)", cjk))
        ax.set_title(_label("等待时长分布", "waits of answered calls", cjk))
        _style(ax)
        out["waits"] = _png(fig)

        fig = _figure()
        ax = fig.add_subplot()
        lines = report.merger[:15][::-1]
        phases = sorted({p for line in lines for p in line.phases})
        palette = {"transition": "#e67e22", "cancelled": "#c0392b", "active": "#2e86c1",
                   "not_yet_merged": "#7f8c8d"}
        left = [0] * len(lines)
        for phase in phases:
            counts = [line.phases.get(phase, 0) for line in lines]
            ax.barh([line.number for line in lines], counts, left=left,
                    color=palette.get(phase, "#95a5a6"), label=phase)
            left = [a + b for a, b in zip(left, counts, strict=True)]
        ax.set_title(_label("原热线号码话务", "calls to legacy numbers", cjk))
        if phases:
            ax.legend(loc="lower right", frameon=False)
        _style(ax)
        out["merger"] = _png(fig)
    return out


_STYLE = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;margin:1.5em;color:#222}
.kpi{display:inline-block;margin:0 1em 1em 0;padding:.7em 1.1em;border-radius:6px;background:#f2f4f7}
.kpi b{display:block;font-size:1.7em}.bad{background:#fde2e1}.good{background:#e3f6e8}
img{max-width:100%;margin:.5em 1em .5em 0}
table{border-collapse:collapse;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:right}
th:first-child,td:first-child{text-align:left}
"""


def kpi_cards(kpis: Sequence[tuple[str, str, str]]) -> str:
    """Headline figures as cards: (label, value, ``good``/``bad``/``""``)."""
    return "".join(f"<div class='kpi {c}'>{escape(k)}<b>{escape(v)}</b></div>" for k, v, c in kpis)


def page(title: str, heading: str, body: str, style: str = "") -> str:
    """The report pages' shell (``hotline report``, ``hotline listening report --html``)."""
    return ("<!doctype html><html lang=zh><meta charset=utf-8>"
            f"<title>{escape(title)}</title><style>{_STYLE}{style}</style>"
            f"<h1>{escape(heading)}</h1>{body}</html>\n")


def render_html(report: Report, font: str | bool | None = True) -> str:
    """The page.  ``font``: True finds a CJK font, None/False forces English plot labels."""
    family = cjk_font() if font is True else (font or None)
    images = plots(report, family if isinstance(family, str) else None)
    total = report.total
    sl, conn = total.answered_within_target_share, total.connection_rate

    def badge(value: float | None, target: float) -> str:
        return "" if value is None else ("good" if value >= target else "bad")

    kpis = [
        ("呼入 offered", str(total.offered), ""),
        ("接听 answered", str(total.answered), ""),
        ("15秒接通率 within 15 s", show("answered_within_target_share", total),
         badge(sl, report.connection_target)),
        ("24小时接通率 connection", show("connection_rate", total), badge(conn, report.connection_target)),
        ("放弃 abandoned", str(total.abandoned), ""),
        ("平均等待 avg wait", show("avg_wait_s", total), ""),
        ("工单 work orders", str(total.workorders), ""),
        ("满意率 satisfaction", show("satisfaction", total), ""),
    ]
    columns = [("total", total), *report.groups.items()]
    head = "".join(f"<th>{escape(name)}</th>" for name, _ in columns)
    rows = "".join(f"<tr><td>{escape(label)}</td>"
                   + "".join(f"<td>{escape(show(f, k))}</td>" for _, k in columns) + "</tr>"
                   for f, label in ROWS)
    outcomes = sorted({o for _, k in columns for o in k.transfers})
    rows += "".join(f"<tr><td>转接 transfers: {escape(o)}</td>"
                    + "".join(f"<td>{k.transfers.get(o, 0)}</td>" for _, k in columns) + "</tr>"
                    for o in outcomes)
    merger = "".join(
        f"<tr><td>{escape(line.number)}</td><td>{escape(line.line_name or '-')}</td>"
        f"<td>{escape(line.mode or '-')}</td><td>{line.calls}</td>"
        f"<td>{escape(', '.join(f'{p} {n}' for p, n in line.phases.items()))}</td>"
        f"<td>{escape(line.last_call or '-')}</td></tr>" for line in report.merger)
    period = f"{report.since.isoformat()} – {report.until.isoformat()}"
    return page(
        f"12345 热线运营报表 {period}", "12345 热线运营报表 · operations report",
        f"<p>{escape(period)}</p>" + kpi_cards(kpis)
        + "<div>" + "".join(f"<img alt='{escape(name)}' src='{uri}'>" for name, uri in images.items())
        + "</div>"
        f"<h2>指标 KPIs</h2><table><tr><th></th>{head}</tr>{rows}</table>"
        "<h2>原热线号码话务 merger traffic</h2>"
        "<table><tr><th>号码 number</th><th>线路 line</th><th>方式 mode</th><th>呼入 calls</th>"
        f"<th>阶段 phases</th><th>最近 last call</th></tr>{merger}</table>")
