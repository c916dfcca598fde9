"""Centre-of-mass trajectory from a ZMP reference: the linear inverted pendulum with preview control.

The method is Kajita et al., "Biped walking pattern generation by using preview control of zero-moment point"
(ICRA 2003), in the integral-action form of Katayama et al. (1985): the CoM at constant height ``z_c`` has
state x = (c, c', c''), input the jerk, output the ZMP p = c - (z_c / g) c''. An optimal servo on the ZMP error
plus a feed-forward over the next ``horizon`` seconds of the ZMP reference gives a CoM whose ZMP follows the
reference. x and y are independent and use the same gains.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.linalg import solve_discrete_are

GRAVITY = 9.81


@dataclasses.dataclass(frozen=True)
class PreviewGains:
    """Gains of the preview servo for one time step and CoM height."""

    dt: float
    com_height: float
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    integral: float        # gain on the accumulated ZMP error
    state: np.ndarray      # gains on (c, c', c'')
    preview: np.ndarray    # gains on the future ZMP reference, j = 1..N


def preview_gains(dt: float, com_height: float, horizon: float = 1.6, error_weight: float = 1.0,
                  input_weight: float = 1e-6) -> PreviewGains:
    """Solve the discrete Riccati equation of the augmented (integral) system and the preview gains."""
    A = np.array([[1.0, dt, dt * dt / 2.0], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    B = np.array([[dt ** 3 / 6.0], [dt * dt / 2.0], [dt]])
    C = np.array([[1.0, 0.0, -com_height / GRAVITY]])
    A_aug = np.block([[np.eye(1), C @ A], [np.zeros((3, 1)), A]])
    B_aug = np.vstack([C @ B, B])
    Q = np.zeros((4, 4))
    Q[0, 0] = error_weight
    R = np.array([[input_weight]])
    P = solve_discrete_are(A_aug, B_aug, Q, R)
    S = np.linalg.inv(R + B_aug.T @ P @ B_aug)
    K = S @ B_aug.T @ P @ A_aug
    Ac = A_aug - B_aug @ K
    steps = int(round(horizon / dt))
    I_aug = np.array([[1.0], [0.0], [0.0], [0.0]])
    X = -Ac.T @ P @ I_aug
    preview = np.empty(steps)
    preview[0] = -K[0, 0]
    for j in range(1, steps):
        preview[j] = (S @ B_aug.T @ X).item()
        X = Ac.T @ X
    return PreviewGains(dt, com_height, A, B, C, K[0, 0], K[0, 1:], preview)


def com_from_zmp(zmp_ref: np.ndarray, gains: PreviewGains, initial: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """CoM trajectory (T, 3 = position, velocity, acceleration) and achieved ZMP (T,) for one axis.

    The reference beyond its end is held at its last value.
    """
    zmp_ref = np.asarray(zmp_ref, dtype=np.float64)
    n, steps = len(zmp_ref), len(gains.preview)
    padded = np.concatenate([zmp_ref, np.full(steps, zmp_ref[-1])])
    x = np.array([zmp_ref[0], 0.0, 0.0]) if initial is None else np.asarray(initial, dtype=np.float64)
    error_sum = 0.0
    states = np.empty((n, 3))
    zmp = np.empty(n)
    for k in range(n):
        states[k] = x
        zmp[k] = (gains.C @ x).item()
        error_sum += zmp[k] - zmp_ref[k]
        u = -gains.integral * error_sum - gains.state @ x - gains.preview @ padded[k + 1:k + 1 + steps]
        x = gains.A @ x + gains.B[:, 0] * u
    return states, zmp
