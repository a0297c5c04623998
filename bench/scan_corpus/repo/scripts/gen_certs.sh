#!/usr/bin/env bash
# Generate the dev CA, a server certificate and the deploy SSH key.
set -euo pipefail
mkdir -p certs
openssl req -x509 -newkey rsa:2048 -nodes -keyout certs/ca.key -out certs/ca.crt -days 3650 -subj "/CN=dev-ca"
openssl ecparam -name prime256v1 -genkey -noout -out certs/server.key
ssh-keygen -t ed25519 -N "" -f certs/deploy_key
openssl dgst -sha1 -sign certs/ca.key -out certs/manifest.sig manifest.json
echo "done"
