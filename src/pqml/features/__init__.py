"""Features layer: what users do (keys, encrypt, sign, scan, bench), shared by CLI and API."""
