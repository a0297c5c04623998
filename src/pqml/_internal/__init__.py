"""Plumbing that is nobody's API: internal and unstable, used by the capability packages.

``output_file`` makes outputs appear whole or not at all, never over an existing one
unless asked (an unnamed file linked in on success; trees renamed in from a hidden
directory); ``write_behind`` overlaps file writes with encryption on a background thread;
``console`` prints tables and plans whole when they go to a pipe or a file; ``text``
agrees counts and articles with their words ("1 file", "an X-Wing key").
"""
