"""Display labels (zh-CN and en) for event types and vocabulary values.

``LABELS`` is keyed by event type (``"layoff.reported"``) and by vocabulary value
(``"rural_surplus_labour"``, ``"I"``); each entry is ``{"zh": …, "en": …}``.
"""

from __future__ import annotations

from events.severity import LEVELS, NORMAL

__all__ = ["EVENT_TYPE_LABELS", "LABELS", "VALUE_LABELS", "label"]

EVENT_TYPE_LABELS: dict[str, dict[str, str]] = {
    # people
    "person.registered": {"zh": "人员登记", "en": "Person registered"},
    "person.recognized": {"zh": "援助对象认定", "en": "Person recognised"},
    "person.recognition_revoked": {"zh": "撤销认定", "en": "Recognition revoked"},
    "person.facts_recorded": {"zh": "人员情况记录", "en": "Person's facts recorded"},
    "person.recognition_refused": {"zh": "认定未通过", "en": "Recognition refused"},
    "person.exited": {"zh": "退出援助", "en": "Person exited"},
    "case.assigned": {"zh": "首问负责", "en": "Case assigned"},
    "case.handed_over": {"zh": "案件移交", "en": "Case handed over"},
    "household.member_joined": {"zh": "家庭成员登记", "en": "Household member recorded"},
    "household.clearing_overdue": {
        "zh": "零就业家庭超期未清零",
        "en": "Zero-employment household overdue",
    },
    "visit.scheduled": {"zh": "走访排期", "en": "Visit scheduled"},
    "service.refused": {"zh": "拒绝服务", "en": "Service refused"},
    "plan.revised": {"zh": "修订援助协议", "en": "Assistance plan revised"},
    "plan.ended": {"zh": "援助协议终止", "en": "Assistance plan ended"},
    "lead.assigned": {"zh": "线索已分派", "en": "Lead assigned"},
    "lead.declined": {"zh": "线索已婉拒", "en": "Lead declined"},
    "household.zero_employment_identified": {
        "zh": "零就业家庭认定",
        "en": "Zero-employment household identified",
    },
    "household.zero_employment_cleared": {
        "zh": "零就业家庭清零",
        "en": "Zero-employment household cleared",
    },
    "visit.recorded": {"zh": "走访记录", "en": "Visit recorded"},
    "service.delivered": {"zh": "提供就业服务", "en": "Service delivered"},
    "plan.agreed": {"zh": "签订援助协议", "en": "Assistance plan agreed"},
    "referral.made": {"zh": "岗位推荐", "en": "Referral made"},
    "placement.recorded": {"zh": "实现就业", "en": "Placement recorded"},
    "training.enrolled": {"zh": "参加培训", "en": "Training enrolled"},
    "training.completed": {"zh": "完成培训", "en": "Training completed"},
    "subsidy.applied": {"zh": "补贴申请", "en": "Subsidy applied for"},
    "subsidy.checked": {"zh": "补贴资格审核", "en": "Subsidy application checked"},
    "subsidy.approved": {"zh": "补贴审批通过", "en": "Subsidy approved"},
    "subsidy.rejected": {"zh": "补贴申请不予通过", "en": "Subsidy application refused"},
    "subsidy.entitled": {"zh": "补贴应发", "en": "Subsidy entitlement due"},
    "subsidy.stopped": {"zh": "补贴停发", "en": "Subsidy stopped"},
    "subsidy.recovery_ordered": {"zh": "补贴追回通知", "en": "Subsidy recovery ordered"},
    "subsidy.paid": {"zh": "补贴发放", "en": "Subsidy paid"},
    "subsidy.recovered": {"zh": "补贴追回", "en": "Subsidy recovered"},
    "subsidy.recovery_cancelled": {"zh": "追回通知撤减", "en": "Subsidy recovery reduced"},
    "payment_batch.created": {"zh": "生成发放批次", "en": "Payment batch created"},
    "payment_batch.exported": {"zh": "导出银行代发文件", "en": "Payment batch exported"},
    "payment_batch.reconciled": {"zh": "银行回盘对账", "en": "Bank return reconciled"},
    "evaluation.frozen": {"zh": "绩效评价定稿", "en": "Performance evaluation frozen"},
    "subsidy.payment_reported": {"zh": "外部发放记录", "en": "Payment reported by a ledger"},
    "social_insurance.contribution_reported": {
        "zh": "社保缴费记录",
        "en": "Social-insurance contribution reported",
    },
    "welfare_post.opened": {"zh": "公益性岗位开发", "en": "Public-welfare post opened"},
    "welfare_post.assigned": {"zh": "公益性岗位安置", "en": "Public-welfare post assigned"},
    "welfare_post.vacated": {"zh": "公益性岗位退出", "en": "Public-welfare post vacated"},
    "welfare_post.attendance_recorded": {
        "zh": "公益性岗位考勤",
        "en": "Public-welfare post attendance",
    },
    "welfare_post.seated": {"zh": "公益性岗位占用名额", "en": "Public-welfare post slot taken"},
    "welfare_post.overbooked": {"zh": "公益性岗位名额已满", "en": "Public-welfare post full"},
    "welfare_post.released": {"zh": "公益性岗位名额释放", "en": "Public-welfare post slot freed"},
    "lead.discovered": {"zh": "主动发现线索", "en": "Lead discovered"},
    "lead.contacted": {"zh": "线索已联系", "en": "Lead contacted"},
    "lead.converted": {"zh": "线索已纳入援助", "en": "Lead converted"},
    # labour market
    "layoff.reported": {"zh": "企业裁员报告", "en": "Layoff reported"},
    "enterprise.headcount_reported": {"zh": "企业用工监测", "en": "Enterprise headcount reported"},
    "unemployment_claim.filed": {"zh": "失业保险金申领", "en": "Unemployment claim filed"},
    "vacancy.reported": {"zh": "岗位空缺报告", "en": "Vacancy reported"},
    # emergencies
    "disaster_area.flagged": {"zh": "认定受灾区域", "en": "Disaster area flagged"},
    "disaster_area.updated": {"zh": "受灾区域更新", "en": "Disaster area updated"},
    "disaster_area.cleared": {"zh": "受灾区域解除", "en": "Disaster area cleared"},
    # response
    "risk.level_changed": {"zh": "风险等级变化", "en": "Risk level changed"},
    "alert.raised": {"zh": "预警触发", "en": "Alert raised"},
    "alert.escalated": {"zh": "预警升级", "en": "Alert escalated"},
    "alert.level_changed": {"zh": "预警级别变化", "en": "Alert level changed"},
    "alert.inhibited": {"zh": "预警被抑制", "en": "Alert inhibited"},
    "alert.inhibition_ended": {"zh": "预警抑制解除", "en": "Alert inhibition ended"},
    "alert.acknowledged": {"zh": "预警已确认", "en": "Alert acknowledged"},
    "alert.silenced": {"zh": "预警静默", "en": "Alert silenced"},
    "alert.unsilenced": {"zh": "取消预警静默", "en": "Alert unsilenced"},
    "silence.created": {"zh": "新建静默规则", "en": "Silence created"},
    "silence.expired": {"zh": "静默规则结束", "en": "Silence ended"},
    "alert.resolved": {"zh": "预警解除", "en": "Alert resolved"},
    "notification.sent": {"zh": "通知已发送", "en": "Notification sent"},
    "notification.failed": {"zh": "通知发送失败", "en": "Notification failed"},
    "playbook.proposed": {"zh": "应急预案建议启动", "en": "Playbook proposed"},
    "playbook.activated": {"zh": "应急预案启动", "en": "Playbook activated"},
    "playbook.declined": {"zh": "应急预案不予启动", "en": "Playbook declined"},
    "playbook.step_assigned": {"zh": "处置任务分派", "en": "Playbook step assigned"},
    "playbook.step_completed": {"zh": "处置任务完成", "en": "Playbook step completed"},
    "playbook.step_overdue": {"zh": "处置任务逾期", "en": "Playbook step overdue"},
    "playbook.note_added": {"zh": "处置情况备注", "en": "Playbook note added"},
    "playbook.closed": {"zh": "应急处置结束", "en": "Playbook closed"},
    "job_fair.scheduled": {"zh": "招聘会安排", "en": "Job fair scheduled"},
    "temporary_assistance.enrolled": {"zh": "纳入临时援助", "en": "Temporary assistance enrolled"},
    "temporary_assistance.ended": {"zh": "临时援助结束", "en": "Temporary assistance ended"},
    "fraud.suspected": {"zh": "疑似骗补", "en": "Fraud suspected"},
    "fraud.confirmed": {"zh": "骗补确认", "en": "Fraud confirmed"},
    "fraud.dismissed": {"zh": "骗补排除", "en": "Fraud dismissed"},
    # audit
    "audit.person_read": {"zh": "查阅个人信息", "en": "Person's detail read"},
    "audit.dlq_revealed": {"zh": "死信原文已查看", "en": "Dead letters revealed"},
}

