"""Capabilities an agent can call (sandboxed files, web search), written once, usable in-process or served over MCP.

Nothing here knows about MCP or HTTP servers; `inferstack.mcp_servers` exposes these as MCP tools.
"""
