"""Model-card web app: sessions, signed download links, API keys."""

import hashlib
import hmac
import os
import time

from flask import Flask, abort, request
from itsdangerous import URLSafeTimedSerializer

app = Flask(__name__)
app.secret_key = os.environ["SECRET_KEY"]
links = URLSafeTimedSerializer(app.secret_key, salt="download")


def api_key_digest(key: str) -> str:
    return hashlib.sha512(key.encode()).hexdigest()


def signed_url(path: str) -> str:
    expires = int(time.time()) + 300
    mac = hmac.new(app.secret_key.encode(), f"{path}{expires}".encode(), hashlib.sha256)
    return f"{path}?e={expires}&sig={mac.hexdigest()}"


@app.get("/download/<token>")
def download(token: str):
    try:
        path = links.loads(token, max_age=3600)
    except Exception:
        abort(403)
    return {"path": path, "ip": request.remote_addr}
