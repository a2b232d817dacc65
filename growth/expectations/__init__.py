"""Data-quality suites, one per published table, and the one ``validate_or_raise``.

Suites are Great Expectations 1.x ``ExpectationSuite`` objects built in code from scalars
the job passes in (the run date, the previous run's volume, a reference distribution); this
package never reads or writes a table. Recording results and publishing is ``jobs.quality``.
"""
