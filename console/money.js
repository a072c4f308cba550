// EAMS console: the money's pages (issue 13). Loaded after app.js and cases.js, whose
// helpers it uses (api, esc, t, may, name, num, table, PAGES, state).
//   公益性岗位 (posts): the public-welfare posts per county (posts, slots, taken, vacant),
//     each post with its holders; a county's officer opens a post.
//   稽核 (audit): the fraud rules' cases, each with its evidence and the recoveries it
//     proposes, confirmed or dismissed with a reason; the figures per county.
//   绩效评价 (evaluation): a period computed now or frozen, every city and county with its
//     total, rank and indicators; freeze a period that has ended; its Excel and PDF.
"use strict";

Object.assign(I18N.zh, {
  posts: "公益性岗位", wp_counties: "各县（市、区）公益性岗位", wp_list: "岗位", wp_region: "地区", wp_posts: "岗位数",
  wp_slots: "名额", wp_seated: "在岗", wp_vacant: "空缺", wp_title: "岗位", wp_village: "村（社区）",
  wp_opened: "开发日期", wp_total: "合计", wp_open: "开发岗位", wp_days: "月应出勤天数", wp_holders: "在岗及离岗人员",
  wp_person: "人员", wp_from: "起始月", wp_to: "截止月", wp_months: "已考勤月份", wp_entitled: "应发（元）",
  wp_paid: "已发（元）", wp_left: "离岗", wp_cause_officer: "经办退出", wp_cause_tenure: "任期届满",
  wp_cause_full: "名额已满", wp_cause_ineligible: "不再符合条件", wp_on: "在岗", wp_status: "状态",
  audit: "稽核", evaluation: "绩效评价", fc_figures: "各县（市、区）风险内控统计", fc_cases: "疑似骗补案件",
  fc_region: "地区", fc_suspected: "疑似", fc_open: "待处理", fc_confirmed: "已确认", fc_dismissed: "已排除",
  fc_ordered: "责令退回（元）", fc_recovered: "已追回（元）", fc_rule: "规则", fc_amount: "涉及金额（元）",
  fc_detail: "情况", fc_status: "状态", fc_found: "发现时间", fc_evidence: "证据", fc_recoveries: "拟追回",
  fc_reason: "处理意见", fc_confirm: "确认并追回", fc_dismiss: "排除", fc_decided: "处理", fc_all: "全部",
  fc_status_suspected: "待处理", fc_status_confirmed: "已确认", fc_status_dismissed: "已排除",
  ev_period: "评价期", ev_live: "实时计算", ev_frozen: "已定稿", ev_freeze: "定稿", ev_verify: "复核",
  ev_xlsx: "导出 Excel", ev_pdf: "导出 PDF", ev_as_of: "数据截至", ev_cities: "各市", ev_counties: "各县（市、区）",
  ev_rank: "排名", ev_total: "总分", ev_region: "地区", ev_city: "所属市", ev_reproduced: "复核一致",
  ev_differs: "复核不一致", ev_not_frozen: "未定稿（实时）", ev_show: "查看",
});
Object.assign(I18N.en, {
  posts: "Welfare posts", wp_counties: "Public-welfare posts per county", wp_list: "Posts", wp_region: "Region",
  wp_posts: "Posts", wp_slots: "Slots", wp_seated: "Taken", wp_vacant: "Vacant", wp_title: "Post",
  wp_village: "Village", wp_opened: "Opened", wp_total: "Total", wp_open: "Open a post", wp_days: "Days a month",
  wp_holders: "Holders, present and past", wp_person: "Person", wp_from: "From", wp_to: "Until",
  wp_months: "Attendance recorded", wp_entitled: "Entitled (yuan)", wp_paid: "Paid (yuan)", wp_left: "Left",
  wp_cause_officer: "let go", wp_cause_tenure: "tenure ended", wp_cause_full: "post was full",
  wp_cause_ineligible: "no longer eligible", wp_on: "holding", wp_status: "Status",
  audit: "Audit", evaluation: "Evaluation", fc_figures: "Fraud figures per county", fc_cases: "Suspected fraud cases",
  fc_region: "Region", fc_suspected: "Suspected", fc_open: "Open", fc_confirmed: "Confirmed",
  fc_dismissed: "Dismissed", fc_ordered: "Ordered back (yuan)", fc_recovered: "Recovered (yuan)", fc_rule: "Rule",
  fc_amount: "At risk (yuan)", fc_detail: "What was found", fc_status: "Status", fc_found: "Found",
  fc_evidence: "Evidence", fc_recoveries: "Proposed recoveries", fc_reason: "Reason", fc_confirm: "Confirm and recover",
  fc_dismiss: "Dismiss", fc_decided: "Decision", fc_all: "all", fc_status_suspected: "open",
  fc_status_confirmed: "confirmed", fc_status_dismissed: "dismissed",
  ev_period: "Period", ev_live: "Compute now", ev_frozen: "Frozen", ev_freeze: "Freeze", ev_verify: "Verify",
  ev_xlsx: "Excel", ev_pdf: "PDF", ev_as_of: "Figures as of", ev_cities: "Cities", ev_counties: "Counties",
  ev_rank: "Rank", ev_total: "Total", ev_region: "Region", ev_city: "City", ev_reproduced: "reproduced",
  ev_differs: "differs", ev_not_frozen: "not frozen (computed now)", ev_show: "Show",
});

