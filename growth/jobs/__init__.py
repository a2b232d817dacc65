"""All I/O lives here: the SparkSession factory, the config loader, Delta helpers, jobs, CLI."""
