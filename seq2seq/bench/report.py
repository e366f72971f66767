"""The benchmark report as a Markdown table (only the sections that ran)."""

from __future__ import annotations


def _train_rows(r: dict) -> list[tuple[str, str]]:
    rows = [
        ("matmul peak fp32 / bf16, GFLOP/s",
         f"{r['matmul_gflops_fp32']:.0f} / {r['matmul_gflops_bf16']:.0f}"),
        ("training FLOPs per target token", f"{r['flops_per_target_token_train'] / 1e6:.1f} M"),
        ("training target tokens/s fp32 / bf16",
         f"{r['train_tokens_per_s_fp32']:,.0f} / {r['train_tokens_per_s_bf16']:,.0f}"),
        ("training MFU fp32 / bf16", f"{r['train_mfu_fp32']:.2f} / {r['train_mfu_bf16']:.2f}"),
        ("training minor page faults per step fp32 / bf16",
         f"{r['train_faults_per_step_fp32']:,} / {r['train_faults_per_step_bf16']:,}"),
        ("training system CPU share fp32 / bf16",
         f"{r['train_system_cpu_share_fp32']:.1%} / {r['train_system_cpu_share_bf16']:.1%}"),
        ("peak RSS of a training process fp32 / bf16, MB",
         f"{r['peak_rss_mb_train_fp32']:.0f} / {r['peak_rss_mb_train_bf16']:.0f}"),
    ]
    if "auto_precision" in r:
        rows.insert(4, ("precision=auto picks (its tokens/s over the faster one's; seconds "
                        "it measured)", f"{r['auto_precision']} ({r['auto_vs_fastest']:.2f}; "
                        f"{r['auto_precision_seconds']:.0f} s)"))
    if "train_tokens_per_s_bf16_matmul" in r:
        rows.insert(3, ("training bf16_matmul (fp32 tensors, bf16 products): tokens/s, MFU, "
                        "peak RSS MB", f"{r['train_tokens_per_s_bf16_matmul']:,.0f}, "
                        f"{r['train_mfu_bf16_matmul']:.2f}, "
                        f"{r['peak_rss_mb_train_bf16_matmul']:.0f}"))
    if "train_tokens_per_s_fp32_system_malloc" in r:
        rows.append(("fp32 with glibc's default malloc: tokens/s, faults per step, system CPU",
                     f"{r['train_tokens_per_s_fp32_system_malloc']:,.0f}, "
                     f"{r['train_faults_per_step_fp32_system_malloc']:,}, "
                     f"{r['train_system_cpu_share_fp32_system_malloc']:.1%}"))
    return rows


def _decode_rows(r: dict) -> list[tuple[str, str]]:
    rows = [
        (f"decoding sentences/s greedy / beam 5 ({r['decode_sentences']} sentences)",
         f"{r['decode_greedy_sents_per_s']:.0f} / {r['decode_beam5_sents_per_s']:.0f}"),
        ("BLEU of that output, greedy / beam 5",
         f"{r['decode_greedy_bleu']:.1f} / {r['decode_beam5_bleu']:.1f}"),
        ("peak RSS decoding greedy / beam 5, MB",
         f"{r['peak_rss_mb_decode_greedy']:.0f} / {r['peak_rss_mb_decode_beam5']:.0f}"),
    ]
    if "decode_greedy_int8_sents_per_s" in r:
        rows += [("--quantize int8: sentences/s greedy / beam 5",
                  f"{r['decode_greedy_int8_sents_per_s']:.0f} / "
                  f"{r['decode_beam5_int8_sents_per_s']:.0f}"),
                 ("--quantize int8: BLEU greedy / beam 5",
                  f"{r['decode_greedy_int8_bleu']:.1f} / {r['decode_beam5_int8_bleu']:.1f}")]
    if "student_decode_greedy_sents_per_s" in r:
        rows += _student_rows(r)
    return rows


