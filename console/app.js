// EAMS console: province map and cities, trends, alert inbox, playbook board; the case
// officers' workspace (工作台) is console/cases.js, loaded after this file.
// Simplified Chinese by default, English with one click; live updates over server-sent
// events (/api/stream): when the projections change, the page refetches what it shows.
"use strict";

const I18N = {
  zh: {
    title: "山东省就业援助监测", overview: "总览", trends: "趋势", alerts: "预警",
    playbooks: "应急预案", workspace: "工作台", signin: "登录", signout: "退出", username: "用户名", password: "密码",
    offline: "未连接", online: "实时", region: "地区", indicator: "指标", city: "城市",
    laid_off: "7日裁员", registrations: "7日登记", temporary: "临时援助登记", claims: "失业保险申领",
    disaster: "灾区", persons: "登记人员", level: "风险等级", none: "无", counties: "下辖区县",
    level_col: "级别", summary: "摘要", status: "状态", since: "开始", report_due: "报告时限",
    actions: "操作", ack: "确认", silence: "静默1小时", timeline: "时间线", activate: "启动",
    decline: "否决", complete: "完成", approve: "审批通过", no_alerts: "暂无预警",
    no_runs: "暂无预案", proposed: "待启动", active: "处置中", overdue: "逾期",
    province: "全省", people_laid_off: "裁员人数", reg_temporary_assistance: "临时援助登记",
    rolling: "7日合计", daily: "每日", wrong: "用户名或密码错误",
    firing: "告警中", acknowledged: "已确认", silenced: "已静默", inhibited: "已抑制",
    reason: "否决原因", enrolled: "已登记临时援助", paid: "已发放补贴",
  },
  en: {
    title: "Shandong employment-assistance monitor", overview: "Overview", trends: "Trends",
    alerts: "Alerts", playbooks: "Playbooks", workspace: "Workspace", signin: "Sign in", signout: "Sign out",
    username: "User name", password: "Password", offline: "offline", online: "live",
    region: "Region", indicator: "Indicator", city: "City", laid_off: "Laid off, 7d",
    registrations: "Registered, 7d", temporary: "Temporary assistance", claims: "UI claims",
    disaster: "Disaster areas", persons: "Registered persons", level: "Risk level",
    none: "none", counties: "Counties", level_col: "Level", summary: "Summary",
    status: "Status", since: "Since", report_due: "Report due", actions: "Actions",
    ack: "Acknowledge", silence: "Silence 1 h", timeline: "Timeline", activate: "Activate",
    decline: "Decline", complete: "Complete", approve: "Approve", no_alerts: "No alerts",
    no_runs: "No playbook runs", proposed: "proposed", active: "active", overdue: "overdue",
    province: "Province", people_laid_off: "People laid off",
    reg_temporary_assistance: "Temporary-assistance registrations", rolling: "7-day sum",
    daily: "daily", wrong: "Wrong user name or password", firing: "firing",
    acknowledged: "acknowledged", silenced: "silenced", inhibited: "inhibited",
    reason: "Reason to decline", enrolled: "enrolled", paid: "subsidies paid",
  },
};
// The severity scale (levels I–IV: rank, colours, names) is the server's, read once from
// GET /api/vocabulary (events/severity.py); the page keeps no copy. byRank[0] is no level.
const scale = { loaded: false, rank: {}, byRank: [] };
const rankOf = (level) => scale.rank[level] || 0;
const levelAt = (rank) => (rank ? scale.byRank[rank].name : "");
const levelLabel = (rank) => (rank ? scale.byRank[rank][state.lang] : t("none"));
const colourAt = (rank) => scale.byRank[rank || 0].hex;

