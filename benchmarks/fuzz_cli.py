"""Fuzz the installed ``mobilevid`` CLI with bad input and classify what each command does.

Usage::

    python benchmarks/fuzz_cli.py [--quick] [--json FILE] [--cache DIR] [--jobs N] [--only SUBSTRING]

Every case runs ``mobilevid ...`` in a child process of its own (``HF_HUB_OFFLINE=1``), in a folder of its
own. By default (``--mode fork``) the child is forked from this process after it imported mobilevid and the
libraries the commands use, and runs the CLI's entry point (``mobilevid.cli.main.entry``, what the installed
``mobilevid`` script runs): seconds per case instead of a minute of imports on a loaded machine.
``--mode exec`` runs the installed ``mobilevid`` executable per case instead. Each case is classified by:

- the exit code (1 for a user error, 2 for a usage error, 0 for success);
- whether stderr holds a Python traceback;
- whether the error is one line (log lines and progress bars aside);
- a silent exit: 0 where an error was due, or 0 with a bad result (an all-black or constant video);
- a lost file: a user's file or folder that existed before (a sentinel, hashed before and after) changed
  or went away;
- a stray hidden temporary sibling (``.NAME.tmp-*`` / ``.NAME.old-*``) or a partial output left by a
  failed run;
- a hang (the case's timeout).

The assets a case needs (a tiny untrained model folder, a float ONNX bundle exported from it, a model
with NaN weights, a folder of real clips) are built once per run, or once for all runs with ``--cache``.
Prints a Markdown table and the totals; ``--json`` writes every case's record.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACEBACK = "Traceback (most recent call last)"
STRAY = re.compile(r"^\..+\.(tmp|old)-")
LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING) [\w.]+: ")
SEED_ABOVE_2_63 = str(2**63 + 5)


# -- cases ----------------------------------------------------------------------------------------------
@dataclass
class Spec:
    """What one case runs and what it must do.

    ``expect``: "error" (exit 1), "usage" (exit 2), "ok" (exit 0), "either" (0, or a clean error).
    ``sentinels``: the user's files and folders that must come out unchanged.
    ``outputs``: what the command would write; after a failure none may exist (unless a sentinel).
    ``videos``: outputs that must, after success, be real videos (not black, not constant).
    """

    argv: list[Any]
    expect: str = "error"
    sentinels: list[Path] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    timeout: float = 300.0


@dataclass
class Case:
    name: str
    command: str
    build: Callable[[Any, Path], Spec]
    quick: bool


CASES: list[Case] = []


def case(command: str, quick: bool = False) -> Callable:
    def register(fn: Callable[[Any, Path], Spec]) -> Callable:
        CASES.append(Case(fn.__name__.removeprefix("c_"), command, fn, quick))
        return fn

    return register


def sentinel_file(path: Path, text: str = "the user's own file\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sentinel_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "notes.txt").write_text("the user's notes\n")
    (path / "sub").mkdir(exist_ok=True)
    (path / "sub" / "data.bin").write_bytes(os.urandom(256))
    return path


def read_only_folder(path: Path) -> Path:
    """A folder nobody can create files in: mode 555, and for root (whom modes do not stop) immutable."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    return path


def random_bytes(path: Path, n: int = 4096) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(n))
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.unlink()  # a hard link: write a new file, not through the link into the cached asset
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def link_tree(src: Path, dst: Path) -> Path:
    """A copy of ``src`` whose files are hard links (cheap; a case replaces a file before changing it)."""
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def edit_json(path: Path, edit: Callable[[Any], Any]) -> Path:
    data = json.loads(path.read_text())
    new = edit(data)
    path.unlink()
    path.write_text(json.dumps(data if new is None else new, indent=1))
    return path


def bundle_copy(ctx: Any, d: Path) -> Path:
    return link_tree(ctx.bundle, d / "bundle")


def model_copy(ctx: Any, d: Path, src: Path | None = None) -> Path:
    return link_tree(src or ctx.tiny, d / "model")


def gen(ctx: Any, d: Path, *extra: Any, prompt: Any = "a red circle moves right", model: bool = True) -> list[Any]:
    argv = ["generate", prompt]
    if model:
        argv += ["--model", ctx.tiny]
    return argv + list(extra)


def ok_video(d: Path, argv: list[Any], name: str = "out.mp4", expect: str = "ok") -> Spec:
    out = d / name
    return Spec(argv + ["-o", out], expect=expect, outputs=[out], videos=[out] if expect != "error" else [])


# usage ------------------------------------------------------------------------------------------------
@case("usage", quick=True)
def c_no_command(ctx, d):
    return Spec([], expect="usage")


@case("usage", quick=True)
def c_unknown_command(ctx, d):
    return Spec(["frobnicate"], expect="usage")


@case("usage")
def c_unknown_flag(ctx, d):
    return Spec(["generate", "x", "-o", d / "o.mp4", "--frobnicate"], expect="usage", outputs=[d / "o.mp4"])


@case("usage")
def c_int_flag_not_a_number(ctx, d):
    return Spec(["generate", "x", "-o", d / "o.mp4", "--steps", "four"], expect="usage", outputs=[d / "o.mp4"])


# info -------------------------------------------------------------------------------------------------
@case("info", quick=True)
def c_info_missing_folder(ctx, d):
    return Spec(["info", d / "nope"])


@case("info")
def c_info_empty_folder(ctx, d):
    (d / "empty").mkdir()
    return Spec(["info", d / "empty"])


@case("info")
def c_info_random_file(ctx, d):
    return Spec(["info", random_bytes(d / "model.bin")])


@case("info", quick=True)
def c_info_model_index_not_json(ctx, d):
    m = model_copy(ctx, d)
    random_bytes(m / "model_index.json.new")
    os.replace(m / "model_index.json.new", m / "model_index.json")
    return Spec(["info", m])


@case("info")
def c_info_model_index_a_list(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "model_index.json", lambda _: [1, 2, 3])
    return Spec(["info", m])


@case("info")
def c_info_denoiser_config_bad_value(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "denoiser" / "config.json", lambda c: c.update(block_out_channels="abc"))
    return Spec(["info", m / "denoiser"])


@case("info")
def c_info_json_is_a_folder(ctx, d):
    folder = sentinel_folder(d / "results")
    return Spec(["info", "--preset", "tiny", "--json", folder], sentinels=[folder])


@case("info", quick=True)
def c_info_json_exists(ctx, d):
    f = sentinel_file(d / "info.json")
    return Spec(["info", "--preset", "tiny", "--json", f], sentinels=[f])


@case("info")
def c_info_json_read_only_folder(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(["info", "--preset", "tiny", "--json", ro / "info.json"], outputs=[ro / "info.json"])


@case("info")
def c_info_unknown_preset(ctx, d):
    return Spec(["info", "--preset", "huge"], expect="usage")


# inflate ----------------------------------------------------------------------------------------------
@case("inflate", quick=True)
def c_inflate_missing_unet(ctx, d):
    return Spec(["inflate", "--image-unet", d / "nope", "-o", d / "out"], outputs=[d / "out"])


@case("inflate")
def c_inflate_empty_unet(ctx, d):
    (d / "unet").mkdir()
    return Spec(["inflate", "--image-unet", d / "unet", "-o", d / "out"], outputs=[d / "out"])


@case("inflate")
def c_inflate_unet_config_random(ctx, d):
    random_bytes(d / "unet" / "config.json")
    return Spec(["inflate", "--image-unet", d / "unet", "-o", d / "out"], outputs=[d / "out"])


@case("inflate")
def c_inflate_unet_random_weights(ctx, d):
    (d / "unet").mkdir()
    (d / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel",
                                                         "block_out_channels": [32, 64],
                                                         "cross_attention_dim": 384}))
    random_bytes(d / "unet" / "diffusion_pytorch_model.safetensors")
    return Spec(["inflate", "--image-unet", d / "unet", "-o", d / "out"], outputs=[d / "out"])


@case("inflate")
def c_inflate_frames_zero(ctx, d):
    (d / "unet").mkdir()
    return Spec(["inflate", "--image-unet", d / "unet", "--frames", "0", "-o", d / "out"], outputs=[d / "out"])


@case("inflate")
def c_inflate_text_max_length_negative(ctx, d):
    (d / "unet").mkdir()
    return Spec(["inflate", "--image-unet", d / "unet", "--text-max-length", "-4", "-o", d / "out"],
                outputs=[d / "out"])


@case("inflate", quick=True)
def c_inflate_output_user_folder(ctx, d):
    (d / "unet").mkdir()
    folder = sentinel_folder(d / "mine")
    return Spec(["inflate", "--image-unet", d / "unet", "-o", folder, "--overwrite"], sentinels=[folder])


@case("inflate")
def c_inflate_output_existing_file(ctx, d):
    (d / "unet").mkdir()
    f = sentinel_file(d / "model")
    return Spec(["inflate", "--image-unet", d / "unet", "-o", f, "--overwrite"], sentinels=[f])


