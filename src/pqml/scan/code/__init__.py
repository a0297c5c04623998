"""Detectors for code: Python source (AST and the per-library ``rules``), notebooks and
shell commands that generate keys or hash."""
