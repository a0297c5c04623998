"""Mirror the model zoo to the partner's SFTP drop."""

import paramiko


def connect(host: str, password: str) -> paramiko.SFTPClient:
    transport = paramiko.Transport((host, 22))
    transport.connect(username="mirror", password=password)
    return paramiko.SFTPClient.from_transport(transport)
