"""The teleoperation stream buffer and mixer without ROS: playout, clock offset, gaps, rejections, modes, limits."""

import numpy as np
import pytest

from twist_reference.teleop_mixer import MixerSettings, Mode, TeleopMixer
from twist_reference.teleop_stream import REASONS, ClockOffset, StreamBuffer, StreamSettings, StreamState
from twist_core import rotations
from twist_core.playback import standing_frame

DT = 0.02


def wave(spec, t):
    """A smooth pose of every joint (inside the limits) at source time t."""
    return np.clip(spec.default_pose + 0.3 * np.sin(2.0 * t + np.arange(spec.num_joints)), spec.lower_limits,
                   spec.upper_limits)


def feed(buffer, spec, stamps, offset=0.0, delays=None):
    """Offer a joint sample at each source stamp, arriving at stamp + offset + delay; returns the reasons."""
    delays = np.zeros(len(stamps)) if delays is None else delays
    return [buffer.offer_joints(t, spec.joint_names, wave(spec, t), t + offset + d) for t, d in zip(stamps, delays)]


def test_clock_offset_is_the_fastest_sample_in_the_window():
    """Jitter only adds delay: the estimate is the smallest arrival - stamp of the window, and follows drift."""
    clock = ClockOffset(window=1.0)
    assert clock.value is None
    assert clock.update(10.0, 110.05) == 0.0
    assert clock.update(10.1, 110.11) == 0.0 and clock.value == pytest.approx(100.01)
    assert clock.update(10.2, 110.25) == pytest.approx(0.04)
    clock.update(12.0, 112.03)  # the fast sample left the window
    assert clock.value == pytest.approx(100.03)


def test_interpolates_behind_the_newest_sample_across_a_clock_offset(spec):
    """With a 1000 s offset between the clocks and 30 Hz samples, the playout is the pose playout_delay ago."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.05))
    stamps = 5.0 + np.arange(30) / 30.0
    assert feed(buffer, spec, stamps, offset=1000.0) == [None] * 30
    now = stamps[-1] + 1000.0 + 0.01
    sample = buffer.sample(now)
    assert sample.state == StreamState.LIVE
    played = stamps[-1] + 0.01 - 0.05
    np.testing.assert_allclose(sample.joint_pos, wave(spec, played), atol=2e-3)  # linear between 30 Hz samples
    assert buffer.play_time(now) == pytest.approx(played)


def test_jittered_arrivals_play_smoothly(spec):
    """30 ms of arrival jitter: the offset is the fastest sample's, and the played pose follows the source."""
    rng = np.random.default_rng(0)
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.05))
    stamps = np.arange(200) / 50.0 + 1.0
    feed(buffer, spec, stamps, offset=-3.0, delays=rng.uniform(0.0, 0.03, len(stamps)))
    assert buffer.offset.value == pytest.approx(-3.0, abs=0.003)
    assert buffer.rejected == {reason: 0 for reason in REASONS}


def test_extrapolates_a_little_then_holds_then_silence_opens_a_new_segment(spec):
    """Past the newest sample: bounded extrapolation, hold, then SILENT; the next sample starts a new segment."""
    settings = StreamSettings(playout_delay=0.0, max_extrapolation=0.1, hold_timeout=0.5)
    buffer = StreamBuffer(spec, settings)
    stamps = np.arange(50) / 50.0 + 1.0
    feed(buffer, spec, stamps)
    last = stamps[-1]
    extrapolating = buffer.sample(last + 0.05)
    assert extrapolating.state == StreamState.EXTRAPOLATING
    velocity = (wave(spec, last) - wave(spec, last - 0.02)) / 0.02
    np.testing.assert_allclose(extrapolating.joint_pos, wave(spec, last) + 0.05 * velocity, atol=1e-9)
    held = buffer.sample(last + 0.3)
    assert held.state == StreamState.HOLDING
    np.testing.assert_allclose(held.joint_pos, wave(spec, last) + 0.1 * velocity, atol=1e-9)
    assert buffer.sample(last + 0.6).state == StreamState.SILENT
    # the source comes back with a clock 100 s behind: not out of order, a new segment
    assert buffer.offer_joints(5.0, spec.joint_names, wave(spec, 5.0), last + 0.7) is None
    sample = buffer.sample(last + 0.7)
    assert sample.segment == extrapolating.segment + 1 and sample.state == StreamState.LIVE
    np.testing.assert_allclose(sample.joint_pos, wave(spec, 5.0))


