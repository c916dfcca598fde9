#!/usr/bin/env python3
"""Copy a train-teacher / train-student / cmg-train checkpoint without its optimizer state, for committing it.

A tracker checkpoint holds the actor, the critic (a student's also its teacher's actor), the run configuration
and Adam's moments, which are two thirds of the file. The copy trains on from where it was (``train-teacher
--out RUN`` with the copy as RUN's newest ``model_<iteration>.pt``): weights, iteration, the gantry's level and the
learning rate are kept, Adam's moments restart. Export, probing and evaluation read only the weights. A cmg-train
checkpoint (``best.pt``, ``latest.pt``) is two thirds AdamW state too: the copy exports (``cmg-export``),
fine-tunes (``cmg-train --init-from``) and resumes with AdamW's moments restarting (its schedule follows the epoch).

    python scripts/slim_checkpoint.py runs/teacher_v1/model_2200.pt models/teacher/model_2200.pt
    python scripts/slim_checkpoint.py runs/cmg_limits/best.pt models/cmg/best.pt
    (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twist_training import checkpoint_io
from twist_training.cmg import train as cmg_train
from twist_training.tracking import checkpoints as tracker_checkpoints
from twist_training.tracking.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path,
                        help="model_<iteration>.pt of train-teacher or train-student, or best.pt of cmg-train")
    parser.add_argument("out", type=Path, help="the weights-only copy (named as the original to resume from)")
    args = parser.parse_args(argv)
    try:
        state = checkpoint_io.load(args.checkpoint)
        if isinstance(state, dict) and "net" in state:  # cmg-train's network; trackers' actor_state_dict
            state = cmg_train.weights_only(state)
        else:
            state = tracker_checkpoints.weights_only(tracker_checkpoints.tracker_state(state, args.checkpoint))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        checkpoint_io.save_atomic(state, args.out)
    except (ConfigError, checkpoint_io.CheckpointError) as exc:
        print(f"slim_checkpoint: {exc}", file=sys.stderr)
        return 2
    before, after = args.checkpoint.stat().st_size, args.out.stat().st_size
    print(f"{args.out}: {after / 1e6:.1f} MB (was {before / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
