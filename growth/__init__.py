"""Merchant and creator growth scoring platform on Spark and Delta Lake."""

__version__ = "0.1.0"
