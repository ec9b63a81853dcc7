"""User-facing text (zh-CN), one place. Codes are stable and machine-readable; text may change."""

MESSAGES: dict[str, str] = {
    # generic
    "VALIDATION_ERROR": "请求参数不合法",
    "MALFORMED_JSON": "请求体不是合法的 JSON",
    "BODY_TOO_LARGE": "请求体过大",
    "UNSUPPORTED_MEDIA_TYPE": "不支持的内容类型",
    "NOT_FOUND": "请求的资源不存在",
    "METHOD_NOT_ALLOWED": "不支持该请求方法",
    "RATE_LIMITED": "请求过于频繁，请稍后再试",
    "CONFLICT": "数据冲突",
    "INTERNAL_ERROR": "服务器内部错误，请稍后再试",
    "SERVICE_UNAVAILABLE": "服务暂不可用，请稍后再试",
    # auth
    "AUTH_REQUIRED": "请先登录",
    "TOKEN_INVALID": "登录凭证无效，请重新登录",
    "TOKEN_EXPIRED": "登录已过期，请重新登录",
    "REFRESH_TOKEN_INVALID": "刷新凭证无效或已失效，请重新登录",
    "REFRESH_TOKEN_REUSED": "检测到刷新凭证被重复使用，已注销该登录，请重新登录",
    "BAD_CREDENTIALS": "用户名或密码错误",
    "ACCOUNT_DISABLED": "账号已停用",
    "FORBIDDEN_ROLE": "当前角色无权执行此操作",
    "FORBIDDEN_DISTRICT": "无权访问其他辖区的数据",
    "FORBIDDEN_OWNER": "无权访问他人的数据",
    "API_KEY_INVALID": "API 密钥无效或已吊销",
    "API_KEY_SCOPE": "API 密钥无此权限范围",
    "BIND_CODE_INVALID": "绑定码无效或已过期",
    "ALREADY_BOUND": "该账号已绑定其他微信用户",
    # wechat
    "WECHAT_CODE_INVALID": "微信登录凭证无效或已过期，请重新登录",
    "WECHAT_RATE_LIMITED": "微信登录过于频繁，请稍后再试",
    "WECHAT_USER_BLOCKED": "该微信账号存在风险，已被限制登录",
    "WECHAT_BUSY": "微信服务繁忙，请稍后再试",
    "WECHAT_ERROR": "微信服务异常，请稍后再试",
    # geo
    "COORD_TYPE_INVALID": "坐标类型只能是 gcj02 或 wgs84",
    "COORD_OUT_OF_RANGE": "经纬度超出有效范围",
    "OUTSIDE_DISTRICTS": "该位置不在本市任何辖区内",
    "GEOFENCE_INVALID": "工地电子围栏不是有效的多边形",
    # core domain
    "DISTRICT_NOT_FOUND": "辖区不存在",
    "STATION_NOT_FOUND": "监督站不存在",
    "ENTERPRISE_NOT_FOUND": "企业不存在",
    "USCC_INVALID": "统一社会信用代码不合法",
    "USCC_DUPLICATE": "该统一社会信用代码的企业已存在",
    "PROJECT_NOT_FOUND": "项目不存在",
    "REFERENCE_NOT_FOUND": "请求中引用的对象不存在",
    "PERMIT_DUPLICATE": "该施工许可证号的项目已存在",
    "PARTY_ROLE_MISMATCH": "企业类型与参建角色不符",
    "USER_NOT_FOUND": "用户不存在",
    "USERNAME_TAKEN": "用户名已被占用",
    "PASSWORD_WEAK": "密码至少 10 位，且需同时包含字母和数字",
    "ROLE_DISTRICT_REQUIRED": "该角色必须指定所属辖区",
    "ROLE_ENTERPRISE_REQUIRED": "该角色必须指定所属企业",
    "NOT_A_PROJECT_LEAD": "该用户不是项目负责人",
    "API_KEY_NOT_FOUND": "API 密钥不存在",
}


def message(code: str) -> str:
    """zh-CN text for a code (the code itself if none is written yet)."""
    return MESSAGES.get(code, code)

MESSAGES.update(
    {
        "ROLE_NOT_CREATABLE": "该角色的账号不能在此创建",
        "CREDENTIALS_REQUIRED": "工作人员账号必须设置用户名和密码",
        "SCOPE_UNKNOWN": "未知的权限范围",
        "CANNOT_DISABLE_SELF": "不能停用自己的账号",
    }
)

