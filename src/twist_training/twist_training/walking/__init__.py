"""Walking pattern generation for the G1: footsteps, LIPM preview control, swing feet, whole-body IK."""
