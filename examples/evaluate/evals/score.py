"""A real (tiny) eval command: "answers" every item of the dataset as the variant would and
grades the answer 0..1, deterministically, from what rollout passes in the environment.

    ROLLOUT_DATASET   the JSON lines dataset (id, question, reference, difficulty)
    ROLLOUT_VARIANT   baseline | candidate
    ROLLOUT_MODEL     the variant's model: its skill comes from SKILL (unknown models: 0.5)
    ROLLOUT_PROMPT    the variant's prompt file: a line `quality: -0.1` shifts the skill

A variant's answer to an item is graded skill − 0.4 · difficulty, plus an item effect shared by
both variants (some questions are just harder to grade well) and a small per-variant wobble:
pairing by item cancels the shared part. Test knobs (environment): EVAL_MODE = exit | badjson |
nan | sleep | missing | empty (for the candidate only, unless EVAL_MODE_ALL=1), EVAL_SHAPE =
lines (default) | items | scores, EVAL_LOG = a file each run appends its variant to,
EVAL_FAIL_FILE = while this file exists, every run exits 1.
"""

import hashlib
import json
import os
import sys
import time

SKILL = {"gpt-4o": 0.85, "gpt-4.1": 0.85, "gpt-4.1-mini": 0.78, "gpt-4o-mini": 0.70}


def unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from the parts."""
    h = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def skill() -> float:
    s = SKILL.get(os.environ.get("ROLLOUT_MODEL", ""), 0.5)
    prompt = os.environ.get("ROLLOUT_PROMPT")
    if prompt:
        with open(prompt, encoding="utf-8") as f:
            for line in f:
                if line.strip().startswith("quality:"):
                    s += float(line.split(":", 1)[1])
    return s


def main() -> int:
    variant = os.environ["ROLLOUT_VARIANT"]
    model = os.environ.get("ROLLOUT_MODEL", "")
    mode = os.environ.get("EVAL_MODE", "")
    if variant != "candidate" and os.environ.get("EVAL_MODE_ALL") != "1":
        mode = ""
    print(f"evaluating {variant} ({model})", file=sys.stderr)
    if os.environ.get("EVAL_LOG"):
        with open(os.environ["EVAL_LOG"], "a", encoding="utf-8") as log:
            log.write(variant + "\n")
    if os.path.exists(os.environ.get("EVAL_FAIL_FILE") or "/nonexistent"):
        mode = "exit"  # an outage the test can end by deleting the file
    if mode == "exit":
        print("judge endpoint returned 500", file=sys.stderr)
        return 1
    if mode == "sleep":
        time.sleep(60)
    if mode == "empty":
        print("nothing to report")
        return 0
    with open(os.environ["ROLLOUT_DATASET"], encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    s = skill()
    out = []
    for it in items:
        shared = 0.1 * (unit("item", it["id"]) - 0.5)
        wobble = 0.04 * (unit("variant", model, it["id"]) - 0.5)
        score = min(1.0, max(0.0, s - 0.4 * it["difficulty"] + shared + wobble))
        if mode == "missing" and it["difficulty"] > 0.7:
            continue  # the candidate "timed out" on the hardest items
        out.append({"id": it["id"], "score": round(score, 4), "passed": score >= 0.5})
    if mode == "nan":
        out[3]["score"] = float("nan")
    shape = os.environ.get("EVAL_SHAPE", "lines")
    if mode == "badjson":
        print('{"items": [{"id": "q01", "score": 0.8}')
    elif shape == "items":
        print("graded", len(out), "items")
        print(json.dumps({"items": out}))
    elif shape == "scores":
        print(json.dumps({"scores": {o["id"]: o["score"] for o in out}}))
    else:
        for o in out:
            print(json.dumps(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
