"""Reports built from a :class:`pqml.scan.ScanResult`: table, JSON, CycloneDX CBOM, SARIF
and a self-contained HTML page."""
