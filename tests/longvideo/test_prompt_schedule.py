import json

import pytest
import torch
from exact_denoiser import ExactDenoiser

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.fifo import fifo_sample, teacher_geometry
from mobilevid.longvideo.nuwa import nuwa_sample, plan
from mobilevid.longvideo.prompt_schedule import PromptSchedule, build_schedule, parse_entry
from mobilevid.sampling import EULER


def test_entries_hold_until_the_next_one():
    s = build_schedule("a red circle", ["10: a blue square", "20: a green digit 3"])
    assert s.at(0) == s.at(9) == "a red circle"
    assert s.at(10) == s.at(19) == "a blue square"
    assert s.at(500) == "a green digit 3"
    assert s.segments(15) == [(0, 10, "a red circle"), (10, 15, "a blue square")]


def test_json_and_csv_files(tmp_path):
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"0": "one", "8": "two"}))
    assert build_schedule(None, file=j).at(8) == "two"
    j.write_text(json.dumps([{"frame": 0, "prompt": "one"}, {"frame": 4, "prompt": "two, with a comma"}]))
    assert build_schedule(None, file=j).at(5) == "two, with a comma"
    c = tmp_path / "s.csv"
    c.write_text("frame,prompt\n0,one\n6,\"two, quoted\"\n")
    assert build_schedule("base", file=c).at(6) == "two, quoted"
    # A --prompt entry wins over the file's entry for the same frame.
    assert build_schedule(None, ["6: three"], file=c).at(6) == "three"


@pytest.mark.parametrize("bad", ["no colon", "x: text", "4:   "])
def test_bad_entries_are_one_line_errors(bad):
    with pytest.raises(MobilevidError, match="FRAME: text"):
        parse_entry(bad)


def test_schedule_without_frame_0_and_late_entries():
    with pytest.raises(MobilevidError, match="frame 0"):
        build_schedule(None, ["4: later"])
    with pytest.raises(MobilevidError, match="past the video"):
        build_schedule("a", ["100: b"]).check_fits(50)


class SegmentClip(ExactDenoiser):
    """Frame content follows the prompt: every frame of a segment must become that segment's image."""

    def __init__(self, images: dict[str, torch.Tensor]) -> None:
        super().__init__(torch.zeros(1))
        self.images = images

    def target(self, prompts):
        return torch.stack([torch.stack([self.images[p] for p in row]) for row in prompts])


def _images():
    g = torch.Generator().manual_seed(1)
    return {p: torch.randn(2, 2, 2, generator=g) for p in ("red", "blue", "green")}


def test_per_frame_prompts_reach_the_frames_they_name_fifo_and_nuwa():
    schedule = build_schedule("red", ["7: blue", "15: green"])
    images = _images()
    expect = torch.stack([images[schedule.at(k)] for k in range(24)])
    sigmas = torch.linspace(1, 0, 9)
    g = teacher_geometry(4, 2, True)
    out = []
    first = torch.stack([images[schedule.at(k)] for k in range(4)])[None]
    fifo_sample(SegmentClip(images), sigmas, EULER, g, 24, schedule.at, first, [torch.Generator().manual_seed(0)],
                lambda s, lat: out.append(lat))
    torch.testing.assert_close(torch.cat(out, 1)[0], expect, atol=1e-4, rtol=1e-4)
    video, _ = nuwa_sample(SegmentClip(images), torch.linspace(1, 0, 4), EULER, plan(24, 4), schedule.at, [0],
                           (2, 2, 2), fps=8.0)
    torch.testing.assert_close(video[0], expect, atol=1e-5, rtol=1e-5)


def test_constant_schedule():
    assert PromptSchedule.constant("x").for_frames([0, 5]) == ["x", "x"]
