// The call page's script: no framework, no build step; served at /ui/app.js from the binary.
// Data comes from the same API as everything else (bearer token kept in sessionStorage) and live
// updates from GET /events (Server-Sent Events read with fetch, so the token stays in a header).
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) k === "class" ? (e.className = v) : (e[k] = v);
  for (const k of kids) if (k != null) e.append(k);
  return e;
};
let token = sessionStorage.getItem("voice-agent-token") || "";
const live = new Map(); // id → call summary
let current = null; // { id, call, interim, stream }
let liveStream = null;

function headers(extra = {}) {
  return token ? { authorization: "Bearer " + token, ...extra } : extra;
}
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.headers) });
  if (res.status === 401) { showLogin("The token was refused."); throw new Error("unauthorized"); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function showLogin(msg) {
  liveStream?.abort(); current?.stream?.abort();
  $("app").hidden = true; $("login").hidden = false; $("logout").hidden = true;
  $("login-error").textContent = msg || "";
}
$("login-form").onsubmit = (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("voice-agent-token", token);
  boot();
};
$("logout").onclick = () => { sessionStorage.removeItem("voice-agent-token"); token = ""; showLogin(""); };

/** Reads an SSE stream over fetch; calls onEvent(type, data) per frame. Returns an AbortController. */
function stream(path, onEvent, onEnd) {
  const ctl = new AbortController();
  (async () => {
    const res = await fetch(path, { headers: headers({ accept: "text/event-stream" }), signal: ctl.signal });
    if (res.status === 401) return showLogin("The token was refused.");
    if (!res.ok || !res.body) throw new Error("events: " + res.status);
    $("conn").textContent = "live";
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i); buf = buf.slice(i + 2);
        let type = "message", data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event: ")) type = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) onEvent(type, JSON.parse(data));
      }
    }
  })().catch((err) => { if (err.name !== "AbortError") $("conn").textContent = "disconnected"; })
    .finally(() => { if (!ctl.signal.aborted) { $("conn").textContent = "reconnecting…"; setTimeout(onEnd, 2000); } });
  return ctl;
}

const fmtDur = (ms) => { const s = Math.max(0, Math.round(ms / 1000)); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); };
const since = (c) => Date.now() - Date.parse(c.answeredAt || c.startedAt);
function stateOf(c) {
  if (c.state === "ringing") return "ringing";
  if (c.state === "ended") return "ended";
  return c.transferring ? "transferring" : c.bridged ? "bridged" : c.onHold ? "on hold" : "talking";
}

function renderLive() {
  const rows = $("live-rows"); rows.textContent = "";
  for (const c of live.values()) {
    const p = c.providers || {};
    const tr = el("tr", { class: "row", onclick: () => openCall(c.id) },
      el("td", {}, c.direction === "inbound" ? "in" : "out"), el("td", {}, c.from), el("td", {}, c.to),
      el("td", {}, stateOf(c)), el("td", { class: "dur" }, fmtDur(since(c))), el("td", { class: "wide" }, c.codec || ""),
      el("td", { class: "wide" }, [p.stt, p.llm, p.tts].filter(Boolean).join(" / ")));
    tr.dataset.id = c.id;
    rows.append(tr);
  }
  $("live-empty").hidden = live.size > 0;
}
setInterval(() => { // the clock only; nothing is fetched
  for (const tr of $("live-rows").children) { const c = live.get(tr.dataset.id); if (c) tr.querySelector(".dur").textContent = fmtDur(since(c)); }
}, 1000);

function watchLive() {
  liveStream = stream("/events", (type, ev) => {
    if (type === "snapshot") { live.clear(); for (const c of ev.calls) live.set(c.id, c); }
    else if (type === "call") {
      if (ev.call.state === "ended") { live.delete(ev.call.id); loadRecent(); } else live.set(ev.call.id, ev.call);
      if (current && current.id === ev.call.id) { current.call = ev.call; renderMeta(); }
    } else return;
    renderLive();
  }, watchLive);
}