@case("inflate")
def c_inflate_output_bundle_with_overwrite(ctx, d):
    (d / "unet").mkdir()
    b = bundle_copy(ctx, d)
    return Spec(["inflate", "--image-unet", d / "unet", "-o", b, "--overwrite"], sentinels=[b])


@case("inflate")
def c_inflate_arch_random_bytes(ctx, d):
    (d / "unet").mkdir()
    return Spec(["inflate", "--image-unet", d / "unet", "--arch", random_bytes(d / "arch.json"), "-o", d / "out"],
                outputs=[d / "out"])


@case("inflate")
def c_inflate_arch_missing(ctx, d):
    (d / "unet").mkdir()
    return Spec(["inflate", "--image-unet", d / "unet", "--arch", d / "nope.json", "-o", d / "out"],
                outputs=[d / "out"])


# train ------------------------------------------------------------------------------------------------
# A case whose bad value slips through runs for real: one step per stage on one small batch, not minutes.
CHEAP_TRAIN = ["--data", "shapes", "--set", "vae.batch_size=1", "--set", "vae_decoder.batch_size=1",
               "--set", "denoiser.batch_size=1"]
CHEAP_DISTILL = ["--set", "batch_size=1", "--set", "teacher_steps=2"]


def train(d: Path, *extra: Any, out: str = "run") -> Spec:
    o = d / out
    return Spec(["train", "--max-steps", "1", "-o", o, *CHEAP_TRAIN, *extra], outputs=[o])


@case("train", quick=True)
def c_train_recipe_missing(ctx, d):
    return train(d, "--recipe", d / "nope.yaml")


@case("train", quick=True)
def c_train_recipe_random_bytes(ctx, d):
    return train(d, "--recipe", random_bytes(d / "recipe.yaml"))


@case("train")
def c_train_recipe_a_list(ctx, d):
    (d / "recipe.yaml").write_text("- 1\n- 2\n")
    return train(d, "--recipe", d / "recipe.yaml")


@case("train")
def c_train_recipe_bad_yaml(ctx, d):
    (d / "recipe.yaml").write_text("denoiser: {lr: [1, 2\n")
    return train(d, "--recipe", d / "recipe.yaml")


@case("train")
def c_train_recipe_unknown_key(ctx, d):
    (d / "recipe.yaml").write_text("learning_rate_typo: 3\n")
    return train(d, "--recipe", d / "recipe.yaml")


@case("train")
def c_train_recipe_phases_bad(ctx, d):
    (d / "recipe.yaml").write_text("phases: 7\n")
    return train(d, "--recipe", d / "recipe.yaml")


@case("train", quick=True)
def c_train_lr_nan(ctx, d):
    return train(d, "--set", "denoiser.lr=nan")


@case("train")
def c_train_lr_negative(ctx, d):
    return train(d, "--set", "denoiser.lr=-1e-3")


@case("train")
def c_train_vae_lr_inf(ctx, d):
    return train(d, "--set", "vae.lr=inf")


@case("train")
def c_train_lr_not_a_number(ctx, d):
    return train(d, "--set", "denoiser.lr=fast")


@case("train")
def c_train_batch_size_zero(ctx, d):
    return train(d, "--set", "denoiser.batch_size=0")


@case("train")
def c_train_caption_dropout_above_one(ctx, d):
    return train(d, "--set", "denoiser.caption_dropout=3")


@case("train", quick=True)
def c_train_seed_above_2_63(ctx, d):
    return train(d, "--seed", SEED_ABOVE_2_63)


@case("train")
def c_train_seed_negative(ctx, d):
    return train(d, "--seed", "-1")


@case("train")
def c_train_max_steps_negative(ctx, d):
    return train(d, "--max-steps", "-5")


@case("train")
def c_train_checkpoint_every_zero(ctx, d):
    return train(d, "--checkpoint-every", "0")


@case("train")
def c_train_set_no_equals(ctx, d):
    return train(d, "--set", "denoiser.lr")


@case("train")
def c_train_set_unknown_key(ctx, d):
    return train(d, "--set", "denoiser.learning_rate=1")


@case("train")
def c_train_set_unknown_preset(ctx, d):
    return train(d, "--set", "preset=huge")


@case("train")
def c_train_height_not_multiple(ctx, d):
    return train(d, "--set", "height=33")


@case("train")
def c_train_height_negative(ctx, d):
    return train(d, "--set", "height=-64")


@case("train")
def c_train_init_from_missing(ctx, d):
    return train(d, "--set", f"init_from={d / 'nope'}")


@case("train")
def c_train_init_from_nan_model(ctx, d):
    return train(d, "--set", f"init_from={ctx.nan_model}", "--stage", "denoiser")


@case("train", quick=True)
def c_train_data_missing_folder(ctx, d):
    return train(d, "--data", d / "nope")


@case("train")
def c_train_data_unknown_builtin(ctx, d):
    return train(d, "--data", "shapes+bogus")


@case("train")
def c_train_data_empty_folder(ctx, d):
    (d / "clips").mkdir()
    return train(d, "--data", d / "clips")


@case("train")
def c_train_data_all_corrupt(ctx, d):
    clips = d / "clips"
    for i in range(3):
        random_bytes(clips / f"c{i}.mp4")
    (clips / "captions.csv").write_text("file,caption\n" + "".join(f"c{i}.mp4,a clip\n" for i in range(3)))
    return train(d, "--data", clips)


@case("train")
def c_train_data_captions_wrong_columns(ctx, d):
    clips = link_tree(ctx.clips, d / "clips")
    (clips / "captions.csv").unlink()
    (clips / "captions.csv").write_text("name_of_file,words\nwide.mp4,a clip\n")
    return train(d, "--data", clips)


@case("train")
def c_train_data_captions_not_utf8(ctx, d):
    clips = link_tree(ctx.clips, d / "clips")
    (clips / "captions.csv").unlink()
    (clips / "captions.csv").write_bytes(b"file,caption\nwide.mp4,\xff\xfe\xfa caption\n")
    return train(d, "--data", clips)


@case("train")
def c_train_data_captions_jsonl_broken(ctx, d):
    clips = link_tree(ctx.clips, d / "clips")
    (clips / "captions.csv").unlink()
    (clips / "captions.jsonl").write_text('{"file": "wide.mp4", "caption": "a"}\n{"file": \n')
    return train(d, "--data", clips)


@case("train")
def c_train_data_captions_name_missing_files(ctx, d):
    clips = d / "clips"
    clips.mkdir()
    (clips / "captions.csv").write_text("file,caption\nnot_here.mp4,a clip\nalso_not.mp4,b clip\n")
    return train(d, "--data", clips)


@case("train", quick=True)
def c_train_output_existing_file(ctx, d):
    f = sentinel_file(d / "run")
    return Spec(["train", "--max-steps", "1", "-o", f], sentinels=[f])


@case("train", quick=True)
def c_train_output_user_folder_overwrite(ctx, d):
    folder = sentinel_folder(d / "mine")
    return Spec(["train", "--max-steps", "1", "-o", folder, "--overwrite"], sentinels=[folder])


@case("train")
def c_train_output_distill_run_overwrite(ctx, d):
    run = d / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"kind": "distill", "command": "mobilevid distill"}))
    (run / "kept.txt").write_text("x")
    return Spec(["train", "--max-steps", "1", "-o", run, "--overwrite"], sentinels=[run])


@case("train")
def c_train_overwrite_run_then_bad_recipe(ctx, d):
    """--overwrite on an earlier train run, but the new run fails at once: the old run must stay."""
    run = d / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"kind": "train", "command": "mobilevid train"}))
    (run / "model").mkdir()
    (run / "model" / "weights.bin").write_bytes(os.urandom(128))
    return Spec(["train", "-o", run, "--overwrite", "--recipe", random_bytes(d / "r.yaml")], sentinels=[run])


