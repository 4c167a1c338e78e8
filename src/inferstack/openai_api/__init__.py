"""OpenAI wire schemas (chat, completions, embeddings, models, errors, SSE) shared by every app.

Requests are pydantic models (validated at the edge); responses are plain dicts built by small
functions so the hot path serialises them with orjson without a model round-trip.
"""
