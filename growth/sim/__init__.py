"""Synthetic marketplace generator: builds source DataFrames from ``spark.range``.

Like ``features/`` this package reads and writes nothing; ``growth.jobs.simulate`` lands
its frames in the raw zone. Randomness comes from hashing (seed, stream, keys), so a
seed gives the same rows whatever the partitioning or the number of cores.
"""
