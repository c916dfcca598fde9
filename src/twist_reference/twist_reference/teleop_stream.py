"""A live stream of retargeted poses, played out with a fixed delay: no ROS.

A teleoperation source (a retargeter fed by motion capture, or ``teleop-replay``) sends joint samples (joint
names and positions, any subset of the robot's joints: the others take the default pose) and, optionally, root
pose samples, each stamped with the time on the *source's* clock. :class:`StreamBuffer` turns them into a signal
that can be sampled at any local time:

* **Validation**: a sample without a stamp, with names and positions of different lengths, a duplicated or
  unknown joint name, a non-finite number, a root quaternion far from unit length, a stamp more than
  ``max_latency`` ahead of what the clock offset allows (future), one that arrives more than ``max_latency`` later
  than the fastest recent sample (stale) or one not after the last accepted stamp (out of order) is rejected;
  :attr:`StreamBuffer.rejected` counts each reason (:data:`REASONS`).
* **Clock offset** (:class:`ClockOffset`): the source clock and the local clock are not assumed synchronized.
  The offset local - source is estimated as the minimum of (arrival - stamp) over the last ``offset_window``
  seconds: the least delayed sample bounds the transport latency, jitter only ever adds to it.
* **Playout**: at local time ``now`` the buffer plays the source time ``now - offset - playout_delay``, linearly
  interpolated between the samples around it (root orientations by slerp). Past the newest sample it extrapolates
  along the latest motion (over at least :data:`MIN_VELOCITY_BASE` s of samples) for at most
  ``max_extrapolation`` seconds, then holds; the gap (play time - newest stamp) says which (:class:`StreamState`).
* **Silence**: once the gap exceeds ``hold_timeout`` the stream is SILENT. The next accepted sample opens a new
  *segment*: samples and offset estimate start afresh, so a source that restarted with another clock (stamps
  going backwards) comes back in. :attr:`StreamSample.segment` numbers the segments.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import enum
from typing import Callable, Sequence

import numpy as np

from twist_core import rotations
from twist_core.robot import RobotSpec

#: Why a sample is rejected (the keys of :attr:`StreamBuffer.rejected`).
REASONS = ("unstamped", "size_mismatch", "duplicate_joint", "unknown_joint", "non_finite", "bad_quaternion",
           "future", "stale", "out_of_order")
#: Extrapolation uses the motion over at least this many seconds of samples (no velocity from near-duplicates).
MIN_VELOCITY_BASE = 0.01
#: Samples kept per track (enough for 2 s at 120 Hz).
CAPACITY = 256


class StreamState(enum.Enum):
    """Where the play time lies relative to the samples."""

    WAITING = "waiting"              # no joint sample yet in this segment
    LIVE = "live"                    # interpolating between samples
    EXTRAPOLATING = "extrapolating"  # past the newest sample, by at most max_extrapolation
    HOLDING = "holding"              # past that: the last extrapolated pose, until hold_timeout
    SILENT = "silent"                # past hold_timeout: the stream is gone

    @property
    def active(self) -> bool:
        """Whether the stream drives the reference (not waiting, not silent)."""
        return self in (StreamState.LIVE, StreamState.EXTRAPOLATING, StreamState.HOLDING)


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """Timing of the playout; seconds."""

    playout_delay: float = 0.05      # play this far behind the newest source time
    max_extrapolation: float = 0.1   # extrapolate at most this far past the newest sample
    hold_timeout: float = 0.5        # a gap longer than this is silence
    max_latency: float = 0.5         # a sample this much later than the fastest recent one is stale
    offset_window: float = 10.0      # the clock-offset minimum covers this many seconds of arrivals

    def __post_init__(self) -> None:
        """Reject negative times and an extrapolation that would outlast the hold."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{field.name} must be a finite number >= 0, got {value}")
        if self.max_extrapolation > self.hold_timeout:
            raise ValueError(f"max_extrapolation {self.max_extrapolation} must not exceed hold_timeout "
                             f"{self.hold_timeout}")
        if not self.offset_window > 0 or not self.max_latency > 0:
            raise ValueError("offset_window and max_latency must be > 0")


