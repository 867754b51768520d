"""Adapters for the AWS deployment: DynamoDB stores, the ECS runner, CloudWatch logs.

boto3 is imported only where a client is made, so routes that never call AWS (GET /health)
do not pay for it."""
