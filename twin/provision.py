"""Creates the template's resources in a moto server, from the template itself: tables
(keys, indexes, TTL), buckets, KMS keys, queues, SSM parameters, IAM roles, log groups, the
VPC's subnets and security groups, the ECS cluster and the task definitions (registered
from their resolved properties). Resources moto does not hold (functions, the API, rules)
get names and ARNs, so every reference to them resolves as CloudFormation's would."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from twin.ecs.task_definition import from_cloudformation
from twin.resolver import STACK_NAME, Physical, Resolver
from twin.template import Template

logger = logging.getLogger(__name__)
Create = Callable[[str, dict[str, Any]], Physical]


class Provisioner:
    """`clients(service)` gives a boto3 client on the moto server."""

    def __init__(self, template: Template, resolver: Resolver, clients: Callable[[str], Any]):
        self.template = template
        self.resolver = resolver
        self.client = clients
        self.task_definition_arns: dict[str, str] = {}

    def create_all(self) -> Resolver:
        """Every resource the twin knows, in dependency order; returns the resolver."""
        steps: list[tuple[str, Create]] = [
            ("AWS::IAM::Role", self._role),
            ("AWS::Logs::LogGroup", self._log_group),
            ("AWS::KMS::Key", self._kms_key),
            ("AWS::DynamoDB::Table", self._table),
            ("AWS::S3::Bucket", self._bucket),
            ("AWS::SQS::Queue", self._queue),
            ("AWS::SSM::Parameter", self._parameter),
            ("AWS::EC2::VPC", self._vpc),
            ("AWS::EC2::Subnet", self._subnet),
            ("AWS::EC2::SecurityGroup", self._security_group),
            ("AWS::ECS::Cluster", self._cluster),
            ("AWS::Lambda::Function", self._function),
            ("AWS::Events::Rule", self._rule),
            ("AWS::SNS::Topic", self._topic),
            ("AWS::ApiGateway::RestApi", self._rest_api),
            ("AWS::ApiGateway::Resource", self._named),
            ("AWS::ApiGateway::Deployment", self._named),
            ("AWS::ApiGateway::Stage", self._stage),
            ("AWS::ECS::TaskDefinition", self._task_definition),
        ]
        for resource_type, create in steps:
            for logical_id, properties in self.template.of_type(resource_type):
                self.resolver.add(logical_id, create(logical_id, properties))
        return self.resolver

    # -- names ---------------------------------------------------------------------------

    def _name(self, logical_id: str, properties: dict[str, Any], key: str) -> str:
        if key in properties:
            return self.resolver.text(properties[key])
        return f"{STACK_NAME}-{logical_id}"

    def _arn(self, service: str, resource: str) -> str:
        return self.resolver.arn(service, resource)

    # -- resources in moto ---------------------------------------------------------------

    def _role(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "RoleName")[:64]
        policy = self.resolver.resolve(properties.get("AssumeRolePolicyDocument") or {})
        role = self.client("iam").create_role(
            RoleName=name,
            Path=properties.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(policy),
        )["Role"]
        return Physical(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _log_group(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "LogGroupName")
        self.client("logs").create_log_group(logGroupName=name)
        return Physical(name, {"Arn": self._arn("logs", f"log-group:{name}:*")})

    def _kms_key(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        metadata = self.client("kms").create_key(
            Description=self.resolver.text(properties.get("Description", logical_id)),
            KeyUsage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            KeySpec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
        )["KeyMetadata"]
        return Physical(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})

    def _table(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "TableName")
        kept = (
            "KeySchema",
            "AttributeDefinitions",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
        )
        table = {key: properties[key] for key in kept if key in properties}
        dynamodb = self.client("dynamodb")
        created = dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **table)[
            "TableDescription"
        ]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        return Physical(name, {"Arn": created["TableArn"]})

    def _bucket(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "BucketName").lower()
        self.client("s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.resolver.region}
        )
        return Physical(
            name,
            {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self.resolver.region}.amazonaws.com",
            },
        )

    def _queue(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "QueueName")
        url = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        return Physical(url, {"Arn": self._arn("sqs", name), "QueueName": name, "QueueUrl": url})

    def _parameter(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "Name")
        self.client("ssm").put_parameter(
            Name=name,
            Type=properties.get("Type", "String"),
            Value=self.resolver.text(properties["Value"]),
        )
        return Physical(name, {"Type": properties.get("Type", "String")})

    def _vpc(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock=properties.get("CidrBlock", "10.0.0.0/16"))["Vpc"]
        # moto's RunTask with awsvpc wants DNS hostnames on the VPC.
        ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": True})
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        )["SecurityGroups"]
        attributes = {"VpcId": vpc["VpcId"], "CidrBlock": vpc["CidrBlock"]}
        if groups:
            attributes["DefaultSecurityGroup"] = groups[0]["GroupId"]
        return Physical(vpc["VpcId"], attributes)

    def _subnet(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        zone = properties.get("AvailabilityZone")
        subnet = self.client("ec2").create_subnet(
            VpcId=self.resolver.text(properties["VpcId"]),
            CidrBlock=self.resolver.text(properties["CidrBlock"]),
            **({"AvailabilityZone": self.resolver.text(zone)} if zone else {}),
        )["Subnet"]
        return Physical(subnet["SubnetId"], {"SubnetId": subnet["SubnetId"]})

    def _security_group(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        group = self.client("ec2").create_security_group(
            GroupName=self._name(logical_id, properties, "GroupName"),
            Description=self.resolver.text(properties.get("GroupDescription", logical_id)),
            VpcId=self.resolver.text(properties["VpcId"]),
        )["GroupId"]
        return Physical(group, {"GroupId": group})

    def _cluster(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "ClusterName")
        cluster = self.client("ecs").create_cluster(clusterName=name)["cluster"]
        return Physical(name, {"Arn": cluster["clusterArn"]})

    def _task_definition(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        definition = registrable(from_cloudformation(properties, resolve=self.resolver.resolve))
        definition.setdefault("family", f"{STACK_NAME}{logical_id}")
        registered = self.client("ecs").register_task_definition(**definition)
        arn: str = registered["taskDefinition"]["taskDefinitionArn"]
        self.task_definition_arns[logical_id] = arn
        return Physical(arn, {"TaskDefinitionArn": arn})

    # -- resources the twin serves itself: names and ARNs only ---------------------------

    def _function(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "FunctionName")
        return Physical(name, {"Arn": self._arn("lambda", f"function:{name}")})

    def _rule(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "Name")
        return Physical(name, {"Arn": self._arn("events", f"rule/{name}")})

    def _topic(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        name = self._name(logical_id, properties, "TopicName")
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        return Physical(arn, {"TopicArn": arn, "TopicName": name})

    def _rest_api(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        return Physical("twinapi", {"RootResourceId": "root"})

    def _named(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        return Physical(logical_id)

    def _stage(self, logical_id: str, properties: dict[str, Any]) -> Physical:
        return Physical(self.resolver.text(properties["StageName"]))


def registrable(definition: dict[str, Any]) -> dict[str, Any]:
    """A converted task definition as RegisterTaskDefinition takes it. moto's RunTask needs
    each container's `memory`: a container without one gets the task's (what the container
    may use at most on Fargate anyway)."""
    registered = {key: value for key, value in definition.items() if key != "taskDefinitionArn"}
    task_memory = int(registered.get("memory") or 512)
    registered["containerDefinitions"] = [
        {**container, "memory": container.get("memory") or task_memory}
        for container in registered.get("containerDefinitions") or []
    ]
    return registered
