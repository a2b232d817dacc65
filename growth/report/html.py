"""``growth report``'s page: plots as inline SVG in one HTML file that opens anywhere.

Everything here is pure: ``render(ReportData)`` returns the page. A section whose data is
not there yet (no scored day whose outcome is known, no campaign with a control group)
says what it waits for instead of drawing an empty plot.
"""

from __future__ import annotations

import dataclasses
import html
import io
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display: the report is rendered on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from growth.models.uplift_metrics import qini_curve  # noqa: E402

TIER_ORDER = ["S", "A", "B", "C", "D", "new"]
COLORS = {"S": "#1b5e20", "A": "#43a047", "B": "#9ccc65", "C": "#ffb74d", "D": "#e57373",
          "new": "#90a4ae"}


@dataclasses.dataclass
class Outcomes:
    """Scored entities whose outcome is known: ``probability`` and ``outcome`` columns."""

    entity: str
    scored_on: date
    frame: pd.DataFrame


@dataclasses.dataclass
class Campaign:
    """One closed campaign: ``score``, ``treated`` (0/1), ``outcome`` (0/1) per entity."""

    entity: str
    name: str
    frame: pd.DataFrame


@dataclasses.dataclass
class ReportData:
    """Everything the page shows. ``tiers``: entity, tier, previous_tier (one row per
    scored entity of the day); ``importance``: entity, feature, gain; ``quality``: table,
    checks, failed; ``freshness``: table, last_success, age_hours, stale."""

    as_of: date
    tiers: pd.DataFrame
    outcomes: list[Outcomes]
    campaigns: list[Campaign]
    importance: pd.DataFrame
    quality: pd.DataFrame
    freshness: pd.DataFrame
    waiting: dict[str, str] = dataclasses.field(default_factory=dict)


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def tier_distribution(tiers: pd.DataFrame) -> str:
    entities = sorted(tiers["entity"].unique())
    fig, axes = plt.subplots(1, len(entities), figsize=(5 * len(entities), 3.2), squeeze=False)
    for ax, entity in zip(axes[0], entities, strict=True):
        counts = tiers[tiers["entity"] == entity]["tier"].value_counts()
        order = [t for t in TIER_ORDER if t in counts.index]
        ax.bar(order, [counts[t] for t in order], color=[COLORS[t] for t in order])
        for i, t in enumerate(order):
            ax.text(i, counts[t], f"{counts[t]:,}", ha="center", va="bottom", fontsize=8)
        ax.set_title(f"{entity}s by tier")
        ax.set_ylabel("entities")
    return _svg(fig)


def migration_matrix(tiers: pd.DataFrame) -> str:
    entities = sorted(tiers["entity"].unique())
    fig, axes = plt.subplots(1, len(entities), figsize=(5 * len(entities), 4.2), squeeze=False)
    for ax, entity in zip(axes[0], entities, strict=True):
        rows = tiers[tiers["entity"] == entity].fillna({"previous_tier": "none"})
        before = [t for t in [*TIER_ORDER, "none"] if t in set(rows["previous_tier"])]
        after = [t for t in TIER_ORDER if t in set(rows["tier"])]
        table = pd.crosstab(rows["previous_tier"], rows["tier"]).reindex(
            index=before, columns=after, fill_value=0)
        ax.imshow(table.to_numpy(), cmap="Blues")
        ax.set_xticks(range(len(after)), after)
        ax.set_yticks(range(len(before)), before)
        ax.set_xlabel("tier now")
        ax.set_ylabel("tier before")
        ax.set_title(f"{entity} tier migration")
        peak = max(int(table.to_numpy().max()), 1)
        for i in range(len(before)):
            for j in range(len(after)):
                value = int(table.iat[i, j])
                ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=8,
                        color="white" if value > peak / 2 else "black")
    return _svg(fig)


