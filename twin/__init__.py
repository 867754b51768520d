"""The Fargate twin: the AWS deployment run offline on this machine.

`twin.ecs` is its ECS stand-in: a task definition's containers run as local processes
(see docs/aws-twin.md); `twin.moto_bridge` connects it to a moto server's ECS API."""
