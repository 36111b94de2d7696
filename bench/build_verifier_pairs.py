"""Build tests/data/verifier_pairs.jsonl: gold/prediction pairs with math-verify's verdict, for bench/verifier_audit.py.

Three sets, each row carrying its source:

- ``math_verify_tests``: every (gold, prediction, expected) case of math-verify's own test suite on answer sets,
  lists and boxes (huggingface/Math-Verify, tests/test_numina_cases.py, test_open_thoughts.py, test_boxed.py and
  test_all.py's set, edge-case and additional-case tables; Apache-2.0), with the verdict its authors assert.
- ``math_train_multi_box``: the 25 MATH train solutions that hold several different boxes (Hendrycks MATH, MIT,
  via zero/datafiles/train/math_train.jsonl), each with five predictions: the last box alone, the first box
  alone, the distinct boxes as one list, the same list reversed, and the boxes written as several boxes.
- ``issue_14``: the failure kinds named in zero's issue 14 (a part of a multi-part gold, several boxes for a set,
  a list mistaken for a thousands separator, hedges), spelt as real completions spell them.

For the last two sets `expected` is math-verify's own verdict on the pair, ``verify(parse(gold), parse(prediction))``
with its default extraction (math-verify 0.9.0), recorded here once. Run (needs a checkout of Math-Verify and the
MATH train file; the output is committed, so the audit and the tests need neither):
``python bench/build_verifier_pairs.py /path/to/Math-Verify /path/to/math_train.jsonl``.
"""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "verifier_pairs.jsonl"
MATH_VERIFY_TABLES = {
    "tests/test_numina_cases.py": None,  # None: every parametrized table in the file
    "tests/test_open_thoughts.py": None,
    "tests/test_boxed.py": None,
    "tests/test_all.py": {"test_sets_handling", "test_math_extraction_edge_cases", "test_math_extraction_additional_cases"},
}

ISSUE_14 = [  # (kind, gold, prediction)
    ("part of a multi-part gold", r"\boxed{1} papers and \boxed{2} bins", r"\boxed{2}"),
    ("part of a multi-part gold", r"\boxed{1} papers and \boxed{2} bins", r"\boxed{1}"),
    ("whole multi-part gold", r"\boxed{1} papers and \boxed{2} bins", r"\boxed{1,2}"),
    ("whole multi-part gold", r"\boxed{1} papers and \boxed{2} bins", r"\boxed{1} papers and \boxed{2} bins"),
    ("several boxes for a set", r"The solutions are $x = \boxed{-2}$ and $x = \boxed{1}$.",
     r"\boxed{-2} \quad \text{and} \quad \boxed{1}"),
    ("several boxes for a set", r"The solutions are $x = \boxed{-2}$ and $x = \boxed{1}$.", r"$x = \boxed{-2}$ or $x = \boxed{1}$"),
    ("several boxes for a set", r"The solutions are $\boxed{-2, 1}$.", r"\boxed{1}, \boxed{-2}"),
    ("several boxes for a set", r"The solutions are $\boxed{-2, 1}$.", r"\boxed{-2} \quad \text{and} \quad \boxed{3}"),
    ("several boxes for a set", r"The solutions are $\boxed{-2, 1}$.", r"\boxed{-2}"),
    ("several boxes for one value", "1", r"\boxed{-2} \quad \text{and} \quad \boxed{1}"),
    ("several boxes for one value", "1", r"\boxed{1} \text{ or } \boxed{2}"),
    ("several boxes for one value", "2", r"\boxed{1} ... no wait, \boxed{2}"),
    ("several boxes for one value", "4", r"\boxed{4} and again \boxed{4}"),
    ("a list is not a thousands separator", "32349", r"\boxed{32, 349}"),
    ("a list is not a thousands separator", "1234", "1, 234"),
    ("a list is not a thousands separator", "1234", r"\boxed{1,\,234}"),
    ("a thousands separator", "32349", r"\boxed{32,349}"),
    ("a thousands separator", r"so the total is $\boxed{3,\!250}$.", "3250"),
    ("a thousands separator", "3250", r"\boxed{3,\!250}"),
    ("a thousands separator", "1234", r"\boxed{1{,}234}"),
    ("a decimal comma", "111", "0,111"),
]


def math_verify_cases(repo: Path) -> list[dict]:
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows = []
    for path, wanted in MATH_VERIFY_TABLES.items():
        tree = ast.parse((repo / path).read_text())
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            if wanted is not None and fn.name not in wanted:
                continue
            for deco in fn.decorator_list:
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize"):
                    continue
                names = [s.strip() for s in ast.literal_eval(deco.args[0]).split(",")]
                if names[:3] != ["gold", "pred", "expected"] or len(names) != 3:
                    continue
                for case in ast.literal_eval(deco.args[1]):
                    gold, pred, expected = case
                    rows.append({"set": "math_verify_tests", "source": f"huggingface/Math-Verify@{commit[:7]} {path}::{fn.name}",
                                 "kind": fn.name.removeprefix("test_"), "gold": gold, "prediction": pred,
                                 "expected": bool(expected)})
    return rows


def math_train_cases(path: Path) -> list[dict]:
    from rewards.extract import boxes, normalize

    rows = []
    for line in path.open():
        r = json.loads(line)
        contents = [c.strip() for _, _, c in boxes(r["solution"])]
        if len(set(contents)) < 2:
            continue
        distinct = list(dict.fromkeys(c for c in contents if normalize(c)))
        predictions = {
            "last box alone": rf"\boxed{{{contents[-1]}}}",
            "first box alone": rf"\boxed{{{distinct[0]}}}",
            "all boxes as one list": rf"\boxed{{{', '.join(distinct)}}}",
            "all boxes as one list, reversed": rf"\boxed{{{', '.join(reversed(distinct))}}}",
            "all boxes as several boxes": " and ".join(rf"\boxed{{{c}}}" for c in distinct),
        }
        for kind, prediction in dict.fromkeys(predictions.items()):
            rows.append({"set": "math_train_multi_box", "source": f"MATH train {r['unique_id']}", "kind": kind,
                         "gold": r["solution"], "prediction": prediction})
    return rows


def main() -> int:
    repo, math_train = Path(sys.argv[1]), Path(sys.argv[2])
    logging.disable(logging.WARNING)
    from math_verify import parse, verify

    own = math_train_cases(math_train) + [
        {"set": "issue_14", "source": "zero issue 14", "kind": k, "gold": g, "prediction": p} for k, g, p in ISSUE_14
    ]
    for row in own:
        row["expected"] = bool(verify(parse(row["gold"]), parse(row["prediction"])))
    rows = math_verify_cases(repo) + own
    with OUT.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"{len(rows)} pairs -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
