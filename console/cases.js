// EAMS console: the case officer's workspace (工作台, issue 12). Loaded after app.js, whose
// helpers it uses (api, esc, t, may, name, state). The lists (my caseload, visits due,
// plan reviews, leads, silent persons, zero-employment households near their deadline)
// refetch on every change the live stream announces. A person's page does not: every read
// of a person's detail is audited (audit.person_read, with the purpose the officer chose),
// so it is read when the officer opens it and once after each thing recorded on it.
"use strict";

Object.assign(I18N.zh, {
  ws_caseload: "我的援助对象", ws_visits: "今日及逾期走访", ws_reviews: "待复核援助协议",
  ws_leads: "待联系线索", ws_silent: "长期未联系（不声不响）", ws_households: "临近清零时限的零就业家庭",
  ws_register: "登记援助对象", ws_new: "登记新对象", ws_none: "暂无", ws_name: "姓名", ws_nid: "身份证号",
  ws_phone: "联系电话", ws_region: "所在地区", ws_group: "人员类别", ws_applied: "申请类别",
  ws_pending: "待认定", ws_status_col: "状态", ws_next_visit: "下次走访", ws_last_contact: "最近联系",
  ws_plan: "援助协议", ws_open: "查看", ws_purpose: "查阅目的", ws_purpose_go: "打开",
  ws_cancel: "取消", ws_back: "返回工作台", ws_days_overdue: "逾期天数", ws_due: "应走访日期",
  ws_review_due: "复核日期", ws_source: "线索来源", ws_suggested: "建议类别", ws_assigned_at: "分派时间",
  ws_silent_since: "最后联系", ws_days_silent: "未联系天数", ws_household: "家庭", ws_members: "劳动年龄成员",
  ws_deadline: "清零时限", ws_days_left: "剩余天数", ws_employment: "就业状态",
  ws_facts: "基本情况", ws_able: "有劳动能力", ws_willing: "有就业意愿", ws_disability: "残疾",
  ws_allowance: "低保家庭", ws_zero: "零就业家庭成员", ws_land: "失地", ws_unemployed_since: "登记失业起始日",
  ws_graduated_on: "毕业日期", ws_registered: "已登记", ws_identity: "身份信息", ws_groups: "认定类别",
  ws_rule: "认定规则", ws_since: "认定日期", ws_owner: "负责机构及经办人", ws_office: "负责机构",
  ws_officer: "经办人", ws_from: "起", ws_until: "止", ws_reason: "原因", ws_schedule: "走访安排",
  ws_basis: "走访频次依据", ws_last_visit: "最近走访", ws_timeline: "时间线", ws_time: "时间",
  ws_event: "事项", ws_actor: "经办", ws_detail: "内容", ws_visit: "记录走访", ws_channel: "走访方式",
  ws_visited_on: "走访日期", ws_outcome: "走访结果", ws_contacted: "已联系上", ws_not_reached: "未联系上",
  ws_needs: "主要需求（以顿号分隔）", ws_note: "备注", ws_service: "记录服务", ws_service_kind: "服务项目",
  ws_delivered_on: "服务日期", ws_agree: "签订援助协议", ws_revise: "修订援助协议", ws_goals: "援助目标（每行一项）",
  ws_measure: "援助措施", ws_measure_owner: "责任人", ws_measure_deadline: "完成时限", ws_add_measure: "添加措施",
  ws_services: "就业服务", ws_policies: "政策扶持", ws_revise_note: "修订说明", ws_version: "版本",
  ws_saved: "已记录", ws_no_plan: "尚未签订", ws_recorded_by: "经办人", ws_status_registered: "已登记",
  ws_status_recognised: "已认定", ws_status_exited: "已退出", ws_status_lead: "线索",
  p_routine: "常规走访", p_policy: "政策咨询", p_check: "核查", ws_overdue: "已逾期", ws_contact: "已联系",
});
Object.assign(I18N.en, {
  ws_caseload: "My caseload", ws_visits: "Visits due today and overdue", ws_reviews: "Plan reviews due",
  ws_leads: "Leads to contact", ws_silent: "Silent persons (no contact)", ws_households: "Zero-employment households near their deadline",
  ws_register: "Register a person", ws_new: "Register a person", ws_none: "none", ws_name: "Name",
  ws_nid: "Resident ID", ws_phone: "Phone", ws_region: "Region", ws_group: "Target group",
  ws_applied: "Applied as", ws_pending: "not yet recognised", ws_status_col: "Status",
  ws_next_visit: "Next visit", ws_last_contact: "Last contact", ws_plan: "Assistance plan",
  ws_open: "Open", ws_purpose: "Purpose of the read", ws_purpose_go: "Open", ws_cancel: "Cancel",
  ws_back: "Back to the workspace", ws_days_overdue: "Days overdue", ws_due: "Visit due",
  ws_review_due: "Review due", ws_source: "Source", ws_suggested: "Suggested group",
  ws_assigned_at: "Assigned", ws_silent_since: "Last contact", ws_days_silent: "Days silent",
  ws_household: "Household", ws_members: "Members of working age", ws_deadline: "Deadline",
  ws_days_left: "Days left", ws_employment: "Employment status", ws_facts: "Circumstances",
  ws_able: "Able to work", ws_willing: "Willing to work", ws_disability: "Disability",
  ws_allowance: "Minimum-living-allowance household", ws_zero: "Member of a zero-employment household",
  ws_land: "Land lost", ws_unemployed_since: "Registered unemployed since", ws_graduated_on: "Graduated on",
  ws_registered: "Registered", ws_identity: "Identity", ws_groups: "Recognised groups", ws_rule: "Rule",
  ws_since: "Since", ws_owner: "Office and officer in charge", ws_office: "Office", ws_officer: "Officer",
  ws_from: "From", ws_until: "Until", ws_reason: "Reason", ws_schedule: "Visits", ws_basis: "Schedule rule",
  ws_last_visit: "Last visit", ws_timeline: "Timeline", ws_time: "Time", ws_event: "What happened",
  ws_actor: "By", ws_detail: "Detail", ws_visit: "Record a visit", ws_channel: "Channel",
  ws_visited_on: "Visited on", ws_outcome: "Outcome", ws_contacted: "Contacted", ws_not_reached: "Not reached",
  ws_needs: "Needs (separated by 、)", ws_note: "Note", ws_service: "Record a service",
  ws_service_kind: "Service", ws_delivered_on: "Delivered on", ws_agree: "Agree the plan",
  ws_revise: "Revise the plan", ws_goals: "Goals (one a line)", ws_measure: "Measure",
  ws_measure_owner: "Owner", ws_measure_deadline: "Deadline", ws_add_measure: "Add a measure",
  ws_services: "Services", ws_policies: "Policies", ws_revise_note: "Why revised", ws_version: "Version",
  ws_saved: "Recorded", ws_no_plan: "none agreed yet", ws_recorded_by: "Officer",
  ws_status_registered: "registered", ws_status_recognised: "recognised", ws_status_exited: "exited",
  ws_status_lead: "lead", p_routine: "Routine visit", p_policy: "Policy enquiry", p_check: "Verification",
  ws_overdue: "overdue", ws_contact: "Contacted",
});