@case("train")
def c_train_output_read_only_parent(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(["train", "--max-steps", "1", "-o", ro / "run"], outputs=[ro / "run"])


@case("train")
def c_train_output_under_a_file(ctx, d):
    f = sentinel_file(d / "afile")
    return Spec(["train", "--max-steps", "1", "-o", f / "run"], sentinels=[f])


@case("train")
def c_train_resume_nothing(ctx, d):
    """Nothing to resume: each stage logs that it starts from scratch (either is fine, not a crash)."""
    return Spec(["train", "--max-steps", "1", "--resume", "-o", d / "run", *CHEAP_TRAIN], expect="either")


@case("train")
def c_train_stage_layout_without_layout_model(ctx, d):
    return train(d, "--stage", "layout")


# distill ----------------------------------------------------------------------------------------------
def distill(d: Path, teacher: Any, *extra: Any) -> Spec:
    o = d / "run"
    return Spec(["distill", "--teacher", teacher, "--max-steps", "1", "-o", o, *CHEAP_DISTILL, *extra], outputs=[o])


@case("distill", quick=True)
def c_distill_teacher_missing(ctx, d):
    return distill(d, d / "nope")


@case("distill")
def c_distill_teacher_is_a_file(ctx, d):
    return distill(d, random_bytes(d / "teacher.bin"))


@case("distill", quick=True)
def c_distill_teacher_truncated_weights(ctx, d):
    m = model_copy(ctx, d)
    truncate(m / "denoiser" / "model.safetensors")
    return distill(d, m)


@case("distill")
def c_distill_teacher_random_weights(ctx, d):
    m = model_copy(ctx, d)
    (m / "denoiser" / "model.safetensors").unlink()
    random_bytes(m / "denoiser" / "model.safetensors", 100_000)
    return distill(d, m)


@case("distill")
def c_distill_teacher_wrong_keys(ctx, d):
    m = model_copy(ctx, d)
    (m / "vae" / "model.safetensors").unlink()
    shutil.copy(ctx.tiny / "denoiser" / "model.safetensors", m / "vae" / "model.safetensors")
    return distill(d, m)


@case("distill")
def c_distill_teacher_no_model_index(ctx, d):
    m = model_copy(ctx, d)
    (m / "model_index.json").unlink()
    return distill(d, m)


@case("distill")
def c_distill_teacher_nan_weights(ctx, d):
    return distill(d, ctx.nan_model)


@case("distill", quick=True)
def c_distill_lr_nan(ctx, d):
    return distill(d, ctx.tiny, "--set", "lr_student=nan")


@case("distill")
def c_distill_lr_negative(ctx, d):
    return distill(d, ctx.tiny, "--set", "lr_heads=-2e-4")


@case("distill")
def c_distill_steps_zero(ctx, d):
    return distill(d, ctx.tiny, "--steps", "0")


@case("distill")
def c_distill_max_steps_negative(ctx, d):
    return distill(d, ctx.tiny, "--max-steps", "-1")


@case("distill")
def c_distill_sigmas_not_a_list(ctx, d):
    return distill(d, ctx.tiny, "--set", "student_sigmas=abc")


@case("distill")
def c_distill_sigmas_nan(ctx, d):
    return distill(d, ctx.tiny, "--set", "student_sigmas=[1.0,nan,0.5,0.25]")


@case("distill")
def c_distill_sigmas_increasing(ctx, d):
    return distill(d, ctx.tiny, "--set", "student_sigmas=[0.25,0.5,0.75,1.0]")


@case("distill")
def c_distill_recipe_random_bytes(ctx, d):
    return distill(d, ctx.tiny, "--recipe", random_bytes(d / "r.yaml"))


@case("distill")
def c_distill_seed_above_2_63(ctx, d):
    return distill(d, ctx.tiny, "--set", f"seed={SEED_ABOVE_2_63}")


@case("distill")
def c_distill_data_missing(ctx, d):
    return distill(d, ctx.tiny, "--data", d / "nope")


@case("distill", quick=True)
def c_distill_output_user_folder(ctx, d):
    folder = sentinel_folder(d / "mine")
    return Spec(["distill", "--teacher", ctx.tiny, "--max-steps", "1", "-o", folder, "--overwrite"],
                sentinels=[folder])


@case("distill")
def c_distill_output_existing_file(ctx, d):
    f = sentinel_file(d / "run")
    return Spec(["distill", "--teacher", ctx.tiny, "--max-steps", "1", "-o", f], sentinels=[f])


@case("distill")
def c_distill_output_train_run_overwrite(ctx, d):
    run = d / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"kind": "train", "command": "mobilevid train"}))
    return Spec(["distill", "--teacher", ctx.tiny, "--max-steps", "1", "-o", run, "--overwrite"], sentinels=[run])


# generate: flags and prompts --------------------------------------------------------------------------
@case("generate", quick=True)
def c_generate_guidance_nan(ctx, d):
    return ok_video(d, gen(ctx, d, "--guidance", "nan"), expect="error")


@case("generate")
def c_generate_guidance_inf(ctx, d):
    return ok_video(d, gen(ctx, d, "--guidance", "inf"), expect="error")


@case("generate")
def c_generate_guidance_huge(ctx, d):
    return ok_video(d, gen(ctx, d, "--guidance", "1e300"), expect="error")


@case("generate", quick=True)
def c_generate_nan_model(ctx, d):
    return ok_video(d, gen(ctx, d, model=False) + ["--model", ctx.nan_model], expect="error")


@case("generate", quick=True)
def c_generate_seed_above_2_63(ctx, d):
    return ok_video(d, gen(ctx, d, "--seed", SEED_ABOVE_2_63), expect="error")


@case("generate")
def c_generate_seed_negative(ctx, d):
    return ok_video(d, gen(ctx, d, "--seed", "-3"), expect="error")


@case("generate")
def c_generate_seed_at_max_two_prompts(ctx, d):
    out = d / "out.mp4"
    return Spec(["generate", "a", "b", "--model", ctx.tiny, "--seed", str(2**63 - 1), "-o", out],
                outputs=[d / "out_0.mp4", d / "out_1.mp4"])


@case("generate")
def c_generate_steps_zero(ctx, d):
    return ok_video(d, gen(ctx, d, "--steps", "0"), expect="error")


@case("generate")
def c_generate_steps_negative(ctx, d):
    return ok_video(d, gen(ctx, d, "--steps", "-2"), expect="error")


@case("generate")
def c_generate_steps_above_int64(ctx, d):
    return ok_video(d, gen(ctx, d, "--steps", str(10**20)), expect="error")


@case("generate")
def c_generate_frames_zero(ctx, d):
    return ok_video(d, gen(ctx, d, "--frames", "0"), expect="error")


@case("generate")
def c_generate_frames_negative(ctx, d):
    return ok_video(d, gen(ctx, d, "--frames", "-8"), expect="error")


@case("generate")
def c_generate_partitions_zero(ctx, d):
    return ok_video(d, gen(ctx, d, "--long", "fifo", "--partitions", "0"), expect="error")


@case("generate")
def c_generate_prompt_schedule_missing(ctx, d):
    return ok_video(d, gen(ctx, d, "--prompt-schedule", d / "nope.json"), expect="error")


@case("generate")
def c_generate_prompt_schedule_random(ctx, d):
    return ok_video(d, gen(ctx, d, "--prompt-schedule", random_bytes(d / "s.json")), expect="error")


@case("generate")
def c_generate_schedule_prompt_bad_frame(ctx, d):
    return ok_video(d, gen(ctx, d, "--prompt", "minus five: a square"), expect="error")


@case("generate", quick=True)
def c_generate_empty_prompt(ctx, d):
    return ok_video(d, gen(ctx, d, prompt=""), expect="error")


@case("generate")
def c_generate_blank_prompt(ctx, d):
    return ok_video(d, gen(ctx, d, prompt=" \t\n "), expect="error")


@case("generate")
def c_generate_huge_prompt(ctx, d):
    return ok_video(d, gen(ctx, d, prompt="a red circle moves right " * 4000), expect="either")


@case("generate", quick=True)
def c_generate_non_utf8_prompt(ctx, d):
    return ok_video(d, gen(ctx, d, prompt=b"a \xff\xfe circle \xc3\x28 moves"), expect="either")


@case("generate")
def c_generate_control_chars_prompt(ctx, d):
    return ok_video(d, gen(ctx, d, prompt="a\x1b[31m red\x07 circle\u202e moves"), expect="either")


@case("generate")
def c_generate_emoji_prompt(ctx, d):
    return ok_video(d, gen(ctx, d, prompt="🔴➡️ 円が右へ動く"), expect="either")


@case("generate")
def c_generate_runtime_without_bundle(ctx, d):
    return ok_video(d, gen(ctx, d, "--runtime", "onnxruntime"), expect="error")


@case("generate")
def c_generate_runtime_unknown(ctx, d):
    return ok_video(d, gen(ctx, d, "--runtime", "tensorrt"), expect="usage")


# generate: output paths -------------------------------------------------------------------------------
@case("generate", quick=True)
def c_generate_output_is_a_folder(ctx, d):
    folder = sentinel_folder(d / "clip.mp4")
    return Spec(gen(ctx, d, "-o", folder, "--overwrite"), sentinels=[folder])


@case("generate")
def c_generate_output_bad_extension(ctx, d):
    return Spec(gen(ctx, d, "-o", d / "out.txt"), outputs=[d / "out.txt"])


