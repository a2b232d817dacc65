"""Tiering, potential and value models: numpy, pandas, XGBoost and scikit-learn, no Spark."""