def _student_rows(r: dict) -> list[tuple[str, str]]:
    """A distilled student beside its teacher (benchmark --student)."""
    searches = [("greedy", "greedy"), ("greedy_int8", "greedy int8"), ("beam5", "beam 5")]
    if "student_onnx_greedy_sents_per_s" in r:
        searches.insert(2, ("onnx_greedy", "ONNX greedy"))

    def key(name, what):
        return f"student_{name}_{what}" if name.startswith("onnx") else \
            f"student_decode_{name}_{what}"

    names = " / ".join(label for _, label in searches)
    return [
        ("student / teacher parameters",
         f"{r['student_parameters']:,} / {r['teacher_parameters'] or 0:,}"),
        (f"student sentences/s: {names}",
         " / ".join(f"{r[key(n, 'sents_per_s')]:.0f}" for n, _ in searches)),
        (f"student BLEU: {names}", " / ".join(f"{r[key(n, 'bleu')]:.1f}" for n, _ in searches)),
        ("student greedy against teacher beam 5: speed ×, BLEU difference",
         f"{r['student_greedy_speedup_vs_teacher_beam5']:.2f}× / "
         f"{r['student_greedy_bleu_minus_teacher_beam5']:+.1f}"),
    ]


def _other_rows(r: dict) -> list[tuple[str, str]]:
    rows = []
    if "translate_command_s_greedy" in r:
        rows.append(("whole seq2seq-translate --input command, seconds, greedy / beam 5",
                     f"{r['translate_command_s_greedy']:.1f} / "
                     f"{r['translate_command_s_beam5']:.1f}"))
    for s in r.get("stream", []):
        rows.append((f"seq2seq-translate streaming {s['lines']:,} lines: peak RSS MB, seconds",
                     f"{s['peak_rss_mb']:.0f}, {s['seconds']:.0f}"))
    if r.get("ddp"):
        one, two = r["ddp"]
        rows.append(("seq2seq-train tokens/s: 1 process × 2 threads / torchrun 2 processes × 1 "
                     "thread (gloo)", f"{one['tokens_per_s']:,.0f} / {two['tokens_per_s']:,.0f}"))
    if "onnx_greedy_sents_per_s" in r:
        rows += [("ONNX on onnxruntime: sentences/s greedy / beam 5",
                  f"{r['onnx_greedy_sents_per_s']:.0f} / {r['onnx_beam5_sents_per_s']:.0f}"),
                 ("ONNX: output identical to PyTorch's, greedy / beam 5",
                  f"{r.get('onnx_greedy_identical', float('nan')):.1%} / "
                  f"{r.get('onnx_beam5_identical', float('nan')):.1%}"),
                 ("seq2seq-translate start-up + one sentence, seconds: ONNX / PyTorch",
                  f"{r['startup_s_onnx']:.1f} / {r['startup_s_torch']:.1f}")]
    for lv in r.get("serve", {}).get("levels", []):
        search = "greedy" if lv["beam"] == 1 else f"beam {lv['beam']}"
        clients = f"{lv['clients']} client" + ("s" if lv["clients"] != 1 else "")
        rows.append((f"HTTP, {search}, {clients}: requests/s, p50 / p99 ms",
                     f"{lv['requests_per_s']:.0f}, {lv['p50_ms']:.0f} / {lv['p99_ms']:.0f}"
                     + (f" ({lv['failed']} failed, {lv['different']} different)"
                        if lv["failed"] or lv["different"] else "")))
    native = {lv["clients"]: lv for lv in r.get("serve", {}).get("levels", []) if lv["beam"] == 1}
    for lv in r.get("serve", {}).get("libretranslate", []):
        clients = f"{lv['clients']} client" + ("s" if lv["clients"] != 1 else "")
        ratio = lv["requests_per_s"] / native[lv["clients"]]["requests_per_s"] \
            if lv["clients"] in native else float("nan")
        rows.append((f"HTTP LibreTranslate route, greedy, {clients}: requests/s (share of the "
                     f"native route's), p50 / p99 ms",
                     f"{lv['requests_per_s']:.0f} ({ratio:.0%}), {lv['p50_ms']:.0f} / "
                     f"{lv['p99_ms']:.0f}" + (f" ({lv['failed']} failed, {lv['different']} "
                                              f"different)" if lv["failed"] or lv["different"]
                                              else "")))
    for p in r.get("prepare", []):
        n = f"{p['pairs']:,} pairs"
        rows += [(f"prepare {n}: pairs/s without / with the SentencePiece fit",
                  f"{p['pairs_per_s_without_vocabulary']:,} / {p['pairs_per_s_total']:,}"),
                 (f"prepare {n}: peak RSS MB, seconds (read+filter, fit, encode)",
                  f"{p['prepare_peak_rss_mb']:,}, {p['phase_s']['read_filter']:.0f} + "
                  f"{p['phase_s']['vocabulary']:.0f} + {p['phase_s']['encode']:.0f}"),
                 (f"train on {n}: seconds to the first step (command), peak RSS MB "
                  f"(Multi30k: {p['multi30k_train_peak_rss_mb']:,})",
                  f"{p['train_first_step_s']:.1f}, {p['train_peak_rss_mb']:,}")]
    doc = r.get("text", {}).get("document")
    if doc:
        rows.append((f"document of {doc['paragraphs']} paragraphs / {doc['sentences']} "
                     f"sentences: sentences/s as a document / one per line (lines identical)",
                     f"{doc['sents_per_s_document']:.0f} / {doc['sents_per_s_lines']:.0f} "
                     f"({doc['lines_identical_to_one_per_line']:.1%})"))
    aer = r.get("text", {}).get("alignment")
    if aer and aer["sentences"]:
        rows.append((f"attention word alignments: AER on {aer['sentences']} hand-aligned "
                     f"sentences", f"{aer['aer']:.3f}"))
    for name, g in r.get("text", {}).get("glossary", {}).items():
        rows.append((f"glossary on {name} ({g['terms']} reference terms in "
                     f"{g['sentences_with_terms']} sentences), beam 5: terms placed, BLEU, "
                     f"sentences/s — without / with",
                     f"{g['placed_without']:.1%} / {g['placed_with']:.1%}, "
                     f"{g['bleu_without']:.1f} / {g['bleu_with']:.1f}, "
                     f"{g['sents_per_s_without']:.0f} / {g['sents_per_s_with']:.0f}"))
    soak = r.get("serve", {}).get("soak")
    if soak:
        rows.append((f"server RSS over {soak['requests']:,} requests: after 10 % / all, MB",
                     f"{soak['rss_mb_after_10pct']} / {soak['rss_mb_after_all']}"))
    return rows


