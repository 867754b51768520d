"""The HTTP API: Powertools routers shared by the Lambda handlers and the local server."""
