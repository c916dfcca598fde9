"""export-policy: a student checkpoint to the ONNX file twist_policy_node runs (normalizer inside the graph).

    export-policy --checkpoint runs/student --out models/student/policy.onnx

The file follows ``twist_core.policy_runtime``'s contract: input ``obs`` (batch, 1144), output ``actions``
(batch, 23), the deterministic action (the Gaussian's mean), dynamic batch, metadata from
``policy_metadata`` (joint names, default pose, gains, observation layout and hash, control rate) plus the role,
training iteration, run configuration, library versions and git commit. A TorchScript copy (``.pt``) is
written beside it. After writing, the file is loaded with ``PolicyRuntime`` (the node's loader) and compared
with torch; the export fails if they differ by more than ``--tolerance``. Teachers read privileged
observations and cannot be deployed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from tensordict import TensorDict

from twist_core.policy_io import OBSERVATION_SIZE, PolicyIO
from twist_core.policy_runtime import INPUT_OBS, OUTPUT_ACTIONS, PolicyRuntime, policy_metadata
from twist_core.robot import RobotSpec, load_robot_spec
from twist_training.provenance import git_commit
from twist_training.tracking.checkpoints import (actor_from_checkpoint, checkpoint_config, latest_checkpoint,
                                                 load_checkpoint)
from twist_training.tracking.config import ConfigError

OPSET = 17


class DeterministicPolicy(torch.nn.Module):
    """Normalizer + MLP + the distribution's mean: observation (B, 1144) -> actions (B, 23)."""

    def __init__(self, state: dict[str, Any], spec: RobotSpec) -> None:
        """The student actor of a checkpoint."""
        super().__init__()
        io = PolicyIO(spec)
        example = TensorDict({"student": torch.zeros(1, OBSERVATION_SIZE)}, batch_size=[1])
        self.actor = actor_from_checkpoint(state, example, io.num_actions, "student")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions."""
        latent = self.actor.obs_normalizer(obs)
        return self.actor.distribution.deterministic_output(self.actor.mlp(latent))


def export(state: dict[str, Any], out: Path, spec: RobotSpec, tolerance: float = 1e-4) -> float:
    """Write ``out`` (.onnx) and its TorchScript twin; returns the largest |ONNX - torch| found."""
    if state["infos"].get("role") != "student":
        raise ConfigError("only a student can be exported: the teacher reads privileged observations")
    model = DeterministicPolicy(state, spec).eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, OBSERVATION_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: no onnxscript needed
        torch.onnx.export(model, (example,), str(out), dynamo=False, input_names=[INPUT_OBS],
                          output_names=[OUTPUT_ACTIONS], opset_version=OPSET,
                          dynamic_axes={INPUT_OBS: {0: "batch"}, OUTPUT_ACTIONS: {0: "batch"}})
        torch.jit.trace(model, example).save(str(out.with_suffix(".pt")))
    config = checkpoint_config(state)
    plain = config.to_dict()
    training = {"iteration": int(state["iter"]), "num_envs": config.sim.num_envs, "references": plain["references"],
                "seed": config.seed}
    proto = onnx.load(str(out))
    control_rate = 1.0 / (config.sim.physics_dt * config.sim.decimation)
    versions = {name: importlib.metadata.version(name) for name in ("torch", "rsl-rl-lib", "mujoco", "onnx")}
    for key, value in policy_metadata(spec, control_rate, role="student", training=training,
                                      training_config=plain, versions=versions, git_commit=git_commit()).items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = "TWIST-G1 student tracking policy (twist_core.policy_runtime documents the contract)"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    difference = compare(model, PolicyRuntime(out, spec))
    if difference > tolerance:
        raise RuntimeError(f"ONNX Runtime and torch differ by {difference:.2e} > {tolerance:.0e}")
    return difference


def compare(model: DeterministicPolicy, runtime: PolicyRuntime, samples: int = 64) -> float:
    """Largest |ONNX - torch| on random observations, batched and one at a time."""
    obs = np.random.default_rng(0).standard_normal((samples, OBSERVATION_SIZE)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.as_tensor(obs)).numpy()
    single = np.stack([runtime.act(obs[i]) for i in range(4)])
    return float(max(np.abs(runtime.act(obs) - expected).max(), np.abs(single - expected[:4]).max()))


def main(argv: list[str] | None = None) -> None:
    """Command line: ``export-policy``."""
    parser = argparse.ArgumentParser(prog="export-policy", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--checkpoint", type=Path, required=True, help="student run directory or model_N.pt")
    parser.add_argument("--out", type=Path, required=True, help="output .onnx (a .pt TorchScript copy beside it)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest allowed |ONNX - torch| (actions; x0.5 rad as targets)")
    args = parser.parse_args(argv)
    try:
        path = latest_checkpoint(args.checkpoint)
        state = load_checkpoint(path)
        difference = export(state, args.out, load_robot_spec(), args.tolerance)
    except ConfigError as exc:
        print(f"export-policy: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"{args.out}: {path.name}, iteration {state['iter']}, |ONNX Runtime - torch| max {difference:.1e}, "
          f"metadata {json.dumps(sorted(k.key for k in onnx.load(str(args.out)).metadata_props))}")


if __name__ == "__main__":
    main()
