"""Runtime configuration (pydantic-settings)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_")

    issuer: str = "https://auth.example.internal"
    audience: str = "ml-platform"
    jwt_algorithm: str = "EdDSA"
    token_ttl_seconds: int = 900
    # description of the algorithm choice: "RS256 was replaced by EdDSA in 2024"
    notes: str = "Tokens used RS256 until 2024."


settings = AuthSettings()
