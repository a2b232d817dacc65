"""The HTML report: pandas frames in, one self-contained page out (no Spark, no I/O)."""
