"""Weather through Open-Meteo's geocoding and forecast APIs (no key): current conditions at the city's own local
time and daily forecasts, usable in-process or served over MCP (`inferstack mcp weather`)."""
