"""Sizes of the simulated marketplaces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """How big a simulated marketplace is and how busy."""

    name: str
    merchants: int
    creators: int
    days: int
    managers: int
    orders_per_merchant_day: float
    campaign_share: float
    """Share of each population enrolled in each monthly outreach campaign."""
    opt_out_share: float = 0.02
    """Share of each population that asks not to be contacted during the window."""
    junk_share: float = 0.002
    """Share of order lines also delivered as a corrupted copy, as real feeds do."""


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("small", merchants=40, creators=120, days=60, managers=10,
                orders_per_merchant_day=1.2, campaign_share=0.3, opt_out_share=0.06,
                junk_share=0.01),
        Profile("medium", merchants=300, creators=1_000, days=120, managers=10,
                orders_per_merchant_day=0.6, campaign_share=0.1),
        Profile("demo", merchants=2_000, creators=10_000, days=180, managers=40,
                orders_per_merchant_day=0.45, campaign_share=0.08),
        Profile("large", merchants=100_000, creators=1_000_000, days=365, managers=400,
                orders_per_merchant_day=0.23, campaign_share=0.02),
    )
}
