"""`inferstack weather serve`: the weather function-calling chat service, compatible with the reference's weather
app (`/chat`, `/weather/current`, `/weather/forecast`, `/health`, `/health/llm`), on the OpenAI `tools` API."""
