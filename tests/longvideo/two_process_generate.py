"""Run under ``accelerate launch --num_processes 2``: the same long videos as test_two_processes.py makes in one."""

import sys

from mobilevid.cli.main import main

model, out = sys.argv[1], sys.argv[2]
common = ["--model", model, "--guidance", "1", "--overwrite"]
assert main(["generate", "a red circle", *common, "--frames", "10", "--partitions", "1", "-o", f"{out}/fifo.mp4"]) == 0
assert main(["generate", "a red circle", *common, "--frames", "13", "--long", "nuwa", "--steps", "2",
             "-o", f"{out}/nuwa.mp4"]) == 0