const yuan = (v) => (v == null ? "—" : Number(v).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US",
  { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const pct = (v) => (v == null ? "—" : `${(Number(v) * 100).toFixed(1)}%`);
const money = { status: "suspected", evaluation: null, period: null, shown: 0 };

// -- 公益性岗位: the public-welfare posts -----------------------------------------------------

async function posts() {
  const [summary, list] = await Promise.all([api("/api/welfare-posts/summary"), api("/api/welfare-posts")]);
  const countyRows = summary.counties.map((c) => `<tr><td>${esc(c.region_name || name(c.region))}</td>`
    + `<td>${num(c.posts)}</td><td>${num(c.slots)}</td><td>${num(c.seated)}</td><td>${num(c.vacant)}</td></tr>`);
  if (summary.counties.length > 1) {
    const s = summary.total;
    countyRows.push(`<tr class="total"><th>${t("wp_total")}</th><td>${num(s.posts)}</td><td>${num(s.slots)}</td>`
      + `<td>${num(s.seated)}</td><td>${num(s.vacant)}</td></tr>`);
  }
  const postRows = list.map((p) => `<tr data-post="${esc(p.post_id)}"><td>${esc(p.region_name || name(p.region))}</td>`
    + `<td><a href="#" class="post-link" data-post="${esc(p.post_id)}">${esc(p.title)}</a></td><td>${esc(p.village || "")}</td>`
    + `<td>${num(p.slots)}</td><td>${num(p.seated)}</td><td>${num(p.vacant)}</td><td>${esc(p.opened_on || "")}</td></tr>`);
  const counties = (state.me.regions || []).length ? state.me.regions : [];
  const form = may("act:cases")
    ? `<form id="wp-form"><h3>${t("wp_open")}</h3><label>${t("wp_region")} <input name="region" required pattern="\\d{6}" size="7" `
      + `value="${esc(counties.find((r) => !r.endsWith("00")) || "")}"></label> <label>${t("wp_title")} <input name="title" required maxlength="100"></label> `
      + `<label>${t("wp_village")} <input name="village" maxlength="100"></label> <label>${t("wp_slots")} <input name="slots" type="number" min="1" max="10000" value="1"></label> `
      + `<label>${t("wp_days")} <input name="days_required" type="number" min="1" max="31" value="22"></label> `
      + `<button type="submit" class="act">${t("wp_open")}</button><p class="error" role="alert"></p></form>`
    : "";
  $("#posts").innerHTML = `<h2>${t("wp_counties")}</h2>`
    + table("wp-counties", ["wp_region", "wp_posts", "wp_slots", "wp_seated", "wp_vacant"], countyRows)
    + `<h2>${t("wp_list")}</h2>`
    + table("wp-posts", ["wp_region", "wp_title", "wp_village", "wp_slots", "wp_seated", "wp_vacant", "wp_opened"], postRows)
    + `<div id="wp-detail"></div>${form}`;
  document.querySelectorAll("#posts a.post-link").forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault(); postDetail(a.dataset.post).catch(console.error);
  }));
  const open = $("#wp-form");
  if (open) {
    open.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = e.target;
      const body = { region: f.region.value.trim(), title: f.title.value.trim(), slots: Number(f.slots.value),
        days_required: Number(f.days_required.value) };
      if (f.village.value.trim()) { body.village = f.village.value.trim(); }
      try {
        await api("/api/welfare-posts", { method: "POST", body: JSON.stringify(body) });
        await waitFor(async () => (await api("/api/welfare-posts")).length > list.length);
        await posts();
      } catch (err) { f.querySelector(".error").textContent = err.message; }
    });
  }
}