function learnScale(vocabulary) {
  state.labels = vocabulary.labels || {};  // zh and en names of event types and values
  scale.byRank = [];
  for (const level of [vocabulary.normal, ...vocabulary.levels]) { scale.byRank[level.rank] = level; }
  scale.rank = Object.fromEntries(vocabulary.levels.map((l) => [l.name, l.rank]));
  const style = document.createElement("style");  // .level-II etc., painted as the scale says
  style.id = "level-colours";
  style.textContent = vocabulary.levels.map((l) => `.level-${l.name} { background: ${l.hex}; color: ${l.ink}; }`).join("\n");
  document.head.appendChild(style);
  scale.loaded = true;
}

const state = { lang: localStorage.getItem("eams.lang") || "zh", me: null, tab: null,
  names: {}, labels: {}, drill: null, map: null, trend: null, source: null, pending: null };
// The tabs; a button with data-perm is shown only to roles with that permission.
const TABS = ["overview", "trends", "alerts", "playbooks", "workspace", "posts", "audit", "evaluation"];
// Tab pages other scripts add (cases.js: workspace; money.js: posts, audit, evaluation), called on
// refresh like the ones here.
const PAGES = {};

const $ = (sel) => document.querySelector(sel);
// Everything from the server goes through esc() before it reaches innerHTML.
const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const t = (key) => (I18N[state.lang][key] ?? key);
const may = (perm) => state.me && state.me.permissions.includes(perm);
const name = (code) => {
  const r = state.names[code];
  return r ? (state.lang === "zh" ? r.name : (r.name_en || r.name)) : code;
};

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, ...options });
  if (response.status === 401) { showSignIn(); throw new Error("401"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) { throw new Error(detail(body.detail) || response.statusText); }
  return body;
}

// A refusal's message: the route's own, or each field FastAPI found invalid ("field: why").
function detail(value) {
  if (!Array.isArray(value)) { return value; }
  return value.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
}

function translate() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#lang").textContent = state.lang === "zh" ? "English" : "中文";
  if (state.me) { $("#who").textContent = `${state.me.name} · ${state.me.role_label}`; }
}

function showSignIn() {
  state.me = null;
  if (state.source) { state.source.close(); state.source = null; }
  $("#signin").hidden = false; $("#tabs").hidden = true; $("#signout").hidden = true;
  TABS.forEach((id) => { $("#" + id).hidden = true; });
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/session", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: form.get("name"), password: form.get("password") }) });
  if (!response.ok) { $("#signin-error").textContent = t("wrong"); return; }
  $("#signin-error").textContent = "";
  await start();
}

async function start() {
  state.me = await api("/api/me");
  $("#signin").hidden = true; $("#tabs").hidden = false; $("#signout").hidden = false;
  document.querySelectorAll("#tabs button[data-perm]").forEach((b) => { b.hidden = !may(b.dataset.perm); });
  if (!state.tab || $(`#tabs button[data-tab=${state.tab}]`).hidden) {
    state.tab = may("act:cases") ? "workspace" : "overview";  // case officers work there
  }
  translate();
  if (!scale.loaded) { learnScale(await api("/api/vocabulary")); }
  if (!state.map) {
    const geo = await api("/api/geo/shandong");
    echarts.registerMap("shandong", geo);
    state.map = echarts.init($("#map"));
    state.map.on("click", (p) => drill(p.name));
  }
  connect();
  show(state.tab);
}

function connect() {
  if (state.source) { return; }
  const source = new EventSource("/api/stream");
  // data-i18n follows the state, so that translate() keeps it rather than say "offline"
  const live = (on) => { const el = $("#live"); el.className = el.dataset.i18n = on ? "online" : "offline"; el.textContent = t(el.dataset.i18n); };
  source.addEventListener("open", () => live(true));
  source.addEventListener("error", () => live(false));
  source.addEventListener("change", () => schedule());
  state.source = source;
}

function schedule() {  // coalesce bursts of changes into one refetch
  if (state.pending) { return; }
  state.pending = setTimeout(() => { state.pending = null; refresh().catch(console.error); }, 150);
}