MESSAGES.update(
    {
        "LOCATION_OUTSIDE_FENCE": "项目位置不在工地电子围栏内",
        "USER_NOT_PROJECT_LEAD_ROLE": "只能指定角色为项目负责人的用户",
        "RADIUS_TOO_LARGE": "搜索半径过大",
    }
)

MESSAGES.update(
    {
        "TEMPLATE_UNKNOWN": "未知的消息模板",
        "NOTIFICATION_NOT_FOUND": "通知不存在",
        "WEBHOOK_NOT_FOUND": "回调地址不存在",
        "ESCALATION_NOT_FOUND": "升级提醒不存在",
    }
)

MESSAGES.update(
    {
        "MEDIA_NOT_FOUND": "图片不存在",
        "MEDIA_NOT_PENDING": "该图片不在待上传状态",
        "MEDIA_NOT_UPLOADED": "图片尚未上传完成",
        "MEDIA_NOT_VERIFIED": "图片尚未通过校验",
        "MEDIA_WRONG_PURPOSE": "图片用途不符",
        "MEDIA_ALREADY_USED": "该图片已被其他记录使用",
        "IMAGE_REJECTED": "图片不合格：请上传清晰的 JPG、PNG 或 WebP 照片（不超过 10MB）",
    }
)

MESSAGES.update(
    {
        "CATEGORY_UNKNOWN": "未知的投诉类别",
        "COMPLAINT_NOT_FOUND": "投诉不存在",
        "COMPLAINT_STATE": "当前状态下不能执行该操作",
        "COMPLAINT_CHANGED": "投诉已被他人更新，请刷新后重试",
        "NOT_ASSIGNEE": "只有承办监督员或站领导可以处理该投诉",
        "NOT_AN_INSPECTOR": "目标用户不是在岗监督员",
        "INSPECTOR_OTHER_DISTRICT": "该监督员不属于目标辖区",
        "NO_CITIZEN_TO_ASK": "该投诉没有可联系的市民",
        "MERGE_SELF": "不能与自身合并",
        "REOPEN_WINDOW_PASSED": "已超过 7 日，不能再申请重新处理",
    }
)

MESSAGES.update(
    {
        "BATCH_NOT_FOUND": "材料批次不存在",
        "BATCH_DUPLICATE": "该生产批号已在本项目登记",
        "BATCH_STATE": "材料批次当前状态下不能执行该操作",
        "BATCH_USE_BLOCKED": "该批次材料不合格或未经检测合格，禁止使用",
        "MATERIAL_UNKNOWN": "未知的材料类型",
        "GRADE_UNKNOWN": "该材料牌号/等级没有对应的标准规则",
        "NOT_A_MANUFACTURER": "该企业不是材料生产企业",
        "NOT_A_LAB": "只有检测机构可以录入检测报告",
        "REPORT_DUPLICATE": "检测报告编号已存在",
        "REPORT_INVALID": "检测报告数据不完整或不符合要求",
        "LABEL_NOT_FOUND": "标签不存在",
        "LABEL_INVALID": "二维码无效：不是本系统签发的材料标签",
        "LABEL_REVOKED": "该标签已作废",
        "QR_NOT_FOUND": "照片中未识别到二维码",
        "CERTIFICATE_INVALID": "出厂合格证文件不合格：请上传 PDF、JPG 或 PNG（不超过 10MB）",
        "SAMPLE_DUPLICATE": "该样品编号已登记",
    }
)

# materials: use decisions, retests, void / correct (issue 19)
MESSAGES.update(
    {
        "BATCH_USE_NEEDS_DECISION": "该批次有未判定的检测项目，须经项目监理作出使用决定（附理由）后方可使用",
        "NOT_PROJECT_SUPERVISOR": "只有本项目监理单位的监理人员可以作出使用决定",
        "REPORT_NOT_FOUND": "检测报告不存在",
        "REPORT_NOT_OWN_LAB": "只有出具该报告的检测机构可以作废或更正报告",
        "REPORT_STATE": "该检测报告已作废或已被更正",
        "RETEST_NOT_ALLOWED": "不能复验：标准不允许，或该报告不是首次不合格，或已复验，或试样数量不足双倍",
    }
)

MESSAGES.update(
    {
        "ID_NUMBER_INVALID": "身份证号码不合法",
        "WORKER_UNDERAGE": "未满 16 周岁，不能登记用工",
        "NOT_ON_ROSTER": "您不在该项目的花名册中",
        "CLOCK_IN_FUTURE": "打卡时间晚于服务器时间，请校准手机时间",
        "CLOCK_TOO_LATE": "离线打卡超过 24 小时，不能补录",
        "OUTSIDE_FENCE": "不在工地电子围栏范围内",
        "DUPLICATE_CLOCK": "5 分钟内已打过卡",
        "IMPOSSIBLE_TRAVEL": "与上次打卡地点距离过远，时间不足以到达",
    }
)