@case("generate", quick=True)
def c_generate_output_read_only_folder(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(gen(ctx, d, "-o", ro / "out.mp4"), outputs=[ro / "out.mp4"])


@case("generate")
def c_generate_output_parent_is_a_file(ctx, d):
    f = sentinel_file(d / "afile")
    return Spec(gen(ctx, d, "-o", f / "out.mp4"), sentinels=[f])


@case("generate")
def c_generate_output_missing_parent(ctx, d):
    out = d / "new" / "deeper" / "out.mp4"
    return Spec(gen(ctx, d, "-o", out), expect="ok", outputs=[out], videos=[out])


@case("generate", quick=True)
def c_generate_output_exists(ctx, d):
    f = sentinel_file(d / "out.mp4")
    return Spec(gen(ctx, d, "-o", f), sentinels=[f])


@case("generate")
def c_generate_output_exists_overwrite(ctx, d):
    out = sentinel_file(d / "out.mp4")  # the user asks to replace it: not a sentinel
    return Spec(gen(ctx, d, "-o", out, "--overwrite"), expect="ok", outputs=[out], videos=[out])


@case("generate")
def c_generate_numbered_output_exists(ctx, d):
    f = sentinel_file(d / "out_1.mp4")
    return Spec(["generate", "a", "b", "--model", ctx.tiny, "-o", d / "out.mp4"], sentinels=[f],
                outputs=[d / "out_0.mp4"])


@case("generate", quick=True)
def c_generate_grid_read_only_folder(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(gen(ctx, d, "-o", d / "out.mp4", "--grid", ro / "grid.png"),
                outputs=[d / "out.mp4", ro / "grid.png"])


@case("generate")
def c_generate_grid_is_a_folder(ctx, d):
    folder = sentinel_folder(d / "grid.png")
    return Spec(gen(ctx, d, "-o", d / "out.mp4", "--grid", folder, "--overwrite"), sentinels=[folder],
                outputs=[d / "out.mp4"])


@case("generate")
def c_generate_grid_bad_extension(ctx, d):
    return Spec(gen(ctx, d, "-o", d / "out.mp4", "--grid", d / "grid.jpg"), outputs=[d / "out.mp4", d / "grid.jpg"])


@case("generate")
def c_generate_grid_exists(ctx, d):
    g = sentinel_file(d / "grid.png")
    return Spec(gen(ctx, d, "-o", d / "out.mp4", "--grid", g), sentinels=[g], outputs=[d / "out.mp4"])


@case("generate")
def c_generate_gif_ok(ctx, d):
    return ok_video(d, gen(ctx, d), name="out.gif")


def killed_write_leftover(target: Path, folder: bool) -> Path:
    """What a write of ``target`` killed midway leaves: a hidden temporary sibling named for a dead process."""
    from mobilevid.artifacts import temp_sibling

    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid names a process that is gone
    name = temp_sibling(target, suffix="" if folder else target.suffix).name
    name = re.sub(r"-\d+-([0-9a-f]{8})", f"-{dead.pid}-\\1", name, count=1)
    leftover = target.parent / name
    if folder:
        leftover.mkdir(parents=True)
        random_bytes(leftover / "denoiser.onnx", 100_000)
    else:
        random_bytes(leftover, 100_000)
    return leftover


@case("generate")
def c_generate_killed_write_leftover(ctx, d):
    """The next write to the same place removes what a killed write left (checked as a stray temp)."""
    out = d / "out.mp4"
    killed_write_leftover(out, folder=False)
    return Spec(gen(ctx, d, "-o", out), expect="ok", outputs=[out], videos=[out])


@case("export")
def c_export_killed_write_leftover(ctx, d):
    out = d / "bundle"
    killed_write_leftover(out, folder=True)
    return Spec(export(ctx, out, "--components", "vae_decoder", "--parity-samples", "1"), expect="ok",
                outputs=[out / "manifest.json"], timeout=600)


# generate: model folders ------------------------------------------------------------------------------
def gen_model(ctx: Any, d: Path, m: Path, expect: str = "error") -> Spec:
    return ok_video(d, ["generate", "a red circle", "--model", m], expect=expect)


@case("generate", quick=True)
def c_model_missing(ctx, d):
    return gen_model(ctx, d, d / "nope")


@case("generate")
def c_model_empty_folder(ctx, d):
    (d / "model").mkdir()
    return gen_model(ctx, d, d / "model")


@case("generate")
def c_model_is_a_bundle(ctx, d):
    return gen_model(ctx, d, bundle_copy(ctx, d))


@case("generate", quick=True)
def c_model_truncated_vae(ctx, d):
    m = model_copy(ctx, d)
    truncate(m / "vae" / "model.safetensors")
    return gen_model(ctx, d, m)


@case("generate")
def c_model_truncated_header(ctx, d):
    m = model_copy(ctx, d)
    truncate(m / "denoiser" / "model.safetensors", keep=0.00001)
    return gen_model(ctx, d, m)


@case("generate")
def c_model_random_denoiser(ctx, d):
    m = model_copy(ctx, d)
    (m / "denoiser" / "model.safetensors").unlink()
    random_bytes(m / "denoiser" / "model.safetensors", 50_000)
    return gen_model(ctx, d, m)


@case("generate")
def c_model_wrong_keys(ctx, d):
    m = model_copy(ctx, d)
    (m / "denoiser" / "model.safetensors").unlink()
    shutil.copy(ctx.tiny / "vae" / "model.safetensors", m / "denoiser" / "model.safetensors")
    return gen_model(ctx, d, m)


@case("generate")
def c_model_weights_missing(ctx, d):
    m = model_copy(ctx, d)
    (m / "vae" / "model.safetensors").unlink()
    return gen_model(ctx, d, m)


@case("generate")
def c_model_index_random(ctx, d):
    m = model_copy(ctx, d)
    (m / "model_index.json").unlink()
    random_bytes(m / "model_index.json")
    return gen_model(ctx, d, m)


@case("generate")
def c_model_index_num_frames_negative(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "model_index.json", lambda c: c.update(num_frames=-4))
    return gen_model(ctx, d, m)


@case("generate")
def c_model_index_fps_nan(ctx, d):
    m = model_copy(ctx, d)
    (m / "model_index.json").write_text((m / "model_index.json").read_text())  # unlink the hard link first
    text = (m / "model_index.json").read_text().replace('"fps": 8.0', '"fps": NaN')
    (m / "model_index.json").unlink()
    (m / "model_index.json").write_text(text)
    return gen_model(ctx, d, m)


@case("generate")
def c_model_index_unknown_encoder(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "model_index.json", lambda c: c.update(text_encoder="no-such-encoder-anywhere"))
    return gen_model(ctx, d, m)


@case("generate")
def c_model_denoiser_config_missing(ctx, d):
    m = model_copy(ctx, d)
    (m / "denoiser" / "config.json").unlink()
    return gen_model(ctx, d, m)


@case("generate")
def c_model_denoiser_config_bad_width(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "denoiser" / "config.json", lambda c: c.update(block_out_channels=[48, 64, 96]))
    return gen_model(ctx, d, m)


@case("generate", quick=True)
def c_model_scheduler_sigmas_not_list(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "scheduler" / "scheduler_config.json", lambda c: c.update(sigmas="abc"))
    return gen_model(ctx, d, m)


@case("generate")
def c_model_scheduler_sigmas_nan(ctx, d):
    m = model_copy(ctx, d)
    p = m / "scheduler" / "scheduler_config.json"
    data = json.loads(p.read_text())
    p.unlink()
    p.write_text(json.dumps(data)[:-1] + ', "sigmas": [1.0, NaN, 0.5]}')
    return gen_model(ctx, d, m)


@case("generate")
def c_model_scheduler_missing(ctx, d):
    m = model_copy(ctx, d)
    shutil.rmtree(m / "scheduler")
    return gen_model(ctx, d, m)


@case("generate")
def c_model_scheduler_shift_negative(ctx, d):
    m = model_copy(ctx, d)
    edit_json(m / "scheduler" / "scheduler_config.json", lambda c: c.update(shift=-3.0))
    return gen_model(ctx, d, m)


# generate --bundle ------------------------------------------------------------------------------------
def gen_bundle(d: Path, b: Path, *extra: Any, expect: str = "error") -> Spec:
    return ok_video(d, ["generate", "a red circle", "--bundle", b, *extra], expect=expect)


def manifest_edit(b: Path, edit: Callable[[dict], Any]) -> Path:
    return edit_json(b / "manifest.json", edit)


@case("bundle", quick=True)
def c_bundle_ok(ctx, d):
    return gen_bundle(d, bundle_copy(ctx, d), expect="ok")


@case("bundle")
def c_bundle_missing(ctx, d):
    return gen_bundle(d, d / "nope")


@case("bundle")
def c_bundle_no_manifest(ctx, d):
    b = bundle_copy(ctx, d)
    (b / "manifest.json").unlink()
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_random(ctx, d):
    b = bundle_copy(ctx, d)
    (b / "manifest.json").unlink()
    random_bytes(b / "manifest.json")
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_manifest_no_components(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m.pop("components"))
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_manifest_no_sigmas(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["sampler"].pop("sigmas"))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_sigmas_nan(ctx, d):
    b = bundle_copy(ctx, d)
    text = (b / "manifest.json").read_text()
    m = json.loads(text)
    m["sampler"]["sigmas"] = [1.0, "NAN_HERE", 0.0]
    (b / "manifest.json").unlink()
    (b / "manifest.json").write_text(json.dumps(m).replace('"NAN_HERE"', "NaN"))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_sigmas_length_mismatch(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["sampler"].update(sigmas=[1.0, 0.5, 0.25, 0.0]))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_guidance_string(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["sampler"].update(guidance_scale="five"))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_steps_negative(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["sampler"].update(steps=-2))
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_manifest_other_version(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m.update(schema_version=99))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_other_schema(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m.update(schema="someone.else"))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_unknown_key(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m.update(surprise=1))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_manifest_a_list(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: [m])
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_file_outside_absolute(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["components"]["denoiser"].update(files=["/etc/hostname"]))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_file_outside_relative(ctx, d):
    b = bundle_copy(ctx, d)
    os.link(b / "denoiser.onnx", d / "outside.onnx")
    manifest_edit(b, lambda m: m["components"]["denoiser"].update(files=["../outside.onnx"]))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_file_symlink_outside(ctx, d):
    b = bundle_copy(ctx, d)
    os.link(b / "denoiser.onnx", d / "outside.onnx")
    (b / "denoiser.onnx").unlink()
    (b / "denoiser.onnx").symlink_to(d / "outside.onnx")
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_tokenizer_file_outside(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["tokenizer"].update(files=["/etc/passwd"]))
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_no_tokenizer_folder(ctx, d):
    b = bundle_copy(ctx, d)
    shutil.rmtree(b / "tokenizer")
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_tokenizer_vocab_random(ctx, d):
    b = bundle_copy(ctx, d)
    for name in ("vocab.txt", "tokenizer.json"):
        (b / "tokenizer" / name).unlink()
        random_bytes(b / "tokenizer" / name)
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_denoiser_truncated(ctx, d):
    b = bundle_copy(ctx, d)
    truncate(b / "denoiser.onnx")
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_text_encoder_random(ctx, d):
    b = bundle_copy(ctx, d)
    (b / "text_encoder.onnx").unlink()
    random_bytes(b / "text_encoder.onnx", 20_000)
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_vae_decoder_missing(ctx, d):
    b = bundle_copy(ctx, d)
    (b / "vae_decoder.onnx").unlink()
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_components_swapped(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["components"]["vae_decoder"].update(files=["denoiser.onnx"]))
    return gen_bundle(d, b)


@case("bundle", quick=True)
def c_bundle_input_shape_changed(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["components"]["denoiser"]["inputs"][0].update(shape=[1, 7, 4, 9, 9]))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_noise_shape_changed(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["noise"].update(shape=[4, 4, 8, 8]))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_video_frames_changed(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["video"].update(frames=9))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_dtype_unknown(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["components"]["denoiser"]["inputs"][0].update(dtype="bfloat7"))
    return gen_bundle(d, b)


@case("bundle")
def c_bundle_with_steps(ctx, d):
    return gen_bundle(d, ctx.bundle, "--steps", "3")


@case("bundle")
def c_bundle_runtime_mismatch(ctx, d):
    return gen_bundle(d, ctx.bundle, "--runtime", "executorch")


@case("bundle")
def c_bundle_seed_above_2_63(ctx, d):
    return gen_bundle(d, ctx.bundle, "--seed", SEED_ABOVE_2_63)


def pte_bundle(ctx: Any, d: Path, damage: Callable[[Path], Any]) -> Path:
    """The ONNX bundle relabelled as an ExecuTorch one, with its .pte files damaged."""
    b = bundle_copy(ctx, d)

    def relabel(m):
        m["target"] = "executorch"
        m["delegate"] = "xnnpack"
        for name, comp in m["components"].items():
            comp["files"] = [f"{name}.pte"]

    manifest_edit(b, relabel)
    for name in ("text_encoder", "denoiser", "vae_decoder"):
        os.rename(b / f"{name}.onnx", b / f"{name}.pte")
        damage(b / f"{name}.pte")
    return b


@case("bundle", quick=True)
def c_bundle_pte_random(ctx, d):
    def damage(p: Path) -> None:
        p.unlink()
        random_bytes(p, 20_000)

    return gen_bundle(d, pte_bundle(ctx, d, damage))


@case("bundle")
def c_bundle_pte_truncated(ctx, d):
    return gen_bundle(d, pte_bundle(ctx, d, lambda p: truncate(p, 0.1)))


@case("bundle")
def c_bundle_pte_empty(ctx, d):
    def damage(p: Path) -> None:
        p.unlink()
        p.write_bytes(b"")

    return gen_bundle(d, pte_bundle(ctx, d, damage))


# eval -------------------------------------------------------------------------------------------------
@case("eval", quick=True)
def c_eval_prompts_one(ctx, d):
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "1"])


