"""Writes the sample spreadsheets of docs/spreadsheets.md: a key-project plan table laid out
as a district's 发改委 keeps one (title row, unit line, a two-row header with a merged group,
section rows giving the level, a 合计 row) and a department's March report with running
totals. Needs openpyxl (pip install openpyxl). The figures are illustrative.

    python3 generate.py    # writes 重点项目计划表.xlsx and 3月月报.csv
"""
import csv
import io

import openpyxl
from openpyxl.styles import Alignment, Font

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "项目"
ws.append(["某区2024年重点项目计划表"])
ws.merge_cells("A1:L1")
ws["A1"].font = Font(bold=True, size=14)
ws["A1"].alignment = Alignment(horizontal="center")
ws.append(["单位：万元"])
ws.append(["序号", "项目编号", "项目名称", "建设性质", "级别", "牵头单位", "投资情况", None,
           "计划开工\n时间", "计划竣工时间", "建设地点", "备注"])
ws.append([None, None, None, None, None, None, "项目总投资", "本年计划投资", None, None, None, None])
for col in "ABCDEFIJKL":
    ws.merge_cells(f"{col}3:{col}4")
ws.merge_cells("G3:H3")
rows = [
    ("一、省市重点项目",),
    (1, "XM-2024-001", "高铁站片区综合管廊工程", "续建", "省", "区发展和改革委员会", 260000, 45000, "2023-05-16", "2025-12", "东部新区", ""),
    (2, "XM-2024-002", "智能制造产业园一期", "新建", "市", "区科技和工业信息化局", 120000, 38000, "2024-03", "2025-10", "产业集聚区", ""),
    ("二、区级重点项目",),
    (3, "XM-2024-003", "城区老旧小区改造（2024年度）", "新建", None, "区住房和城乡建设局", 36000, 30000, "2024-04", "2024-11", "各街道", "涉及52个小区"),
    (4, "XM-2024-004", "南湖生态修复工程", "新建", None, "区自然资源局", 18500.5, 9000, "2024年6月", None, "南湖街道", ""),
    (5, None, "第三人民医院门诊楼", "续建", None, "区卫生健康委员会", 42000, 15000, None, "2024-12", "城关街道", "无项目编号：以名称为编号"),
    (None, None, "合计", None, None, None, 476500.5, 137000, None, None, None, None),
]
for r in rows:
    ws.append(list(r))
ws.column_dimensions["C"].width = 30
ws.column_dimensions["F"].width = 22

ind = wb.create_sheet("指标")
ind.append(["指标名称", "单位", "类型", "目标值", "属性", "牵头单位"])
for r in [
    ("地区生产总值增长", "%", "增速", "6左右", "预期性", "区发展和改革委员会"),
    ("城镇调查失业率", "%", "增速", "5.5以内", "预期性", "区人力资源和社会保障局"),
    ("地区生产总值", "亿元", "总量", None, "预期性", "区统计局"),
    ("单位GDP能耗降低", "%", "增速", "3", "约束性", "区发展和改革委员会"),
]:
    ind.append(list(r))
wb.save("重点项目计划表.xlsx")

report = [
    ["某区重点项目3月份进展情况"],
    ["单位：万元"],
    ["项目编号", "项目名称", "1—3月累计完成投资", "开工时间", "形象进度", "存在问题"],
    ["XM-2024-001", "高铁站片区综合管廊工程", "9800", "", "综合管廊主体施工", ""],
    ["XM-2024-002", "智能制造产业园一期", "2600", "2024-03-18", "场地平整、桩基施工", "用地手续待完善"],
    ["", "第三人民医院门诊楼", "3100", "", "主体封顶", ""],
]
buf = io.StringIO()
csv.writer(buf, lineterminator="\r\n").writerows(report)
with open("3月月报.csv", "wb") as f:
    f.write(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