// The vocabulary the forms offer (values of events/vocabulary.py; their names come from
// GET /api/vocabulary, never from here).
const VOCAB = {
  groups: ["employment_difficulty", "rural_surplus_labour", "low_income_graduate", "temporary_assistance"],
  employment: ["unemployed", "flexibly_employed", "lost_work_due_to_disaster", "in_training", "job_seeking_graduate"],
  channels: ["home_visit", "office", "phone", "online"],
  services: ["career_guidance", "job_referral", "policy_briefing", "counselling", "ledger"],
  policies: ["social_insurance", "post", "start_up", "start_up_loan", "venue_rent", "training",
    "training_living_allowance", "job_search_one_time"],
};
// Why a person's detail is read: recorded with the read; the value is the zh wording.
const PURPOSES = [["p_routine", "常规走访"], ["p_policy", "政策咨询"], ["p_check", "核查"]];
const FACTS = [["able_to_work", "ws_able"], ["willing_to_work", "ws_willing"], ["disability", "ws_disability"],
  ["minimum_living_allowance", "ws_allowance"], ["zero_employment_household", "ws_zero"], ["land_lost", "ws_land"]];
const ZONE = "Asia/Shanghai";  // the province's time: dates and times are shown in it

const ws = { built: false, person: null, purpose: null, case: null, timeline: [], lang: null };

