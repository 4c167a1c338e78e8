"""Bench settings: URL normalisation, option consistency, and masked API keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferstack.bench.settings import BenchSettings, LoadPlan, Target, WorkloadSpec


@pytest.mark.parametrize(
    "url",
    [
        "http://h:1",
        "http://h:1/",
        "http://h:1/v1",
        "http://h:1/v1/",
        "http://h:1/v1/chat/completions",
    ],
)
def test_chat_url_accepts_base_v1_or_full_urls(url: str) -> None:
    assert Target(label="a", url=url, model="m").chat_url == "http://h:1/v1/chat/completions"


def test_request_count_defaults_to_one_hundred_unless_a_duration_is_given() -> None:
    assert LoadPlan().request_budget == 100
    assert LoadPlan(duration_s=5).request_budget is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": 5, "duration_s": 1.0}, "not both"),
        ({"levels": (1, 0)}, "positive"),
        ({"levels": (1.5,)}, "whole numbers"),
        ({"levels": ()}, "at least 1"),
    ],
)
def test_inconsistent_load_plans_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LoadPlan.model_validate(kwargs)


def test_rate_levels_may_be_fractional() -> None:
    assert LoadPlan(mode="rate", levels=(0.5, 2.5)).levels == (0.5, 2.5)


def test_prompts_file_and_synthetic_tokens_exclude_each_other() -> None:
    with pytest.raises(ValidationError, match="not both"):
        WorkloadSpec.model_validate({"prompts_file": "p.jsonl", "input_tokens": 10})


def test_public_settings_mask_api_keys() -> None:
    settings = BenchSettings.model_validate(
        {
            "target": {"label": "a", "url": "http://h", "model": "m", "api_key": "sk-secret"},
            "compare": {"label": "b", "url": "http://g", "model": "m", "api_key": "sk-other"},
        }
    )
    public = str(settings.public_dict())
    assert "sk-secret" not in public and "sk-other" not in public
