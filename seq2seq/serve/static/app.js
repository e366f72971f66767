// The page: translate as the user pauses typing; an attention heatmap for a single sentence.
"use strict";

const source = document.getElementById("source");
const beam = document.getElementById("beam");
const nbest = document.getElementById("nbest");
const output = document.getElementById("output");
const statusLine = document.getElementById("status");
const section = document.getElementById("attention-section");
const canvas = document.getElementById("attention");
const sourceView = document.getElementById("source-view");
let timer = null;
let latest = 0;  // only the newest request's answer is shown

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(translate, 400);
}

// Paragraphs: each line is split into sentences here (the browser's Intl.Segmenter), the
// sentences are translated with their word alignments and scores, and shown line by line.
const segmenter = new Intl.Segmenter("fr", {granularity: "sentence"});
const UNSURE = 0.5;  // words the model gives less probability than this are marked

function sentencesOf(line) {
  return [...segmenter.segment(line)].map((s) => s.segment.trim()).filter((s) => s.length > 0);
}

async function translate() {
  const lines = source.value.split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
  const id = ++latest;
  if (lines.length === 0) {
    output.replaceChildren();
    section.hidden = true;
    statusLine.textContent = "";
    return;
  }
  const groups = lines.map(sentencesOf);  // the sentences of each line
  const sentences = groups.flat();
  const beamSize = Number(beam.value);
  const body = {
    text: sentences, beam_size: beamSize, n_best: Math.min(Number(nbest.value), beamSize),
    attention: sentences.length === 1, alignments: true, scores: true,
  };
  statusLine.textContent = "translating…";
  let reply;
  try {
    const resp = await fetch("/translate", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    reply = await resp.json();
    if (!resp.ok) throw new Error(describe(reply.detail));
  } catch (err) {
    if (id === latest) statusLine.textContent = "error: " + err.message;
    return;
  }
  if (id !== latest) return;
  statusLine.textContent = "";
  show(groups, reply.translations);
  if (reply.attention) {
    drawAttention(reply.attention);
    section.hidden = false;
  } else {
    section.hidden = true;
  }
}

function describe(detail) {
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
  return String(detail);
}

function show(groups, translations) {
  let next = 0;
  output.replaceChildren(...groups.map((sentences) => {
    const li = document.createElement("li");
    li.className = "translation";
    sentences.forEach((src, k) => {
      if (k > 0) li.append(" ");
      li.append(sentenceView(src, translations[next++]));
    });
    const t = translations[next - 1];
    if (sentences.length === 1 && t.n_best.length > 1) {
      const ul = document.createElement("ul");
      for (const h of t.n_best) {
        const item = document.createElement("li");
        item.textContent = h.text;
        const score = document.createElement("span");
        score.className = "score";
        score.textContent = h.score.toFixed(3);
        item.append(score);
        ul.append(item);
      }
      li.append(ul);
    }
    return li;
  }));
}

// One translated sentence, word by word: hovering a word shows the French sentence with the
// word it is aligned to highlighted; words the model is unsure of are marked.
function sentenceView(src, t) {
  const span = document.createElement("span");
  span.className = "sentence";
  const links = {};
  for (const pair of (t.alignment || "").split(" ").filter(Boolean)) {
    const [i, j] = pair.split("-").map(Number);
    links[j] = i;
  }
  const srcWords = src.split(/\s+/);
  t.text.split(/\s+/).filter(Boolean).forEach((word, j) => {
    if (j > 0) span.append(" ");
    const w = document.createElement("span");
    w.className = "w";
    w.textContent = word;
    const p = t.word_probabilities ? t.word_probabilities[j] : undefined;
    if (p !== undefined) {
      w.title = `probability ${p.toFixed(2)}`;
      if (p < UNSURE) w.classList.add("unsure");
    }
    if (links[j] !== undefined) w.dataset.source = links[j];
    w.addEventListener("mouseenter", () => showSource(srcWords, links[j], w));
    w.addEventListener("mouseleave", () => { sourceView.hidden = true; });
    span.append(w);
  });
  return span;
}

function showSource(words, aligned, word) {
  sourceView.replaceChildren(...words.flatMap((text, i) => {
    const s = document.createElement("span");
    s.textContent = text;
    if (i === aligned) s.className = "aligned";
    return i > 0 ? [" ", s] : [s];
  }));
  sourceView.hidden = false;
  word.classList.add("hover");
  word.addEventListener("mouseleave", () => word.classList.remove("hover"), {once: true});
}

function drawAttention(att) {
  const cell = 26;
  const ctx = canvas.getContext("2d");
  ctx.font = "12px system-ui, sans-serif";
  const left = 10 + Math.max(...att.output.map((p) => ctx.measureText(p).width));
  const top = 10 + Math.max(...att.source.map((p) => ctx.measureText(p).width));
  canvas.width = left + cell * att.source.length + 10;
  canvas.height = top + cell * att.output.length + 10;
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  att.weights.forEach((row, i) => row.forEach((w, j) => {
    const shade = Math.round(255 * (1 - w));
    ctx.fillStyle = `rgb(${shade}, ${shade}, ${shade})`;
    ctx.fillRect(left + j * cell, top + i * cell, cell - 1, cell - 1);
  }));
  ctx.fillStyle = "#222";
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  att.output.forEach((p, i) => ctx.fillText(p, left - 4, top + i * cell + cell / 2));
  att.source.forEach((p, j) => {
    ctx.save();
    ctx.translate(left + j * cell + cell / 2, top - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    ctx.fillText(p, 0, 0);
    ctx.restore();
  });
  canvas.dataset.rows = att.output.length;
  canvas.dataset.cols = att.source.length;
}

source.addEventListener("input", schedule);
beam.addEventListener("change", translate);
nbest.addEventListener("change", translate);
