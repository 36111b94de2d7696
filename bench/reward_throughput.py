"""Throughput of the accuracy reward, and its cost under pathological answers, measured side by side in one run.

1. Completions per second on tests/data/math_cot_labelled_dev.jsonl (400 real completions, boxed template):
   ours (`accuracy_reward`: exact-match shortcut, dedup, worker pool) against the serial plain call, which grades
   the same extracted answers with one math-verify ``parse(gold)``, ``parse(answer)``, ``verify`` per completion in
   this process. Scores must be identical (asserted): the pool, the shortcut and the dedup change speed, not
   verdicts. open-r1's accuracy reward (whole-completion parse) is timed too, for reference; its scores differ
   (see bench/verifier_audit.py).
2. A batch of 512 (the labelled set, then its first 112 rows again) with and without 5 % of it (26 completions)
   replaced by pathological answers (power towers, iterated factorials, deep nesting, megabyte answers, huge
   exponents), timed five times each, interleaved; the median ratio should be at most 2.

Both sides first grade the set once (one-time imports and grammar building; pool start-up is reported), then
every timed run starts with sympy's and math-verify's caches empty, in this process and in every worker, and with
no gold remembered: no timed run has seen the strings it grades. Run: ``python bench/reward_throughput.py`` (about 30 s on 2 cores).
"""

from __future__ import annotations

import statistics
import sys
import time

import verifier_audit  # bench/ heads sys.path when this runs as a script
load, plain_math_verify = verifier_audit.load, verifier_audit.plain_math_verify

REPEATS = 5
PATHOLOGICAL = [
    r"9^{9^{9^{%d}}}",
    r"2^{2^{2^{2^{2^{%d}}}}}",
    r"%d!!!!!!",
    "(" * 500 + "%d" + ")" * 500,
    r"\frac{1}{" * 300 + "%d" + "}" * 300,
    r"%d^{123456789}",
    "1" * 10_000 + "%d",  # a 10,000-digit literal: about the longest a 4k-token completion can hold
    r"(%d)!^{10^{10}}",
]


def serial_reference(completions: list[str], golds: list[str], answer_region: str) -> list[float | None]:
    """Our extraction, then one plain math-verify parse/parse/verify per completion, serially, no shortcuts."""
    from rewards.extract import extract_answer, gold_answer
    from rewards.verify import parse_gold, verify_answer

    scores: list[float | None] = []
    for completion, gold in zip(completions, golds):
        gold_parsed = parse_gold(gold_answer(gold))
        if not gold_parsed:
            scores.append(None)
            continue
        answer = extract_answer(completion, answer_region)
        scores.append(0.0 if answer is None else float(verify_answer(gold_parsed, answer)))
    return scores


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> int:
    from rewards import accuracy_reward, last_stats, pool
    from rewards.grade import forget_golds
    from rewards.verify import clear_caches

    rows = load()
    completions, golds = [r["completion"] for r in rows], [r["gold"] for r in rows]
    n = len(rows)
    start = time.perf_counter()
    accuracy_reward(completions, golds, answer_region="boxed")  # starts the pool; the first pass pays one-time
    startup = time.perf_counter() - start  # costs (imports, grammar), as the serial side's first pass does:
    serial_reference(completions, golds, "boxed")
    plain_math_verify(completions, golds)
    t_ref, t_open_r1, t_ours = [], [], []
    for _ in range(REPEATS):  # interleaved, so that load from other processes hits all three alike
        clear_caches()
        reference, seconds = timed(serial_reference, completions, golds, "boxed")
        t_ref.append(seconds)
        clear_caches()
        t_open_r1.append(timed(plain_math_verify, completions, golds)[1])
        pool.get_pool().clear_caches()
        forget_golds()
        ours, seconds = timed(accuracy_reward, completions, golds, answer_region="boxed")
        t_ours.append(seconds)
        assert ours == reference, [(i, a, b) for i, (a, b) in enumerate(zip(ours, reference)) if a != b]
    stats = last_stats()
    t_ref, t_open_r1, t_ours = map(statistics.median, (t_ref, t_open_r1, t_ours))
    print(f"labelled set: {n} completions, {pool.get_pool().size} workers, medians of {REPEATS} runs, "
          f"first pass with pool start-up {startup:.2f} s (once per run)")
    print(f"  serial plain call (same extraction) {n / t_ref:8.1f} completions/s  ({t_ref:.3f} s)")
    print(f"  open-r1 accuracy_reward, serial     {n / t_open_r1:8.1f} completions/s  ({t_open_r1:.3f} s)")
    print(f"  ours                                {n / t_ours:8.1f} completions/s  ({t_ours:.3f} s)")
    print(f"  speed-up over the serial plain call: {t_ref / t_ours:.2f}x  (target >= 1.8x); scores identical")
    print(f"  ours: exact {stats.exact}, pooled {stats.pooled} ({stats.unique_pairs} distinct pairs)")

    batch_c, batch_g = (completions + completions)[:512], (golds + golds)[:512]
    bad = list(batch_c)
    every = len(batch_c) // 26
    for k in range(26):
        bad[k * every] = "The answer is \\boxed{" + PATHOLOGICAL[k % len(PATHOLOGICAL)].replace("%d", str(k + 2)) + "}."
    accuracy_reward(batch_c, batch_g, answer_region="boxed")  # warm both runs' gold caches alike
    clean_t, bad_t = [], []
    for _ in range(REPEATS):
        clean_t.append(timed(accuracy_reward, batch_c, batch_g, answer_region="boxed")[1])
        scores, seconds = timed(accuracy_reward, bad, batch_g, answer_region="boxed")
        bad_t.append(seconds)
        assert all(scores[k * every] == 0.0 for k in range(26))
    s = last_stats()
    ratio = statistics.median(bad_t) / statistics.median(clean_t)
    print(f"batch of 512: clean {statistics.median(clean_t):.3f} s, with 26 pathological "
          f"{statistics.median(bad_t):.3f} s (medians of {REPEATS}): {ratio:.2f}x  (target <= 2x)")
    print(f"  pathological run: rejected {s.rejected}, timeouts {s.timeouts}, kills {s.kills}")
    pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
