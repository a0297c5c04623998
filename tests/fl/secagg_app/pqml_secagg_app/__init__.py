"""Test Flower app for pqml's post-quantum secure aggregation (tests/fl)."""