@case("eval")
def c_eval_prompts_negative(ctx, d):
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "-5"])


@case("eval")
def c_eval_steps_zero(ctx, d):
    return Spec(["eval", "--model", ctx.tiny, "--suite", "digits", "--prompts", "2", "--steps", "0"])


@case("eval")
def c_eval_guidance_nan(ctx, d):
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "2", "--guidance", "nan"],
                outputs=[d / "m.json"])


@case("eval")
def c_eval_seed_above_2_63(ctx, d):
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "2", "--seed", SEED_ABOVE_2_63])


@case("eval")
def c_eval_suite_unknown(ctx, d):
    return Spec(["eval", "--model", ctx.tiny, "--suite", "cats"], expect="usage")


@case("eval")
def c_eval_model_missing(ctx, d):
    return Spec(["eval", "--model", d / "nope", "--suite", "shapes", "--prompts", "2"])


@case("eval")
def c_eval_nan_model(ctx, d):
    return Spec(["eval", "--model", ctx.nan_model, "--suite", "shapes", "--prompts", "2", "--json", d / "m.json"],
                outputs=[d / "m.json"])


@case("eval")
def c_eval_json_folder(ctx, d):
    folder = sentinel_folder(d / "m.json")
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "2", "--json", folder,
                 "--overwrite"], sentinels=[folder])


@case("eval")
def c_eval_json_exists(ctx, d):
    f = sentinel_file(d / "m.json")
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "2", "--json", f], sentinels=[f])


