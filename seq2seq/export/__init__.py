"""A trained model as ONNX files that decode without PyTorch: `onnx_export.py` writes them
(torch side), `onnx_runtime.py` translates with them on onnxruntime and numpy. Needs the `onnx`
extra: `pip install -e ".[onnx]"`."""