class ClockOffset:
    """Offset local - source clock: the minimum of (arrival - stamp) over a sliding window of arrivals."""

    def __init__(self, window: float) -> None:
        """An estimator over the last ``window`` seconds of arrivals."""
        self.window = window
        self._candidates: collections.deque[tuple[float, float]] = collections.deque()  # (arrival, offset)

    def reset(self) -> None:
        """Forget every sample."""
        self._candidates.clear()

    @property
    def value(self) -> float | None:
        """The current estimate [s], None before the first sample."""
        return self._candidates[0][1] if self._candidates else None

    def update(self, stamp: float, arrival: float) -> float:
        """Add a sample; returns its latency beyond the fastest one in the window (>= 0) [s]."""
        offset = arrival - stamp
        candidates = self._candidates
        while candidates and candidates[-1][1] >= offset:  # a later, smaller offset makes them irrelevant
            candidates.pop()
        candidates.append((arrival, offset))
        while candidates[0][0] < arrival - self.window:
            candidates.popleft()
        return offset - candidates[0][1]


def lerp(a: np.ndarray, b: np.ndarray, fraction: float) -> np.ndarray:
    """Linear interpolation (extrapolation beyond [0, 1])."""
    return a + fraction * (b - a)


def lerp_pose(a: np.ndarray, b: np.ndarray, fraction: float) -> np.ndarray:
    """A root pose (x, y, z, qw, qx, qy, qz): position linearly, orientation by slerp (beyond [0, 1] too)."""
    return np.concatenate([lerp(a[:3], b[:3], fraction), rotations.slerp(a[3:], b[3:], fraction)])


