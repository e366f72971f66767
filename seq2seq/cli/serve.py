"""seq2seq-serve: an HTTP API and a web page for a trained translator.

Needs the serving extra: pip install "seq2seq[serve]" (from a clone: pip install -e ".[serve]").

    seq2seq-serve --checkpoint outputs/main/checkpoints/best.pt
    curl -s localhost:8000/translate -H 'Content-Type: application/json' \
        -d '{"text": ["Il fait beau aujourd'"'"'hui."], "beam_size": 5}'

Then open http://127.0.0.1:8000/ for the page, /docs for the API. LibreTranslate's clients
take http://127.0.0.1:8000/libretranslate/ as the server's URL. Settings: conf/serve.yaml,
changed with --set key=value (e.g. --set limits.max_sentences=500).
"""

import argparse

from ..errors import reported_errors
from ..memory import tune_memory


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", "-c", required=True, action="append",
                   help="a checkpoint; repeat it to serve an ensemble")
    p.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--beam-size", type=int, default=5, help="default beam size of requests")
    p.add_argument("--scores", help="a results.json of seq2seq-evaluate, shown by GET /info")
    p.add_argument("--api-keys", metavar="FILE",
                   help="require API keys: a file with one key per line (KEY or KEY<TAB>"
                        "requests per minute)")
    p.add_argument("--req-limit", type=int, metavar="N",
                   help="requests per minute per key (or per client address without keys); "
                        "0 = no limit (the default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of conf/serve.yaml")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    with reported_errors():
        tune_memory()  # see seq2seq/memory.py
        from ..serve.run import serve

        serve(args)


if __name__ == "__main__":
    main()