MESSAGES.update(
    {
        "NOT_PROJECT_SUBCONTRACTOR": "该企业不是本项目的劳务分包单位",
        "REINSPECTION_OTHER_PROJECT": "复查只能关联本项目的抽查记录",
        "HOLD_NOT_FOUND": "质量暂停记录不存在",
        "HOLD_NOT_ACTIVE": "该质量暂停已解除",
    }
)

MESSAGES.update(
    {
        "WORKER_DUPLICATE": "该身份证号码已登记",
        "WORKER_NOT_FOUND": "工人不存在",
        "NOT_AN_EMPLOYER": "该企业不是劳务分包或施工总承包单位",
    }
)

MESSAGES.update(
    {
        "WORK_NOT_FOUND": "危大工程不存在",
        "WORK_PARAMETERS": "危大工程参数不完整或不适用于该类型",
        "WORK_HAS_ALARMS": "该危大工程已有报警记录，不能删除",
        "NOT_CONTRACTOR_STAFF": "安全总监须为本项目施工总承包单位人员",
        "PLAN_STATE": "专项方案当前状态下不能执行该操作",
        "PLAN_NOT_APPROVED": "专项方案尚未审批通过，不能接入监测传感器",
        "EXPERT_REVIEW_REQUIRED": "超过一定规模的危大工程专项方案须经专家论证",
        "METRIC_UNKNOWN": "未知的监测项目",
        "NO_ALARM_VALUE": "专项方案未给出该监测项目的报警值，且无默认值可用",
        "POINT_NOT_FOUND": "监测点不存在",
        "POINT_DUPLICATE": "该监测点编号已存在",
        "SENSOR_NOT_FOUND": "传感器不存在",
        "SENSOR_DUPLICATE": "该监测点已有同一监测项目的传感器",
        "ALARM_NOT_FOUND": "报警不存在",
        "ALARM_STATE": "报警当前状态下不能执行该操作",
        "CREDIT_KIND_UNKNOWN": "未知的信用事件类型",
        "CREDIT_POINTS_SIGN": "加分事件分值须为正，扣分事件分值须为负",
        "CREDIT_EVENT_DUPLICATE": "该信用事件已记录",
        "CREDIT_LISTING_NOT_FOUND": "名单记录不存在",
        "CREDIT_LISTING_STATE": "名单当前状态不允许该操作",
        "CREDIT_APPEAL_NOT_FOUND": "申诉不存在",
        "CREDIT_APPEAL_DECIDED": "该申诉已有处理结果",
        "CAMERA_NOT_FOUND": "摄像头不存在",
        "CAMERA_DUPLICATE": "本项目已有同名摄像头",
        "CAMERA_URL_INVALID": "摄像头地址不合法：快照用 http(s)://，视频流用 rtsp://，仅上传时不填地址",
        "CALIBRATION_INVALID": "标定数据不完整或不合法",
        "FRAME_NOT_FOUND": "图像帧不存在",
    }
)

MESSAGES.update(
    {
        "WORKER_NO_CONTRACT": "该工人未签订劳动合同，不能进场",
        "WORKER_ALREADY_ON_ROSTER": "该工人已在本项目花名册中",
        "WORKER_ALREADY_EXITED": "该工人已退场",
        "STINT_NOT_FOUND": "进场记录不存在",
        "WORKER_LINK_MISMATCH": "身份证号码、姓名或手机号与实名登记信息不符",
        "WORKER_ALREADY_LINKED": "该工人已绑定其他微信账号",
        "USER_ALREADY_WORKER": "该微信账号已绑定其他工人",
        "NOT_A_WORKER": "请先完成工人实名绑定",
        "PROJECT_NO_GEOFENCE": "该项目未设置电子围栏，暂不能打卡",
        "REQUEST_ID_TAKEN": "该请求编号已被使用",
        "PAYROLL_HELD": "该劳务分包单位处于质量暂停期间，不能发放或审批工资；工资由总承包单位代发",
        "PAYROLL_NOT_FOUND": "工资单不存在",
        "PAYROLL_EXISTS": "该项目该分包单位本月工资单已存在",
        "PAYROLL_NOT_DRAFT": "工资单已提交，不能再修改",
        "PAYROLL_BAD_STATE": "工资单当前状态不允许该操作",
        "PAYROLL_DUPLICATE_WORKER": "同一工人在工资单中只能出现一次",
        "PAYROLL_WORKER_NOT_ON_ROSTER": "该工人不在本项目该分包单位的花名册中",
        "HOLD_NEEDS_REINSPECTION": "解除质量暂停需要一次合格的复查",
    }
)