function show(tab) {
  state.tab = tab;
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  TABS.forEach((id) => { $("#" + id).hidden = id !== tab; });
  refresh().catch(console.error);
}

async function refresh() {
  if (!state.me) { return; }
  if (state.tab === "overview") { await overview(); }
  if (state.tab === "alerts") { await alerts(); }
  if (state.tab === "playbooks") { await playbooks(); }
  if (state.tab === "trends") { await trends(); }
  if (PAGES[state.tab]) { await PAGES[state.tab](); }
}

function cityLevels(alertRows, cities) {
  const level = {};
  for (const a of alertRows) {
    const city = a.city || a.region;
    level[city] = Math.max(level[city] || 0, rankOf(a.level));
  }
  for (const c of cities) {  // a flagged disaster area is a risk before any rule fires
    level[c.code] = Math.max(level[c.code] || 0, rankOf(c.disaster_severity));
  }
  return level;
}

function arrow(now, before) {
  if (now > before) { return ' <span class="up">▲</span>'; }
  if (now < before) { return ' <span class="down">▼</span>'; }
  return ' <span>→</span>';
}

async function overview() {
  const [week, fortnight, alertRows] = await Promise.all([
    api("/api/overview/cities?days=7"), api("/api/overview/cities?days=14"),
    may("read:alerts") ? api("/api/alerts") : Promise.resolve([])]);
  const prior = Object.fromEntries(fortnight.map((c) => [c.code, c]));
  week.forEach((c) => { state.names[c.code] = c; });
  const levels = cityLevels(alertRows, week);
  state.map.setOption({
    tooltip: { trigger: "item", formatter: (p) => `${name(p.name)}<br>${t("level")}: ${esc(levelLabel(p.value))}` },
    visualMap: { type: "piecewise", show: false, dimension: 0, pieces: scale.byRank.map((l) => ({ value: l.rank, color: l.hex })) },
    series: [{ type: "map", map: "shandong", nameProperty: "code", roam: false,
      label: { show: true, formatter: (p) => name(p.name).replace(/市$/, ""), fontSize: 11 },
      data: week.map((c) => ({ name: c.code, value: levels[c.code] || 0 })) }],
  });
  $("#legend").innerHTML = scale.byRank.map((l) => `<span style="background:${esc(l.hex)}" title="${esc(levelLabel(l.rank))}">${esc(levelAt(l.rank) || t("none"))}</span>`).join("");
  const head = ["city", "laid_off", "registrations", "temporary", "claims", "disaster", "persons", "level"];
  $("#cities thead").innerHTML = "<tr>" + head.map((h) => `<th>${t(h)}</th>`).join("") + "</tr>";
  $("#cities tbody").innerHTML = week.map((c) => {
    const before = prior[c.code] || {};
    const laidBefore = (before.people_laid_off || 0) - (c.people_laid_off || 0);
    const lv = levelAt(levels[c.code] || 0);
    return `<tr class="clickable" data-code="${c.code}" data-level="${lv || "none"}">
      <td>${esc(name(c.code))}</td>
      <td>${esc(c.people_laid_off)}${typeof c.people_laid_off === "number" ? arrow(c.people_laid_off, laidBefore) : ""}</td>
      <td>${esc(c.registrations)}</td><td>${esc(c.reg_temporary_assistance)}</td><td>${esc(c.claims)}</td>
      <td>${esc(c.disaster_areas)}</td><td>${esc(c.persons)}</td>
      <td class="${lv ? "level-" + lv : ""}">${lv || t("none")}</td></tr>`;
  }).join("");
  document.querySelectorAll("#cities tbody tr").forEach((tr) => tr.addEventListener("click", () => drill(tr.dataset.code)));
  if (state.drill) { await drill(state.drill); }
}