class Track:
    """Samples (stamp, value) in increasing stamp order, sampled by interpolation and bounded extrapolation."""

    def __init__(self, interpolate: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> None:
        """An empty track; ``interpolate(a, b, fraction)`` blends two values."""
        self.interpolate = interpolate
        self.stamps: list[float] = []
        self.values: list[np.ndarray] = []

    def clear(self) -> None:
        """Drop every sample."""
        self.stamps.clear()
        self.values.clear()

    @property
    def newest(self) -> float | None:
        """The newest stamp, None when empty."""
        return self.stamps[-1] if self.stamps else None

    def add(self, stamp: float, value: np.ndarray) -> None:
        """Append a sample (its stamp is after the newest: the caller checked)."""
        self.stamps.append(stamp)
        self.values.append(value)
        if len(self.stamps) > CAPACITY:
            del self.stamps[0], self.values[0]

    def prune(self, before: float) -> None:
        """Drop the samples that sampling at ``before`` or later no longer needs (keep one at or before it)."""
        keep = max(bisect.bisect_right(self.stamps, before) - 1, 0)
        keep = min(keep, max(len(self.stamps) - 2, 0))  # two samples stay for the extrapolation's velocity
        if keep:
            del self.stamps[:keep], self.values[:keep]

    def at(self, t: float, max_extrapolation: float) -> np.ndarray:
        """The value at ``t``: the first sample before it, interpolated within, extrapolated (bounded) after."""
        stamps, values = self.stamps, self.values
        if t <= stamps[0]:
            return values[0]
        if t < stamps[-1]:
            i = bisect.bisect_right(stamps, t) - 1
            return self.interpolate(values[i], values[i + 1], (t - stamps[i]) / (stamps[i + 1] - stamps[i]))
        ahead = min(t - stamps[-1], max_extrapolation)
        base = bisect.bisect_right(stamps, stamps[-1] - MIN_VELOCITY_BASE) - 1
        if ahead <= 0 or base < 0:
            return values[-1]
        span = stamps[-1] - stamps[base]
        return self.interpolate(values[base], values[-1], 1.0 + ahead / span)


@dataclasses.dataclass
class StreamSample:
    """The stream at one local time."""

    state: StreamState
    joint_pos: np.ndarray | None   # (n,) motor order; None while WAITING
    root_pose: np.ndarray | None   # (7,) x, y, z, qw, qx, qy, qz in the source's world; None without root samples
    gap: float                     # play time - newest joint stamp [s] (inf while WAITING)
    segment: int                   # numbers the stretches of stream between silences


class StreamBuffer:
    """See the module docstring. Times in seconds: stamps on the source's clock, arrivals and ``now`` local."""

    def __init__(self, spec: RobotSpec, settings: StreamSettings = StreamSettings()) -> None:
        """An empty buffer for the robot ``spec``."""
        self.spec, self.settings = spec, settings
        self.offset = ClockOffset(settings.offset_window)
        self.joints = Track(lerp)
        self.root = Track(lerp_pose)
        self.rejected: dict[str, int] = {reason: 0 for reason in REASONS}
        self.accepted = {"joints": 0, "root": 0}
        self.segment = 0
        self.latencies: collections.deque[float] = collections.deque(maxlen=1000)  # of accepted samples [s]
        self._silent = True
        self._index = {name: i for i, name in enumerate(spec.joint_names)}

    # -- input --------------------------------------------------------------------------------------------
    def offer_joints(self, stamp: float, names: Sequence[str], positions: Sequence[float],
                     arrival: float) -> str | None:
        """Take a joint sample; returns the rejection reason (counted), None when accepted."""
        names = list(names)
        positions = np.asarray(positions, dtype=np.float64)
        if not names or positions.shape != (len(names),):
            return self._reject("size_mismatch")
        if len(set(names)) != len(names):
            return self._reject("duplicate_joint")
        if any(name not in self._index for name in names):
            return self._reject("unknown_joint")
        if not np.all(np.isfinite(positions)):
            return self._reject("non_finite")
        value = self.spec.default_pose.copy()
        value[[self._index[name] for name in names]] = positions
        return self._accept(self.joints, "joints", stamp, value, arrival)

    def offer_root(self, stamp: float, position: Sequence[float], quat_wxyz: Sequence[float],
                   arrival: float) -> str | None:
        """Take a root pose sample (position [m], orientation w, x, y, z); returns the rejection reason or None."""
        value = np.concatenate([np.asarray(position, dtype=np.float64), np.asarray(quat_wxyz, dtype=np.float64)])
        if value.shape != (7,):
            return self._reject("size_mismatch")
        if not np.all(np.isfinite(value)):
            return self._reject("non_finite")
        if abs(np.linalg.norm(value[3:]) - 1.0) > 0.1:
            return self._reject("bad_quaternion")
        value[3:] = rotations.normalize(value[3:])
        return self._accept(self.root, "root", stamp, value, arrival)

    def _reject(self, reason: str) -> str:
        self.rejected[reason] += 1
        return reason

    def _accept(self, track: Track, kind: str, stamp: float, value: np.ndarray, arrival: float) -> str | None:
        if not np.isfinite(stamp) or stamp <= 0:
            return self._reject("unstamped")
        if self._silent:  # a new segment: the source may have restarted, with another clock
            self.joints.clear()
            self.root.clear()
            self.offset.reset()
            self.segment += 1
            self._silent = False
        estimate = self.offset.value
        if estimate is not None and arrival - stamp < estimate - self.settings.max_latency:
            return self._reject("future")
        latency = self.offset.update(stamp, arrival)
        if latency > self.settings.max_latency:
            return self._reject("stale")
        if track.newest is not None and stamp <= track.newest:
            return self._reject("out_of_order")
        if track.newest is not None and stamp - track.newest > self.settings.hold_timeout:
            track.clear()  # never interpolate across a silence
        track.add(stamp, value)
        self.accepted[kind] += 1
        self.latencies.append(latency)
        return None

    # -- output -------------------------------------------------------------------------------------------
    def play_time(self, now: float) -> float | None:
        """The source time played at local time ``now`` (None before the first sample)."""
        offset = self.offset.value
        return None if offset is None else now - offset - self.settings.playout_delay

    def sample(self, now: float) -> StreamSample:
        """The stream at local time ``now``."""
        s = self.settings
        t = self.play_time(now)
        if t is None or not self.joints.stamps:
            return StreamSample(StreamState.SILENT if self._silent and self.segment else StreamState.WAITING,
                                None, None, np.inf, self.segment)
        gap = t - self.joints.newest
        if gap > s.hold_timeout:
            self._silent = True
            state = StreamState.SILENT
        elif gap > s.max_extrapolation:
            state = StreamState.HOLDING
        elif gap > 0:
            state = StreamState.EXTRAPOLATING
        else:
            state = StreamState.LIVE
        joints = self.joints.at(t, s.max_extrapolation)
        root = None
        if self.root.stamps and t - self.root.newest <= s.hold_timeout:
            root = self.root.at(t, s.max_extrapolation)
        self.joints.prune(t)
        self.root.prune(t)
        return StreamSample(state, joints, root, gap, self.segment)