MESSAGES.update(
    {
        "TEAM_NOT_FOUND": "班组不存在",
        "TEAM_NAME_TAKEN": "该分包单位在本项目已有同名班组",
        "TEAM_OTHER_EMPLOYER": "只能加入本项目同一分包单位的班组",
        "TEAM_DISBANDED": "该班组已解散",
        "TEAM_NOT_EMPTY": "班组中仍有在场工人，请先调整其班组后再解散",
        "TEAM_LEADER_NOT_ON_ROSTER": "班组长须为本项目该分包单位在场的工人",
    }
)

# cameras: thresholds, alert review and labelled frames (issue 21)
MESSAGES.update(
    {
        "CAMERA_SETTING_STATION_ONLY": "方案间距、允许偏差和放宽识别阈值只能由监督站设置",
        "CAMERA_ALERT_NOT_FOUND": "摄像头报警不存在",
        "CAMERA_ALERT_REVIEWED": "该报警已复核",
        "LABEL_CLASS_UNKNOWN": "标注框类别不存在",
        "LABEL_BOX_INVALID": "标注框坐标不合法（须在图像范围内且 x1<x2、y1<y2）",
    }
)

# issue 16: WeChat message push and content security
MESSAGES.update(
    {
        "WECHAT_PUSH_SIGNATURE": "微信消息推送签名校验失败",
        "WECHAT_PUSH_BODY": "微信消息推送内容格式不正确",
        "CONTENT_CHECK_NOT_FOUND": "内容安全检测记录不存在",
        "CONTENT_CHECK_BAD_STATE": "该内容当前状态不允许此操作",
        "CONTENT_REVIEW_REASON_REQUIRED": "审核须填写理由",
        "CONTENT_UNDER_REVIEW": "该内容正在审核中",
    }
)

MESSAGES.update(
    {  # issue 20: project stages (项目阶段) and inspection requests (工序报验)
        "PROJECT_NO_PERMIT": "该项目尚未取得施工许可，不能开展现场活动（打卡、材料进场、传感器登记）",
        "STAGE_ACTION_UNKNOWN": "未知的项目阶段操作",
        "STAGE_TRANSITION_REFUSED": "项目当前阶段不允许该操作",
        "STAGE_GATE_BLOCKED": "存在未处理事项，暂不能验收（见 detail.blocking）",
        "PERMIT_REQUIRED": "请填写施工许可证编号、发证日期和发证机关",
        "PROJECT_NOT_STARTED": "项目尚未开工，不能报验",
        "INSPECTION_NOT_FOUND": "报验记录不存在",
        "INSPECTION_TRANSITION_REFUSED": "报验当前状态不允许该操作",
    }
)

MESSAGES.update(
    {  # issue 20: the project file (电子档案)
        "FILE_RANGE_INVALID": "档案期间无效：开始日期不能晚于结束日期，且不超过十年",
        "ASSESSMENT_PERIOD_INVALID": "评估期间无效：开始日期不能晚于结束日期",
        "ASSESSMENT_NOT_A_PARTY": "被评估单位不是该项目的参建单位",
        "PERSONNEL_ROLE_TWICE": "同一岗位只能登记一人",
    }
)

MESSAGES.update(
    {  # issue 20: documents of inspection requests
        "DOCUMENT_INVALID": "文件无效：仅接受 PDF、JPEG、PNG，且不超过 10 MB",
    }
)

# workforce (issue 19: wages, clocks, holds, credit lists)
MESSAGES.update(
    {
        "SELFIE_REQUIRED": "打卡须上传本人现场自拍照",
        "REQUEST_ID_REUSED": "该请求编号已用于另一次内容不同的打卡",
        "CLOCK_NOT_FOUND": "打卡记录不存在",
        "CLOCK_NOT_FLAGGED": "该打卡记录无需审核或已审核",
        "REVIEW_REASON_REQUIRED": "审核须填写理由",
        "HOLD_LIFT_NOT_REQUESTED": "解除质量暂停须先由复查人员提出解除，再由另一名监管人员批准",
        "HOLD_LIFT_SAME_PERSON": "提出解除的人员不能批准自己的解除申请",
        "HOLD_LIFT_PENDING": "该质量暂停已有待批准的解除申请",
        "HOLD_REINSPECTOR_CANNOT_APPROVE": "复查人员不能批准解除，须由另一名监管人员批准",
        "CREDIT_APPEAL_LIMIT": "每个名单只能申诉一次；如有新证据，须经主管部门受理后方可再次申诉",
        "CREDIT_SUSPEND_NOT_APPLICABLE": "只有申诉中且已生效的黑名单可以暂停限制措施",
        "CREDIT_BONUS_CAP": "本期人工加分已达上限",
        "WORKER_BIND_CODE_INVALID": "绑定码无效或已过期，请向用工单位索取新的绑定码",
        "PAYROLL_STALE": "部分出勤日已由其他工资单结算，请重新计算后再审批",
        "PAYROLL_DIFFERENCES_NEED_REASON": "填报金额与考勤核算不一致，审批须填写理由",
    }
)