// ---- one call ----
function unheardRest(t) {
  const whole = t.generatedText || "";
  if (!t.interrupted || !whole) return "";
  const heard = (t.text || "").trim();
  return whole.startsWith(heard) ? whole.slice(heard.length) : whole;
}
function latencyBar(l) {
  const stages = [l.finalTranscriptMs, l.firstTokenMs, l.firstAudioMs, l.firstRtpMs];
  const total = Math.max(...stages.filter((x) => x != null), 1);
  const bar = el("div", { class: "bar", title: "end of speech → first RTP " + total + " ms" });
  let prev = 0;
  const parts = [];
  stages.forEach((v, i) => {
    if (v == null) return;
    const w = Math.max(0, v - prev); prev = Math.max(prev, v);
    bar.append(el("span", { class: "s" + (i + 1), title: ["final transcript", "first token", "first audio", "first RTP"][i] + " +" + w + " ms" }));
    bar.lastChild.style.width = (100 * w / total) + "%";
    parts.push(["transcript", "token", "audio", "rtp"][i] + " " + v);
  });
  return [bar, el("span", { class: "lat" }, parts.join(" · ") + " ms")];
}
function usageText(u) {
  const parts = [];
  if (u.sttAudioS) parts.push("STT " + u.sttAudioS + " s");
  if (u.llmInputTokens || u.llmOutputTokens) parts.push("LLM " + (u.llmInputTokens || 0) + " in / " + (u.llmOutputTokens || 0) + " out tokens");
  if (u.ttsChars) parts.push("TTS " + u.ttsChars + " chars");
  return parts.length ? "cost: " + parts.join(", ") : "";
}
function turnNode(t) {
  const who = el("span", { class: "who" }, (t.speaker === "agent" ? "agent" : "caller") + " · " + new Date(t.at).toLocaleTimeString());
  const node = el("div", { class: "turn " + t.speaker }, who, el("span", { class: "text" }, t.text));
  const rest = unheardRest(t);
  if (rest) node.append(" ", el("s", { title: "not heard: the caller interrupted" }, rest));
  if (t.error) node.append(el("div", { class: "lat err" }, t.error));
  if (t.usage && usageText(t.usage)) node.append(el("div", { class: "lat usage" }, usageText(t.usage)));
  if (t.speaker === "agent" && t.latency && Object.keys(t.latency).length) { $("legend").hidden = false; node.append(...latencyBar(t.latency)); }
  return node;
}
function addTurn(t) {
  const box = $("transcript");
  if (t.speaker === "caller") current.interim?.remove(), (current.interim = null);
  if (t.speaker === "agent") current.saying?.remove(), (current.saying = null);
  box.append(turnNode(t));
  box.scrollTop = box.scrollHeight;
}
function renderMeta() {
  const c = current.call; const p = c.providers || {};
  $("call-title").textContent = (c.direction === "inbound" ? "Inbound" : "Outbound") + " call " + c.from + " → " + c.to;
  $("call-meta").textContent = [stateOf(c), c.codec, c.endReason && "ended: " + c.endReason, p.stt && "stt " + p.stt, p.llm && "llm " + p.llm, p.tts && "tts " + p.tts,
    c.sipCallId && "Call-ID " + c.sipCallId, c.usage && usageText(c.usage)].filter(Boolean).join(" · ");
}
async function openCall(id) {
  current?.stream?.abort();
  const call = await api("/calls/" + encodeURIComponent(id));
  current = { id, call, interim: null, stream: null };
  $("transcript").textContent = ""; $("legend").hidden = true; $("recording").textContent = "";
  renderMeta();
  for (const t of call.turns || []) addTurn(t);
  if (call.recording) loadRecording(call);
  if (call.state === "ended") return;
  const seen = new Set((call.turns || []).map((t) => t.index));
  const watch = () => {
    current.stream = stream("/events?call=" + encodeURIComponent(id), (type, ev) => {
      if (!current || current.id !== id) return;
      if (type === "snapshot" && ev.turns) for (const t of ev.turns) { if (!seen.has(t.index)) seen.add(t.index), addTurn(t); }
      if (type === "turn" && !seen.has(ev.turn.index)) { seen.add(ev.turn.index); addTurn(ev.turn); }
      if (type === "saying") {
        if (!current.saying) {
          current.saying = el("div", { class: "turn agent interim" }, el("span", { class: "who" }, "agent · speaking"), el("span", { class: "text" }));
          $("transcript").append(current.saying);
        }
        current.saying.querySelector(".text").textContent = ev.text;
      }
      if (type === "interim") {
        if (!current.interim) { current.interim = el("div", { class: "turn caller interim" }); $("transcript").append(current.interim); }
        current.interim.textContent = ev.text;
      }
      if (type === "bargeIn") $("transcript").append(el("div", { class: "event" }, "— caller interrupted —"));
      if (type === "dtmf") $("transcript").append(el("div", { class: "event dtmf" }, "caller pressed " + ev.key));
      if (type === "tool") $("transcript").append(el("div", { class: "event tool" }, "tool " + ev.name + " " + JSON.stringify(ev.args)));
      if (type === "providerError") $("transcript").append(el("div", { class: "event err" }, "provider error: " + ev.message));
    }, () => current && current.id === id && current.call.state !== "ended" && watch());
  };
  watch();
}
async function loadRecording(call) {
  const res = await fetch("/calls/" + encodeURIComponent(call.id) + "/recording", { headers: headers() });
  if (!res.ok) return;
  const url = URL.createObjectURL(await res.blob());
  const rec = $("recording"); rec.textContent = "";
  rec.append(el("audio", { controls: true, src: url }));
}

// ---- recent calls ----
async function loadRecent() {
  const q = new URLSearchParams({ limit: "50" });
  if ($("q").value.trim()) q.set("q", $("q").value.trim());
  if ($("day").value) q.set("day", $("day").value);
  const list = await api("/calls?" + q);
  const rows = $("recent-rows"); rows.textContent = "";
  for (const c of list.recent || []) {
    rows.append(el("tr", { class: "row", onclick: () => openCall(c.id) },
      el("td", {}, new Date(c.startedAt).toLocaleString()), el("td", {}, c.direction === "inbound" ? "in" : "out"),
      el("td", {}, c.from), el("td", {}, c.to), el("td", {}, c.durationMs != null ? fmtDur(c.durationMs) : ""), el("td", {}, c.endReason || c.status || "")));
  }
}
$("search").onsubmit = (e) => { e.preventDefault(); loadRecent().catch(() => {}); };
$("dial").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const c = await api("/outbound/call", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone_number: $("dial-number").value.trim(), opening_reason: $("dial-reason").value.trim(), objective: $("dial-objective").value.trim() }) });
    $("dial-result").textContent = "Calling " + (c.to || $("dial-number").value) + "…";
    if (c.id) openCall(c.id);
  } catch (err) { $("dial-result").textContent = String(err.message || err); }
};

async function boot() {
  try { await loadRecent(); } catch (err) { if (err.message !== "unauthorized") $("conn").textContent = String(err.message); return; }
  $("login").hidden = true; $("app").hidden = false; $("logout").hidden = !token;
  watchLive();
}
boot();