async function drill(code) {
  state.drill = code;
  const [children, values] = await Promise.all([api(`/api/regions/${code}/children`), api("/api/indicators")]);
  const cols = ["people_laid_off_7d", "registrations_7d", "registrations_temporary_assistance_7d", "disaster_area"];
  const labels = [t("laid_off"), t("registrations"), t("temporary"), t("disaster")];
  $("#drill").hidden = false;
  $("#drill-title").textContent = `${name(code)} · ${t("counties")}`;
  $("#counties thead").innerHTML = `<tr><th>${t("region")}</th>` + labels.map((l) => `<th>${l}</th>`).join("") + "</tr>";
  $("#counties tbody").innerHTML = children.map((r) => "<tr><td>" + esc(state.lang === "zh" ? r.name : r.name_en || r.name) + "</td>"
    + cols.map((k) => `<td>${esc(((values[k] || {})[r.code]) ?? 0)}</td>`).join("") + "</tr>").join("");
}

async function alerts() {
  const rows = await api("/api/alerts");
  const head = ["level_col", "region", "summary", "status", "since", "report_due", "actions"];
  $("#alert-table thead").innerHTML = "<tr>" + head.map((h) => `<th>${t(h)}</th>`).join("") + "</tr>";
  if (!rows.length) { $("#alert-table tbody").innerHTML = `<tr><td colspan="7">${t("no_alerts")}</td></tr>`; return; }
  const act = may("act:alerts");
  $("#alert-table tbody").innerHTML = rows.map((a) => `<tr data-alert="${esc(a.alert_id)}">
    <td class="level-${esc(a.level)}">${esc(a.level)}</td><td>${esc(a.region)}</td><td>${esc(a.summary)}</td>
    <td>${esc(t(a.status))}</td><td>${esc(String(a.firing_since).slice(0, 16))}</td>
    <td class="${a.report_overdue ? "error" : ""}">${a.report_due ? esc(String(a.report_due).slice(0, 16)) : ""}</td>
    <td>${act && a.status === "firing" ? `<button class="act ack">${t("ack")}</button> <button class="act silence">${t("silence")}</button>` : ""}
      <button class="act show">${t("timeline")}</button></td></tr>`).join("");
  document.querySelectorAll("#alert-table tbody tr").forEach((tr) => {
    const id = tr.dataset.alert;
    tr.querySelector(".ack")?.addEventListener("click", async () => { await api(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: "POST", body: "{}" }); await alerts(); });
    tr.querySelector(".silence")?.addEventListener("click", async () => { await api(`/api/alerts/${encodeURIComponent(id)}/silence`, { method: "POST", body: JSON.stringify({ minutes: 60 }) }); await alerts(); });
    tr.querySelector(".show")?.addEventListener("click", async () => {
      const events = await api(`/api/alerts/${encodeURIComponent(id)}/timeline`);
      $("#alert-timeline").hidden = false;
      $("#alert-timeline").textContent = events.map((e) => `${String(e.occurred_at).slice(0, 19)}  ${e.event_type}  ${e.actor}`).join("\n");
    });
  });
}

