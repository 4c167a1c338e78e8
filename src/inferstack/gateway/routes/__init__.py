"""HTTP routes of the gateway: thin handlers that take their services from `app.state`."""