def _profile_table(profiles: dict) -> list[str]:
    """Milliseconds per phase of a training step (share of the step), one column per
    precision profiled."""
    names = list(dict.fromkeys(n for p in profiles.values() for n in p["phases_ms"]))
    precisions = list(profiles)
    lines = ["| training step phase, ms (share) | " + " | ".join(precisions) + " |",
             "|---|" + "---:|" * len(precisions)]
    for name in names:
        cells = []
        for p in precisions:
            ms = profiles[p]["phases_ms"].get(name)
            cells.append("–" if ms is None else f"{ms:.1f} ({ms / profiles[p]['step_ms']:.0%})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for label, cell in (
            ("whole step, ms (target tokens)",
             lambda p: f"{p['step_ms']:.0f} ({p['target_tokens_per_step']:,.0f})"),
            ("target tokens/s of the profiled steps", lambda p: f"{p['tokens_per_s']:,.0f}"),
            ("oneDNN kernels created per step",
             lambda p: "–" if p["onednn_kernels_per_step"] is None
             else f"{p['onednn_kernels_per_step']:.1f}")):
        lines.append(f"| {label} | " + " | ".join(cell(profiles[p]) for p in precisions) + " |")
    return lines


def markdown(report: dict) -> str:
    r = report
    rows = []
    if "train_tokens_per_s_fp32" in r:
        rows += _train_rows(r)
    if "decode_greedy_sents_per_s" in r:
        rows += _decode_rows(r)
    rows += _other_rows(r)
    where = f"{r['cpu']} ({', '.join(r['isa'])}; torch uses {r['torch_cpu_capability']})"
    if r.get("gpu"):
        where = f"{r['gpu']}, host {where}"
    params = f" ({r['parameters']:,} parameters)" if "parameters" in r else ""
    lines = [f"{where}, {r['threads']} threads, torch {r['torch']}, {r['memory']}; model "
             f"{r['model']}{params}", "", "| measure | value |", "|---|---:|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    if r.get("step_profile"):
        lines += [""] + _profile_table(r["step_profile"])
    if r.get("bleu_curve"):
        lines += ["", "| training minutes | step | validation BLEU |", "|---:|---:|---:|"]
        lines += [f"| {p['elapsed_s'] / 60:.1f} | {p['step']} | {p['valid_bleu']:.2f} |"
                  for p in r["bleu_curve"]]
    return "\n".join(lines)
