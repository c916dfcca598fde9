"""cmg-export: a CMG checkpoint to ONNX, normalization inside the graph, metadata for consumers.

    cmg-export --checkpoint runs/cmg/best.pt --out models/cmg/cmg.onnx

The graph and its metadata follow the contract of ``twist_core.cmg_runtime`` (inputs ``motion`` (batch, 58) and
``command`` (batch, 3) in physical units, output ``next_motion``; dynamic batch). After writing, the file is loaded
with ``CmgRuntime`` (the node's loader) and its output compared with torch on dataset-like and random inputs; the
export fails if they differ by more than ``--tolerance`` (default 1e-5).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from twist_core.cmg_runtime import (CMG_FORMAT_VERSION, COMMAND_NAMES, INPUT_COMMAND, INPUT_MOTION,
                                    OUTPUT_MOTION, CmgRuntime)
from twist_core.motion import STANDARD_FPS
from twist_core.robot import RobotSpec, load_robot_spec
from twist_training import checkpoint_io
from twist_training.cmg.model import NormalizedCmg
from twist_training.cmg.train import net_from_checkpoint, stats_from_checkpoint
from twist_training.provenance import git_commit

OPSET = 17


def normalized_model(state: dict[str, Any]) -> NormalizedCmg:
    """The checkpoint's network wrapped with its normalization, in eval mode."""
    stats = stats_from_checkpoint(state)
    return NormalizedCmg(net_from_checkpoint(state), *(torch.as_tensor(v, dtype=torch.float32) for v in (
        stats.motion_mean, stats.motion_std, stats.command_min, stats.command_max))).eval()


def metadata(state: dict[str, Any], spec: RobotSpec) -> dict[str, str]:
    """Return the ONNX metadata of a checkpoint, as JSON strings."""
    stats = state["stats"]
    return {
        "twist_cmg_version": json.dumps(CMG_FORMAT_VERSION),
        "joint_names": json.dumps(list(spec.joint_names)),
        "fps": json.dumps(STANDARD_FPS),
        "command_names": json.dumps(list(COMMAND_NAMES)),
        "command_min": json.dumps([float(v) for v in stats["command_min"]]),
        "command_max": json.dumps([float(v) for v in stats["command_max"]]),
        "standing_frame": json.dumps([float(v) for v in state["standing_frame"]]),
        "training_data": json.dumps(state["data_summary"]),
        "training_config": json.dumps(state["config"]),
        "training_epochs": json.dumps(state["epoch"]),
        "git_commit": json.dumps(git_commit()),
    }


def export(state: dict[str, Any], out: Path, spec: RobotSpec, tolerance: float = 1e-5) -> float:
    """Write the ONNX file and check it against torch; returns the largest difference found."""
    model = normalized_model(state)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dims = model.net.config.motion_dim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: no onnxscript needed
        torch.onnx.export(model, (torch.zeros(1, dims), torch.zeros(1, 3)), str(out), dynamo=False,
                          input_names=[INPUT_MOTION, INPUT_COMMAND], output_names=[OUTPUT_MOTION],
                          dynamic_axes={name: {0: "batch"} for name in (INPUT_MOTION, INPUT_COMMAND, OUTPUT_MOTION)},
                          opset_version=OPSET)
    proto = onnx.load(str(out))
    for key, value in metadata(state, spec).items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = "TWIST-G1 Conditional Motion Generator (twist_core.cmg_runtime documents the contract)"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    difference = compare(model, CmgRuntime(out, spec), state)
    if difference > tolerance:
        raise RuntimeError(f"ONNX Runtime and torch differ by {difference:.2e} > {tolerance:.0e}")
    return difference


def compare(model: NormalizedCmg, runtime: CmgRuntime, state: dict[str, Any], samples: int = 256) -> float:
    """Largest |ONNX - torch| over dataset-like frames, random frames and commands across the range."""
    rng = np.random.default_rng(0)
    stats = stats_from_checkpoint(state)
    motion = stats.motion_mean + stats.motion_std * rng.standard_normal((samples, len(stats.motion_mean)))
    motion[0] = state["standing_frame"]
    command = rng.uniform(stats.command_min, stats.command_max, (samples, 3))
    with torch.no_grad():
        expected = model(torch.as_tensor(motion, dtype=torch.float32),
                         torch.as_tensor(command, dtype=torch.float32)).numpy()
    batch = runtime.step(motion, command)
    single = np.stack([runtime.step(motion[i], command[i]) for i in range(8)])
    return float(max(np.abs(batch - expected).max(), np.abs(single - expected[:8]).max()))


def main(argv: list[str] | None = None) -> None:
    """Command line: ``cmg-export``."""
    parser = argparse.ArgumentParser(prog="cmg-export", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint from cmg-train (best.pt)")
    parser.add_argument("--out", type=Path, required=True, help="output .onnx")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest allowed |ONNX - torch|")
    args = parser.parse_args(argv)
    try:
        state = checkpoint_io.load(args.checkpoint)
    except checkpoint_io.CheckpointError as exc:
        print(f"cmg-export: {exc}", file=sys.stderr)
        sys.exit(2)
    difference = export(state, args.out, load_robot_spec(), args.tolerance)
    print(f"{args.out}: epoch {state['epoch']}, |ONNX Runtime - torch| max {difference:.1e}")


if __name__ == "__main__":
    main()