async function waitFor(check, tries = 25) {
  for (let i = 0; i < tries; i += 1) {
    if (await check()) { return; }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function postDetail(id) {
  const doc = await api(`/api/welfare-posts/${encodeURIComponent(id)}`);
  const never = (h) => h.vacated && h.cause === "full";  // turned back: never held it
  const rows = doc.holders.map((h) => `<tr><td>${esc(h.name_masked || h.person_id)}</td>`
    + `<td>${never(h) ? "—" : esc(h.first_month || "")}</td><td>${never(h) ? "—" : esc(h.last_month || "")}</td><td>${esc((h.months_recorded || []).join("、"))}</td>`
    + `<td>${yuan(h.entitled)}</td><td>${yuan(h.paid)}</td>`
    + `<td>${h.vacated ? t("wp_left") + "（" + t("wp_cause_" + (h.cause || "officer")) + "）" : t("wp_on")}</td></tr>`);
  $("#wp-detail").innerHTML = `<h3>${esc(doc.title)} · ${esc(doc.region_name)} ${esc(doc.village || "")}</h3>`
    + table("wp-holders", ["wp_person", "wp_from", "wp_to", "wp_months", "wp_entitled", "wp_paid", "wp_status"], rows);
}

// -- 稽核: the fraud cases ----------------------------------------------------------------

async function audit() {
  const [figures, cases] = await Promise.all([
    api("/api/fraud-cases/summary"),
    api("/api/fraud-cases" + (money.status ? `?status=${money.status}` : "")),
  ]);
  const figureRows = figures.map((f) => `<tr><td>${esc(f.region_name || name(f.region))}</td>`
    + `<td>${num(f.suspected)}</td><td>${num(f.open)}</td><td>${num(f.confirmed)}</td><td>${num(f.dismissed)}</td>`
    + `<td>${yuan(f.ordered)}</td><td>${yuan(f.recovered)}</td></tr>`);
  const statuses = ["suspected", "confirmed", "dismissed", ""].map((s) =>
    `<option value="${s}"${s === money.status ? " selected" : ""}>${t(s ? "fc_status_" + s : "fc_all")}</option>`).join("");
  const caseRows = cases.map((c) => {
    const evidence = (c.evidence || []).map((e) => `<li>${esc(e.what)}${e.month ? " · " + esc(e.month) : ""}`
      + `${e.amount ? " · ¥" + yuan(e.amount) : ""}${e.region ? " · " + esc(e.region_name || name(e.region)) : ""}</li>`).join("");
    const recoveries = (c.recoveries || []).map((r) => `<li>${esc(r.application_id)} · ¥${yuan(r.amount)}</li>`).join("");
    const decide = c.status === "suspected" && may("act:fraud")
      ? `<form class="decide" data-case="${esc(c.case_id)}"><input name="reason" required maxlength="500" `
        + `aria-label="${t("fc_reason")}" placeholder="${t("fc_reason")}">`
        + `<button type="submit" name="verb" value="confirm" class="act">${t("fc_confirm")}</button>`
        + `<button type="submit" name="verb" value="dismiss">${t("fc_dismiss")}</button><p class="error" role="alert"></p></form>`
      : `${esc(c.decided_by || "")} ${esc(c.reason || "")}`;
    return `<tr data-case="${esc(c.case_id)}"><td>${esc(c.region_name || name(c.region))}</td>`
      + `<td>${esc(c.title || c.rule)}</td><td>${yuan(c.amount)}</td><td>${esc(c.detail || "")}</td>`
      + `<td>${t("fc_status_" + c.status)}</td><td><ul>${evidence}</ul></td><td><ul>${recoveries}</ul></td>`
      + `<td>${decide}</td></tr>`;
  });
  $("#audit").innerHTML = `<h2 data-i18n="fc_figures">${t("fc_figures")}</h2>`
    + table("fraud-figures", ["fc_region", "fc_suspected", "fc_open", "fc_confirmed", "fc_dismissed", "fc_ordered", "fc_recovered"], figureRows)
    + `<h2><span data-i18n="fc_cases">${t("fc_cases")}</span> <select id="fc-status">${statuses}</select></h2>`
    + table("fraud-cases", ["fc_region", "fc_rule", "fc_amount", "fc_detail", "fc_status", "fc_evidence", "fc_recoveries", "fc_decided"], caseRows);
  $("#fc-status").addEventListener("change", (e) => { money.status = e.target.value; audit().catch(console.error); });
  document.querySelectorAll("#audit form.decide").forEach((form) => form.addEventListener("submit", decideCase));
}

async function decideCase(event) {
  event.preventDefault();
  const form = event.target;
  const verb = event.submitter ? event.submitter.value : "confirm";
  const error = form.querySelector(".error");
  error.textContent = "";
  try {
    await api(`/api/fraud-cases/${encodeURIComponent(form.dataset.case)}/${verb}`,
      { method: "POST", body: JSON.stringify({ reason: form.reason.value }) });
    form.closest("td").textContent = `${state.me.name} ${form.reason.value}`;
  } catch (err) {
    error.textContent = err.message;
  }
}

// -- 绩效评价: the performance evaluation -------------------------------------------------

function lastQuarter() {
  const now = new Date(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date()));
  let q = Math.floor(now.getMonth() / 3);  // this quarter's index; the last one ended
  let year = now.getFullYear();
  if (q === 0) { q = 4; year -= 1; }
  return `${year}-Q${q}`;
}

function evaluationTable(id, rows, indicators, county) {
  const title = (i) => esc(state.lang === "zh" ? i.title : i.title_en);
  const heads = `<th>${t("ev_rank")}</th><th>${t("ev_region")}</th>${county ? `<th>${t("ev_city")}</th>` : ""}`
    + `<th>${t("ev_total")}</th>` + indicators.map((i) => `<th>${title(i)} (${esc(i.weight)})</th>`).join("");
  const body = rows.map((r) => {
    const cells = indicators.map((i) => {
      const got = r.indicators[i.id] || {};
      return got.value == null ? "<td>—</td>" : `<td title="${esc(got.numerator)} / ${esc(got.denominator)}">${pct(got.value)} (${esc(got.score)})</td>`;
    }).join("");
    const city = county ? `<td>${esc(name(r.region.slice(0, 4) + "00"))}</td>` : "";
    return `<tr data-region="${esc(r.region)}"><td>${esc(r.rank ?? "—")}</td><td>${esc(r.name || name(r.region))}</td>`
      + `${city}<td class="total">${esc(r.total ?? "—")}</td>${cells}</tr>`;
  }).join("");
  return `<table id="${id}"><thead><tr>${heads}</tr></thead><tbody>${body}</tbody></table>`;
}

async function evaluation() {
  // a later call (another period asked for, a live refresh) supersedes this one: a slower
  // answer for the period shown before must not be drawn over the newer one
  const mine = ++money.shown;
  money.period = money.period || lastQuarter();
  const period = money.period;
  const frozen = await api("/api/evaluations");
  let doc = money.evaluation;
  if (!doc || doc.period !== period) {
    const done = frozen.find((f) => f.period === period);
    doc = done ? await api(`/api/evaluations/${encodeURIComponent(done.evaluation_id)}`)
      : await api(`/api/evaluations/live?period=${encodeURIComponent(period)}`);
    if (mine !== money.shown) return;
    money.evaluation = doc;
  }
  if (mine !== money.shown) return;
  const list = frozen.map((f) => `<li><a href="#" data-period="${esc(f.period)}">${esc(f.period)}</a> · ${esc(f.frozen_by)} · ${when(f.frozen_at)}</li>`).join("");
  const files = doc.frozen
    ? `<a id="ev-xlsx" href="/api/evaluations/${esc(doc.evaluation_id)}/export?format=xlsx&lang=${state.lang}">${t("ev_xlsx")}</a> `
      + `<a id="ev-pdf" href="/api/evaluations/${esc(doc.evaluation_id)}/export?format=pdf&lang=${state.lang}">${t("ev_pdf")}</a> `
      + `<button type="button" id="ev-verify">${t("ev_verify")}</button> <span id="ev-verified"></span>`
    : (may("freeze:evaluation") ? `<button type="button" id="ev-freeze" class="act">${t("ev_freeze")}</button>` : "");
  const cities = doc.regions.filter((r) => r.level === "city");
  const counties = doc.regions.filter((r) => r.level === "county");
  $("#evaluation").innerHTML = `<form id="ev-form"><label>${t("ev_period")} <input name="period" value="${esc(money.period)}" size="8"></label>`
    + `<button type="submit">${t("ev_show")}</button></form>`
    + `<h2 id="ev-title">${esc(doc.title)} · ${esc(doc.period)} <small>${doc.frozen ? t("ev_frozen") : t("ev_not_frozen")}</small></h2>`
    + `<p>${t("ev_as_of")}: <span id="ev-as-of">${esc(doc.as_of)}</span> · ${esc(doc.table)} ${files}</p><p class="error" id="ev-error" role="alert"></p>`
    + `<div id="ev-chart" class="chart wide"></div>`
    + `<h3>${t("ev_cities")}</h3>${evaluationTable("ev-cities", cities, doc.indicators, false)}`
    + `<h3>${t("ev_counties")}</h3>${evaluationTable("ev-counties", counties, doc.indicators, true)}`
    + `<h3>${t("ev_frozen")}</h3><ul id="ev-frozen">${list}</ul>`;
  const ranked = cities.filter((r) => r.total != null);
  echarts.init($("#ev-chart")).setOption({
    grid: { left: 80, right: 30, top: 10, bottom: 20 }, xAxis: { type: "value", max: 100 },
    yAxis: { type: "category", inverse: true, data: ranked.map((r) => r.name || name(r.region)) },
    series: [{ type: "bar", data: ranked.map((r) => Number(r.total)), label: { show: true, position: "right" } }],
  });
  $("#ev-form").addEventListener("submit", (e) => {
    e.preventDefault(); money.period = e.target.period.value.trim(); money.evaluation = null;
    evaluation().catch((err) => { $("#ev-error").textContent = err.message; });
  });
  document.querySelectorAll("#ev-frozen a").forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault(); money.period = a.dataset.period; money.evaluation = null; evaluation().catch(console.error);
  }));
  if ($("#ev-freeze")) {
    $("#ev-freeze").addEventListener("click", async () => {
      try {
        await api("/api/evaluations", { method: "POST", body: JSON.stringify({ period: money.period }) });
        money.evaluation = null;
        await waitFrozen(money.period);
        await evaluation();
      } catch (err) { $("#ev-error").textContent = err.message; }
    });
  }
  if ($("#ev-verify")) {
    $("#ev-verify").addEventListener("click", async () => {
      const v = await api(`/api/evaluations/${encodeURIComponent(doc.evaluation_id)}/verify`);
      $("#ev-verified").textContent = v.reproduced ? t("ev_reproduced") : `${t("ev_differs")}: ${v.differences.join("; ")}`;
    });
  }
}

async function waitFrozen(period) {  // the freeze is in the log; the read model follows
  for (let i = 0; i < 50; i += 1) {
    const frozen = await api("/api/evaluations");
    if (frozen.some((f) => f.period === period)) { return; }
    await new Promise((r) => setTimeout(r, 200));
  }
}

PAGES.posts = posts;
PAGES.audit = audit;
PAGES.evaluation = evaluation;
