"""How the gateway reaches model servers: the `Upstream` interface, the aiohttp implementation, and a fake."""
