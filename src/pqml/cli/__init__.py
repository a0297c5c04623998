"""Command-line interface: a thin shell over the Python API and the capability packages."""
