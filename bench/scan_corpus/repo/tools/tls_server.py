"""Metrics endpoint served over TLS (asyncio)."""

import asyncio
import ssl


def make_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile=cert, keyfile=key)
    ctx.options |= ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1  # disables, does not select
    ctx.set_ecdh_curve("prime256v1")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()
    writer.close()


async def main(cert: str, key: str) -> None:
    server = await asyncio.start_server(handle, "0.0.0.0", 9443, ssl=make_context(cert, key))
    async with server:
        await server.serve_forever()
