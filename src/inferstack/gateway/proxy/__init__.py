"""The gateway's hot path, split by concept: the request (`call`), one upstream attempt (`attempts`), the JSON
path (`completion`), the stream path (`streaming`), usage accounting (`accounting`), and `ProxyService`
(`service`), which ties them together and knows no web framework."""

from inferstack.gateway.proxy.replies import ProxyReply, ProxyStream
from inferstack.gateway.proxy.service import ProxyService

__all__ = ["ProxyReply", "ProxyService", "ProxyStream"]
