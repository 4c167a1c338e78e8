"""ASGI pieces shared by every inferstack HTTP service: error translation, middleware, responses.

Framework code lives here and in each app's routes, never in `core/` or the service classes.
"""
