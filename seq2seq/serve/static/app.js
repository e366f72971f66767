// The page: translate as the user pauses typing; an attention heatmap for a single sentence.
"use strict";

const source = document.getElementById("source");
const beam = document.getElementById("beam");
const nbest = document.getElementById("nbest");
const output = document.getElementById("output");
const statusLine = document.getElementById("status");
const section = document.getElementById("attention-section");
const canvas = document.getElementById("attention");
let timer = null;
let latest = 0;  // only the newest request's answer is shown

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(translate, 400);
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
  const beamSize = Number(beam.value);
  const body = {
    text: lines, beam_size: beamSize, n_best: Math.min(Number(nbest.value), beamSize),
    attention: lines.length === 1, split: true,  // a line may hold several sentences
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
  show(reply.translations);
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

function show(translations) {
  output.replaceChildren(...translations.map((t) => {
    const li = document.createElement("li");
    li.className = "translation";
    li.textContent = t.text;
    if (t.n_best.length > 1) {
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
