"""Template assertions: keys and indexes, one function per route with least privilege,
bucket lifecycle, log retention, throttling, the event rule, outputs."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.handlers.catalog import CONSOLE_ROUTES, ROUTES
from stacks.access import FUNCTION_ACCESS

Resources = dict[str, Any]


def of_type(resources: Resources, kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def table(resources: Resources, *key: str) -> dict[str, Any]:
    """The table whose key is `key`: its partition, and its sort key if it has one."""
    [found] = [
        r["Properties"]
        for r in of_type(resources, "AWS::DynamoDB::Table").values()
        if tuple(k["AttributeName"] for k in r["Properties"]["KeySchema"]) == key
    ]
    return found


def functions_by_handler(resources: Resources) -> dict[str, str]:
    """handler module -> logical id of its function."""
    result = {}
    for name, resource in of_type(resources, "AWS::Lambda::Function").items():
        handler = resource["Properties"].get("Handler", "")
        if handler.startswith("orchestrator.handlers."):
            result[handler.split(".")[2]] = name
    return result


def policy_statements(resources: Resources, function_id: str) -> list[dict[str, Any]]:
    role = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    return actions


# The functions that launch runs: create, and every one that may start a queued run when a
# lock frees (issue 21). A hold never frees a lock: hold_lock is not one.
LAUNCHERS = {"create_execution", "task_events", "reaper", "cancel_execution", "release_lock"}
# Starts and stops warm tasks, which belong to no run yet (issue 22).
POOL_MANAGER = "warm_pool_manager"


def test_tables_keep_the_designs_keys_indexes_and_ttl(resources: Resources) -> None:
    keys = table(resources, "api_key_hash")
    executions = table(resources, "execution_id", "started_at")
    locks = table(resources, "lock_name")

    assert [i["IndexName"] for i in keys["GlobalSecondaryIndexes"]] == ["user_email-index"]
    assert executions["KeySchema"] == [
        {"AttributeName": "execution_id", "KeyType": "HASH"},
        {"AttributeName": "started_at", "KeyType": "RANGE"},
    ]
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
        for i in executions["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "user_email-started_at": ["user_email", "started_at"],
        "status-started_at": ["status", "started_at"],
    }
    assert locks["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    for properties in (keys, executions, locks):
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_data_and_execution_logs_are_retained_except_when_the_first_create_fails(
    resources: Resources,
) -> None:
    kept = [
        *of_type(resources, "AWS::DynamoDB::Table").values(),
        *of_type(resources, "AWS::S3::Bucket").values(),
        execution_log_group(resources),
    ]
    # APIKeys, Executions, Locks, LockQueue, Images, WarmTasks; two buckets; the log group
    assert len(kept) == 9
    for resource in kept:
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
        assert resource["UpdateReplacePolicy"] == "Retain"


def execution_log_group(resources: Resources) -> dict[str, Any]:
    [group] = [
        r
        for name, r in of_type(resources, "AWS::Logs::LogGroup").items()
        if name.startswith("ExecutorExecutionLogs")
    ]
    return group


def test_a_redeploy_reattaches_retained_data_named_in_context(redeployed: Resources) -> None:
    assert of_type(redeployed, "AWS::DynamoDB::Table") == {}
    assert not any(
        name.startswith("ExecutorExecutionLogs")
        for name in of_type(redeployed, "AWS::Logs::LogGroup")
    )
    [create] = [
        r
        for r in of_type(redeployed, "AWS::Lambda::Function").values()
        if r["Properties"].get("Handler") == "orchestrator.handlers.create_execution.handler"
    ]
    variables = create["Properties"]["Environment"]["Variables"]
    assert variables["API_KEYS_TABLE"] == "Mycli-DataApiKeys-OLD1"
    assert variables["EXECUTIONS_TABLE"] == "Mycli-DataExecutions-OLD2"
    assert variables["LOCKS_TABLE"] == "Mycli-DataLocks-OLD3"
    assert variables["LOCK_QUEUE_TABLE"] == "Mycli-DataLockQueue-OLD7"
    assert variables["CODE_BUCKET"] == "mycli-databucket-old4"
    assert variables["LOG_GROUP_NAME"] == "Mycli-ExecutorExecutionLogs-OLD5"
    assert variables["WARM_TASKS_TABLE"] == "Mycli-DataWarmTasks-OLD8"


def test_no_account_wide_api_gateway_role_unless_asked_for(
    resources: Resources, redeployed: Resources
) -> None:
    assert of_type(resources, "AWS::ApiGateway::Account") == {}
    [stage] = of_type(resources, "AWS::ApiGateway::Stage").values()
    assert "AccessLogSetting" not in stage["Properties"]
    assert "LoggingLevel" not in stage["Properties"]["MethodSettings"][0]

    [account] = of_type(redeployed, "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"
    [logged] = of_type(redeployed, "AWS::ApiGateway::Stage").values()
    assert "AccessLogSetting" in logged["Properties"]


def test_the_code_bucket_is_private_tls_only_encrypted_and_expires_uploads(
    resources: Resources,
) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    [code] = [
        b["Properties"] for b in buckets.values() if "LoggingConfiguration" in b["Properties"]
    ]
    assert code["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert code["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    rule = code["LifecycleConfiguration"]["Rules"][0]
    assert (rule["Prefix"], rule["ExpirationInDays"], rule["Status"]) == ("uploads/", 7, "Enabled")
    policies = json.dumps(of_type(resources, "AWS::S3::BucketPolicy"))
    assert '"aws:SecureTransport": "false"' in policies


def test_every_route_is_an_explicit_method_with_its_own_function(resources: Resources) -> None:
    by_handler = functions_by_handler(resources)
    paths = {
        name: r["Properties"]["PathPart"]
        for name, r in of_type(resources, "AWS::ApiGateway::Resource").items()
    }
    parents = {
        name: r["Properties"]["ParentId"]
        for name, r in of_type(resources, "AWS::ApiGateway::Resource").items()
    }

    def full_path(resource_ref: Any) -> str:
        if not isinstance(resource_ref, dict) or "Ref" not in resource_ref:
            return ""
        name = resource_ref["Ref"]
        return full_path(parents[name]) + "/" + paths[name]

    methods = {}
    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        uri = json.dumps(properties["Integration"]["Uri"])
        [function] = [module for module, fid in by_handler.items() if f'"{fid}"' in uri]
        methods[(properties["HttpMethod"], full_path(properties["ResourceId"]))] = function
        assert properties["Integration"]["Type"] == "AWS_PROXY"
        assert "RequestValidatorId" in properties

    routes = (*ROUTES, *CONSOLE_ROUTES)  # the console: one function behind two resources
    assert methods == {(route.method, route.path): route.module for route in routes}
    assert len(set(methods.values())) == len(ROUTES) + 1


def test_the_api_may_invoke_each_routes_function_only_from_the_prod_stage(
    resources: Resources,
) -> None:
    [stage] = of_type(resources, "AWS::ApiGateway::Stage")
    from_api = [
        p["Properties"]
        for p in of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    methods = of_type(resources, "AWS::ApiGateway::Method")

    # One permission per method (none for the console's test-invoke stage)
    assert len(from_api) == len(methods)
    for permission in from_api:
        assert {"Ref": stage} in permission["SourceArn"]["Fn::Join"][1]
        assert "test-invoke-stage" not in json.dumps(permission["SourceArn"])


def test_functions_are_python_312_arm64_traced_json_logged_with_a_pinned_layer(
    resources: Resources,
) -> None:
    by_handler = functions_by_handler(resources)
    assert set(by_handler) == set(FUNCTION_ACCESS)
    invoke_configs = {
        json.dumps(c["Properties"]["FunctionName"]): c["Properties"]
        for c in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    }
    for function_id in by_handler.values():
        properties = resources[function_id]["Properties"]
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        [layer] = properties["Layers"]
        assert layer == {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":lambda:",
                    {"Ref": "AWS::Region"},
                    ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
                ],
            ]
        }
        retries = invoke_configs[json.dumps({"Ref": function_id})]["MaximumRetryAttempts"]
        assert retries == (2 if function_id == by_handler["task_events"] else 0)


def test_every_function_has_its_own_role(resources: Resources) -> None:
    roles = [
        r["Properties"]["Role"]["Fn::GetAtt"][0]
        for r in (resources[f] for f in functions_by_handler(resources).values())
    ]
    assert len(roles) == len(set(roles))


def test_every_log_group_has_a_retention(resources: Resources) -> None:
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert len(groups) >= len(FUNCTION_ACCESS) + 2
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 30


def test_the_stage_is_prod_and_throttled(resources: Resources) -> None:
    [stage] = of_type(resources, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == "prod"
    [settings] = properties["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (20, 40)
    assert settings["DataTraceEnabled"] is False


def test_task_state_changes_of_this_cluster_reach_the_task_events_function(
    resources: Resources,
) -> None:
    by_handler = functions_by_handler(resources)
    rules = of_type(resources, "AWS::Events::Rule")
    [task_rule] = [r["Properties"] for r in rules.values() if "EventPattern" in r["Properties"]]
    [schedule] = [
        r["Properties"]
        for r in rules.values()
        if "ScheduleExpression" in r["Properties"]
        and r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [by_handler["reaper"], "Arn"]}
    ]
    cluster = next(iter(of_type(resources, "AWS::ECS::Cluster")))

    assert task_rule["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [{"Fn::GetAtt": [cluster, "Arn"]}],
            "lastStatus": ["RUNNING", "STOPPED"],
        },
    }
    assert task_rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [by_handler["task_events"], "Arn"]}
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert schedule["Targets"][0]["Arn"] == {"Fn::GetAtt": [by_handler["reaper"], "Arn"]}


def test_the_executor_is_arm64_fargate_in_public_subnets_without_nat(resources: Resources) -> None:
    for task in of_type(resources, "AWS::ECS::TaskDefinition").values():
        assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
        assert task["Properties"]["RequiresCompatibilities"] == ["FARGATE"]
        for container in task["Properties"]["ContainerDefinitions"]:
            assert container["LogConfiguration"]["LogDriver"] == "awslogs"
            assert container["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "exec"
    assert of_type(resources, "AWS::EC2::NatGateway") == {}
    assert len(of_type(resources, "AWS::EC2::Subnet")) == 2
    assert len(of_type(resources, "AWS::EC2::FlowLog")) == 1
    [group] = of_type(resources, "AWS::EC2::SecurityGroup").values()
    assert "SecurityGroupIngress" not in group["Properties"]
    [cluster] = of_type(resources, "AWS::ECS::Cluster").values()
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["Properties"][
        "ClusterSettings"
    ]


def test_the_outputs_have_stable_names(template: Any) -> None:
    outputs = template.to_json()["Outputs"]
    assert {
        "ApiUrl",
        "ApiKeysTableName",
        "ExecutionsTableName",
        "LocksTableName",
        "LockQueueTableName",
        "CodeBucketName",
        "ClusterName",
        "WarmTasksTableName",
    } <= set(outputs)


def run_task(resources: Resources) -> dict[str, Any]:
    [task] = [t["Properties"] for t in of_type(resources, "AWS::ECS::TaskDefinition").values()]
    return task


def test_ecs_service_linked_role_is_created_if_missing_before_the_cluster(
    resources: Resources,
) -> None:
    [(name, custom)] = of_type(resources, "Custom::AWS").items()
    create = json.dumps(custom["Properties"]["Create"])
    assert "createServiceLinkedRole" in create
    assert "ecs.amazonaws.com" in create
    assert "InvalidInput" in create  # "has been taken": it exists already
    assert "Delete" not in custom["Properties"]
    [cluster] = of_type(resources, "AWS::ECS::Cluster").values()
    assert name in cluster["DependsOn"]


def test_failed_task_events_are_retried_then_dead_lettered_with_an_alarm(
    resources: Resources,
) -> None:
    by_handler = functions_by_handler(resources)
    [(queue_id, queue)] = of_type(resources, "AWS::SQS::Queue").items()
    [config] = [
        c["Properties"]
        for c in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": by_handler["task_events"]}
    ]
    [rule] = [
        r["Properties"]
        for r in of_type(resources, "AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
    ]
    [alarm] = of_type(resources, "AWS::CloudWatch::Alarm").values()

    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    assert rule["Targets"][0]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 8
    assert alarm["Properties"]["MetricName"] == "NumberOfMessagesSent"
    assert alarm["Properties"]["Threshold"] == 1
    assert alarm["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_the_validator_checks_bodies_against_the_apis_schemas_and_path_parameters(
    resources: Resources,
) -> None:
    models = {
        r["Properties"]["Name"]: r["Properties"]["Schema"]
        for r in of_type(resources, "AWS::ApiGateway::Model").values()
    }
    create = models["CreateExecutionBody"]
    assert create["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert create["required"] == ["command"]
    assert create["additionalProperties"] is False
    assert create["properties"]["command"]["maxLength"] == 16384
    assert models["CreateUserBody"]["properties"]["role"]["enum"] == ["admin", "user"]
    assert "$ref" not in json.dumps(models)
    [validator] = of_type(resources, "AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestBody"] is True
    methods = of_type(resources, "AWS::ApiGateway::Method").values()
    posts_with_models = [m for m in methods if "RequestModels" in m["Properties"]]
    # POST /executions, /users, /images, /locks/{lock_name}/hold, PATCH /images/{name},
    # PUT /secrets/{name} and the three PUT /import/...
    assert len(posts_with_models) == 9
    assert models["PutSecretBody"]["required"] == ["value"]
    with_paths = [
        m["Properties"]["RequestParameters"]
        for m in methods
        if "RequestParameters" in m["Properties"]
        and any(".path." in k for k in m["Properties"]["RequestParameters"])
    ]
    assert len(with_paths) == 13  # 10, and the three import routes'
    for parameters in with_paths:
        assert all(v is True for k, v in parameters.items() if ".path." in k)
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert "validation_error" in json.dumps(responses["BAD_REQUEST_BODY"])


def test_runs_manifests_and_output_expire_with_the_log_retention(resources: Resources) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    [code] = [
        b["Properties"] for b in buckets.values() if "LoggingConfiguration" in b["Properties"]
    ]
    rules = {r["Id"]: r for r in code["LifecycleConfiguration"]["Rules"]}
    assert (rules["expire-runs"]["Prefix"], rules["expire-runs"]["ExpirationInDays"]) == (
        "runs/",
        30,  # cdk.json's mycli:logRetentionDays
    )
