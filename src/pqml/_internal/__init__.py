"""Plumbing that is nobody's API: internal and unstable, used by the capability packages.

``output_file`` makes outputs appear whole or not at all (a temporary file renamed on
success); ``write_behind`` overlaps file writes with encryption on a background thread.
"""