async function playbooks() {
  const runs = (await api("/api/playbook-runs")).filter((r) => r.status === "proposed" || r.status === "active");
  if (!runs.length) { $("#runs").innerHTML = `<p>${t("no_runs")}</p>`; return; }
  const details = await Promise.all(runs.map((r) => api(`/api/playbook-runs/${encodeURIComponent(r.run_id)}`)));
  const act = may("act:playbooks");
  $("#runs").innerHTML = details.map((r) => `<div class="run" data-run="${esc(r.run_id)}">
    <h3>${esc(r.title)} · ${esc(name(r.area))} · ${esc(r.level)} · ${esc(t(r.status))}</h3>
    ${act && r.status === "proposed" ? `<button class="act activate">${t("activate")}</button> <button class="act decline">${t("decline")}</button>` : ""}
    <p>${t("enrolled")}: ${esc(r.outcomes.people_enrolled)} · ${t("paid")}: ${esc(r.outcomes.subsidies_paid)}</p>
    ${(r.steps || []).map((s) => `<div class="step ${s.overdue ? "overdue" : ""}" data-step="${esc(s.step_id)}">
      <span>${s.status === "completed" ? "✔" : "·"}</span><span>${esc(s.title)}</span>
      <span>${esc(s.owner_title)}</span><span>${esc(String(s.due_at || "").slice(0, 16))}</span>
      ${s.overdue ? `<span>${t("overdue")}</span>` : ""}
      ${act && s.status !== "completed" && !s.action && r.status === "active" ? `<button class="act complete">${s.approval ? t("approve") : t("complete")}</button>` : ""}
    </div>`).join("")}</div>`).join("");
  document.querySelectorAll(".run").forEach((el) => {
    const id = encodeURIComponent(el.dataset.run);
    el.querySelector(".activate")?.addEventListener("click", async () => { await api(`/api/playbook-runs/${id}/activate`, { method: "POST", body: "{}" }); await playbooks(); });
    el.querySelector(".decline")?.addEventListener("click", async () => {
      const reason = prompt(t("reason")); if (!reason) { return; }
      await api(`/api/playbook-runs/${id}/decline`, { method: "POST", body: JSON.stringify({ reason }) }); await playbooks();
    });
    el.querySelectorAll(".complete").forEach((b) => b.addEventListener("click", async () => {
      const step = b.closest(".step").dataset.step;
      await api(`/api/playbook-runs/${id}/steps/${step}/complete`, { method: "POST", body: "{}" }); await playbooks();
    }));
  });
}

async function trends() {
  const regionSel = $("#trend-region");
  if (!regionSel.options.length) {
    const cities = await api("/api/overview/cities?days=7");
    cities.forEach((c) => { state.names[c.code] = c; });
    regionSel.innerHTML = (state.me.regions.length ? "" : `<option value="370000">${t("province")}</option>`)
      + cities.map((c) => `<option value="${esc(c.code)}">${esc(name(c.code))}</option>`).join("");
    $("#trend-indicator").innerHTML = ["people_laid_off", "registrations", "reg_temporary_assistance", "claims"]
      .map((k) => `<option value="${k}">${t(k === "registrations" ? "registrations" : k === "claims" ? "claims" : k)}</option>`).join("");
    regionSel.onchange = trends; $("#trend-indicator").onchange = trends;
  }
  const column = $("#trend-indicator").value;
  const data = await api(`/api/trends?region=${regionSel.value}&days=60`);
  const daily = data.days.map((d) => d[column]);
  const rolling = daily.map((_, i) => daily.slice(Math.max(0, i - 6), i + 1).reduce((a, b) => a + (typeof b === "number" ? b : 0), 0));
  state.trend = state.trend || echarts.init($("#trend-chart"));
  state.trend.setOption({
    tooltip: { trigger: "axis" }, legend: {},
    xAxis: { type: "category", data: data.days.map((d) => d.day) }, yAxis: { type: "value" },
    series: [
      { name: t("daily"), type: "bar", data: daily },
      { name: t("rolling"), type: "line", data: rolling,
        markLine: { symbol: "none", data: (data.thresholds[column] || []).map((th) => ({ yAxis: th.enter, name: th.level,
          lineStyle: { color: colourAt(rankOf(th.level)) }, label: { formatter: th.level } })) } },
    ],
  }, true);
}

$("#signin-form").addEventListener("submit", signIn);
$("#lang").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  localStorage.setItem("eams.lang", state.lang);
  translate(); refresh().catch(console.error);
});
$("#signout").addEventListener("click", async () => { await fetch("/api/session", { method: "DELETE", credentials: "same-origin" }); showSignIn(); });
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
// After every script of the page has run (cases.js adds its page and translations).
document.addEventListener("DOMContentLoaded", () => { translate(); start().catch(() => showSignIn()); });
