"""Which image URIs a deployment's tasks can pull. On AWS the task execution role pulls from
public registries and from the stack's own ECR (its account, its region), there only from
repositories whose names start with a prefix (the `mycli:ecrRepositoryPrefix` context
value). An image anywhere else in ECR would fail at run time with CannotPullContainerError,
so registering one is refused, saying what to do instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.domain.errors import ValidationFailed

PREFIX_CONTEXT = "mycli:ecrRepositoryPrefix"
# A private ECR image: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>`
# (or the dual-stack `<account>.dkr-ecr[-fips].<region>.on.aws/...`), then `:tag` and/or
# `@digest`. Host names are case-insensitive; repository names are lowercase.
_PRIVATE_ECR = re.compile(
    r"(?i:(?P<account>[0-9]{12})\.dkr[.-]ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)"
    r"\.(?:amazonaws\.com(?:\.cn)?|on\.aws))/(?P<repository>[^:@]+)(?:[:@].*)?"
)


@dataclass(frozen=True)
class PrivateRegistry:
    """The stack's own ECR: the account and region its tasks pull from, and the prefix of
    the repositories they may pull."""

    account: str
    region: str
    repository_prefix: str

    @property
    def allowed(self) -> str:
        """Where an admin may push images, as a URI prefix."""
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.repository_prefix}"


def pull_problem(uri: str, registry: PrivateRegistry) -> ValidationFailed | None:
    """Why the stack's tasks could not pull `uri`; None when they can (a public registry, or
    a repository under the prefix in the stack's own ECR)."""
    found = _PRIVATE_ECR.fullmatch(uri)
    if found is None:
        return None
    account, region = found["account"], found["region"].lower()
    repository = found["repository"]
    where = None
    if account != registry.account:
        where = f"account {account}"
    elif region != registry.region:
        where = f"region {region}"
    if where is not None:
        return ValidationFailed(
            f"uri: {uri} is in the ECR of {where}; this stack's tasks pull only from public "
            f"registries and from its own ECR under {registry.allowed}: push the image there",
            {"allowed_prefix": registry.allowed},
        )
    if not repository.startswith(registry.repository_prefix):
        return ValidationFailed(
            f"uri: repository {repository} is not under {registry.repository_prefix}: this "
            f"stack's tasks may pull only repositories starting with it ({PREFIX_CONTEXT}); "
            f"push the image to {registry.allowed}<name>, or deploy with another "
            f"{PREFIX_CONTEXT}",
            {"allowed_prefix": registry.allowed},
        )
    return None
