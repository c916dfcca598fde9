"""The Conditional Motion Generator: data preparation, model, training, evaluation and ONNX export."""