MESSAGES.update(
    {  # issue 16/19/20: leftovers of issues 16, 19, 20
        "PROJECT_STATUS_FOLLOWS_STAGE": "项目状态随项目阶段变化，只能在施工期间停工或复工（阶段请通过阶段操作推进）",
        "PAYROLL_NOT_PAID": "只能更正已发放的工资单",
        "PAYROLL_LINE_NOT_FOUND": "该工资单没有此工人的工资明细",
        "PAYROLL_CORRECTION_OF_CORRECTION": "更正行不能再更正，请更正原工资明细",
        "PAYROLL_CORRECTION_RATE_REQUIRED": "请填写更正后的日工资",
        "PAYROLL_CORRECTION_NO_CHANGE": "更正后金额与原金额相同，无需更正",
    }
)

MESSAGES.update(
    {  # monitoring: sensor lifecycle (issue 18)
        "PLAN_REF_REQUIRED": "修改报警值或初始值须注明依据的专项方案（编号或版本）",
        "THRESHOLD_LOOSENING_FORBIDDEN": "施工单位不能放宽报警值（调高报警值、取消报警项或减少判定），须由监理或监管人员修改",
        "BASELINE_NEEDS_SUPERVISOR": "初始值须由监理或监管人员设置",
        "ALARM_CLEAR_NEEDS_SUPERVISOR": "结构监测报警须由监理或监管人员解除",
        "SENSOR_STATE": "传感器当前状态下不能执行该操作",
        "THRESHOLD_FIELD_UNKNOWN": "未知的报警值字段",
        "PROVISIONING_OFF": "未启用消息服务器动态授权，设备凭据由运维生成",
        "BROKER_UNAVAILABLE": "消息服务器暂不可用，设备凭据未能下发或吊销，请稍后重试",
    }
)

# --- access policy (backend/access) ---
MESSAGES.update(
    {
        "ROUTE_UNDECLARED": "该接口尚未在访问策略中登记，暂不开放",
        "NOT_SAMPLING_LAB": "只有该批次见证取样所送检测机构可提交检测报告",
        "NOT_SAMPLED_YET": "批次尚未见证取样，不能提交检测报告",
        "PII_NOT_EMPLOYER": "只有工人当前所在项目的用工单位或总承包单位可查看完整个人信息",
        "RATING_FINAL": "投诉已办结，评价不可再修改",
        "JSON_TOO_DEEP": "请求内容嵌套层级过深",
        "TOKEN_REVOKED": "登录已失效，请重新登录",
    }
)
MESSAGES.update({"OUTBOUND_URL_REFUSED": "该地址指向内部网络或无法解析，不能使用"})

MESSAGES.update(
    {  # privacy: notice and consent (issue 23, issue 23)
        "PRIVACY_CONSENT_REQUIRED": "请先阅读并同意个人信息保护告知（含精确位置、人脸信息的单独告知）后再继续",
        "PRIVACY_NOTICE_UNKNOWN": "没有这项个人信息告知",
        "PRIVACY_NOTICE_STALE": "个人信息告知已更新，请阅读并同意最新版本",
    }
)

MESSAGES.update(
    {  # privacy: people's rights (issue 23, issue 23)
        "PRIVACY_FIELD_UNKNOWN": "不能申请更正该项信息，请选择列出的信息项",
        "PRIVACY_REQUESTS_OPEN": "您已有多项个人信息申请正在处理，请等待答复后再提交",
        "PRIVACY_REQUEST_NOT_FOUND": "个人信息申请不存在",
        "PRIVACY_REQUEST_STATE": "该申请已答复，不能再次处理",
        "PRIVACY_CORRECTION_NOT_APPLICABLE": "该项信息不能由系统直接更正（仅昵称、手机号，且须为“已更正”的答复），请人工处理",
        "PRIVACY_CORRECTION_INVALID": "更正后的值不合法（昵称1至64个字；手机号为11位手机号码）",
    }
)
