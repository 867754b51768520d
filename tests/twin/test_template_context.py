"""The twin's template with context values over cdk.json's (`aws-twin up --context`): the
stack is synthesized with them, cached apart from the default one, and a malformed pair is
refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.template import Template, TemplateError, parse_context, synthesize


def functions_environment(template: Template) -> dict[str, str]:
    environment: dict[str, str] = {}
    for _, properties in template.of_type("AWS::Lambda::Function"):
        environment.update((properties.get("Environment") or {}).get("Variables") or {})
    return environment


def test_given_a_context_value_when_synthesized_then_the_functions_get_it_cached_apart(
    tmp_path: Path,
) -> None:
    context = {"mycli:maxRunningPerUser": "2", "mycli:maxRunningTotal": "3"}

    tuned = synthesize(cache=tmp_path, context=context)
    default = synthesize(cache=tmp_path)

    assert functions_environment(tuned)["MAX_RUNNING_PER_USER"] == "2"
    assert functions_environment(default)["MAX_RUNNING_PER_USER"] == "10"
    assert len(list(tmp_path.glob("template-*.json"))) == 2
    assert list(tmp_path.glob("*.part")) == []
    assert synthesize(cache=tmp_path, context=context).body == tuned.body


def test_given_a_value_the_stack_refuses_then_synthesis_fails_naming_the_key(
    tmp_path: Path,
) -> None:
    with pytest.raises(TemplateError, match="mycli:maxRunningPerUser"):
        synthesize(cache=tmp_path, context={"mycli:maxRunningPerUser": "0"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("pair", ["mycli:maxLogMib", "maxLogMib=1", "mycli:=1", "other:x=1"])
def test_given_a_malformed_pair_then_it_is_refused_by_name(pair: str) -> None:
    with pytest.raises(TemplateError, match="mycli:KEY=VALUE"):
        parse_context([pair])


def test_given_pairs_then_each_key_gets_its_value() -> None:
    assert parse_context(["mycli:maxLogMib=1", "mycli:maxUploadMib=a=b"]) == {
        "mycli:maxLogMib": "1",
        "mycli:maxUploadMib": "a=b",
    }