const lab = (key) => ((state.labels[key] || {})[state.lang] || key);
const num = (n) => (typeof n === "number" ? n.toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US") : esc(n));
const day = (d) => (d ? esc(String(d).slice(0, 10)) : "—");
const todayHere = () => new Intl.DateTimeFormat("en-CA", { timeZone: ZONE }).format(new Date());
function when(iso) {
  if (!iso) { return "—"; }
  return new Intl.DateTimeFormat(state.lang === "zh" ? "zh-CN" : "en-GB", { timeZone: ZONE,
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}
const options = (values, selected) => values.map((v) => `<option value="${esc(v)}"${v === selected ? " selected" : ""}>${esc(lab(v))}</option>`).join("");
const field = (key, control) => `<label><span data-i18n="${key}">${t(key)}</span> ${control}</label>`;
const regionName = (row) => esc((state.lang === "zh" ? row.region_name : row.region_name_en || row.region_name) || name(row.region));

function table(id, heads, rows) {
  return `<table id="${id}"><thead><tr>${heads.map((h) => `<th data-i18n="${h}">${t(h)}</th>`).join("")}</tr></thead>`
    + `<tbody>${rows.length ? rows.join("") : `<tr><td colspan="${heads.length}" data-i18n="ws_none">${t("ws_none")}</td></tr>`}</tbody></table>`;
}

function groupsOf(c) {
  if (c.groups && c.groups.length) { return c.groups.map((g) => esc(lab(g))).join("、"); }
  return c.applied_group ? `${esc(lab(c.applied_group))}（${t("ws_pending")}）` : "—";
}

function personRow(c, cells) {
  return `<tr class="clickable" data-person="${esc(c.person_id)}"><td>${esc(c.name_masked || "—")}</td>`
    + `<td>${esc(c.national_id_masked || "—")}</td>${cells.join("")}`
    + `<td><button type="button" class="act open">${t("ws_open")}</button></td></tr>`;
}

function build() {
  const factBoxes = FACTS.map(([f, key]) => `<label class="inline"><input type="checkbox" name="${f}"> <span data-i18n="${key}">${t(key)}</span></label>`).join("");
  $("#workspace").innerHTML = `
    <div id="ws-lists">
      <h2><span data-i18n="ws_caseload">${t("ws_caseload")}</span> <span id="ws-count"></span>
        <button type="button" id="ws-new" class="act" data-i18n="ws_new">${t("ws_new")}</button></h2>
      <form id="register-form" class="card" hidden aria-labelledby="register-title">
        <h3 id="register-title" data-i18n="ws_register">${t("ws_register")}</h3>
        ${field("ws_nid", '<input name="national_id" required autocomplete="off" maxlength="32">')}
        ${field("ws_name", '<input name="name" autocomplete="off">')}
        ${field("ws_phone", '<input name="phone" autocomplete="off">')}
        ${field("ws_region", '<select name="region" id="register-region"></select>')}
        ${field("ws_applied", `<select name="target_group">${options(VOCAB.groups)}</select>`)}
        ${field("ws_employment", `<select name="employment_status">${options(VOCAB.employment)}</select>`)}
        <fieldset><legend data-i18n="ws_facts">${t("ws_facts")}</legend>${factBoxes}
          ${field("ws_unemployed_since", '<input type="date" name="unemployed_since">')}
          ${field("ws_graduated_on", '<input type="date" name="graduated_on">')}</fieldset>
        <button type="submit" class="act" data-i18n="ws_register">${t("ws_register")}</button>
        <button type="button" class="act cancel" data-i18n="ws_cancel">${t("ws_cancel")}</button>
        <p id="register-error" class="error" role="alert"></p><p id="register-done" role="status"></p>
      </form>
      <div id="ws-caseload"></div>
      <div class="ws-grid">
        <div><h3 data-i18n="ws_visits">${t("ws_visits")}</h3><div id="ws-visits"></div></div>
        <div><h3 data-i18n="ws_reviews">${t("ws_reviews")}</h3><div id="ws-reviews"></div></div>
        <div><h3 data-i18n="ws_leads">${t("ws_leads")}</h3><div id="ws-leads"></div></div>
        <div><h3 data-i18n="ws_silent">${t("ws_silent")}</h3><div id="ws-silent"></div></div>
        <div><h3 data-i18n="ws_households">${t("ws_households")}</h3><div id="ws-households"></div></div>
      </div>
    </div>
    <form id="purpose-form" class="card" hidden>
      ${field("ws_purpose", `<select name="purpose">${PURPOSES.map(([k, v]) => `<option value="${v}" data-i18n="${k}">${t(k)}</option>`).join("")}</select>`)}
      <button type="submit" class="act" data-i18n="ws_purpose_go">${t("ws_purpose_go")}</button>
      <button type="button" class="act cancel" data-i18n="ws_cancel">${t("ws_cancel")}</button>
    </form>
    <div id="person" hidden></div>`;
  $("#ws-new").addEventListener("click", () => { $("#register-form").hidden = false; $("#register-form [name=national_id]").focus(); });
  $("#register-form .cancel").addEventListener("click", () => { $("#register-form").hidden = true; });
  $("#register-form").addEventListener("submit", register);
  $("#purpose-form").addEventListener("submit", (e) => {
    e.preventDefault();
    openPerson(ws.person, new FormData(e.target).get("purpose")).catch((err) => { $("#person").textContent = err.message; });
  });
  $("#purpose-form .cancel").addEventListener("click", () => { $("#purpose-form").hidden = true; ws.person = null; });
  $("#workspace").addEventListener("click", (e) => {  // "open" in any list asks for the purpose first
    const row = e.target.closest("tr[data-person]");
    if (!row || !e.target.closest("button.open")) { return; }
    ws.person = row.dataset.person;
    $("#purpose-form").hidden = false;
    $("#purpose-form select").focus();
  });
  ws.built = true;
}

async function learnRegions() {  // the counties the officer may register in, with their names
  const codes = state.me.regions.length ? state.me.regions : ["370000"];
  const found = [];
  for (const code of codes) {
    const children = await api(`/api/regions/${code}/children`);
    children.forEach((r) => { state.names[r.code] = r; found.push(r.code); });
    if (!children.length) { found.push(code); }
  }
  $("#register-region").innerHTML = found.map((c) => `<option value="${esc(c)}">${esc(name(c))}</option>`).join("");
}

async function workspace() {
  if (!ws.built) { build(); translate(); await learnRegions(); }
  if (ws.case) {  // a person's page is open: re-read only when the officer acts
    if (ws.lang !== state.lang) { renderPerson(); }  // the language changed: same data, relabelled
    return;
  }
  const [caseload, visits, reviews, leads, silent, households] = await Promise.all([
    api("/api/cases"), api("/api/cases/visits-due"), api("/api/cases/plan-reviews"),
    api("/api/leads"), api("/api/cases/silent"), api("/api/households/zero-employment?near_days=30")]);
  $("#ws-count").textContent = `(${num(caseload.length)})`;
  const today = todayHere();
  $("#ws-caseload").innerHTML = table("caseload", ["ws_name", "ws_nid", "ws_region", "ws_group", "ws_next_visit", "ws_last_contact", "ws_plan", "ws_open"],
    caseload.map((c) => personRow(c, [`<td>${regionName(c)}</td>`, `<td class="groups">${groupsOf(c)}</td>`,
      `<td class="visit-due${c.visit_due && c.visit_due < today ? " error" : ""}">${day(c.visit_due)}</td>`,
      `<td>${day(c.last_contact)}</td>`,
      `<td>${c.plan ? `v${num(c.plan.version)} · ${day(c.plan.review_due)}` : t("ws_no_plan")}</td>`])));
  $("#ws-visits").innerHTML = table("visits-due", ["ws_name", "ws_nid", "ws_region", "ws_due", "ws_days_overdue", "ws_open"],
    visits.map((c) => personRow(c, [`<td>${regionName(c)}</td>`, `<td>${day(c.visit_due)}</td>`,
      `<td class="n${c.overdue ? " error" : ""}">${num(c.days_overdue)}</td>`])));
  $("#ws-reviews").innerHTML = table("plan-reviews", ["ws_name", "ws_nid", "ws_region", "ws_review_due", "ws_days_overdue", "ws_open"],
    reviews.map((c) => personRow(c, [`<td>${regionName(c)}</td>`, `<td>${day(c.plan.review_due)}</td>`,
      `<td class="n${c.overdue ? " error" : ""}">${num(c.days_overdue)}</td>`])));
  $("#ws-leads").innerHTML = table("leads", ["ws_source", "ws_region", "ws_suggested", "ws_assigned_at", "ws_contact"],
    leads.map((l) => `<tr data-lead="${esc(l.lead_id)}" data-lead-person="${esc(l.person_id)}"><td>${esc(lab(l.source))}</td><td>${regionName(l)}</td>`
      + `<td>${l.suggested_group ? esc(lab(l.suggested_group)) : "—"}</td><td>${when(l.assigned_at)}</td>`
      + `<td><label><span class="sr">${t("ws_channel")}</span> <select name="channel">${options(VOCAB.channels)}</select></label> `
      + `<button type="button" class="act contact">${t("ws_contact")}</button><span class="error" role="alert"></span></td></tr>`));
  document.querySelectorAll("#leads button.contact").forEach((b) => b.addEventListener("click", () => contactLead(b.closest("tr"))));
  $("#ws-silent").innerHTML = table("silent", ["ws_name", "ws_nid", "ws_region", "ws_silent_since", "ws_days_silent", "ws_open"],
    silent.map((c) => personRow(c, [`<td>${regionName(c)}</td>`, `<td>${day(c.silent_since)}</td>`, `<td class="n">${num(c.days_silent)}</td>`])));
  $("#ws-households").innerHTML = table("households", ["ws_household", "ws_region", "ws_members", "ws_deadline", "ws_days_left"],
    households.near_deadline.map((h) => `<tr data-household="${esc(h.household_id)}"><td>${esc(h.household_id)}</td><td>${regionName(h)}</td>`
      + `<td class="n">${num(h.members_of_working_age)}</td><td>${day(h.deadline)}</td><td class="n${h.overdue ? " error" : ""}">${num(h.days_left)}</td></tr>`));
}

// The officer reached a lead (active discovery): lead.contacted, then the list without it.
async function contactLead(row) {
  const path = `/api/persons/${encodeURIComponent(row.dataset.leadPerson)}/leads/${encodeURIComponent(row.dataset.lead)}/contact`;
  try {
    await api(path, { method: "POST", body: JSON.stringify({ channel: row.querySelector("select").value, on: todayHere() }) });
    row.remove();
  } catch (err) {
    row.querySelector(".error").textContent = err.message;
  }
}

async function register(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const facts = {};
  FACTS.forEach(([f]) => { if (form.get(f)) { facts[f] = true; } });
  ["unemployed_since", "graduated_on"].forEach((f) => { if (form.get(f)) { facts[f] = form.get(f); } });
  const body = { national_id: form.get("national_id").trim(), region: form.get("region"),
    target_group: form.get("target_group"), employment_status: form.get("employment_status"), facts };
  ["name", "phone"].forEach((f) => { if (form.get(f).trim()) { body[f] = form.get(f).trim(); } });
  $("#register-error").textContent = ""; $("#register-done").textContent = "";
  try {
    const done = await api("/api/persons", { method: "POST", body: JSON.stringify(body) });
    event.target.reset();
    await projected(state.me.name, done.person_id, done.version);
    $("#register-done").textContent = `${t("ws_registered")}: ${done.name_masked || ""} ${done.national_id_masked}`;
    await workspace();
  } catch (err) {
    $("#register-error").textContent = err.message;
  }
}

// Wait until the ledger holds what a command appended (its version), reading the officer's
// caseload (not audited) rather than the person, so that nothing is read in vain.
async function projected(officer, personId, version) {
  for (let i = 0; i < 60; i += 1) {
    const rows = await api(`/api/cases?officer=${encodeURIComponent(officer)}`);
    const row = rows.find((r) => r.person_id === personId);
    if (row && row.events >= version) { return; }
    await new Promise((ok) => { setTimeout(ok, 250); });
  }
}

async function openPerson(personId, purpose) {
  const q = `purpose=${encodeURIComponent(purpose)}`;
  const id = encodeURIComponent(personId);
  const [found, timeline] = await Promise.all([api(`/api/persons/${id}?${q}`), api(`/api/persons/${id}/timeline?${q}`)]);
  Object.assign(ws, { person: personId, purpose, case: found, timeline });
  $("#purpose-form").hidden = true; $("#ws-lists").hidden = true; $("#person").hidden = false;
  renderPerson();
}

function closePerson() {
  Object.assign(ws, { person: null, purpose: null, case: null, timeline: [] });
  $("#person").hidden = true; $("#ws-lists").hidden = false;
  workspace().catch(console.error);
}

function summary(e) {  // the few fields of an event a person reads, labelled
  const p = e.payload || {};
  const parts = [];
  for (const key of ["target_group", "channel", "service", "placement", "reason"]) {
    if (p[key]) { parts.push(esc(lab(p[key]))); }
  }
  if (p.outcome) { parts.push(esc(t(`ws_${p.outcome}`))); }
  if (p.rule_id) { parts.push(`${t("ws_rule")} ${esc(p.rule_id)}${p.rule_set ? ` (${esc(p.rule_set)})` : ""}`); }
  if (p.office) { parts.push(`${esc(name(p.office))} · ${esc(p.officer || "")}`); }
  if (p.due_on) { parts.push(`${t("ws_due")} ${day(p.due_on)}`); }
  for (const key of ["visited_on", "delivered_on", "started_on", "exited_on"]) {
    if (p[key]) { parts.push(day(p[key])); }
  }
  if (p.version) { parts.push(`${t("ws_version")} ${num(p.version)}`); }
  if (p.goals && p.goals.length) { parts.push(p.goals.map(esc).join("；")); }
  if (p.needs && p.needs.length) { parts.push(p.needs.map(esc).join("、")); }
  if (p.note) { parts.push(esc(p.note)); }
  if (p.purpose) { parts.push(`${t("ws_purpose")}: ${esc(p.purpose)}`); }
  return parts.join(" · ");
}

function currentPlan() {  // the latest agreed or revised version, from the timeline
  const plans = ws.timeline.filter((e) => e.event_type === "plan.agreed" || e.event_type === "plan.revised");
  return plans.length && ws.case.plan ? plans[plans.length - 1].payload : null;
}

function measureRow(m = {}) {
  const opts = `<optgroup label="${esc(t("ws_services"))}">${options(VOCAB.services, m.measure)}</optgroup>`
    + `<optgroup label="${esc(t("ws_policies"))}">${options(VOCAB.policies, m.measure)}</optgroup>`;
  return `<div class="measure">${field("ws_measure", `<select name="measure">${opts}</select>`)}
    ${field("ws_measure_owner", `<input name="owner" value="${esc(m.owner || state.me.name)}">`)}
    ${field("ws_measure_deadline", `<input type="date" name="deadline" value="${esc(m.deadline || "")}">`)}</div>`;
}

function renderPerson() {
  const c = ws.case; const plan = currentPlan(); const today = todayHere();
  const revising = Boolean(c.plan);
  ws.lang = state.lang;
  $("#person").dataset.person = c.person_id;
  $("#person").innerHTML = `
    <button type="button" class="act back" data-i18n="ws_back">${t("ws_back")}</button>
    <h2 id="person-title">${esc(c.name_masked || "—")} · ${esc(c.national_id_masked || "")} · ${esc(t(`ws_status_${c.status}`))}</h2>
    <div class="ws-grid">
      <div class="card"><h3 data-i18n="ws_identity">${t("ws_identity")}</h3><dl>
        <dt>${t("ws_name")}</dt><dd id="person-name">${esc(c.name_masked || "—")}</dd>
        <dt>${t("ws_nid")}</dt><dd id="person-nid">${esc(c.national_id_masked || "—")}</dd>
        <dt>${t("ws_phone")}</dt><dd>${esc(c.phone_masked || "—")}</dd>
        <dt>${t("ws_region")}</dt><dd>${regionName(c)}</dd>
        <dt>${t("ws_applied")}</dt><dd>${c.applied_group ? esc(lab(c.applied_group)) : "—"}</dd></dl></div>
      <div class="card"><h3 data-i18n="ws_groups">${t("ws_groups")}</h3>
        ${table("person-groups", ["ws_group", "ws_since", "ws_rule"], (c.recognitions || []).map((g) => `<tr data-group="${esc(g.target_group)}">`
          + `<td>${esc(lab(g.target_group))}</td><td>${day(g.since)}</td><td>${esc(g.rule_id || "—")}${g.rule_set ? ` (${esc(g.rule_set)})` : ""}</td></tr>`))}</div>
      <div class="card"><h3 data-i18n="ws_owner">${t("ws_owner")}</h3>
        ${table("person-owners", ["ws_office", "ws_officer", "ws_from", "ws_until", "ws_reason"], (c.ownership || []).map((o) => `<tr>`
          + `<td>${esc(name(o.office))}</td><td>${esc(o.officer)}</td><td>${when(o.since)}</td><td>${when(o.until)}</td><td>${o.reason ? esc(lab(o.reason)) : ""}</td></tr>`))}</div>
      <div class="card"><h3 data-i18n="ws_schedule">${t("ws_schedule")}</h3><dl>
        <dt>${t("ws_next_visit")}</dt><dd id="person-visit-due" class="${c.visit_due && c.visit_due < today ? "error" : ""}">${day(c.visit_due)}</dd>
        <dt>${t("ws_basis")}</dt><dd>${c.visit_basis ? esc(lab(c.visit_basis)) : "—"}</dd>
        <dt>${t("ws_last_visit")}</dt><dd>${day(c.last_visit)}</dd>
        <dt>${t("ws_last_contact")}</dt><dd>${day(c.last_contact)}</dd></dl></div>
      <div class="card" id="person-plan"><h3 data-i18n="ws_plan">${t("ws_plan")}</h3>
        ${plan ? `<p>${t("ws_version")} ${num(c.plan.version)} · ${t("ws_review_due")} ${day(c.plan.review_due)}</p>
          <ul>${(plan.goals || []).map((g) => `<li>${esc(g)}</li>`).join("")}</ul>
          <ul>${(plan.measures || []).map((m) => `<li>${esc(lab(m.measure))} · ${esc(m.owner)} · ${day(m.deadline)}</li>`).join("")}</ul>`
          : `<p>${t("ws_no_plan")}</p>`}</div>
    </div>
    <div class="ws-grid">
      <form id="visit-form" class="card"><h3 data-i18n="ws_visit">${t("ws_visit")}</h3>
        ${field("ws_channel", `<select name="channel">${options(VOCAB.channels)}</select>`)}
        ${field("ws_visited_on", `<input type="date" name="visited_on" value="${today}" max="${today}" required>`)}
        ${field("ws_outcome", `<select name="outcome"><option value="contacted">${t("ws_contacted")}</option><option value="not_reached">${t("ws_not_reached")}</option></select>`)}
        ${field("ws_needs", '<input name="needs">')}
        ${field("ws_note", '<textarea name="note" rows="2"></textarea>')}
        <button type="submit" class="act">${t("ws_visit")}</button><p class="error" role="alert"></p></form>
      <form id="service-form" class="card"><h3 data-i18n="ws_service">${t("ws_service")}</h3>
        ${field("ws_service_kind", `<select name="service">${options(VOCAB.services)}</select>`)}
        ${field("ws_delivered_on", `<input type="date" name="delivered_on" value="${today}" max="${today}" required>`)}
        ${field("ws_note", '<textarea name="note" rows="2"></textarea>')}
        <button type="submit" class="act">${t("ws_service")}</button><p class="error" role="alert"></p></form>
      <form id="plan-form" class="card"><h3>${t(revising ? "ws_revise" : "ws_agree")}</h3>
        ${field("ws_goals", `<textarea name="goals" rows="3">${esc(((plan && plan.goals) || []).join("\n"))}</textarea>`)}
        <div class="measures">${((plan && plan.measures) || [{}]).map(measureRow).join("")}</div>
        <button type="button" class="act add-measure">${t("ws_add_measure")}</button>
        ${field("ws_review_due", `<input type="date" name="review_due" value="${esc((c.plan && c.plan.review_due) || "")}">`)}
        ${revising ? field("ws_revise_note", '<input name="note">') : ""}
        <button type="submit" class="act">${t(revising ? "ws_revise" : "ws_agree")}</button><p class="error" role="alert"></p></form>
    </div>
    <h3 data-i18n="ws_timeline">${t("ws_timeline")}</h3>
    ${table("person-timeline", ["ws_time", "ws_event", "ws_actor", "ws_detail"], ws.timeline.map((e) => `<tr data-type="${esc(e.event_type)}">`
      + `<td>${when(e.occurred_at)}</td><td>${esc(e.label[state.lang] || e.event_type)}</td><td>${esc(e.actor || "")}</td><td>${summary(e)}</td></tr>`))}`;
  $("#person .back").addEventListener("click", closePerson);
  $("#plan-form .add-measure").addEventListener("click", () => { $("#plan-form .measures").insertAdjacentHTML("beforeend", measureRow()); });
  $("#visit-form").addEventListener("submit", (e) => act(e, "visits", (f) => ({ channel: f.get("channel"),
    visited_on: f.get("visited_on"), outcome: f.get("outcome"), note: f.get("note").trim() || undefined,
    needs: f.get("needs").split(/[、,，;；]/).map((s) => s.trim()).filter(Boolean) })));
  $("#service-form").addEventListener("submit", (e) => act(e, "services", (f) => ({ service: f.get("service"),
    delivered_on: f.get("delivered_on"), note: f.get("note").trim() || undefined })));
  $("#plan-form").addEventListener("submit", (e) => act(e, revising ? "plan/revise" : "plan", (f) => {
    const measures = [...e.target.querySelectorAll(".measure")].map((m) => {
      const measure = m.querySelector("[name=measure]").value;
      return { measure, kind: VOCAB.policies.includes(measure) ? "policy" : "service",
        owner: m.querySelector("[name=owner]").value.trim(), deadline: m.querySelector("[name=deadline]").value || undefined };
    });
    return { goals: f.get("goals").split("\n").map((s) => s.trim()).filter(Boolean), measures,
      review_due: f.get("review_due") || undefined, note: revising ? (f.get("note").trim() || undefined) : undefined };
  }));
}

// Send one command on the open person; a refusal is shown next to its form, naming the
// field; once the ledger holds the result, the person is read again (audited, same purpose).
async function act(event, path, bodyOf) {
  event.preventDefault();
  const error = event.target.querySelector(".error");
  error.textContent = "";
  const button = event.target.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const done = await api(`/api/persons/${encodeURIComponent(ws.person)}/${path}`,
      { method: "POST", body: JSON.stringify(bodyOf(new FormData(event.target))) });
    await projected(ws.case.officer || state.me.name, ws.person, done.version);
    await openPerson(ws.person, ws.purpose);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

PAGES.workspace = workspace;
