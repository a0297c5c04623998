"""Keys embedded in code for the on-prem installer (to be moved to the secret store)."""

import textwrap

LICENSE_SERVER_PUBLIC_KEY = """
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAiMsJzDR54tjrEMGN3W5Y
2XD9dLaARabetDK1hf8wtFGrK93Ww1ROCNsjfvTpEpOCDF47+K+YgI+0+ttyosKd
NKgv+FJGGs0MaqEEWE1DZ16ZggsjVRu8p1UjEaY0OJFkVo/JFq1Y8pAjbW85DqdQ
LHWijFRYDOW3e08VjH24MzUOicu+y5y7ukSk9Ps/YLzH8cBfuMTrvRMvhPLqxti9
b6AizspRaCjPZ4FAW6kyTf5l2aZsDRIUYyFuQUssWXJBERgVZMgdVEww+cmD/6RK
Oc3OZHW/0mPLFGLxPrCyJZpdLdm8wGZ0e58/knRTkKxGZfoYTSFoGF2U/VbkrAIN
YQIDAQAB
-----END PUBLIC KEY-----
"""

UPDATE_SIGNING_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPRHlQPIvZlehAwI5LaMzhCXPv0gd\n"
    "85abG1HRXc9CDO7sNnVf+8HzIk1cpYu0RCkjpO29X3WScskStBZ1YHLA3Q==\n"
    "-----END PUBLIC KEY-----\n"
)

TELEMETRY_KEY = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA4JdrHLb/6LHgYD1xUr7xMseX9x92oomTvixDaUh+qCU=\n-----END PUBLIC KEY-----"

TRUST_ANCHOR_PLACEHOLDER = """
-----BEGIN PUBLIC KEY-----
MIIB...replace-me...
-----END PUBLIC KEY-----
"""


def installer_keys() -> dict[str, str]:
    return {
        "license": textwrap.dedent(LICENSE_SERVER_PUBLIC_KEY),
        "updates": UPDATE_SIGNING_KEY,
        "telemetry": TELEMETRY_KEY,
    }
