"""The MCP tool servers (`inferstack mcp ...`): web search and a sandboxed filesystem, over streamable HTTP or stdio.

One module per server, `assembly` for what they share; the capabilities themselves live in `inferstack.tools`.
"""
