"""Motion tracking: batched simulation, the TWIST-style task, teacher and student training, export, evaluation."""
