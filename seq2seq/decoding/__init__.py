"""From a model to English text: `search.py` (batched greedy and beam search), `core.py` (what
every translator shares: results, options, batching, n-best), `translator.py` (`Translator`, over
PyTorch), `ensemble.py` (ensembles and checkpoint averaging) and `stream.py` (line streams for
the translate command). The ONNX translator (`export/onnx_runtime.py`) shares `core.py`."""
