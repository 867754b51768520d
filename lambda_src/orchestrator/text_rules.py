"""The platform's one rule for what strings may hold (domain/models.py `text_problem`), as
a pydantic validator: the API's request models and the CLI's playbook model both use it."""

from __future__ import annotations

from pydantic import AfterValidator

from orchestrator.domain.models import TextKind, text_problem


def text_validator(kind: TextKind) -> AfterValidator:
    """A validator refusing a `kind` string the platform's text rule refuses, in its words."""

    def check(value: str) -> str:
        problem = text_problem(value, kind)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)
