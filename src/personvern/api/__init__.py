"""The staff HTTP API (`personvern serve`): FastAPI routers over the services, one per resource."""