VALUE_LABELS: dict[str, dict[str, str]] = {
    # target groups
    "employment_difficulty": {"zh": "就业困难人员", "en": "Persons with employment difficulties"},
    "rural_surplus_labour": {"zh": "农村留守劳动力", "en": "Rural surplus labour"},
    "low_income_graduate": {
        "zh": "低收入家庭求职毕业生",
        "en": "Job-seeking graduates from low-income households",
    },
    "temporary_assistance": {"zh": "临时援助对象", "en": "Temporary-assistance persons"},
    # difficulty reasons
    "disability": {"zh": "残疾", "en": "Disability"},
    "low_skill": {"zh": "技能缺乏", "en": "Low skill"},
    "family_circumstances": {"zh": "家庭困难", "en": "Family circumstances"},
    "land_loss": {"zh": "失地", "en": "Land loss"},
    "long_term_unemployment": {"zh": "长期失业", "en": "Long-term unemployment"},
    # employment status (also exit reason "employed")
    "unemployed": {"zh": "失业", "en": "Unemployed"},
    "employed": {"zh": "已就业", "en": "Employed"},
    "flexibly_employed": {"zh": "灵活就业", "en": "Flexibly employed"},
    "self_employed": {"zh": "自主创业", "en": "Self-employed"},
    "lost_work_due_to_disaster": {"zh": "因灾失去工作", "en": "Lost work due to disaster"},
    "in_training": {"zh": "培训中", "en": "In training"},
    "job_seeking_graduate": {"zh": "求职期毕业生", "en": "Job-seeking graduate"},
    # gender
    "male": {"zh": "男", "en": "Male"},
    "female": {"zh": "女", "en": "Female"},
    # exit reasons
    "no_longer_eligible": {"zh": "不再符合条件", "en": "No longer eligible"},
    "refused_services": {"zh": "无正当理由拒绝服务", "en": "Refused services without reason"},
    "moved_away": {"zh": "迁出", "en": "Moved away"},
    "retired": {"zh": "退休", "en": "Retired"},
    "deceased": {"zh": "死亡", "en": "Deceased"},
    "other": {"zh": "其他", "en": "Other"},
    # visit channels
    "home_visit": {"zh": "入户走访", "en": "Home visit"},
    "office": {"zh": "窗口服务", "en": "At the office"},
    "phone": {"zh": "电话联系", "en": "By phone"},
    "online": {"zh": "线上", "en": "Online"},
    # services
    "ledger": {"zh": "建立台账", "en": "Ledger"},
    "career_guidance": {"zh": "职业指导", "en": "Career guidance"},
    "job_referral": {"zh": "职业介绍", "en": "Job referral"},
    "policy_briefing": {"zh": "政策宣传", "en": "Policy briefing"},
    "counselling": {"zh": "心理疏导", "en": "Counselling"},
    # subsidies
    "social_insurance": {"zh": "社会保险补贴", "en": "Social-insurance subsidy"},
    "post": {"zh": "岗位补贴", "en": "Post subsidy"},
    "start_up": {"zh": "一次性创业补贴", "en": "Start-up subsidy"},
    "start_up_loan": {"zh": "创业担保贷款", "en": "Guaranteed start-up loan"},
    "venue_rent": {"zh": "场地租金补贴", "en": "Venue-rent subsidy"},
    "training": {"zh": "职业培训补贴", "en": "Training subsidy"},
    "training_living_allowance": {
        "zh": "培训期间生活费补贴",
        "en": "Living allowance during training",
    },
    "job_search_one_time": {"zh": "一次性求职创业补贴", "en": "One-time job-search subsidy"},
    "temporary_assistance_one_time": {
        "zh": "一次性临时援助补贴",
        "en": "One-time temporary-assistance subsidy",
    },
    "job_referral_subsidy": {"zh": "职业介绍补贴", "en": "Job-referral subsidy"},
    "welfare_post_pay": {"zh": "公益性岗位补贴", "en": "Public-welfare post pay"},
    # placements
    "enterprise": {"zh": "企业就业", "en": "Enterprise employment"},
    "flexible": {"zh": "灵活就业", "en": "Flexible employment"},
    "self_employment": {"zh": "自主创业", "en": "Self-employment"},
    "welfare_post": {"zh": "公益性岗位", "en": "Public-welfare post"},
    "internship": {"zh": "就业见习", "en": "Internship"},
    # lead sources
    "civil_affairs": {"zh": "民政救助数据", "en": "Civil-affairs social-assistance data"},
    "disabled_persons_federation": {"zh": "残联数据", "en": "Disabled persons' federation"},
    "rural_revitalisation": {"zh": "乡村振兴部门数据", "en": "Rural revitalisation data"},
    "disaster_response": {"zh": "灾情排查", "en": "Disaster response"},
    "first_inquiry": {"zh": "首问负责", "en": "First inquiry"},
    # disaster kinds
    "epidemic": {"zh": "重大疫情", "en": "Epidemic"},
    "natural_disaster": {"zh": "自然灾害", "en": "Natural disaster"},
    "policy_adjustment": {"zh": "重大政策调整", "en": "Policy adjustment"},
    # severities and risk levels: their names live with the scale (events.severity)
    **{str(lv.name): {"zh": lv.zh, "en": lv.en} for lv in (*reversed(LEVELS), NORMAL)},
    # notification channels
    "email": {"zh": "电子邮件", "en": "E-mail"},
    "webhook": {"zh": "Webhook", "en": "Webhook"},
    "wecom": {"zh": "企业微信", "en": "WeCom"},
    "dingtalk": {"zh": "钉钉", "en": "DingTalk"},
    "sms": {"zh": "短信", "en": "SMS"},
}

LABELS: dict[str, dict[str, str]] = {**VALUE_LABELS, **EVENT_TYPE_LABELS}


def label(key: str, lang: str = "zh") -> str:
    """Return the ``lang`` ("zh" or "en") label of an event type or value, else the key."""
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry.get(lang, entry.get("en", key))
