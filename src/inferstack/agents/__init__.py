"""`inferstack agent`: the agentic RAG API and its supervisor (Strands Agents on an OpenAI-compatible model).

The agent reaches models only through an OpenAI-compatible base URL (the gateway in production), searches the
knowledge store through `retrieval/`, and reaches web search and files through MCP servers over HTTP.
"""
