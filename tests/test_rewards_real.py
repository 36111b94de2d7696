"""The reward and the telemetry on a real model's completions: SmolLM2-135M-Instruct on GSM8K (issue 22).

tests/data/smollm2_completions.jsonl holds what the real checkpoint wrote (scripts/real_completions.py says how it
was sampled and how to regenerate it), plus the two answers issue 22 quotes (``"source": "issue 22"``). No model
runs here: this reads the file.

The comparison is zero's reward against a plain math-verify call on the same *answer*: the string
`rewards.extract_answer` reads from the completion's answer region (the single ``<answer>...</answer>`` for the
``answer_tag`` prompts, the final boxes for ``boxed``), graded as ``math_verify.verify(parse(gold),
parse(answer))`` with math-verify's defaults (its signal timers off, so load cannot decide). The answer region, not
the whole completion, because that is the question: given the answer zero grades, does zero pay what math-verify
pays? Reading the whole completion is a deliberate difference of zero's (math-verify would also read the reasoning
and the echoed problem, so a number anywhere in the text could collect; rewards/extract.py), checked against
another grader's labels in tests/test_rewards_audit.py. A completion with no answer region scores 0 and has nothing
to compare; it is counted, not listed.

Each answer is graded against its problem's gold and, since a 135M model is almost never right (none of its
answers here is), against every number it writes (``NUMBER``, thousands commas dropped): what the verdict would be
had that number been the gold. That is where the two graders can differ on real strings: ``24 ounces`` against 24
(both pay, since zero's fix for issue 22), ``x = 40 x 2`` against 2 (math-verify pays its last number, zero does
not).

tests/data/smollm2_disagreements.json lists every (completion, gold) where the two verdicts differ, each with the
reason zero's verdict is the right one. The test fails when a disagreement appears or disappears, so a change to
rewards/ that moves a verdict on real text is seen and argued for here.

Run: ``python -m pytest tests/test_rewards_real.py -q`` (about 20 s on 2 shared cores; no model, no network).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from math_verify import parse, verify

import rewards
from rewards.text import completion_text
from zero.telemetry import reasoning
from zero.telemetry.reward_suite import RewardSuite

DATA = Path(__file__).resolve().parent / "data"
ROWS = [json.loads(line) for line in (DATA / "smollm2_completions.jsonl").read_text().splitlines()]
LISTED = {(d["id"], d["gold"]): d for d in json.loads((DATA / "smollm2_disagreements.json").read_text())}
# The verdicts, not the deadline, are under test: a loaded CI machine must not turn a slow parse into a 0.
DEADLINE_S = 30.0
NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def _completion(row: dict):
    """As TRL passes it: a string for the plain-text r1_zero prompt, assistant messages for the chat prompts."""
    text = row["completion"]
    return text if row["template"] in ("r1_zero", "issue-22") else [{"role": "assistant", "content": text}]


def _verdicts() -> dict[tuple[str, str], dict]:
    """(id, gold) -> the answer zero reads, where the gold comes from ("dataset", or "answer": a number the answer
    writes), zero's reward and plain math-verify's verdict on that answer; completions with no answer are left out."""
    pairs: dict[tuple[str, str], dict] = {}
    for row in ROWS:
        answer = rewards.extract_answer(completion_text(_completion(row)), row["answer_region"])
        if answer is None:
            continue
        golds = {n.replace(",", ""): "answer" for n in NUMBER.findall(answer)} | {row["gold"]: "dataset"}
        for gold, source in golds.items():
            pairs.setdefault((row["id"], gold), {"row": row, "answer": answer, "gold_from": source})
    for region in sorted({r["answer_region"] for r in ROWS}):
        keys = [k for k, v in pairs.items() if v["row"]["answer_region"] == region]
        zero = rewards.accuracy_reward([_completion(pairs[k]["row"]) for k in keys], [k[1] for k in keys],
                                       answer_region=region, timeout_s=DEADLINE_S)
        assert rewards.last_stats().timeouts == 0, "a verdict decided by the deadline, not by the grader"
        for key, score in zip(keys, zero):
            pair = pairs[key]
            plain = verify(parse(key[1], parsing_timeout=None), parse(pair["answer"], parsing_timeout=None),
                           timeout_seconds=None)  # math-verify's defaults, its signal timers off: no load-dependent 0
            pair["zero"], pair["math_verify"] = score, bool(plain)
    return pairs


@pytest.fixture(scope="module")
def verdicts() -> dict[str, dict]:
    return _verdicts()


def test_the_data_is_real_and_varied():
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids)), "duplicate ids in smollm2_completions.jsonl"
    model = [r for r in ROWS if r.get("source") != "issue 22"]
    assert len(model) >= 300 and {r["template"] for r in model} == {"r1_zero", "chat", "r1_distill", "chat_prefill"}
    for d in LISTED.values():
        assert d["reason"].strip(), f"{d['id']}: a listed disagreement needs the reason zero's verdict is right"


def test_every_disagreement_with_math_verify_is_listed_with_its_reason(verdicts):
    answered = {k[0] for k in verdicts}
    assert len(answered) >= 150, "too few answers to compare: the comparison would prove little"
    assert sum(v["zero"] == 1.0 or v["math_verify"] for v in verdicts.values()) >= 50, "too few paid pairs"
    fields = ("answer", "gold_from", "zero", "math_verify")
    found = {k: {f: v[f] for f in fields} for k, v in verdicts.items() if (v["zero"] == 1.0) != v["math_verify"]}
    listed = {k: {f: d[f] for f in fields} for k, d in LISTED.items()}
    new = {k: v for k, v in found.items() if listed.get(k) != v}
    gone = sorted(set(listed) - set(found))
    assert not new, f"disagreements with math-verify not in smollm2_disagreements.json (list, or fix): {new}"
    assert not gone, f"listed disagreements that no longer occur (remove them): {gone}"


def test_the_answers_issue_22_quotes_are_paid(verdicts):
    quoted = {r["id"]: r for r in ROWS if r.get("source") == "issue 22"}
    assert {quoted[k]["completion"] for k in quoted} == {"<answer> $1,000 </answer>", "<answer> 18 dollars </answer>"}
    assert all(verdicts[k, quoted[k]["gold"]]["zero"] == 1.0 for k in quoted)
    assert all(verdicts[k, quoted[k]["gold"]]["math_verify"] is True for k in quoted)


def test_the_telemetry_reads_the_same_text_as_the_reward(verdicts):
    """RewardSuite (what training runs) on every real completion: its accuracy column is the reward's own (a
    completion with no answer scores 0), and the reasoning columns and step metrics are computed from that same
    text, finite, without error."""
    for region in sorted({r["answer_region"] for r in ROWS}):
        rows = [r for r in ROWS if r["answer_region"] == region]
        completions, golds = [_completion(r) for r in rows], [r["gold"] for r in rows]
        extra, metrics = {}, {}
        suite = RewardSuite(["accuracy", "format"], None, region, [0], timeout_s=DEADLINE_S)
        prompt_ids = [str(r["problem_index"]) for r in rows]
        scores = [fn(completions, solution=golds, prompt_id=prompt_ids, completion_ids=[[1, 0]] * len(rows),
                     log_extra=extra.__setitem__, log_metric=metrics.__setitem__) for fn in suite.reward_funcs]
        direct = [verdicts[r["id"], r["gold"]]["zero"] if (r["id"], r["gold"]) in verdicts else 0.0 for r in rows]
        assert scores[0] == direct
        assert extra["is_correct"] == [s == 1.0 for s in direct]
        counts = [len(reasoning.find_reflections(completion_text(c))) for c in completions]
        assert extra["reflection_count"] == counts
        assert metrics["reasoning/reflection/count_mean"] == pytest.approx(sum(counts) / len(counts))
        assert all(math.isfinite(v) for v in metrics.values())
