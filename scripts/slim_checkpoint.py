#!/usr/bin/env python3
"""Copy a train-teacher / train-student checkpoint without its optimizer state, for committing it.

A tracker checkpoint holds the actor, the critic (a student's also its teacher's actor), the run configuration
and Adam's moments, which are two thirds of the file. The copy trains on from where it was (``train-teacher
--out RUN`` with the copy as RUN's newest ``model_<iteration>.pt``): weights, iteration, the gantry's level and the
learning rate are kept, Adam's moments restart. Export, probing and evaluation read only the weights.

    python scripts/slim_checkpoint.py runs/teacher_v1/model_2200.pt models/teacher/model_2200.pt
    (after `source scripts/env.sh`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twist_training.tracking.checkpoints import weights_only
from twist_training.tracking.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="model_<iteration>.pt of train-teacher or train-student")
    parser.add_argument("out", type=Path, help="the weights-only copy (named model_<iteration>.pt to resume from)")
    args = parser.parse_args(argv)
    try:
        weights_only(args.checkpoint, args.out)
    except ConfigError as exc:
        print(f"slim_checkpoint: {exc}", file=sys.stderr)
        return 2
    before, after = args.checkpoint.stat().st_size, args.out.stat().st_size
    print(f"{args.out}: {after / 1e6:.1f} MB (was {before / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