@case("eval")
def c_eval_json_read_only(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(["eval", "--model", ctx.tiny, "--suite", "shapes", "--prompts", "2", "--json", ro / "m.json"],
                outputs=[ro / "m.json"])


# export -----------------------------------------------------------------------------------------------
def export(ctx: Any, out: Path, *extra: Any, model: Any = None) -> list[Any]:
    return ["export", "--model", model or ctx.tiny, "--target", "onnx", "-o", out, *extra]


@case("export", quick=True)
def c_export_output_user_folder(ctx, d):
    folder = sentinel_folder(d / "mine")
    return Spec(export(ctx, folder), sentinels=[folder])


@case("export", quick=True)
def c_export_output_user_folder_overwrite(ctx, d):
    folder = sentinel_folder(d / "mine")
    return Spec(export(ctx, folder, "--overwrite"), sentinels=[folder])


@case("export")
def c_export_output_existing_file(ctx, d):
    f = sentinel_file(d / "bundle")
    return Spec(export(ctx, f, "--overwrite"), sentinels=[f])


@case("export")
def c_export_output_model_folder_overwrite(ctx, d):
    m = model_copy(ctx, d)
    return Spec(export(ctx, m, "--overwrite"), sentinels=[m])


@case("export")
def c_export_output_bundle_no_overwrite(ctx, d):
    b = bundle_copy(ctx, d)
    return Spec(export(ctx, b), sentinels=[b])


@case("export")
def c_export_output_bundle_overwrite(ctx, d):
    """Replacing an earlier bundle is what --overwrite is for: must succeed, with a valid new bundle."""
    b = bundle_copy(ctx, d)
    return Spec(export(ctx, b, "--overwrite", "--components", "vae_decoder", "--parity-samples", "1"),
                expect="ok", outputs=[b / "manifest.json"], timeout=600)


@case("export")
def c_export_output_read_only_parent(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(export(ctx, ro / "bundle"), outputs=[ro / "bundle"])


@case("export")
def c_export_bad_combination(ctx, d):
    return Spec(export(ctx, d / "b", "--quantize", "palettize4"), outputs=[d / "b"])


@case("export")
def c_export_delegate_on_onnx(ctx, d):
    return Spec(export(ctx, d / "b", "--delegate", "coreml"), outputs=[d / "b"])


@case("export")
def c_export_unknown_target(ctx, d):
    return Spec(["export", "--target", "tflite", "-o", d / "b"], expect="usage", outputs=[d / "b"])


@case("export")
def c_export_unknown_component(ctx, d):
    return Spec(export(ctx, d / "b", "--components", "denoiser,unet"), outputs=[d / "b"])


@case("export")
def c_export_no_components(ctx, d):
    return Spec(export(ctx, d / "b", "--components", ",,"), outputs=[d / "b"])


@case("export")
def c_export_parity_samples_zero(ctx, d):
    return Spec(export(ctx, d / "b", "--parity-samples", "0"), outputs=[d / "b"])


@case("export")
def c_export_model_missing(ctx, d):
    return Spec(export(ctx, d / "b", model=d / "nope"), outputs=[d / "b"])


@case("export")
def c_export_model_truncated(ctx, d):
    m = model_copy(ctx, d)
    truncate(m / "vae" / "model.safetensors")
    return Spec(export(ctx, d / "b", "--components", "vae_decoder", model=m), outputs=[d / "b"])


@case("export")
def c_export_nan_model(ctx, d):
    return Spec(export(ctx, d / "b", "--components", "vae_decoder", "--parity-samples", "1", model=ctx.nan_vae_model),
                outputs=[d / "b"], timeout=600)


# profile ----------------------------------------------------------------------------------------------
def profile(b: Any, *extra: Any) -> list[Any]:
    return ["profile", "--bundle", b, "--runs", "1", "--warmup", "0", "--no-blocks", *extra]


@case("profile")
def c_profile_bundle_missing(ctx, d):
    return Spec(profile(d / "nope"))


@case("profile", quick=True)
def c_profile_onnx_truncated(ctx, d):
    b = bundle_copy(ctx, d)
    truncate(b / "denoiser.onnx")
    return Spec(profile(b))


@case("profile")
def c_profile_onnx_random(ctx, d):
    b = bundle_copy(ctx, d)
    (b / "vae_decoder.onnx").unlink()
    random_bytes(b / "vae_decoder.onnx")
    return Spec(profile(b))


@case("profile")
def c_profile_manifest_no_components(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m.pop("components"))
    return Spec(profile(b))


@case("profile")
def c_profile_file_outside(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["components"]["text_encoder"].update(files=["/etc/hostname"]))
    return Spec(profile(b))


@case("profile")
def c_profile_input_shape_changed(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m["components"]["vae_decoder"]["inputs"][0].update(shape=[1, 3, 4, 5, 5]))
    return Spec(profile(b))


@case("profile")
def c_profile_pte_random(ctx, d):
    def damage(p: Path) -> None:
        p.unlink()
        random_bytes(p, 20_000)

    return Spec(profile(pte_bundle(ctx, d, damage)))


@case("profile")
def c_profile_runs_zero(ctx, d):
    return Spec(["profile", "--bundle", ctx.bundle, "--runs", "0"])


@case("profile")
def c_profile_warmup_negative(ctx, d):
    return Spec(["profile", "--bundle", ctx.bundle, "--warmup", "-1"])


@case("profile")
def c_profile_threads_zero(ctx, d):
    return Spec(profile(ctx.bundle, "--threads", "0"))


@case("profile")
def c_profile_runtime_mismatch(ctx, d):
    return Spec(profile(ctx.bundle, "--runtime", "executorch"))


@case("profile")
def c_profile_json_exists(ctx, d):
    f = sentinel_file(d / "p.json")
    return Spec(profile(ctx.bundle, "--json", f), sentinels=[f])


@case("profile")
def c_profile_json_read_only(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(profile(ctx.bundle, "--json", ro / "p.json"), outputs=[ro / "p.json"])


@case("profile")
def c_profile_device_json_random(ctx, d):
    return Spec(profile(ctx.bundle, "--device-json", random_bytes(d / "dev.json")))


@case("profile")
def c_profile_device_json_wrong_schema(ctx, d):
    (d / "dev.json").write_text(json.dumps({"schema": "mobilevid.profile", "version": 7, "components": 3}))
    return Spec(profile(ctx.bundle, "--device-json", d / "dev.json"))


@case("profile")
def c_profile_device_json_missing(ctx, d):
    return Spec(profile(ctx.bundle, "--device-json", d / "nope.json"))


# prune ------------------------------------------------------------------------------------------------
def prune(ctx: Any, d: Path, *extra: Any, out: Path | None = None) -> Spec:
    o = out or d / "run"
    return Spec(["prune", "--model", ctx.tiny, "-o", o, *extra], outputs=[] if out else [o])


@case("prune", quick=True)
def c_prune_ratio_above_one(ctx, d):
    return prune(ctx, d, "--ratio", "1.5")


@case("prune")
def c_prune_ratio_nan(ctx, d):
    return prune(ctx, d, "--ratio", "nan")


@case("prune")
def c_prune_ratio_zero(ctx, d):
    return prune(ctx, d, "--ratio", "0")


@case("prune")
def c_prune_importance_unknown(ctx, d):
    return prune(ctx, d, "--importance", "vibes")


@case("prune")
def c_prune_component_unknown(ctx, d):
    s = prune(ctx, d, "--component", "text_encoder")
    s.expect = "usage"
    return s


@case("prune")
def c_prune_recover_steps_negative(ctx, d):
    return prune(ctx, d, "--recover-steps", "-1")


@case("prune")
def c_prune_lr_nan(ctx, d):
    return prune(ctx, d, "--recover-steps", "1", "--set", "recover.lr=nan")


@case("prune")
def c_prune_model_missing(ctx, d):
    return Spec(["prune", "--model", d / "nope", "-o", d / "run"], outputs=[d / "run"])


@case("prune")
def c_prune_recipe_random(ctx, d):
    return prune(ctx, d, "--recipe", random_bytes(d / "r.yaml"))


@case("prune", quick=True)
def c_prune_output_existing_file(ctx, d):
    f = sentinel_file(d / "run")
    s = prune(ctx, d, out=f)
    s.sentinels = [f]
    return s


@case("prune")
def c_prune_output_user_folder(ctx, d):
    folder = sentinel_folder(d / "mine")
    s = prune(ctx, d, out=folder)
    s.sentinels = [folder]
    return s


# search -----------------------------------------------------------------------------------------------
@case("search")
def c_search_lut_runtime_unknown(ctx, d):
    return Spec(["search", "lut", "--preset", "tiny", "--runtime", "tpu", "-o", d / "t.json"], expect="usage",
                outputs=[d / "t.json"])


@case("search")
def c_search_lut_runs_zero(ctx, d):
    return Spec(["search", "lut", "--model", ctx.tiny, "--runtime", "onnxruntime", "--runs", "0", "-o",
                 d / "t.json"], outputs=[d / "t.json"])


@case("search")
def c_search_lut_output_exists(ctx, d):
    f = sentinel_file(d / "t.json")
    return Spec(["search", "lut", "--model", ctx.tiny, "--runtime", "onnxruntime", "-o", f], sentinels=[f])


@case("search")
def c_search_lut_output_folder(ctx, d):
    folder = sentinel_folder(d / "t.json")
    return Spec(["search", "lut", "--model", ctx.tiny, "--runtime", "onnxruntime", "-o", folder, "--overwrite"],
                sentinels=[folder])


@case("search")
def c_search_lut_device_json_random(ctx, d):
    return Spec(["search", "lut", "--model", ctx.tiny, "--runtime", "onnxruntime", "--device-json",
                 random_bytes(d / "dev.json"), "-o", d / "t.json"], outputs=[d / "t.json"])


@case("search")
def c_search_lut_model_missing(ctx, d):
    return Spec(["search", "lut", "--model", d / "nope", "--runtime", "onnxruntime", "-o", d / "t.json"],
                outputs=[d / "t.json"])


@case("search")
def c_search_supernet_model_missing(ctx, d):
    return Spec(["search", "supernet", "--model", d / "nope", "--max-steps", "1", "-o", d / "run"],
                outputs=[d / "run"])


@case("search")
def c_search_supernet_lr_nan(ctx, d):
    return Spec(["search", "supernet", "--model", ctx.tiny, "--max-steps", "1", "--set", "lr=nan", "-o", d / "run"],
                outputs=[d / "run"])


@case("search")
def c_search_supernet_seed_above_2_63(ctx, d):
    return Spec(["search", "supernet", "--model", ctx.tiny, "--max-steps", "1", "--seed", SEED_ABOVE_2_63,
                 "-o", d / "run"], outputs=[d / "run"])


@case("search", quick=True)
def c_search_supernet_output_user_folder(ctx, d):
    folder = sentinel_folder(d / "mine")
    return Spec(["search", "supernet", "--model", ctx.tiny, "--max-steps", "1", "-o", folder], sentinels=[folder])


@case("search")
def c_search_supernet_output_file(ctx, d):
    f = sentinel_file(d / "run")
    return Spec(["search", "supernet", "--model", ctx.tiny, "--max-steps", "1", "-o", f], sentinels=[f])


def evolve(d: Path, lut: Path, *extra: Any, out: Path | None = None) -> list[Any]:
    (d / "supernet").mkdir(exist_ok=True)
    return ["search", "evolve", "--supernet", d / "supernet", "--lut", lut, "--latency-budget", "5",
            "-o", out or d / "search", *extra]


@case("search")
def c_search_evolve_lut_missing(ctx, d):
    return Spec(evolve(d, d / "nope.json"), outputs=[d / "search"])


@case("search")
def c_search_evolve_lut_random(ctx, d):
    return Spec(evolve(d, random_bytes(d / "t.json")), outputs=[d / "search"])


@case("search")
def c_search_evolve_budget_nan(ctx, d):
    (d / "t.json").write_text("{}")
    return Spec(evolve(d, d / "t.json", "--latency-budget", "nan"), outputs=[d / "search"])


@case("search")
def c_search_evolve_population_zero(ctx, d):
    (d / "t.json").write_text("{}")
    return Spec(evolve(d, d / "t.json", "--population", "0"), outputs=[d / "search"])


@case("search")
def c_search_evolve_mutation_prob_above_one(ctx, d):
    (d / "t.json").write_text("{}")
    return Spec(evolve(d, d / "t.json", "--mutation-prob", "7"), outputs=[d / "search"])


@case("search")
def c_search_evolve_output_user_folder(ctx, d):
    (d / "t.json").write_text("{}")
    folder = sentinel_folder(d / "mine")
    return Spec(evolve(d, d / "t.json", out=folder), sentinels=[folder])


# golden -----------------------------------------------------------------------------------------------
@case("golden", quick=True)
def c_golden_bundle_missing(ctx, d):
    return Spec(["golden", "--bundle", d / "nope", "-o", d / "g"], outputs=[d / "g"])


@case("golden")
def c_golden_manifest_no_components(ctx, d):
    b = bundle_copy(ctx, d)
    manifest_edit(b, lambda m: m.pop("components"))
    return Spec(["golden", "--bundle", b, "-o", d / "g"], outputs=[d / "g"])


@case("golden")
def c_golden_onnx_truncated(ctx, d):
    b = bundle_copy(ctx, d)
    truncate(b / "vae_decoder.onnx")
    return Spec(["golden", "--bundle", b, "-o", d / "g"], outputs=[d / "g"])


@case("golden")
def c_golden_seed_above_2_63(ctx, d):
    return Spec(["golden", "--bundle", ctx.bundle, "--seed", SEED_ABOVE_2_63, "-o", d / "g"], outputs=[d / "g"])


@case("golden")
def c_golden_empty_prompt(ctx, d):
    return Spec(["golden", "--bundle", ctx.bundle, "--prompt", "", "-o", d / "g"], outputs=[d / "g"])


@case("golden")
def c_golden_non_utf8_prompt(ctx, d):
    return Spec(["golden", "--bundle", ctx.bundle, "--prompt", b"a \xff circle", "-o", d / "g"], expect="either")


@case("golden", quick=True)
def c_golden_output_user_folder_overwrite(ctx, d):
    folder = sentinel_folder(d / "mine")
    return Spec(["golden", "--bundle", ctx.bundle, "-o", folder, "--overwrite"], sentinels=[folder])


@case("golden")
def c_golden_output_existing_file(ctx, d):
    f = sentinel_file(d / "g")
    return Spec(["golden", "--bundle", ctx.bundle, "-o", f, "--overwrite"], sentinels=[f])


@case("golden")
def c_golden_output_bundle_overwrite(ctx, d):
    b = bundle_copy(ctx, d)
    return Spec(["golden", "--bundle", ctx.bundle, "-o", b, "--overwrite"], sentinels=[b])


@case("golden")
def c_golden_output_read_only_parent(ctx, d):
    ro = read_only_folder(d / "ro")
    return Spec(["golden", "--bundle", ctx.bundle, "-o", ro / "g"], outputs=[ro / "g"])


@case("golden")
def c_golden_ok_then_refused(ctx, d):
    """A golden folder written by an earlier run is not replaced without --overwrite."""
    b = bundle_copy(ctx, d)
    g = d / "g"
    g.mkdir()
    (g / "index.json").write_text("{}")
    return Spec(["golden", "--bundle", b, "-o", g], sentinels=[g])


# -- assets ---------------------------------------------------------------------------------------------
@dataclass
class Assets:
    tiny: Path
    bundle: Path
    nan_model: Path
    nan_vae_model: Path
    clips: Path


def build_assets(root: Path, log: Callable[[str], None]) -> Assets:
    """The tiny untrained model (4 frames, 2 steps, as tests/conftest.py's tiny_model_dir), its float ONNX
    bundle, copies with NaN weights and a folder of real clips; each built once and kept under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    a = Assets(root / "tiny", root / "bundle", root / "nan_model", root / "nan_vae_model", root / "clips")
    if not (a.tiny / "model_index.json").is_file():
        log("building the tiny model ...")
        from mobilevid.models.presets import get_preset
        from mobilevid.pipeline import Pipeline

        cfg = get_preset("tiny")
        cfg.num_frames = 4
        cfg.denoiser.num_frames = 4
        cfg.sampling.steps = 2
        shutil.rmtree(a.tiny, ignore_errors=True)
        Pipeline.from_config(cfg).save_pretrained(a.tiny)
    for target, part in ((a.nan_model, "denoiser"), (a.nan_vae_model, "vae")):
        if not (target / "model_index.json").is_file():
            from safetensors.torch import load_file, save_file

            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(a.tiny, target)
            weights = target / part / "model.safetensors"
            tensors = {k: (v.float() * float("nan")).to(v.dtype) if v.is_floating_point() else v
                       for k, v in load_file(weights).items()}
            save_file(tensors, weights)
    if not (a.bundle / "manifest.json").is_file():
        log("exporting the tiny model's ONNX bundle (a few minutes) ...")
        from mobilevid.export.bundle import export_bundle
        from mobilevid.pipeline import Pipeline

        shutil.rmtree(a.bundle, ignore_errors=True)
        export_bundle(Pipeline.from_pretrained(a.tiny), a.tiny, "onnx", "none", output=a.bundle, progress=False,
                      parity_samples=1)
    if not (a.clips / "captions.csv").is_file():
        import torch

        from mobilevid.video_io import write_video

        shutil.rmtree(a.clips, ignore_errors=True)
        a.clips.mkdir()
        for name, (h, w) in (("wide.mp4", (72, 128)), ("tall.mp4", (128, 72))):
            frames = torch.rand(12, 3, h, w, generator=torch.Generator().manual_seed(h))
            write_video(a.clips / name, frames, fps=12.0)
        (a.clips / "captions.csv").write_text("file,caption\nwide.mp4,a wide clip\ntall.mp4,a tall clip\n")
    return a


# -- running and classifying ----------------------------------------------------------------------------
def tree_hash(path: Path) -> str | None:
    """A hash of a file, or of a folder's names, modes and contents; None when ``path`` is gone."""
    if not os.path.lexists(path):
        return None
    h = hashlib.sha256()
    if path.is_file() or path.is_symlink():
        h.update(path.read_bytes() if path.is_file() else os.readlink(path).encode())
        return h.hexdigest()
    for p in sorted(path.rglob("*")):
        h.update(str(p.relative_to(path)).encode())
        h.update(oct(p.lstat().st_mode).encode())
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


def video_problem(path: Path) -> str | None:
    """Why ``path`` is not a real video (missing, undecodable, all black, constant), else None."""
    if not path.is_file():
        return "missing"
    try:
        import av
        import numpy as np

        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except Exception as err:  # noqa: BLE001 - any decode failure is the finding
        return f"undecodable ({type(err).__name__})"
    if not frames:
        return "no frames"
    data = np.stack(frames).astype(np.float32)
    if data.max() < 8:
        return "all black"
    if data.std() < 0.5:
        return "constant"
    return None


def strays(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*") if STRAY.match(p.name))


TQDM_BAR = re.compile(r"^.*?\|[^|]*\|\s*\d+/\d+ \[[^\]]*\]")  # "desc:  50%|#####     | 1/2 [00:00<...]"


def error_lines(stderr: str) -> list[str]:
    """What the user reads as the error: from the first ``... error: ...`` line to the end of stderr (log
    lines, progress bars and progress messages before it aside); every other line when there is none.
    A message glued to the end of a progress bar's line counts as a line of its own plus the bar."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.split("\r")[-1].strip()
        if not line or LOG_LINE.match(line) or line.startswith("Unable to import `torchao`"):
            continue  # log lines, and torchao's import-time print (not the command's)
        if TQDM_BAR.match(line):
            rest = TQDM_BAR.sub("", line).strip()
            if not rest:
                continue
            lines.append("(a progress bar's line)")
            line = rest
        lines.append(line)
    first = next((i for i, line in enumerate(lines) if ": error:" in line), None)
    if first is not None:
        glued = first > 0 and lines[first - 1] == "(a progress bar's line)"
        return lines[first - 1 if glued else first:]
    return lines


def make_writable(root: Path) -> None:
    if os.geteuid() == 0 and root.exists():
        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True)
    for p in [root, *root.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            try:
                os.chmod(p, p.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
            except OSError:
                pass


@dataclass
class Running:
    """One case under way: its spec, what existed before, and its process."""

    case: Case
    spec: Spec
    folder: Path
    before: dict[str, str | None]
    existed: set[str]
    argv: list[Any]
    start: float
    pid: int
    out: Path
    err: Path
    proc: subprocess.Popen | None = None
    rc: int | None = None
    hang: bool = False


def preload() -> None:
    """Fork mode: import what the commands import, once, so that each forked case starts at once."""
    import importlib

    import torch

    torch.set_num_threads(1)
    from mobilevid.cli.main import build_parser

    build_parser()
    for name in ("mobilevid.pipeline", "mobilevid.export.bundle", "mobilevid.export.bundle_runtime",
                 "mobilevid.export.profiling", "mobilevid.training.train", "mobilevid.distillation.distill",
                 "mobilevid.eval.suite", "mobilevid.pruning.prune", "mobilevid.search.supernet",
                 "mobilevid.search.cost_table", "mobilevid.models.inflate", "onnxruntime", "av"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module a command cannot import shows in that case's result
            pass


def _forked_cli(argv: list[Any], folder: Path, out: Path, err: Path) -> None:
    """In the forked child: the CLI's entry point on ``argv``, as the ``mobilevid`` script runs it."""
    code = 1
    try:
        os.setpgid(0, 0)
        os.chdir(folder)
        for fd, path in ((1, out), (2, err)):
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(handle, fd)
            os.close(handle)
        # argv as the interpreter decodes a command line (non-UTF-8 bytes become surrogates).
        sys.argv = ["mobilevid", *(os.fsdecode(a) if isinstance(a, bytes) else a for a in argv)]
        from mobilevid.cli.main import entry

        entry()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def launch(c: Case, ctx: Assets, work: Path, exe: list[str] | None) -> Running:
    """Build a case's inputs and start it: a forked child (``exe`` None) or the ``exe`` command line."""
    d = work / c.name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    spec = c.build(ctx, d)
    before = {str(s): tree_hash(s) for s in spec.sentinels}
    existed = {str(o) for o in spec.outputs if os.path.lexists(o)}
    argv = [a if isinstance(a, bytes) else str(a) for a in spec.argv]
    logs = work / ".logs"
    logs.mkdir(exist_ok=True)
    out, err = logs / f"{c.name}.out", logs / f"{c.name}.err"
    start = time.perf_counter()
    if exe is None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _forked_cli(argv, d, out, err)
        return Running(c, spec, d, before, existed, argv, start, pid, out, err)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(exe + argv, cwd=d, env=env, stdout=o, stderr=e, start_new_session=True)
    return Running(c, spec, d, before, existed, argv, start, proc.pid, out, err, proc=proc)


def poll(r: Running) -> bool:
    """Whether ``r`` has ended (killed, as a hang, past its timeout)."""
    if r.proc is not None:
        code = r.proc.poll()
        done = code is not None
    else:
        pid, status = os.waitpid(r.pid, os.WNOHANG)
        done = pid != 0
        code = os.waitstatus_to_exitcode(status) if done else None
    if done:
        r.rc = code
        return True
    if time.perf_counter() - r.start > r.spec.timeout:
        os.killpg(r.pid, 9)
        if r.proc is not None:
            r.proc.wait()
        else:
            os.waitpid(r.pid, 0)
        r.hang = True
        return True
    return False


def classify(r: Running) -> dict[str, Any]:
    spec, d, rc, hang = r.spec, r.folder, r.rc, r.hang
    seconds = time.perf_counter() - r.start
    out = r.out.read_bytes().decode(errors="replace")
    err = r.err.read_bytes().decode(errors="replace")
    lines = error_lines(err)
    failed = rc not in (0, None)
    problems = []
    traceback = TRACEBACK in err
    if traceback:
        problems.append("traceback")
    if hang:
        problems.append("hang")
    if rc is not None and rc not in (0, 1, 2):
        problems.append(f"exit {rc}")
    if failed and not traceback and len(lines) > 1:
        problems.append("not one line")
    if failed and not lines and not out.strip():
        problems.append("no message")
    silent = None
    if rc == 0 and spec.expect in ("error", "usage"):
        silent = "exit 0 where an error was due"
    elif rc == 0:
        bad = [f"{v.name}: {why}" for v in spec.videos if (why := video_problem(v))]
        if bad:
            silent = "; ".join(bad)
    if silent:
        problems.append("silent")
    if failed and spec.expect == "ok":
        problems.append("failed where success was due")
    if rc == 1 and spec.expect == "usage" or rc == 2 and spec.expect == "error":
        problems.append(f"exit {rc} for a{'n' if spec.expect == 'error' else ''} {spec.expect} error")
    lost = [s for s in r.before if tree_hash(Path(s)) != r.before[s]]
    if lost:
        problems.append("lost")
    stray = strays(d)
    if stray:
        problems.append("stray temp")
    partial = [str(o.relative_to(d)) for o in spec.outputs
               if str(o) not in r.existed and os.path.lexists(o)] if failed or hang else []
    if partial:
        problems.append("partial output")
    make_writable(d)
    return {
        "name": r.case.name, "command": r.case.command,
        "argv": [a.decode(errors="replace") if isinstance(a, bytes) else a for a in r.argv],
        "expect": spec.expect, "exit": rc, "seconds": round(seconds, 1), "traceback": traceback,
        "one_line": len(lines) == 1 if failed else None, "silent": silent, "lost": lost, "stray": stray,
        "partial": partial, "hang": hang, "problems": problems, "ok": not problems,
        "message": (lines[-1] if lines else "")[:300] if failed or hang else (out.strip().splitlines() or [""])[-1][:300],
        "stderr_tail": err[-3000:] if problems else "",
    }


TOTAL_KEYS = ("cases", "ok", "tracebacks", "silent exits", "lost files", "stray temp folders", "partial outputs",
              "not one line", "hangs", "wrong exit")


def totals(results: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "cases": len(results),
        "ok": sum(r["ok"] for r in results),
        "tracebacks": sum(r["traceback"] for r in results),
        "silent exits": sum(bool(r["silent"]) for r in results),
        "lost files": sum(bool(r["lost"]) for r in results),
        "stray temp folders": sum(bool(r["stray"]) for r in results),
        "partial outputs": sum(bool(r["partial"]) for r in results),
        "not one line": sum("not one line" in r["problems"] for r in results),
        "hangs": sum(r["hang"] for r in results),
        "wrong exit": sum(any(p.startswith("exit") or p.startswith("failed") for p in r["problems"])
                          for r in results),
    }


def markdown(results: list[dict[str, Any]], tot: dict[str, int]) -> str:
    rows = ["| case | command | expect | exit | s | result | message |", "|---|---|---|---|---|---|---|"]
    for r in results:
        msg = r["message"].replace("|", "\\|")[:110]
        rows.append(f"| {r['name']} | {r['command']} | {r['expect']} | {r['exit']} | {r['seconds']} | "
                    f"{'ok' if r['ok'] else ', '.join(r['problems'])} | {msg} |")
    rows += ["", "| " + " | ".join(TOTAL_KEYS) + " |", "|" + "---|" * len(TOTAL_KEYS),
             "| " + " | ".join(str(tot[k]) for k in TOTAL_KEYS) + " |"]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the cases marked quick (one or two per command)")
    parser.add_argument("--json", metavar="FILE", help="write every case's record and the totals as JSON")
    parser.add_argument("--cache", metavar="DIR",
                        help="keep the built assets (tiny model, bundle, clips) here and reuse them next run "
                        "(default: a temporary folder removed at the end)")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at the same time (default 1)")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="only cases whose name or command contains TEXT (repeatable)")
    parser.add_argument("--mode", choices=["fork", "exec"], default="fork",
                        help="fork (default): import mobilevid once, then fork a child process per case that runs "
                        "the CLI's entry point (seconds per case instead of a minute on a loaded machine); exec: run "
                        "the installed `mobilevid` executable per case")
    args = parser.parse_args()

    selected = [c for c in CASES if (c.quick or not args.quick)
                and (not args.only or any(t in c.name or t == c.command for t in args.only))]
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported (fork mode imports it here)
    exe = None if args.mode == "fork" else [shutil.which("mobilevid") or "mobilevid"]
    temp = None if args.cache else tempfile.mkdtemp(prefix="mobilevid-fuzz-")
    root = Path(args.cache or temp).absolute()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        ctx = build_assets(root / "assets", log)
        work = root / "cases"
        if work.exists():
            make_writable(work)
            shutil.rmtree(work)
        work.mkdir(parents=True)
        if exe is None:
            preload()
        log(f"{len(selected)} cases, {args.jobs} at a time, mode {args.mode}, in {work}")
        results: dict[str, dict[str, Any]] = {}
        pending, running = list(selected), []
        while pending or running:
            while pending and len(running) < max(1, args.jobs):
                running.append(launch(pending.pop(0), ctx, work, exe))
            time.sleep(0.05)
            for r in [r for r in running if poll(r)]:
                running.remove(r)
                rec = results[r.case.name] = classify(r)
                log(f"[{len(results)}/{len(selected)}] {rec['name']}: exit {rec['exit']}, {rec['seconds']} s, "
                    f"{'ok' if rec['ok'] else ', '.join(rec['problems'])}")
        ordered = [results[c.name] for c in selected]
        tot = totals(ordered)
        print(markdown(ordered, tot))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps({"totals": tot, "cases": ordered,
                                                   "mode": args.mode, "quick": args.quick}, indent=1) + "\n")
            log(f"wrote {args.json}")
    finally:
        if temp:
            make_writable(Path(temp))
            shutil.rmtree(temp, ignore_errors=True)
    return 0 if tot["ok"] == tot["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
