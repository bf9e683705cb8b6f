"""`train_sft` as a script, for data-parallel runs under `accelerate launch`.

    accelerate launch --cpu --num_processes 2 -m training.ddp_entry job.json

Every process runs this file; the Trainer finds the process group accelerate set up (gloo on
CPU, NCCL on GPUs) and wraps the model in DistributedDataParallel, so each process trains on its
share of every batch. `job.json` holds the arguments of `train_sft`:

    {"base": "<model dir>", "examples": [["question", "answer"], ...], "notes": ["..."],
     "settings": {<SFTSettings fields; "trainer" holds SFTConfig fields>},
     "out_dir": "<folder>", "threads": 1}

Only the main process writes the adapter, `result.json` and the completion marker; each process
writes `out_dir/process-<rank>.json` (rank, world size, backend) so a run shows how it ran.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from training.sft import SFTSettings, train_sft
from training.trainers import torch_threads


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="train_sft from a JSON job file")
    parser.add_argument("job", type=Path, help="JSON file with the train_sft arguments")
    args = parser.parse_args(argv)
    try:
        job = json.loads(args.job.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        parser.error(f"cannot read the job file {args.job}: {exc}")
    missing = sorted({"base", "examples", "out_dir"} - set(job))
    if missing:
        parser.error(f"job file {args.job} lacks {', '.join(missing)}")
    settings = SFTSettings.from_dict(job.get("settings", {}))
    with torch_threads(job.get("threads")):
        train_sft(job["base"], [tuple(pair) for pair in job["examples"]], job.get("notes", []),
                  settings=settings, out_dir=job["out_dir"], resume=job.get("resume", False))
    from accelerate import PartialState

    state = PartialState()
    (Path(job["out_dir"]) / f"process-{state.process_index}.json").write_text(json.dumps(
        {"rank": state.process_index, "world_size": state.num_processes,
         "backend": state.backend, "distributed_type": str(state.distributed_type)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
