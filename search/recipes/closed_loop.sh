#!/usr/bin/env bash
# The closed loop of the search, table to on-device profile (SnapGen-V's pipeline), for the built-in
# tiny teacher on this machine's ExecuTorch XNNPACK runtime. Each step reads the previous one's
# folder; every step resumes with --resume when killed. Set RUNS to where the artifacts go.
set -euo pipefail
RUNS=${RUNS:-runs/search-loop}
BUDGET_MS=${BUDGET_MS:-120}      # predicted denoiser latency budget on the table's runtime
mkdir -p "$RUNS"

# 1. cost table: every (slot, candidate), the spatial units and the backbone, timed on XNNPACK fp32
mobilevid search lut --model teacher --runtime executorch --threads 1 -o "$RUNS/lut.json"

# 2. supernet over the teacher (backbone frozen; sandwich rule)
mobilevid search supernet --model teacher --recipe search/recipes/supernet_tiny.yaml -o "$RUNS/supernet"
#    on several processes / GPUs instead:
#    accelerate launch --num_processes 2 --cpu -m mobilevid.cli.main search supernet --model teacher \
#        --recipe search/recipes/supernet_tiny.yaml -o "$RUNS/supernet"

# 3. evolutionary search under the budget -> arch.json, model/, log.jsonl, pareto.png
mobilevid search evolve --supernet "$RUNS/supernet" --lut "$RUNS/lut.json" --latency-budget "$BUDGET_MS" \
    -o "$RUNS/search"

# 4. fine-tune the searched arch from its inherited weights
mobilevid train --recipe search/recipes/finetune_searched.yaml --set init_from="$RUNS/search/model" \
    --set arch="$RUNS/search/arch.json" --output "$RUNS/finetuned"

# 5. distil to a 4-step student
mobilevid distill --teacher "$RUNS/finetuned/model" --recipe distill/recipes/tiny_4step.yaml --output "$RUNS/student"

# 6. export the student for the table's runtime
mobilevid export --model "$RUNS/student/model" --target executorch -o "$RUNS/bundle"

# 7. profile it on the same runtime and threads as the table, and set it against the prediction
mobilevid profile --bundle "$RUNS/bundle" --runtime executorch --threads 1 --json "$RUNS/profile.json"
mobilevid search predict --lut "$RUNS/lut.json" --arch "$RUNS/search/arch.json" --profile "$RUNS/profile.json"

# 8. the device closes the loop: time the Core ML probes in the demo app, then search on its numbers
mobilevid search lut --model teacher --runtime coreml -o "$RUNS/lut_coreml.json"   # -> lut_coreml.coreml-probe/
# (demo app: time every probe of lut_coreml.coreml-probe/probe.json, write iphone.json in the table's schema)
# mobilevid search lut --model teacher --runtime coreml --device-json iphone.json -o "$RUNS/lut_iphone.json"
# mobilevid search evolve --supernet "$RUNS/supernet" --lut "$RUNS/lut_iphone.json" --latency-budget MS -o ...
