"""The model server app (`inferstack serve`): OpenAI-compatible HTTP over an `Engine` and an `EmbeddingEngine`."""
