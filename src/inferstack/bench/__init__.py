"""`inferstack bench`: a load generator and report writer for any OpenAI-compatible endpoint.

An app like the others: it reaches its targets only over HTTP and imports no other app.
"""
