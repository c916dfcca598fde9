"""mocap-prepare: a motion-capture dataset's split -> checked, repaired 50 Hz clips, motion lists and a report.

    mocap-prepare --split config/motions/g1_moves.yaml --source ../shared/data/g1_moves --out data/g1_moves

For every clip of the split file (``train`` and ``validation`` lists; ``fps``, ``format`` and ``quat_order`` of
the files; the dataset's ``attribution``): read, resample to 50 Hz, measure and repair (``quality.py``: height
offset, clamping small joint-limit excess, cutting infeasible stretches, excluding clips with too little left),
then write

* ``<out>/<split>/<category>_<clip>[_p<k>].npz``: the kept pieces (canonical motions; the metadata carries the
  source file, the fixes, the piece's start and the attribution);
* ``<out>/<split>.yaml``: a motion list for ``train-teacher --motions`` / ``references.motions`` (weight
  proportional to duration, so every second of motion is drawn equally often before adaptive sampling);
* ``<out>/report.json`` and ``<out>/report.md``: per clip what was measured, fixed, cut (when, why, how bad) or
  excluded; ``<out>/PROVENANCE.md``: where the data come from and its license.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from twist_core.motion import STANDARD_FPS, MotionError, resample, save_motion
from twist_core.motion_formats import read_motion
from twist_core.robot import RobotSpec, load_robot_spec
from twist_training.mocap.quality import ClipMeter, ClipReport, QualityLimits, repair

SPLITS = ("train", "validation")


@dataclasses.dataclass
class SplitFile:
    """The committed split of a dataset (see ``config/motions/g1_moves.yaml``)."""

    dataset: str
    attribution: str
    license: str
    format: str
    fps: float | None
    quat_order: str
    clips: dict[str, list[str]]


def read_split(path: Path) -> SplitFile:
    """Read and check a split file; raises ValueError naming the problem."""
    try:
        content = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    clips = {name: content.get(name) or [] for name in SPLITS}
    if not all(isinstance(v, list) and all(isinstance(c, str) for c in v) for v in clips.values()):
        raise ValueError(f"{path}: train and validation must be lists of file paths")
    both = set(clips["train"]) & set(clips["validation"])
    if both:
        raise ValueError(f"{path}: clips in both train and validation: {sorted(both)}")
    if not clips["train"] and not clips["validation"]:
        raise ValueError(f"{path}: no clips listed")
    return SplitFile(dataset=str(content.get("dataset", Path(path).stem)), attribution=str(content.get(
        "attribution", "")), license=str(content.get("license", "")), format=str(content.get("format", "")),
        fps=content.get("fps"), quat_order=str(content.get("quat_order", "xyzw")), clips=clips)


def piece_name(clip: str, index: int, count: int) -> str:
    """``dance/B_DadDance.csv`` -> ``dance_B_DadDance`` (``_p<k>`` when the clip was cut into several pieces)."""
    stem = Path(clip).with_suffix("").as_posix().replace("/", "_")
    return stem if count == 1 else f"{stem}_p{index}"


def prepare(split: SplitFile, source: Path, out: Path, spec: RobotSpec,
            limits: QualityLimits = QualityLimits()) -> dict[str, list[ClipReport]]:
    """Process every clip of ``split`` from ``source`` into ``out``; returns the reports by split."""
    meter = ClipMeter(spec)
    reports: dict[str, list[ClipReport]] = {}
    for name in SPLITS:
        (out / name).mkdir(parents=True, exist_ok=True)
        entries, reports[name] = [], []
        for clip in split.clips[name]:
            motion = read_motion(source / clip, spec, split.format or None, fps=split.fps,
                                 quat_order=split.quat_order)
            motion = resample(motion, spec, STANDARD_FPS)
            motion.metadata.update(source=clip, dataset=split.dataset, attribution=split.attribution,
                                   license=split.license, split=name)
            pieces, report = repair(motion, spec, meter, limits, clip)
            reports[name].append(report)
            for i, piece in enumerate(pieces):
                file = f"{name}/{piece_name(clip, i, len(pieces))}.npz"
                save_motion(piece, out / file)
                start = piece.metadata["piece_start_s"]
                entries.append({"file": file, "weight": round(piece.duration / 10.0, 3),
                                "description": f"{clip} {start:.1f}-{start + piece.duration:.1f} s"})
            status = f"excluded: {report.excluded}" if report.excluded else \
                f"{len(pieces)} piece(s), {report.kept_seconds:.1f} of {report.seconds:.1f} s"
            print(f"{name:10s} {clip}: {status}", flush=True)
        (out / f"{name}.yaml").write_text(
            f"# {split.dataset} ({name}), prepared by mocap-prepare. {split.attribution}\n"
            + yaml.safe_dump({"motions": entries}, sort_keys=False, width=120))
    write_report(reports, split, out, limits)
    return reports


def write_report(reports: dict[str, list[ClipReport]], split: SplitFile, out: Path, limits: QualityLimits) -> None:
    """``report.json`` (everything), ``report.md`` (a table per split) and ``PROVENANCE.md``."""
    data: dict[str, Any] = {"dataset": split.dataset, "attribution": split.attribution,
                            "limits": dataclasses.asdict(limits),
                            **{name: [r.as_dict() for r in rs] for name, rs in reports.items()}}
    (out / "report.json").write_text(json.dumps(data, indent=1))
    lines = [f"# {split.dataset}: clip quality (mocap-prepare)", "", split.attribution, "",
             "Measured at 50 Hz on the G1 model after the fixes. Columns: stance soles levelled (frames; median "
             "and largest tilt before, degrees), height offset applied, frames with a joint clamped (beyond its "
             "range by <= "
             f"{limits.clamp_limit} rad), deepest floor and self-penetration [m], longest time with both feet "
             f"above {limits.float_height} m [s], foot slip (95th percentile of the sole's speed on the floor "
             f"[m/s], share of floor time above {limits.slip_speed} m/s), peak joint speed [rad/s], seconds kept "
             "of the clip, and what was cut or why the clip was excluded.", ""]
    for name, rs in reports.items():
        kept = sum(r.kept_seconds for r in rs)
        total = sum(r.seconds for r in rs)
        excluded = sum(bool(r.excluded) for r in rs)
        lines += [f"## {name}: {len(rs)} clips, {kept:.0f} of {total:.0f} s kept, {excluded} excluded", "",
                  "| clip | levelled | offset | clamped | floor | self | float | slip p95 / share | peak speed | "
                  "kept | cut |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rs:
            cuts = "; ".join(f"{c['from_s']}-{c['to_s']} s {c['reason']} ({c['worst']} {c['unit']})"
                             for c in r.cut)
            lines.append(f"| {r.name} | {r.flattened_frames} ({np.degrees(r.foot_tilt_median):.1f}, "
                         f"{np.degrees(r.foot_tilt_max):.1f}) | {r.height_offset:+.3f} | {r.clamped_frames} | "
                         f"{r.floor_penetration:.3f} | "
                         f"{r.self_penetration:.3f} | {r.longest_float:.2f} | {r.slip_p95:.2f} / "
                         f"{r.slip_fraction:.0%} | {r.peak_joint_speed:.1f} ({r.peak_joint.removesuffix('_joint')}) "
                         f"| {r.kept_seconds:.1f} / {r.seconds:.1f} | "
                         f"{('EXCLUDED: ' + r.excluded + '. ') if r.excluded else ''}{cuts} |")
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))
    (out / "PROVENANCE.md").write_text(
        f"# {split.dataset}, prepared for the G1 tracker\n\nEvery clip here is derived from: {split.attribution}\n\n"
        f"License: {split.license}. Changes: resampled to 50 Hz, the ankles of standing feet set to level soles, a "
        "constant pelvis height offset, joints clamped to "
        "their range where they exceeded it slightly, infeasible stretches cut (report.md says where and why).\n")


def _limits(pairs: list[str]) -> QualityLimits:
    values = {}
    fields = {f.name for f in dataclasses.fields(QualityLimits)}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields or not value:
            raise ValueError(f"--set {pair}: expected KEY=VALUE with KEY one of {sorted(fields)}")
        values[key] = float(value)
    return QualityLimits(**values)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="mocap-prepare", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, required=True, help="split file (config/motions/g1_moves.yaml)")
    parser.add_argument("--source", type=Path, required=True, help="the dataset's root directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a quality limit (quality.QualityLimits), e.g. --set max_joint_speed=30")
    args = parser.parse_args(argv)
    try:
        split = read_split(args.split)
        limits = _limits(args.set)
        if not args.source.is_dir():
            raise ValueError(f"{args.source}: no such directory (the dataset's root)")
        prepare(split, args.source, args.out, load_robot_spec(), limits)
    except (ValueError, MotionError, OSError) as exc:
        print(f"mocap-prepare: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}/train.yaml, validation.yaml, report.md, report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