def lift_gain_calibration(outcome: Outcomes) -> str:
    frame = outcome.frame.sort_values("probability", ascending=False)
    y = frame["outcome"].astype(float).to_numpy()
    share = np.arange(1, len(y) + 1) / len(y)
    gain = np.cumsum(y) / max(y.sum(), 1)
    lift = (np.cumsum(y) / np.arange(1, len(y) + 1)) / max(y.mean(), 1e-12)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.4))
    a.plot(share, gain, label="model")
    a.plot([0, 1], [0, 1], "--", color="grey", label="random")
    a.set_title("cumulative gain")
    a.set_xlabel("share contacted (best first)")
    a.set_ylabel("share of positives found")
    a.legend()
    b.plot(share, lift)
    b.axhline(1, ls="--", color="grey")
    b.set_title("lift")
    b.set_xlabel("share contacted (best first)")
    bins = pd.qcut(frame["probability"].rank(method="first"), 10, labels=False)
    cal = frame.groupby(bins).agg(predicted=("probability", "mean"), observed=("outcome", "mean"))
    c.plot(cal["predicted"], cal["observed"], "o-", label="deciles")
    top = float(max(cal["predicted"].max(), cal["observed"].max(), 0.01))
    c.plot([0, top], [0, top], "--", color="grey", label="perfect")
    c.set_title("calibration")
    c.set_xlabel("predicted probability")
    c.set_ylabel("observed rate")
    c.legend()
    fig.suptitle(f"{outcome.entity} potential, scored {outcome.scored_on}: "
                 f"{len(y):,} entities, {int(y.sum()):,} positives")
    return _svg(fig)


def qini(campaign: Campaign) -> str:
    f = campaign.frame
    curve = qini_curve(f["outcome"], f["treated"], f["score"])
    share = np.linspace(0, 1, len(curve))
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot(share, curve, label="ranking")
    ax.plot([0, 1], [0, curve[-1]], "--", color="grey", label="random")
    ax.set_title(f"Qini: {campaign.entity} campaign {campaign.name}")
    ax.set_xlabel("share targeted (best first)")
    ax.set_ylabel("incremental outcomes")
    ax.legend()
    return _svg(fig)


def feature_importance(importance: pd.DataFrame, top: int = 12) -> str:
    entities = sorted(importance["entity"].unique())
    fig, axes = plt.subplots(1, len(entities), figsize=(6 * len(entities), 4), squeeze=False)
    for ax, entity in zip(axes[0], entities, strict=True):
        rows = importance[importance["entity"] == entity].nlargest(top, "gain")[::-1]
        ax.barh(rows["feature"], rows["gain"], color="#5c6bc0")
        ax.set_title(f"{entity} potential: top features (gain)")
    return _svg(fig)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="grid", border=0, na_rep="-")


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{margin-bottom:0} .sub{color:#666;margin-top:.2rem} h2{border-bottom:2px solid #eee;
padding-bottom:.3rem;margin-top:2.2rem} .note{background:#fff8e1;padding:.6rem 1rem;
border-left:4px solid #ffb300} table.grid{border-collapse:collapse;font-size:.9rem}
table.grid td,table.grid th{padding:.25rem .7rem;border-bottom:1px solid #eee;text-align:left}
svg{max-width:100%;height:auto}
"""


def render(data: ReportData) -> str:
    """The whole page."""
    parts = [f"<h1>Growth report {data.as_of}</h1>",
             '<p class="sub">tiers, potential, outreach, data quality and freshness of the '
             "published tables</p>"]
    parts.append("<h2>Tier distribution</h2>")
    parts.append(tier_distribution(data.tiers) if len(data.tiers) else
                 _note(data.waiting.get("tiers", "no tiers published for this day")))
    parts.append("<h2>Tier migration (this period vs the last)</h2>")
    parts.append(migration_matrix(data.tiers) if len(data.tiers) else
                 _note("no tiers published for this day"))
    parts.append("<h2>Lift, gain and calibration of the potential score</h2>")
    parts.extend(lift_gain_calibration(o) for o in data.outcomes)
    if not data.outcomes:
        parts.append(_note(data.waiting.get("outcomes", "no scored day has a known outcome")))
    parts.append("<h2>Qini curve of the outreach ranking</h2>")
    parts.extend(qini(c) for c in data.campaigns)
    if not data.campaigns:
        parts.append(_note(data.waiting.get("campaigns", "no closed campaign with a control "
                                            "group")))
    parts.append("<h2>Feature importance</h2>")
    parts.append(feature_importance(data.importance) if len(data.importance) else
                 _note("no champion model"))
    parts.append("<h2>Data quality</h2>")
    parts.append(_table(data.quality) if len(data.quality) else
                 _note("no data-quality results for this day"))
    parts.append("<h2>Freshness</h2>")
    parts.append(_table(data.freshness) if len(data.freshness) else
                 _note("the run log is empty"))
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Growth report "
            f"{data.as_of}</title><style>{STYLE}</style></head><body>{body}</body></html>")
