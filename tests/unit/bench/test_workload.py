"""Prompt sets and their seeded order: built-in, from files, synthetic; request bodies as sent."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from inferstack.bench.errors import WorkloadError
from inferstack.bench.settings import WorkloadSpec
from inferstack.bench.workload import (
    DEFAULT_MAX_TOKENS,
    Workload,
    builtin_prompts,
    load_prompts,
    synthetic_prompts,
)


def _sent(workload: Workload, model: str = "m", count: int = 40) -> list[dict[str, object]]:
    bodies = workload.bodies_for(model)
    return [orjson.loads(bodies.body(i)) for i in range(count)]


def test_builtin_set_has_twenty_distinct_user_prompts() -> None:
    prompts = builtin_prompts()
    assert len(prompts) == 20
    assert len({p.name for p in prompts}) == 20
    assert all(p.messages[0][0] == "user" and len(p.messages[0][1]) > 20 for p in prompts)
    assert all(p.max_tokens is not None for p in prompts)


def test_same_seed_same_order_other_seed_other_order() -> None:
    spec = WorkloadSpec(seed=7)
    assert _sent(Workload.from_spec(spec)) == _sent(Workload.from_spec(spec))
    assert _sent(Workload.from_spec(spec)) != _sent(Workload.from_spec(WorkloadSpec(seed=8)))


def test_order_is_a_permutation_repeated() -> None:
    workload = Workload.from_spec(WorkloadSpec(seed=1))
    bodies = workload.bodies_for("m")
    first_round = [bodies.prompt_index(i) for i in range(20)]
    assert sorted(first_round) == list(range(20))
    assert [bodies.prompt_index(i) for i in range(20, 40)] == first_round


def test_output_tokens_override_max_tokens_and_stream_asks_for_usage() -> None:
    sent = _sent(Workload.from_spec(WorkloadSpec(output_tokens=16, stream=True, ignore_eos=True)), model="x")
    assert {b["max_tokens"] for b in sent} == {16}
    assert all(b["model"] == "x" and b["stream"] is True for b in sent)
    assert all(b["stream_options"] == {"include_usage": True} and b["ignore_eos"] is True for b in sent)
    plain = _sent(Workload.from_spec(WorkloadSpec(stream=False)))
    assert all("stream_options" not in b and "ignore_eos" not in b for b in plain)
    assert len({b["max_tokens"] for b in plain}) > 1  # the built-in prompts' own limits


def test_synthetic_prompts_have_the_requested_length_and_are_seeded() -> None:
    prompts = synthetic_prompts(50, seed=3, count=10)
    assert len(prompts) == 10
    assert all(len(p.messages[0][1].split()) == 50 for p in prompts)
    assert len({p.messages[0][1] for p in prompts}) == 10
    assert synthetic_prompts(50, seed=3, count=10) == prompts
    assert synthetic_prompts(50, seed=4, count=10) != prompts


def test_jsonl_file_with_prompts_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    lines = [
        {"prompt": "hello"},
        {"name": "chat", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]},
        {"prompt": "bye", "max_tokens": 5},
    ]
    path.write_text("\n".join(orjson.dumps(x).decode() for x in lines) + "\n\n")
    prompts = load_prompts(path)
    assert [p.messages for p in prompts] == [
        (("user", "hello"),),
        (("system", "be brief"), ("user", "hi")),
        (("user", "bye"),),
    ]
    workload = Workload(prompts, WorkloadSpec())
    assert [workload.max_tokens(p) for p in prompts] == [DEFAULT_MAX_TOKENS, DEFAULT_MAX_TOKENS, 5]


def test_text_file_is_one_prompt_per_line(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("first\n\n second \n")
    assert [p.messages[0][1] for p in load_prompts(path)] == ["first", "second"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no prompts"),
        ("{not json\n", "line 1: not JSON"),
        ('{"prompt": "ok"}\n{"text": "x"}\n', "line 2: needs a 'prompt'"),
        ('{"prompt": "ok", "max_tokens": 0}\n', "max_tokens must be a positive integer"),
    ],
)
def test_bad_prompt_files_are_reported_with_their_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    with pytest.raises(WorkloadError, match=message):
        load_prompts(path)


def test_missing_file_is_a_workload_error(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="cannot read"):
        load_prompts(tmp_path / "absent.jsonl")


def test_unique_prompts_tag_every_request_of_the_run_differently() -> None:
    workload = Workload.from_spec(WorkloadSpec(unique_prompts=True, seed=2))
    bodies = workload.bodies_for("m", run_tag="ab12")
    sent = [orjson.loads(bodies.body(i % 20)) for i in range(40)]
    firsts = [b["messages"][0]["content"] for b in sent]
    assert firsts[0].startswith("ab12-1: ") and firsts[39].startswith("ab12-40: ")
    assert len(set(firsts)) == 40
    plain = Workload.from_spec(WorkloadSpec(seed=2)).bodies_for("m", run_tag="ab12")
    assert [orjson.loads(plain.body(i))["messages"] for i in range(20)] == [
        [{**b["messages"][0], "content": c.split(": ", 1)[1]}, *b["messages"][1:]]
        for b, c in zip(sent[:20], firsts[:20], strict=True)
    ]
