"""Tests of pqml.distributed (a package, so its conftest does not shadow the root one)."""
