"""Live prediction feed over secure websockets."""

import ssl

import aiohttp


def client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations("/etc/ml/ca.pem")
    ctx.set_ciphers("TLS_AES_256_GCM_SHA384:ECDHE+AESGCM")
    return ctx


async def subscribe(url: str) -> None:
    connector = aiohttp.TCPConnector(ssl=client_context())
    async with aiohttp.ClientSession(connector=connector) as session, \
            session.ws_connect(url) as ws:
        async for msg in ws:
            print(msg.data)
