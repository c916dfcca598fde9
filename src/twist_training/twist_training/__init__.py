"""twist_training.

Offline training: motion data tools, CMG training, TWIST teacher (PPO) and student (PPO + distillation), ONNX
export and evaluation.
"""
