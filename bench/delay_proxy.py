"""A TCP proxy that delays every byte by DELAY_MS in each direction, so a
round trip through it takes 2 x DELAY_MS more: network latency without
netem (the kernel here has none).
usage: delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS   (prints "ready")"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while data := await reader.read(65536):
            # Every chunk waits the same time, so order is kept.
            loop.call_later(delay, writer.write, data)
        await asyncio.sleep(delay)
    finally:
        writer.close()


async def main(listen, target, delay):
    async def serve(reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, up_writer, delay), pipe(up_reader, writer, delay), return_exceptions=True)

    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000))