def test_every_rejection_reason_is_counted_and_never_played(spec):
    """Unstamped, wrong sizes, duplicated/unknown names, NaN, bad quaternions, out of order and stale samples."""
    buffer = StreamBuffer(spec)
    names = list(spec.joint_names)
    good = wave(spec, 1.0)
    assert buffer.offer_joints(1.0, names, good, 1.0) is None
    bad = [
        (buffer.offer_joints(0.0, names, good, 1.01), "unstamped"),
        (buffer.offer_joints(1.02, names, good[:-1], 1.02), "size_mismatch"),
        (buffer.offer_joints(1.02, [], [], 1.02), "size_mismatch"),
        (buffer.offer_joints(1.02, names[:2] + names[:1], good[:3], 1.02), "duplicate_joint"),
        (buffer.offer_joints(1.02, names[:2] + ["tail_joint"], good[:3], 1.02), "unknown_joint"),
        (buffer.offer_joints(1.02, names, np.r_[good[:-1], np.nan], 1.02), "non_finite"),
        (buffer.offer_joints(0.99, names, good, 1.02), "out_of_order"),
        (buffer.offer_joints(1.0, names, good, 1.02), "out_of_order"),
        (buffer.offer_joints(1.03, names, good + 0.5, 1.03 + 0.8), "stale"),
        (buffer.offer_joints(0.2, names, good + 0.5, 1.03), "stale"),
        (buffer.offer_joints(2.0, names, good + 0.5, 1.03), "future"),
        (buffer.offer_root(1.02, [0, 0, 0.8], [2.0, 0, 0, 0], 1.02), "bad_quaternion"),
        (buffer.offer_root(1.02, [0, np.inf, 0.8], [1.0, 0, 0, 0], 1.02), "non_finite"),
        (buffer.offer_root(1.02, [0, 0.8], [1.0, 0, 0, 0], 1.02), "size_mismatch"),
    ]
    for got, expected in bad:
        assert got == expected
    assert sum(buffer.rejected.values()) == len(bad)
    assert buffer.rejected["out_of_order"] == 2 and buffer.accepted == {"joints": 1, "root": 0}
    np.testing.assert_allclose(buffer.sample(1.1).joint_pos, good)  # nothing rejected was played


def test_missing_joints_take_the_default_pose(spec):
    """A sample naming only the arms leaves every other joint at the default pose."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.0))
    arms = [n for n in spec.joint_names if "elbow" in n]
    buffer.offer_joints(1.0, arms, [0.5, 0.6], 1.0)
    joints = buffer.sample(1.0).joint_pos
    expected = spec.default_pose.copy()
    expected[[spec.joint_index(n) for n in arms]] = [0.5, 0.6]
    np.testing.assert_allclose(joints, expected)


def test_root_pose_interpolates_by_slerp(spec):
    """Root samples: position linear, orientation slerp, between stamps."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.0))
    buffer.offer_joints(1.0, spec.joint_names, spec.default_pose, 1.0)
    buffer.offer_root(1.0, [0.0, 0.0, 0.8], rotations.from_yaw(0.0), 1.0)
    buffer.offer_root(1.1, [1.0, 0.0, 0.8], rotations.from_yaw(1.0), 1.1)
    root = buffer.sample(1.05).root_pose
    np.testing.assert_allclose(root[:3], [0.5, 0.0, 0.8])
    assert rotations.yaw(root[3:]) == pytest.approx(0.5)


def test_settings_are_checked():
    """Negative times and an extrapolation longer than the hold are refused."""
    with pytest.raises(ValueError, match="playout_delay"):
        StreamSettings(playout_delay=-0.1)
    with pytest.raises(ValueError, match="max_extrapolation"):
        StreamSettings(max_extrapolation=1.0, hold_timeout=0.5)
    with pytest.raises(ValueError, match="joint_speed_scale"):
        MixerSettings(joint_speed_scale=0.0)


# -- the mixer ------------------------------------------------------------------------------------------------
def run_mixer(spec, mixer, buffer, seconds, source_time, cmg=None, anchor=None, feed_until=np.inf, start=0.0):
    """Feed 50 Hz samples (source time = local time + source_time) and step the mixer; returns the frames."""
    frames = []
    for k in range(int(round(seconds / DT))):
        now = start + k * DT
        if now < feed_until:
            t = now + source_time
            buffer.offer_joints(t, spec.joint_names, wave(spec, t), now)
        frames.append(mixer.step(buffer.sample(now), cmg, anchor))
    return frames


def joint_steps(frames):
    """Largest change of each joint between consecutive frames."""
    joints = np.array([f.joint_pos for f in frames])
    return np.abs(np.diff(joints, axis=0)).max(axis=0)


