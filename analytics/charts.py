"""PNG charts of the analytics routes and the notebooks (matplotlib, drawn off screen). Each function takes
the same table the route returns as JSON or CSV and gives the PNG's bytes; money arrives in minor units
(cents) and is drawn in currency units, labelled by marketplace.core.money for the currency's decimals.
Figures are made without pyplot: no global state and no display, so web workers may draw in threads at
once."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from analytics.schemas import CampaignReport
from marketplace.core.money import DEFAULT_CURRENCY, amount_text, format_money, minor_units


def major(amounts: pd.Series, currency: str = DEFAULT_CURRENCY) -> pd.Series:
    """Amounts in minor units as currency units, for drawing."""
    return amounts / 10 ** minor_units(currency)


def money_axis(currency: str = DEFAULT_CURRENCY) -> FuncFormatter:
    """Tick labels for an axis drawn in currency units: "1,500.00" (EUR), "1,500" (JPY)."""
    scale = 10 ** minor_units(currency)
    return FuncFormatter(lambda value, _: amount_text(round(value * scale), currency, grouped=True))


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _dates(frame: pd.DataFrame) -> list[str]:
    return [pd.Timestamp(p).strftime("%d %b") for p in frame["period"]]


def sales_trend(frame: pd.DataFrame, title: str = "Sales", currency: str = DEFAULT_CURRENCY) -> bytes:
    """GMV as bars and orders as a line, per period (columns period, gmv, orders)."""
    figure = Figure(figsize=(9, 4))
    money = figure.subplots()
    x = np.arange(len(frame))
    money.bar(x, major(frame["gmv"], currency), color="#4C72B0", label="GMV")
    money.set_ylabel(f"GMV ({currency})")
    money.yaxis.set_major_formatter(money_axis(currency))
    count = money.twinx()
    count.plot(x, frame["orders"], color="#DD8452", marker="o", label="orders")
    count.set_ylabel("orders")
    count.set_ylim(bottom=0)
    step = max(1, len(x) // 12)
    money.set_xticks(x[::step], _dates(frame)[::step], rotation=45, ha="right")
    money.set_title(title)
    figure.legend(loc="lower center", ncols=2, bbox_to_anchor=(0.5, -0.1))
    return png(figure)


def funnel(frame: pd.DataFrame, title: str = "Conversion funnel") -> bytes:
    """The period's totals of each stage (columns viewed, carted, ordered, paid), each bar labelled with its
    share of the stage before."""
    stages = ["viewed", "carted", "ordered", "paid"]
    totals = [int(frame[stage].sum()) for stage in stages]
    figure = Figure(figsize=(7, 3.6))
    axes = figure.subplots()
    bars = axes.barh(stages[::-1], totals[::-1], color=["#55A868", "#8172B2", "#DD8452", "#4C72B0"])
    for i, bar in enumerate(bars):
        stage = len(stages) - 1 - i
        share = (
            ""
            if stage == 0 or not totals[stage - 1]
            else f"  {totals[stage] / totals[stage - 1]:.1%} of the stage before"
        )
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {totals[stage]:,}{share}", va="center")
    axes.set_xlabel("visitors (views, carts) and buyers (orders, payments)")
    axes.set_xlim(0, max([*totals, 1]) * 1.6)
    axes.set_title(title)
    return png(figure)


def cohort_heatmap(retention: pd.DataFrame, title: str = "Monthly cohorts: share still buying") -> bytes:
    """The retention matrix of analytics.cohorts.retention (rows: cohort month; columns: months since)."""
    return png(cohort_figure(retention, title))


def cohort_figure(retention: pd.DataFrame, title: str = "Monthly cohorts: share still buying") -> Figure:
    """The heatmap as a figure, with a column for every month since the first purchase (a month missing from
    the matrix is drawn empty, in its place, rather than closing the gap)."""
    if len(retention.columns):
        retention = retention.reindex(columns=range(int(max(retention.columns)) + 1))
    figure = Figure(figsize=(1.2 + 0.8 * max(len(retention.columns), 3), 1 + 0.5 * max(len(retention), 2)))
    axes = figure.subplots()
    values = retention.to_numpy(dtype=float)
    image = axes.imshow(values, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (row, column), value in np.ndenumerate(values):
        if not np.isnan(value):
            axes.text(column, row, f"{value:.0%}", ha="center", va="center", color="white" if value > 0.5 else "black")
    axes.set_xticks(range(len(retention.columns)), [str(c) for c in retention.columns])
    axes.set_yticks(range(len(retention.index)), [str(i) for i in retention.index])
    axes.set_xlabel("months since the first purchase")
    axes.set_ylabel("cohort (month of the first purchase)")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, format=PercentFormatter(1.0))
    return figure


def segment_sizes(frame: pd.DataFrame, title: str = "Customer segments", currency: str = DEFAULT_CURRENCY) -> bytes:
    """Members per segment (columns segment, members, and value in currency units when known)."""
    ordered = frame.sort_values("members")
    has_value = "value" in ordered and ordered["value"].notna().any()
    figure = Figure(figsize=(11 if has_value else 7, 0.6 + 0.4 * len(ordered)))
    axes = np.atleast_1d(figure.subplots(1, 2 if has_value else 1))
    axes[0].barh(ordered["segment"], ordered["members"], color="#4C72B0")
    axes[0].set_xlabel("members")
    axes[0].set_title(title)
    if has_value:
        axes[1].barh(ordered["segment"], ordered["value"], color="#55A868")
        axes[1].set_xlabel(f"what they spent ({currency})")
        axes[1].xaxis.set_major_formatter(money_axis(currency))
        axes[1].set_yticks([])
        axes[1].set_title("Spend")
    return png(figure)


def campaign(report: CampaignReport, currency: str = DEFAULT_CURRENCY) -> bytes:
    """The two arms of a campaign side by side (conversion, revenue per member), the uplifts and their
    intervals in the titles."""
    figure = Figure(figsize=(9, 3.6))
    axes = figure.subplots(1, 2)
    arms, colours = ["holdout", "offer"], ["#8C8C8C", "#4C72B0"]
    held, treated = report.holdout, report.treatment
    conversion, revenue = report.conversion_uplift, report.revenue_per_member_uplift
    axes[0].bar(arms, [held.conversion, treated.conversion], color=colours)
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0].set_title(f"bought: {conversion.difference:+.1%} ({conversion.low:+.1%} to {conversion.high:+.1%})")
    per_member = major(pd.Series([held.revenue_per_member, treated.revenue_per_member]), currency)
    axes[1].bar(arms, per_member, color=colours)
    axes[1].yaxis.set_major_formatter(money_axis(currency))
    low, high = (amount_text(v, currency, grouped=True, signed=True) for v in (revenue.low, revenue.high))
    axes[1].set_title(f"revenue per member: {format_money(revenue.difference, currency, signed=True)} "
                      f"({low} to {high})")  # fmt: skip
    share = f"{report.confidence:.0%} intervals; {'final' if report.complete else 'window still open'}"
    srm, warning = report.sample_ratio, ""
    if srm.mismatch:
        warning = f"\nsample ratio mismatch (p = {srm.p_value:.2g}): the arms are not the split asked for"
    figure.suptitle(f"{report.campaign.name}: offer against holdout ({share}){warning}")
    return png(figure)
