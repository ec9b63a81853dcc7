"""The privacy notices the mini-program shows (issue 23, part 3), versioned, in zh-CN.

PIPL 第17条: before processing, the person is told, clearly and in plain words, who processes what, why, how, for how
long and how to exercise their rights; 第14条: consent given freely and with full knowledge; a change of purpose or
means needs new consent. 第29-30条: sensitive personal information (第28条: 生物识别, 行踪轨迹 …) needs a *separate*
consent (单独同意) after the person is told why it is necessary and how it affects them.

So: ``general`` is the notice every user accepts before their first report or clock-in; ``location`` (precise
location) and ``face`` (the clock-in selfie) are separate, specific notices. A new version of a notice is a new
entry here (keep the old ones: an acceptance names the version it accepted); the current one is the last.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    item: str
    version: str
    title: str
    text: str
    sensitive: bool


_CONTROLLER = "本市建设工程质量监督机构（质监站）"

NOTICES: dict[str, list[Notice]] = {
    "general": [Notice(
        "general", "2026-12-01", "质监小程序个人信息保护告知",
        f"{_CONTROLLER}通过本小程序处理您的个人信息。\n"
        "1. 我们处理的信息：微信openid、昵称；您提交的投诉内容、照片和位置；如您是建筑工人，还包括实名登记信息、考勤记录和工资信息。\n"
        "2. 处理目的：受理和办理工程质量投诉（《建设工程质量管理条例》第53条）；建筑工人实名制和考勤管理"
        "（《保障农民工工资支付条例》第28条，建市〔2019〕18号）；向您发送办理进度通知。\n"
        "3. 保存期限：投诉办结3年后删除您的身份和精确位置；考勤自拍照保存90天；考勤记录保存3年；"
        "离场工人的银行卡号在最后一次工资发放3年后删除。\n"
        "4. 您的权利：您可以在小程序“我的-个人信息”中查阅、复制（下载）、更正您的个人信息，或注销账号；"
        "法律要求保存的记录将依法保存并告知您。\n"
        "5. 我们不会将您的个人信息用于上述目的以外的用途，也不会向无关第三方提供。",
        False)],
    "location": [Notice(
        "location", "2026-12-01", "精确位置信息单独告知",
        "精确位置属于敏感个人信息（行踪轨迹）。提交投诉时，我们使用您选定的位置确定问题所在的区县和派出检查人员；"
        "考勤打卡时，我们使用打卡位置判断您是否在项目工地范围内。位置不用于其他目的；投诉办结3年后位置将被模糊到约1公里，"
        "考勤位置随考勤记录保存3年后删除。不同意将无法提交投诉或打卡，但不影响浏览公开信息。",
        True)],
    "face": [Notice(
        "face", "2026-12-01", "考勤自拍照片（人脸信息）单独告知",
        "考勤打卡时需拍摄自拍照片，用于证明本人到场打卡（建市〔2019〕18号要求考勤留存影像资料）。人脸信息属于敏感个人信息"
        "（生物识别信息）。照片仅存放在加密的私有存储中，仅您本人、用工单位、总承包单位和监管人员可查看，保存90天后自动删除；"
        "我们只保存照片的摘要用于发现重复使用的照片，摘要无法还原人脸。不同意将无法在小程序打卡，可联系用工单位采用其他考勤方式。",
        True)],
}


def current(item: str) -> Notice:
    return NOTICES[item][-1]


def all_current() -> list[Notice]:
    return [current(item) for item in NOTICES]
