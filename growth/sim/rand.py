"""Deterministic random columns derived from hashes of (seed, stream name, key columns)."""

from __future__ import annotations

import math

from pyspark.sql import Column
from pyspark.sql import functions as F

_BITS = 52
_MASK = (1 << _BITS) - 1


def uniform(seed: int, stream: str, *keys: Column) -> Column:
    """A uniform draw in (0, 1), a pure function of the seed, the stream name and the keys."""
    hashed = F.xxhash64(F.lit(seed), F.lit(stream), *keys)
    return (hashed.bitwiseAND(F.lit(_MASK)).cast("double") + 0.5) / float(1 << _BITS)


def normal(seed: int, stream: str, *keys: Column) -> Column:
    """A standard normal draw (Box-Muller over two independent uniforms)."""
    u1 = uniform(seed, f"{stream}/1", *keys)
    u2 = uniform(seed, f"{stream}/2", *keys)
    return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * math.pi * u2)


def lognormal_mean_one(sigma: float, z: Column) -> Column:
    """exp(sigma*z - sigma^2/2): heavy-tailed with mean 1, for sizes and audiences."""
    return F.exp(F.lit(sigma) * z - sigma * sigma / 2.0)


def poisson(lam: Column, u: Column, z: Column) -> Column:
    """A Poisson(lam) count from a uniform ``u`` (exact inverse CDF) or, when lam > 40, from
    a normal ``z`` (the normal approximation is accurate there and avoids long scans)."""
    # Scan only as far as the tail can reach: lam + 6 sd + 6 covers all but ~1e-9 of the mass.
    limit = F.ceil(lam + 6.0 * F.sqrt(lam) + 6.0).cast("int")
    first_p = F.exp(-lam)
    init = F.struct(F.lit(-1).alias("k"), first_p.alias("p"), first_p.alias("c"))

    def step(acc: Column, i: Column) -> Column:
        next_p = acc["p"] * lam / (i + 1)
        found = F.struct(i.alias("k"), acc["p"].alias("p"), acc["c"].alias("c"))
        more = F.struct(F.lit(-1).alias("k"), next_p.alias("p"), (acc["c"] + next_p).alias("c"))
        return F.when(acc["k"] >= 0, acc).when(u <= acc["c"], found).otherwise(more)

    exact = F.aggregate(
        F.sequence(F.lit(0), limit),
        init,
        step,
        lambda acc: F.when(acc["k"] < 0, limit).otherwise(acc["k"]),
    )
    approx = F.greatest(F.lit(0), F.round(lam + F.sqrt(lam) * z)).cast("int")
    return F.when(lam <= 0, F.lit(0)).when(lam > 40, approx).otherwise(exact)


def pick(values: tuple[str, ...], u: Column, weights: tuple[float, ...] | None = None) -> Column:
    """One of ``values`` chosen by the uniform ``u`` (uniformly, or with ``weights``)."""
    weights = weights or tuple(1.0 for _ in values)
    total = sum(weights)
    expr = F.lit(values[-1])
    cumulative = 0.0
    bounds = []
    for value, weight in zip(values, weights, strict=True):
        cumulative += weight / total
        bounds.append((cumulative, value))
    for bound, value in reversed(bounds[:-1]):
        expr = F.when(u < bound, F.lit(value)).otherwise(expr)
    return expr