def test_engages_without_a_jump_and_returns_to_standing_after_silence(spec):
    """Standing -> stream over engage_blend, stream -> standing after silence, and back when it returns."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.04, hold_timeout=0.3))
    mixer = TeleopMixer(spec, DT, MixerSettings(engage_blend=0.5, silence_blend=0.5))
    mixer.place(np.array([1.0, 2.0]), 0.5)
    frames = run_mixer(spec, mixer, buffer, 2.0, 7.0, feed_until=1.0)
    np.testing.assert_allclose(frames[0].joint_pos, spec.default_pose, atol=0.005)  # the blend has begun
    assert not np.allclose(frames[30].joint_pos, spec.default_pose, atol=0.05)  # engaged
    np.testing.assert_allclose(frames[-1].joint_pos, spec.default_pose, atol=1e-12)  # silent: standing
    assert frames[-1].root_pos[:2] == pytest.approx([1.0, 2.0])
    frames += run_mixer(spec, mixer, buffer, 1.5, 7.0, start=2.0)
    assert not np.allclose(frames[-1].joint_pos, spec.default_pose, atol=0.05)  # back in
    assert np.all(joint_steps(frames) <= mixer.max_joint_step + 1e-12)
    assert all(np.all(np.isfinite(f.joint_pos)) and np.all(np.isfinite(f.key_body_pos_local)) for f in frames)


def test_speed_and_joint_limits_bound_every_step(spec):
    """A source that jumps far beyond the limits: the reference stays in the limits and moves at bounded speed."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.0))
    mixer = TeleopMixer(spec, DT, MixerSettings(engage_blend=0.0))
    for k in range(40):
        target = spec.upper_limits + 1.0 if (k // 10) % 2 else spec.lower_limits - 1.0
        buffer.offer_joints(1.0 + k * DT, spec.joint_names, target, k * DT)
        frame = mixer.step(buffer.sample(k * DT), None, None)
        assert np.all(frame.joint_pos <= spec.upper_limits) and np.all(frame.joint_pos >= spec.lower_limits)
        if k:
            assert np.all(np.abs(frame.joint_vel) <= 0.5 * spec.velocity_limits + 1e-9)


def test_root_aligned_to_the_anchor_at_engagement(spec):
    """The stream's root (somewhere else, facing elsewhere) starts at the robot's position and heading."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.0))
    mixer = TeleopMixer(spec, DT, MixerSettings(engage_blend=0.0))
    for k in range(10):
        t = 1.0 + k * DT
        buffer.offer_joints(t, spec.joint_names, spec.default_pose, t)
        buffer.offer_root(t, [5.0, -3.0 + 0.5 * k * DT, 0.78], rotations.from_yaw(np.pi / 2), t)
        frame = mixer.step(buffer.sample(t), None, (np.array([1.0, 2.0]), 0.0))
    assert frame.root_pos[:2] == pytest.approx([1.0 + 0.5 * 9 * DT, 2.0])  # moving along the robot's heading
    assert frame.root_pos[2] == pytest.approx(0.78)
    assert rotations.yaw(frame.root_quat) == pytest.approx(0.0, abs=1e-9)
    assert frame.root_lin_vel_local[0] == pytest.approx(0.5)


def test_mode_switch_blends_and_upper_body_takes_the_legs_from_the_cmg(spec):
    """whole-body -> upper-body -> CMG-only: continuous; upper-body has the CMG's legs and the stream's arms."""
    buffer = StreamBuffer(spec, StreamSettings(playout_delay=0.0))
    mixer = TeleopMixer(spec, DT, MixerSettings(engage_blend=0.0, mode_blend=0.4))
    cmg = standing_frame(spec, np.array([0.0, 0.0]), 0.0)
    cmg.joint_pos = np.clip(spec.default_pose + 0.2, spec.lower_limits, spec.upper_limits)
    frames = run_mixer(spec, mixer, buffer, 0.5, 1.0, cmg=cmg)
    assert not mixer.uses_cmg
    mixer.set_mode(Mode.UPPER_BODY)
    assert mixer.uses_cmg
    frames += run_mixer(spec, mixer, buffer, 1.0, 1.0, cmg=cmg, start=0.5)
    last = frames[-1]
    upper = spec.group_indices("upper_body")
    legs = np.setdiff1d(np.arange(spec.num_joints), upper)
    np.testing.assert_allclose(last.joint_pos[legs], cmg.joint_pos[legs])
    np.testing.assert_allclose(last.joint_pos[upper], wave(spec, 1.0 + 1.5 - DT)[upper], atol=1e-9)
    mixer.set_mode(Mode.CMG_ONLY)
    frames += run_mixer(spec, mixer, buffer, 1.0, 1.0, cmg=cmg, start=1.5)
    np.testing.assert_allclose(frames[-1].joint_pos, cmg.joint_pos)
    mixer.set_mode(Mode.WHOLE_BODY)
    run_mixer(spec, mixer, buffer, 0.2, 1.0, cmg=cmg, start=2.5)
    assert mixer.uses_cmg  # blending back
    run_mixer(spec, mixer, buffer, 0.3, 1.0, cmg=cmg, start=2.7)
    assert not mixer.uses_cmg
    # the blend takes mode_blend (20 ticks): no leg moves more per tick than a smoothstep's share of the distance
    # to the CMG's (at most 1.5 / 20 of it) plus the stream's own motion (0.6 rad/s)
    distance = np.abs(frames[24].joint_pos[legs] - cmg.joint_pos[legs]).max()
    assert distance > 0.3
    assert np.abs(np.diff([f.joint_pos[legs] for f in frames[24:50]], axis=0)).max() < distance * 1.5 / 20 + 0.6 * DT
    assert np.all(joint_steps(frames) <= mixer.max_joint_step + 1e-12)
