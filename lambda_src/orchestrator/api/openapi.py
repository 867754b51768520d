"""`python -m orchestrator.api.openapi`: print the OpenAPI document (docs/openapi.json)."""

from orchestrator.api.app import openapi_json

if __name__ == "__main__":
    print(openapi_json())
