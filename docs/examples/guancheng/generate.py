#!/usr/bin/env python3
"""Generate the Guancheng (管城回族区) example data set for planledger.

Source: ../../../../shared/seed/guancheng-2021-report-2022-plan.md, the district's report on the
execution of its 2021 plan and its draft 2022 plan.

Writes, next to this script:
  plan-2021.toml     the 2021 plan: departments, indicators, 246 key projects
  events-2021.jsonl  what 2021 reported: monthly investment, milestones, indicator actuals
  plan-2022.toml     the 2022 plan: indicators and 291 key projects

The report gives totals only (246 projects, 694 亿元 against a target giving 111.5 %, 31
province/city projects 404.8 of 360.3 亿元, ...).  Everything below the totals -- which
project got how much, in which month, when it started -- is ILLUSTRATIVE and is made up here
with a fixed-seed generator, constrained so that the totals come out exactly as reported.
See README.md for which figure is which.

Python 3.11+ standard library only.  Deterministic: running it twice writes identical files.
All money is handled as integers in units of 0.01 亿元 ("cents" below) so every sum is exact.
After writing, the script re-reads its own output and checks the figures (see self_check).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
import sys
import tomllib
import uuid
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAN_2021 = HERE / "plan-2021.toml"
EVENTS_2021 = HERE / "events-2021.jsonl"
PLAN_2022 = HERE / "plan-2022.toml"

# Fixed namespace for the event ids (uuid5 of a fixed URL), so ids never change between runs.
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "planledger:example:guancheng")

# ---------------------------------------------------------------------------------------------
# Figures from the report (units of 0.01 亿元).  These are the only hard numbers for projects.
# ---------------------------------------------------------------------------------------------
PROJECTS_2021 = 246               # "246 个重点项目"
COMPLETED_2021 = 69400            # "完成投资 694 亿元"
PLANNED_2021 = 62240              # chosen: 694 / 622.4 = 111.50 % -> "占年度目标的 111.5%"
PROV_CITY_2021 = 31               # "其中 31 个省市重点项目"
PROV_CITY_COMPLETED_2021 = 40480  # "完成投资 404.8 亿元"
PROV_CITY_PLANNED_2021 = 36030    # "占年度投资目标 360.3 亿元的 112.4%"
PROVINCE_2021 = 8                 # split of the 31 is not in the report (illustrative)
CITY_2021 = PROV_CITY_2021 - PROVINCE_2021

PROJECTS_2022 = 291               # "实施省、市、区重点项目 291 个"
PLANNED_2022 = 59960              # "年度计划完成投资 599.6 亿元"
STARTS_2022 = 100                 # "力争……等 100 个项目开工"
OPERATES_2022 = 62                # "……等 62 个项目投产达效"
CARRIED_2022_TARGET = 175         # illustrative: how many 2021 projects stay on the 2022 list

BLOCK_SHANG = "商代王城遗址板块"
BLOCK_JINDAI = "金岱科创城板块"
BLOCK_NANZHAN = "郑州南站铁路枢纽产业新城板块"
BLOCK_OTHER = "其他"
DISASTER = "灾后重建"

# ---------------------------------------------------------------------------------------------
# Departments (all defined in plan-2021.toml; plan-2022.toml relies on them persisting).
# ---------------------------------------------------------------------------------------------
DEPARTMENTS = [
    ("drc", "区发展和改革委员会", True),
    ("stats", "区统计局", False),
    ("finance", "区财政局", False),
    ("hrss", "区人力资源和社会保障局", False),
    ("commerce", "区商务局", False),
    ("natres", "区自然资源局", False),
    ("housing", "区住房和城乡建设局", False),
    ("education", "区教育局", False),
    ("health", "区卫生健康委员会", False),
    ("civil", "区民政局", False),
    ("ecology", "市生态环境局管城分局", False),
    ("culture", "区文化广电和旅游局", False),
    ("urban", "区城市管理局", False),
    ("science", "区科技和工业信息化局", False),
    ("agri-water", "区农业农村和水利局", False),
    ("shangcheng-committee", "商代王城遗址板块管理委员会", False),
    ("jindai-committee", "金岱科创城管理委员会", False),
    ("nanzhan-committee", "郑州南站铁路枢纽产业新城管理委员会", False),
]
DEPARTMENT_IDS = {d[0] for d in DEPARTMENTS}

# ---------------------------------------------------------------------------------------------
# Indicators.  2021: the report gives only the actuals; the targets are illustrative.
# Tuple: id, name, unit, measure, comparison, approximate, nature, target, department, actual
# ---------------------------------------------------------------------------------------------
INDICATORS_2021 = [
    ("gdp-growth", "地区生产总值增长", "%", "rate", "at-least", True, "expected", "7", "stats", "3"),
    ("fai-growth", "固定资产投资增长", "%", "rate", "at-least", True, "expected", "8", "drc", "0.9"),
    ("budget-revenue-growth", "一般公共预算收入增长", "%", "rate", "at-least", True, "expected", "4",
     "finance", "-9.8"),
    ("retail-growth", "社会消费品零售总额增长", "%", "rate", "at-least", True, "expected", "7",
     "commerce", "7.4"),
    ("tertiary-value-added", "第三产业增加值", "亿元", "amount", "at-least", False, "expected", "540",
     "stats", "526.5"),
    ("new-urban-jobs", "新增城镇就业", "人", "amount", "at-least", False, "expected", "12000", "hrss",
     "15314"),
    ("land-expropriation", "土地征收", "亩", "amount", "at-least", False, "expected", "1500", "natres",
     "1902"),
    ("land-supply", "土地供应", "亩", "amount", "at-least", False, "expected", "2000", "natres", "2145"),
    ("land-reserve", "土地收储", "亩", "amount", "at-least", False, "expected", "2000", "natres", "2463"),
    ("new-tech-firms", "新认定科技型企业", "家", "amount", "at-least", False, "expected", "80", "science",
     "87"),
    ("new-high-tech-firms", "新认定高新技术企业", "家", "amount", "at-least", False, "expected", "50",
     "science", "40"),
    ("old-community-renovation", "老旧小区改造提升", "个", "amount", "at-least", False, "expected", "533",
     "housing", "533"),
    ("good-air-days", "优良天数", "天", "amount", "at-least", False, "binding", "210", "ecology", "213"),
    ("pm25-decrease", "PM2.5平均浓度同比下降", "%", "rate", "at-least", False, "binding", "5", "ecology",
     "14.3"),
]
# The one figure restated: first reported as preliminary (illustrative value), then final.
RETAIL_PRELIMINARY = "7.2"

# 2022: the targets are the report's.  Tuple as above without the actual.
INDICATORS_2022 = [
    ("gdp-growth", "地区生产总值增长", "%", "rate", "at-least", True, "expected", "7.5", "stats"),
    ("fai-growth", "固定资产投资增长", "%", "rate", "at-least", True, "expected", "10", "drc"),
    ("industrial-value-added-growth", "规模以上工业增加值增长", "%", "rate", "at-least", True, "expected",
     "10", "science"),
    ("budget-revenue-growth", "地方财政一般公共预算收入增长", "%", "rate", "at-least", True, "expected",
     "5", "finance"),
    ("retail-growth", "社会消费品零售总额增长", "%", "rate", "at-least", True, "expected", "9", "commerce"),
    ("new-urban-jobs", "新增就业", "人", "amount", "at-least", False, "expected", "12000", "hrss"),
    ("unemployment-rate", "城镇登记失业率", "%", "rate", "at-most", False, "binding", "5.5", "hrss"),
    ("new-skilled-workers", "新增技能人才", "人", "amount", "at-least", False, "expected", "26200", "hrss"),
    ("new-high-skilled-workers", "新增高技能人才", "人", "amount", "at-least", False, "expected", "9200",
     "hrss"),
    ("land-approval", "土地报批", "亩", "amount", "at-least", False, "expected", "500", "natres"),
    ("land-reserve", "土地收储", "亩", "amount", "at-least", False, "expected", "1500", "natres"),
    ("land-supply", "土地供应", "亩", "amount", "at-least", False, "expected", "1000", "natres"),
    ("new-signed-projects", "新签约项目", "个", "amount", "at-least", False, "expected", "20", "commerce"),
    ("new-signed-investment", "新签约项目投资总额", "亿元", "amount", "at-least", False, "expected", "350",
     "commerce"),
    ("new-cloud-firms", "新增上云企业", "家", "amount", "at-least", False, "expected", "900", "science"),
    ("new-chain-firms", "新增上链企业", "家", "amount", "at-least", False, "expected", "80", "science"),
    ("new-above-scale-firms", "新增规上企业", "家", "amount", "at-least", False, "expected", "71", "stats"),
    ("new-high-tech-firms", "高新技术企业认定", "家", "amount", "at-least", False, "expected", "130",
     "science"),
    ("tech-firms-registered", "科技型企业评价入库", "家", "amount", "at-least", False, "expected", "400",
     "science"),
    ("rd-spending", "全社会研发经费投入", "亿元", "amount", "at-least", False, "expected", "17", "science"),
    ("new-rd-platforms", "新认定市级以上研发平台", "家", "amount", "at-least", False, "expected", "4",
     "science"),
    ("talent-apartments", "新建人才公寓", "套", "amount", "at-least", False, "expected", "1100", "housing"),
    ("new-green-area", "新增绿地", "万平方米", "amount", "at-least", False, "expected", "40", "urban"),
    ("waste-sorting-coverage", "生活垃圾分类覆盖率", "%", "rate", "at-least", False, "expected", "98",
     "urban"),
    ("waste-recycling-rate", "生活垃圾资源回收利用率", "%", "rate", "at-least", False, "expected", "38",
     "urban"),
    ("new-parking-spaces", "新增停车泊位", "个", "amount", "at-least", False, "expected", "6000", "urban"),
    ("resettlement-housing", "新增建成回迁安置房", "万平方米", "amount", "at-least", False, "expected",
     "163", "housing"),
    ("resettlement-rate", "安置房回迁率", "%", "rate", "at-least", False, "expected", "93", "housing"),
]


# ---------------------------------------------------------------------------------------------
# Named projects.  Names come from the report; their figures, levels, departments, dates are
# illustrative.  planned/ratio: 2021 planned investment in 亿元 and completed ÷ planned.
# ---------------------------------------------------------------------------------------------
def named(pid, name, level, dept, block, sector, kind, planned, ratio, *, started=None,
          plan=(), done=None, program=None):
    return {
        "id": pid, "name": name, "level": level, "department": dept, "block": block,
        "sector": sector, "type": kind, "planned_yuan": planned, "ratio": ratio,
        "started": started, "plan_ms": list(plan), "done": dict(done or {}), "program": program,
        "named": True,
    }


NAMED_2021 = [
    # --- province (8) ---
    named("shang-city-wall-ruins", "郑州商代都城城垣遗址工程", "province", "shangcheng-committee",
          BLOCK_SHANG, "文旅", "续建", "42.0", 1.18, started="2019-10-08"),
    named("shangdu-archaeological-park", "商都考古遗址公园", "province", "culture", BLOCK_SHANG, "文旅",
          "续建", "18.6", 1.08, started="2020-03-16", plan=["complete", "operate"],
          done={"complete": "2021-09-26", "operate": "2021-09-30"}),
    named("shang-utility-tunnel-roads", "商代王城遗址综合管廊及道路工程", "province",
          "shangcheng-committee", BLOCK_SHANG, "基础设施", "续建", "26.4", 1.15, started="2020-05-20"),
    named("nanzhan-infrastructure", "郑州南站片区市政基础设施工程", "province", "nanzhan-committee",
          BLOCK_NANZHAN, "基础设施", "新建", "35.5", 1.25, plan=["start"], done={"start": "2021-04-18"}),
    named("nanzhan-east-plaza", "郑州南站东广场及配套道路工程", "province", "nanzhan-committee",
          BLOCK_NANZHAN, "基础设施", "新建", "27.8", 1.26, plan=["start"], done={"start": "2021-06-09"}),
    named("jindai-road-network", "金岱科创城路网及配套工程", "province", "jindai-committee", BLOCK_JINDAI,
          "基础设施", "续建", "21.5", 1.20, started="2020-08-01"),
    named("xionger-river-bridge-rebuild", "熊儿河桥灾后重建工程", "province", "housing", BLOCK_OTHER,
          "基础设施", "新建", "3.2", 0.95, plan=["start"], done={"start": "2021-10-12"},
          program=DISASTER),
    named("shiqili-river-flood-repair", "十七里河水毁修复及行洪能力提升工程", "province", "agri-water",
          BLOCK_OTHER, "生态", "新建", "4.8", 1.02, plan=["start", "complete"],
          done={"start": "2021-08-16", "complete": "2021-12-20"}, program=DISASTER),
    # --- city (18 named + 5 illustrative) ---
    named("guangzhigu-commercial-phase2", "光之谷商业中心二期", "city", "jindai-committee", BLOCK_JINDAI,
          "产业", "续建", "15.0", 1.25, started="2020-04-10"),
    named("jindai-smart-park", "金岱智慧产业园", "city", "jindai-committee", BLOCK_JINDAI, "产业", "新建",
          "12.5", 0.36, plan=["start"]),  # start missed in 2021; the 2022 plan aims to start it
    named("jindai-digital-innovation-park", "金岱数字创新园", "city", "jindai-committee", BLOCK_JINDAI,
          "产业", "新建", "9.8", 1.10, plan=["start"], done={"start": "2021-03-28"}),
    named("jindai-smart-building-park", "金岱智能建筑产业园", "city", "jindai-committee", BLOCK_JINDAI,
          "产业", "新建", "8.6", 0.92, plan=["start"], done={"start": "2021-05-12"}),
    named("jindai-maker-center", "金岱创客中心", "city", "jindai-committee", BLOCK_JINDAI, "产业", "续建",
          "6.2", 1.20, started="2020-09-15"),
    named("xincheng-shiguang-yinxiang", "新城时光印象苑", "city", "housing", BLOCK_JINDAI, "民生", "续建",
          "10.5", 1.30, started="2019-12-20"),
    named("shangdu-two-institutes", "商代王城遗址“两院”（一期）", "city", "culture", BLOCK_SHANG, "文旅",
          "续建", "7.4", 1.00, started="2019-06-18", plan=["complete", "operate"],
          done={"complete": "2021-09-18", "operate": "2021-09-30"}),
    named("jindai-wenyuan-resettlement", "金岱文苑安置区", "city", "housing", BLOCK_JINDAI, "民生", "续建",
          "11.2", 1.15, started="2019-05-08"),
    named("shangcheng-jiayuan-resettlement", "商城佳苑安置区", "city", "housing", BLOCK_SHANG, "民生",
          "续建", "9.6", 1.10, started="2019-09-26"),
    named("suzhuang-erlangzhai-resettlement", "苏庄二郎寨安置区", "city", "housing", BLOCK_OTHER, "民生",
          "续建", "5.4", 1.00, started="2018-11-06", plan=["complete", "operate"],
          done={"complete": "2021-05-28", "operate": "2021-06-30"}),
    named("hanghai-road-demo", "航海路示范段综合改造工程", "city", "housing", BLOCK_OTHER, "基础设施",
          "续建", "6.8", 1.05, started="2020-10-09", plan=["complete", "operate"],
          done={"complete": "2021-06-20", "operate": "2021-06-28"}),
    named("ring-road-grid-upgrade", "“一环十横十纵”城市道路综合改造工程", "city", "housing", BLOCK_OTHER,
          "基础设施", "续建", "14.3", 1.20, started="2020-06-15", plan=["complete", "operate"],
          done={"complete": "2021-11-25", "operate": "2021-11-30"}),
    named("nanzhan-public-services", "郑州南站片区公共服务配套工程", "city", "nanzhan-committee",
          BLOCK_NANZHAN, "民生", "新建", "9.2", 1.05, plan=["start"], done={"start": "2021-05-20"}),
    named("old-community-renovation-2021", "老旧小区改造提升工程（2021年度）", "city", "housing",
          BLOCK_OTHER, "民生", "新建", "12.0", 1.20, plan=["start", "complete"],
          done={"start": "2021-03-01", "complete": "2021-12-15"}),
    named("school-expansion-2021", "中小学新建改扩建工程（2021年度）", "city", "education", BLOCK_OTHER,
          "民生", "续建", "8.5", 1.06, started="2020-07-01", plan=["complete", "operate"],
          done={"complete": "2021-08-20", "operate": "2021-09-01"}),
    named("mingyue-road-south", "明月路南段道路工程", "city", "nanzhan-committee", BLOCK_NANZHAN,
          "基础设施", "新建", "4.6", 1.00, plan=["start"], done={"start": "2021-09-06"}),
    named("zhengzhou-no5-high-school-relocation", "郑州市第五高级中学外迁工程", "city", "education",
          BLOCK_OTHER, "民生", "续建", "5.8", 0.95, started="2020-11-18"),
    named("guanchengjie-yashu-quarter", "管城街·衙署片区有机更新", "city", "shangcheng-committee",
          BLOCK_SHANG, "文旅", "续建", "6.6", 1.10, started="2020-10-20"),
    # --- district (24 named + 191 illustrative) ---
    named("jianwen-road", "建文路道路工程", "district", "housing", BLOCK_OTHER, "基础设施", "新建", "2.4",
          1.00, plan=["start"], done={"start": "2021-04-12"}),
    named("cable-undergrounding-2021", "城东路、法院东街等36条道路线缆入地工程", "district", "urban",
          BLOCK_OTHER, "基础设施", "新建", "3.6", 1.08, plan=["start", "complete"],
          done={"start": "2021-03-10", "complete": "2021-12-10"}),
    named("sewage-stations-2021", "污水处理站建设工程（6座）", "district", "ecology", BLOCK_OTHER, "生态",
          "新建", "1.8", 1.05, plan=["start", "complete", "operate"],
          done={"start": "2021-03-22", "complete": "2021-10-28", "operate": "2021-11-15"}),
    named("beautiful-villages-zhanghualou-dahu", "张华楼、大湖美丽乡村建设", "district", "agri-water",
          BLOCK_OTHER, "生态", "新建", "1.5", 1.10, plan=["start", "complete"],
          done={"start": "2021-03-05", "complete": "2021-11-30"}),
    named("lanboer-soil-remediation", "兰博尔地块土壤修复治理", "district", "ecology", BLOCK_OTHER, "生态",
          "新建", "0.8", 0.60, plan=["start"], done={"start": "2021-11-22"}),
    named("jindai-overhead-line-relocation", "金岱变高压架空线入地改迁", "district", "jindai-committee",
          BLOCK_JINDAI, "基础设施", "新建", "2.2", 0.90, plan=["start"], done={"start": "2021-06-22"}),
    named("elderly-care-facilities-2021", "街道社区养老服务设施建设（2021年度）", "district", "civil",
          BLOCK_OTHER, "民生", "新建", "0.9", 1.05, plan=["start", "complete", "operate"],
          done={"start": "2021-02-22", "complete": "2021-09-15", "operate": "2021-10-08"}),
    named("dead-end-roads-2021", "德风街、牧歌路等断头路打通工程", "district", "housing", BLOCK_OTHER,
          "基础设施", "续建", "3.1", 1.04, started="2020-09-01", plan=["complete", "operate"],
          done={"complete": "2021-10-30", "operate": "2021-11-05"}),
    named("chengnan-qingxiang-roads", "城南路、庆祥西路等道路改造提升工程", "district", "housing",
          BLOCK_OTHER, "基础设施", "续建", "2.6", 1.00, started="2020-11-02",
          plan=["complete", "operate"], done={"complete": "2021-09-25", "operate": "2021-09-30"}),
    named("dingyuan-street", "鼎元街道路工程", "district", "jindai-committee", BLOCK_JINDAI, "基础设施",
          "新建", "1.2", 0.95, plan=["start"], done={"start": "2021-09-14"}),
    named("baixing-road-primary", "百姓路小学", "district", "education", BLOCK_OTHER, "民生", "新建", "1.6",
          1.00, plan=["start"], done={"start": "2021-04-26"}),
    named("chuangxin-street-primary-north", "创新街小学北校区", "district", "education", BLOCK_OTHER,
          "民生", "新建", "1.4", 0.90, plan=["start"], done={"start": "2021-06-08"}),
    named("hexi-road", "河西路道路工程", "district", "housing", BLOCK_OTHER, "基础设施", "新建", "1.3", 1.00,
          plan=["start"], done={"start": "2021-03-18"}),
    named("mingzhu-road-north", "明珠路北段道路工程", "district", "housing", BLOCK_OTHER, "基础设施", "新建",
          "1.1", 1.05, plan=["start"], done={"start": "2021-05-06"}),
    named("shangde-road", "尚德路道路工程", "district", "housing", BLOCK_OTHER, "基础设施", "新建", "1.5",
          0.85, plan=["start"], done={"start": "2021-05-24"}),
    named("shunchengjie-daishu-quarter", "顺城街·代书胡同片区有机更新", "district", "shangcheng-committee",
          BLOCK_SHANG, "文旅", "新建", "2.8", 1.10, plan=["start"], done={"start": "2021-03-16"}),
    named("pingdengjie-quarter", "平等街片区有机更新", "district", "shangcheng-committee", BLOCK_SHANG,
          "文旅", "新建", "2.2", 1.05, plan=["start"], done={"start": "2021-04-20"}),
    named("chengnanlu-fuminli-quarter", "城南路·阜民里片区有机更新", "district", "shangcheng-committee",
          BLOCK_SHANG, "文旅", "新建", "1.9", 0.70, plan=["start"], done={"start": "2021-10-25"}),
    named("shibali-river-flood-repair", "十八里河河道水毁修复工程", "district", "agri-water", BLOCK_OTHER,
          "生态", "新建", "1.2", 1.00, plan=["start", "complete"],
          done={"start": "2021-08-09", "complete": "2021-11-26"}, program=DISASTER),
    named("road-collapse-repair", "道路塌方及排水设施灾后修复工程", "district", "housing", BLOCK_OTHER,
          "基础设施", "新建", "1.5", 1.05, plan=["start", "complete", "operate"],
          done={"start": "2021-07-26", "complete": "2021-09-30", "operate": "2021-09-30"},
          program=DISASTER),
    named("greenery-flood-repair", "园林绿化灾后修复工程", "district", "urban", BLOCK_OTHER, "生态", "新建",
          "0.6", 1.00, plan=["start", "complete"], done={"start": "2021-08-02", "complete": "2021-11-15"},
          program=DISASTER),
    named("housing-flood-repair", "受灾房屋修缮工程", "district", "housing", BLOCK_OTHER, "民生", "新建",
          "0.4", 1.10, plan=["start", "complete"], done={"start": "2021-08-23", "complete": "2021-12-05"},
          program=DISASTER),
    named("city-wall-park-flood-rebuild", "城垣遗址公园灾后重建工程", "district", "shangcheng-committee",
          BLOCK_SHANG, "文旅", "新建", "1.0", 0.80, plan=["start"], done={"start": "2021-10-18"},
          program=DISASTER),
    named("community-book-houses", "“社区城市书屋”分馆建设", "district", "culture", BLOCK_OTHER, "文旅",
          "新建", "0.3", 1.00, plan=["start", "complete", "operate"],
          done={"start": "2021-04-06", "complete": "2021-10-20", "operate": "2021-11-01"}),
]

# What the 2022 plan aims for on named 2021 projects that stay on the list (report section 三).
CARRIED_NAMED_2022 = {
    "shang-city-wall-ruins": [],
    "shang-utility-tunnel-roads": [],
    "nanzhan-infrastructure": [],
    "nanzhan-east-plaza": [],
    "jindai-road-network": [],
    "xionger-river-bridge-rebuild": [],          # 重点推进城垣遗址公园、熊儿河桥……
    "guangzhigu-commercial-phase2": ["complete", "operate"],  # 光之谷商业中心……投产达效
    "jindai-smart-park": ["start"],              # 力争金岱智慧产业园……开工
    "jindai-digital-innovation-park": [],        # 结构工程完工 (not yet 竣工)
    "jindai-smart-building-park": [],
    "jindai-maker-center": ["complete", "operate"],
    "xincheng-shiguang-yinxiang": ["complete"],
    "jindai-wenyuan-resettlement": ["complete", "operate"],     # 4个安置区全部竣工，完成回迁安置
    "shangcheng-jiayuan-resettlement": ["complete", "operate"],
    "nanzhan-public-services": [],
    "mingyue-road-south": [],                    # 新续建明月路南段
    "zhengzhou-no5-high-school-relocation": [],  # 加快……外迁
    "guanchengjie-yashu-quarter": ["complete", "operate"],      # 3个片区……实现开街
    "shunchengjie-daishu-quarter": ["complete", "operate"],
    "pingdengjie-quarter": ["complete", "operate"],
    "chengnanlu-fuminli-quarter": [],            # 有序推进
    "jianwen-road": [],                          # 续建尚德路、建文路
    "shangde-road": [],
    "jindai-overhead-line-relocation": ["complete", "operate"],  # 金岱变高压架空线入地改迁……投产达效
    "dingyuan-street": ["complete"],             # 达到通车条件
    "baixing-road-primary": ["complete", "operate"],  # 年内完工并投入使用
    "chuangxin-street-primary-north": [],        # 提速……在建项目进度
    "hexi-road": ["complete", "operate"],        # 建成通车
    "mingzhu-road-north": ["complete", "operate"],
    "lanboer-soil-remediation": ["complete"],
    "city-wall-park-flood-rebuild": [],
}


def new22(pid, name, level, dept, block, sector, kind, planned, *, started=None, plan=(),
          program=None):
    return {
        "id": pid, "name": name, "level": level, "department": dept, "block": block,
        "sector": sector, "type": kind, "planned_yuan": planned, "started": started,
        "plan_ms": list(plan), "program": program, "named": True,
    }


S, SC, SCO = ["start"], ["start", "complete"], ["start", "complete", "operate"]
NAMED_NEW_2022 = [
    new22("chengnan-yinxiang", "城南印象", "city", "shangcheng-committee", BLOCK_SHANG, "产业", "新建",
          "14.0", plan=S),
    new22("bodu-ancient-lane", "亳都古巷", "city", "shangcheng-committee", BLOCK_SHANG, "文旅", "续建",
          "8.5", started="2021-04-16"),
    new22("shangdu-two-institutes-phase2", "商代王城遗址“两院”二期", "city", "culture", BLOCK_SHANG,
          "文旅", "新建", "3.0", plan=S),
    new22("henan-optics-valley-phase2", "河南光谷产业园二期", "city", "jindai-committee", BLOCK_JINDAI,
          "产业", "续建", "12.0", started="2021-10-15"),
    new22("smart-building-tech-park-phase1", "智能建筑科技产业园一期", "city", "jindai-committee",
          BLOCK_JINDAI, "产业", "新建", "6.0", plan=S),
    new22("jindai-supporting-works-2022", "金岱科创城基础配套工程（12个）", "city", "jindai-committee",
          BLOCK_JINDAI, "基础设施", "新建", "6.0", plan=S),
    new22("sports-park-phase3", "体育公园三期生态提升工程", "district", "jindai-committee", BLOCK_JINDAI,
          "生态", "新建", "1.0", plan=SC),
    new22("longhu-tianjie-mall", "龙湖天街购物中心", "city", "commerce", BLOCK_OTHER, "产业", "前期", "2.0"),
    new22("anorectal-hospital-new-campus", "郑州市大肠肛门病医院新院", "city", "health", BLOCK_OTHER, "民生",
          "续建", "4.5", started="2021-06-18"),
    new22("nancao-sewage-plant", "南曹污水处理厂", "city", "agri-water", BLOCK_NANZHAN, "生态", "续建", "5.2",
          started="2021-11-08"),
    new22("zhanmatun-ruins-eco-park", "站马屯遗址生态文化公园", "city", "urban", BLOCK_OTHER, "生态", "新建",
          "3.5", plan=S),
    new22("eco-corridor-2022", "生态廊道建设工程", "district", "urban", BLOCK_OTHER, "生态", "新建", "1.5",
          plan=S),
    new22("zhenxing-east-road-middle-school", "振兴东路中学", "district", "education", BLOCK_OTHER, "民生",
          "新建", "1.8", plan=S),
    new22("nanzhan-longhai-bypass-supporting", "郑州南站及陇海外绕线配套工程", "province",
          "nanzhan-committee", BLOCK_NANZHAN, "基础设施", "续建", "30.0", started="2021-03-26"),
    new22("cmst-zhengzhou-logistics-park", "中国储运（郑州）物流产业园", "city", "nanzhan-committee",
          BLOCK_NANZHAN, "产业", "续建", "6.5", started="2020-11-10", plan=["complete", "operate"]),
    new22("yuxing-road", "豫兴路道路工程", "district", "nanzhan-committee", BLOCK_NANZHAN, "基础设施", "新建",
          "1.6", plan=S),
    new22("chaiguo-resettlement", "柴郭安置区", "city", "housing", BLOCK_OTHER, "民生", "新建", "9.0",
          plan=S),
    new22("shiqili-south-resettlement", "十七里河以南片区安置区", "city", "housing", BLOCK_OTHER, "民生",
          "新建", "8.0", plan=S),
    new22("second-peoples-hospital-expansion", "区第二人民医院扩建工程", "district", "health", BLOCK_OTHER,
          "民生", "新建", "1.6", plan=S),
    new22("district-cdc", "区疾病预防控制中心", "district", "health", BLOCK_OTHER, "民生", "新建", "1.2",
          plan=S),
    new22("pcr-lab", "核酸检测实验室", "district", "health", BLOCK_OTHER, "民生", "新建", "0.3", plan=SCO),
    new22("quarantine-site", "区级集中隔离点建设", "district", "health", BLOCK_OTHER, "民生", "新建", "1.0",
          plan=SCO),
    new22("yuying-road", "豫英路道路工程", "district", "housing", BLOCK_OTHER, "基础设施", "新建", "1.4",
          plan=S),
    new22("zhicheng-street", "志城街道路工程", "district", "housing", BLOCK_OTHER, "基础设施", "新建", "1.0",
          plan=S),
    new22("changjiang-east-road-link", "长江东路断头路打通工程", "district", "housing", BLOCK_OTHER,
          "基础设施", "新建", "0.9", plan=SCO),
    new22("beidajie-old-street", "北大街老旧街区改造", "district", "housing", BLOCK_SHANG, "民生", "新建",
          "1.5", plan=S),
    new22("fayuan-east-street-old-street", "法院东街老旧街区改造", "district", "housing", BLOCK_OTHER, "民生",
          "新建", "1.1", plan=S),
    new22("yucheng-street-220-communities", "玉城街220号院等18个老旧小区改造", "district", "housing",
          BLOCK_OTHER, "民生", "新建", "1.3", plan=SC),
    new22("dongming-road-43-renewal", "省药监局东明路43号院片区项目", "district", "housing", BLOCK_OTHER,
          "民生", "续建", "2.4", started="2021-09-20"),
    new22("chengnan-eleventh-warehouse", "城南十一仓更新项目", "city", "shangcheng-committee", BLOCK_SHANG,
          "产业", "新建", "4.0", plan=S),
    new22("no2-flour-mill-renewal", "市第二面粉厂更新项目", "city", "commerce", BLOCK_OTHER, "产业", "新建",
          "5.0", plan=S),
    new22("zhongbo-renewal", "中博片区更新项目", "city", "commerce", BLOCK_OTHER, "产业", "新建", "4.5",
          plan=S),
    new22("x012-pusheng-road", "X012圃生线农村公路升级改造", "district", "agri-water", BLOCK_OTHER,
          "基础设施", "新建", "0.8", plan=SCO),
    new22("bihe-beautiful-village", "毕河美丽乡村建设", "district", "agri-water", BLOCK_OTHER, "生态", "新建",
          "0.6", plan=S),
    new22("hexiyuan-beautiful-village", "河西袁美丽乡村建设", "district", "agri-water", BLOCK_OTHER, "生态",
          "新建", "0.6", plan=S),
    new22("public-toilets-2022", "公厕新改建工程（30座）", "district", "urban", BLOCK_OTHER, "民生", "新建",
          "0.5", plan=SCO),
    new22("sanitation-transfer-stations", "环卫中转站建设工程（7座）", "district", "urban", BLOCK_OTHER,
          "民生", "续建", "0.9", started="2021-05-10"),
    new22("chaohe-wetland", "潮河上游截污水质湿地净化工程", "district", "ecology", BLOCK_OTHER, "生态",
          "新建", "1.2", plan=S),
    new22("street-elderly-center", "街道级综合养老服务中心", "district", "civil", BLOCK_OTHER, "民生", "新建",
          "0.4", plan=SCO),
    new22("daycare-centers-2022", "社区日间照料中心建设（39个）", "district", "civil", BLOCK_OTHER, "民生",
          "新建", "0.5", plan=SCO),
    new22("childcare-institutions-2022", "婴幼儿托育机构建设（11个）", "district", "health", BLOCK_OTHER,
          "民生", "新建", "0.4", plan=SCO),
    new22("kindergarten-upgrade-2022", "幼儿园升级改造（25所）", "district", "education", BLOCK_OTHER,
          "民生", "新建", "0.8", plan=SC),
    new22("waterlogging-points", "三环内26处积水点整治工程", "district", "urban", BLOCK_OTHER, "基础设施",
          "新建", "1.2", plan=SC, program=DISASTER),
    new22("dangerous-bridges", "D级及以下危桥改造工程", "district", "housing", BLOCK_OTHER, "基础设施",
          "新建", "0.9", plan=S, program=DISASTER),
    new22("small-micro-parks-2022", "区级小微企业园分类改造（6个）", "district", "science", BLOCK_OTHER,
          "产业", "新建", "2.0", plan=S),
    new22("new-energy-stations", "加氢站及充换电新能源基础设施", "district", "science", BLOCK_OTHER,
          "基础设施", "新建", "1.0", plan=S),
    new22("gas-pipelines-2022", "65条道路燃气管道铺设工程", "district", "urban", BLOCK_OTHER, "基础设施",
          "新建", "0.8", plan=SC),
    new22("cable-undergrounding-2022", "57条道路架空线缆入地整治工程", "district", "urban", BLOCK_OTHER,
          "基础设施", "新建", "1.2", plan=SC),
    new22("drainage-network-2022", "排水管网改造工程（15公里）", "district", "urban", BLOCK_OTHER,
          "基础设施", "新建", "0.7", plan=SC, program=DISASTER),
]

MILESTONES = ("start", "complete", "operate")
ID_RE = re.compile(r"^[a-z0-9-]{1,64}$")
YEAR_START = dt.date(2021, 1, 1)
YEAR_END = dt.date(2021, 12, 31)
# Relative monthly weights of investment: low around the Spring Festival, a dip after the
# "7·20" flood, the usual year-end push.  Illustrative.
SEASON = [0.45, 0.55, 0.95, 1.0, 1.05, 1.1, 0.85, 0.6, 1.0, 1.1, 1.15, 1.35]
START_MONTH_WEIGHTS = [0.3, 0.6, 1.4, 1.5, 1.3, 1.1, 0.6, 0.5, 0.9, 0.9, 0.6]  # Jan..Nov


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def cents(text: str) -> int:
    """'12.5' -> 1250 (exact)."""
    d = Decimal(text) * 100
    if d != d.to_integral_value():
        raise ValueError(f"more than two decimals: {text}")
    return int(d)


def money(c: int) -> str:
    """1250 -> '12.5', 1200 -> '12', 5 -> '0.05'.  Never negative."""
    if c < 0:
        raise ValueError("negative amount")
    whole, frac = divmod(c, 100)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:02d}".rstrip("0")


def allocate(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split integer `total` in proportion to `weights`, each part >= minimum, parts summing
    exactly to total (largest remainder; ties by position)."""
    n = len(weights)
    rest = total - minimum * n
    if rest < 0:
        raise ValueError("total too small for the minimum")
    iw = [max(0, int(round(w * 1_000_000))) for w in weights]
    wsum = sum(iw)
    if wsum == 0:
        raise ValueError("all weights are zero")
    base = [rest * w // wsum for w in iw]
    left = rest - sum(base)
    order = sorted(range(n), key=lambda i: (-(rest * iw[i] % wsum), i))
    for i in order[:left]:
        base[i] += 1
    return [b + minimum for b in base]


def pct(completed: int, planned: int) -> Decimal:
    return (Decimal(completed) * 100 / Decimal(planned)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def rand_date(rng: random.Random, year: int, month: int) -> dt.date:
    return dt.date(year, month, rng.randint(1, 28))


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def event_id(name: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


# ---------------------------------------------------------------------------------------------
# 2021
# ---------------------------------------------------------------------------------------------
SECTOR_DEPTS = {
    "产业": ["commerce", "science", "jindai-committee", "nanzhan-committee"],
    "基础设施": ["housing", "urban", "nanzhan-committee", "jindai-committee"],
    "民生": ["housing", "education", "health", "civil"],
    "文旅": ["culture", "shangcheng-committee"],
    "生态": ["ecology", "urban", "agri-water"],
}
BLOCK_DEPT = {BLOCK_SHANG: "shangcheng-committee", BLOCK_JINDAI: "jindai-committee",
              BLOCK_NANZHAN: "nanzhan-committee"}


def generic_project(rng: random.Random, level: str, number: int, pid: str, name: str) -> dict:
    block = rng.choices([BLOCK_SHANG, BLOCK_JINDAI, BLOCK_NANZHAN, BLOCK_OTHER], [2, 2, 2, 4])[0]
    sector = rng.choices(list(SECTOR_DEPTS), [3, 3, 3, 1.5, 1.5])[0]
    dept = rng.choice(SECTOR_DEPTS[sector])
    if block in BLOCK_DEPT and rng.random() < 0.4:
        dept = BLOCK_DEPT[block]
    if dept in BLOCK_DEPT.values() and block == BLOCK_OTHER:
        block = next(b for b, d in BLOCK_DEPT.items() if d == dept)
    return {
        "id": pid, "name": name, "level": level, "department": dept, "block": block,
        "sector": sector, "type": None, "planned_yuan": None, "ratio": None, "started": None,
        "plan_ms": [], "done": {}, "program": None, "named": False, "number": number,
    }


def plan_generic_milestones(rng: random.Random, p: dict) -> None:
    """Type, opening state, planned milestones and what was achieved -- all illustrative."""
    small = p["planned"] < 180
    if rng.random() < 0.45:
        p["type"] = "新建"
        p["plan_ms"] = ["start"]
        if small and rng.random() < 0.35:
            p["plan_ms"].append("complete")
            if rng.random() < 0.6:
                p["plan_ms"].append("operate")
        if rng.random() < 0.88:
            month = rng.choices(range(1, 12), START_MONTH_WEIGHTS)[0]
            start = rand_date(rng, 2021, month)
            p["done"]["start"] = start.isoformat()
            if "complete" in p["plan_ms"] and month <= 9 and rng.random() < 0.75:
                complete = start + dt.timedelta(days=rng.randint(60, 200))
                if complete <= dt.date(2021, 12, 28):
                    p["done"]["complete"] = complete.isoformat()
    else:
        p["type"] = "续建"
        year = rng.choice([2018, 2019, 2019, 2020, 2020, 2020])
        p["started"] = rand_date(rng, year, rng.randint(1, 12)).isoformat()
        if rng.random() < 0.35:
            p["plan_ms"] = ["complete"]
            if rng.random() < 0.65:
                p["plan_ms"].append("operate")
            if rng.random() < 0.8:
                p["done"]["complete"] = rand_date(rng, 2021, rng.randint(3, 12)).isoformat()
    if "complete" in p["done"] and "operate" in p["plan_ms"] and rng.random() < 0.85:
        operate = dt.date.fromisoformat(p["done"]["complete"]) + dt.timedelta(days=rng.randint(0, 30))
        if operate <= YEAR_END:
            p["done"]["operate"] = operate.isoformat()


def investment_months(rng: random.Random, p: dict) -> list[int]:
    """Months with a reported investment line (value may be 0)."""
    done = p["done"]
    if "start" in done:
        first = dt.date.fromisoformat(done["start"]).month
    elif p["started"]:
        first = 1
    else:  # planned to start, did not: 前期 costs (land, design) reported from mid-year
        first = rng.randint(5, 10)
    last = dt.date.fromisoformat(done["complete"]).month if "complete" in done else 12
    return list(range(first, last + 1))


def build_2021(rng: random.Random) -> list[dict]:
    projects = [dict(p) for p in NAMED_2021]
    for p in projects:
        p["planned"] = cents(p.pop("planned_yuan"))
    by_level = {lv: [p for p in projects if p["level"] == lv] for lv in ("province", "city", "district")}
    assert len(by_level["province"]) == PROVINCE_2021
    n_city_generic = CITY_2021 - len(by_level["city"])
    n_district_generic = PROJECTS_2021 - PROV_CITY_2021 - len(by_level["district"])

    city_generic = [generic_project(rng, "city", i, f"example-city-{i:03d}", f"市重点项目（示例）第{i:03d}号")
                    for i in range(1, n_city_generic + 1)]
    district_generic = [
        generic_project(rng, "district", i, f"example-district-{i:03d}", f"区重点项目（示例）第{i:03d}号")
        for i in range(1, n_district_generic + 1)]

    # Planned investment: named figures fixed, the illustrative projects share the rest.
    named_pc = sum(p["planned"] for p in projects if p["level"] != "district")
    named_d = sum(p["planned"] for p in projects if p["level"] == "district")
    for group, total, minimum, sigma in ((city_generic, PROV_CITY_PLANNED_2021 - named_pc, 150, 0.5),
                                        (district_generic, PLANNED_2021 - PROV_CITY_PLANNED_2021 - named_d,
                                         30, 0.85)):
        weights = [rng.lognormvariate(0, sigma) for _ in group]
        for p, c in zip(group, allocate(total, weights, minimum)):
            p["planned"] = c
    for p in city_generic + district_generic:
        plan_generic_milestones(rng, p)
        ratio = rng.uniform(0.75, 1.35)
        if "start" in p["plan_ms"] and "start" not in p["done"]:
            ratio = rng.uniform(0.15, 0.5)      # start slipped: only 前期 spending
        elif "complete" in p["done"]:
            ratio = rng.uniform(0.95, 1.2)
        p["ratio"] = ratio

    projects = projects[:PROVINCE_2021 + len(by_level["city"])] + city_generic + \
        [p for p in projects if p["level"] == "district"] + district_generic

    # Completed investment: named = planned x ratio; illustrative ones share what is left so the
    # group totals are exactly the report's.
    for level_set, total in (({"province", "city"}, PROV_CITY_COMPLETED_2021),
                             ({"district"}, COMPLETED_2021 - PROV_CITY_COMPLETED_2021)):
        group = [p for p in projects if p["level"] in level_set]
        fixed = [p for p in group if p["named"]]
        free = [p for p in group if not p["named"]]
        for p in fixed:
            p["completed"] = int(round(p["planned"] * p["ratio"]))
        left = total - sum(p["completed"] for p in fixed)
        parts = allocate(left, [p["planned"] * p["ratio"] for p in free], 1)
        for p, c in zip(free, parts):
            p["completed"] = c
        free_ratio = left / sum(p["planned"] for p in free)
        assert 0.85 <= free_ratio <= 1.35, f"illustrative projects' mean ratio {free_ratio:.3f}"

    # Monthly split of each project's completed investment.
    for p in projects:
        months = investment_months(rng, p)
        weights = [SEASON[m - 1] * rng.uniform(0.6, 1.4) for m in months]
        if len(months) >= 4 and rng.random() < 0.2:    # a month or two with nothing reported
            for i in rng.sample(range(1, len(months)), rng.randint(1, 2)):
                weights[i] = 0.0
        p["monthly"] = dict(zip(months, allocate(p["completed"], weights)))
    return projects


def events_2021(projects: list[dict]) -> list[dict]:
    by_month: dict[int, list[tuple]] = {m: [] for m in range(1, 13)}
    for order, p in enumerate(projects):
        for k, ms in enumerate(MILESTONES):
            if ms in p["done"]:
                date = dt.date.fromisoformat(p["done"][ms])
                by_month[date.month].append((0, date, order, k, {
                    "id": event_id(f"guancheng/2021/milestone/{p['id']}/{ms}"),
                    "type": "milestone", "project": p["id"], "milestone": ms,
                    "date": date.isoformat()}))
        for month, amount in p["monthly"].items():
            period = f"2021-{month:02d}"
            by_month[month].append((1, dt.date(2021, month, 1), order, 0, {
                "id": event_id(f"guancheng/2021/investment/{p['id']}/{period}"),
                "type": "investment", "project": p["id"], "period": period, "amount": money(amount)}))
    lines = []
    for month in range(1, 13):   # each month: milestones by date, then that month's investment
        lines.extend(e[-1] for e in sorted(by_month[month], key=lambda e: e[:4]))
    lines.append({"id": event_id("guancheng/2021/actual/retail-growth/2021/preliminary"),
                  "type": "actual", "indicator": "retail-growth", "period": "2021",
                  "value": RETAIL_PRELIMINARY, "basis": "preliminary"})
    for ind in INDICATORS_2021:
        lines.append({"id": event_id(f"guancheng/2021/actual/{ind[0]}/2021/final"),
                      "type": "actual", "indicator": ind[0], "period": "2021", "value": ind[9],
                      "basis": "final"})
    return lines


# ---------------------------------------------------------------------------------------------
# 2022
# ---------------------------------------------------------------------------------------------
def state_after_2021(p: dict) -> set[str]:
    reached = set(p["done"])
    if p["started"]:
        reached.add("start")
    return reached


def build_2022(rng: random.Random, projects21: list[dict]) -> list[dict]:
    carried = []
    for p in projects21:
        reached = state_after_2021(p)
        if "complete" in reached and not ("operate" in p["plan_ms"] and "operate" not in reached):
            continue   # finished in 2021
        q = {k: p[k] for k in ("id", "name", "level", "department", "block", "sector", "program",
                               "named")}
        q["type"] = "新建" if "start" not in reached else "续建"
        q["reached"] = reached
        q["prev_planned"] = p["planned"]
        q["started"] = None     # opening state comes from plan-2021 and the 2021 events
        if p["id"] in CARRIED_NAMED_2022:
            q["plan_ms"] = list(CARRIED_NAMED_2022[p["id"]])
        elif "complete" in reached:
            q["plan_ms"] = ["operate"]
        elif "start" not in reached:
            q["plan_ms"] = ["start"]
        else:
            q["plan_ms"] = None    # decided below
        carried.append(q)
    # Keep the named ones and the ones with a carried-over milestone; drop illustrative
    # continuing projects at random to the target (they left the key-project list).
    keep = [q for q in carried if q["named"] or q["plan_ms"] is not None]
    optional = [q for q in carried if q not in keep]
    n_drop = max(0, len(carried) - CARRIED_2022_TARGET)
    dropped = {q["id"] for q in rng.sample(optional, min(n_drop, len(optional)))}
    carried = [q for q in carried if q["id"] not in dropped]
    missing = set(CARRIED_NAMED_2022) - {q["id"] for q in carried}
    assert not missing, f"named projects expected on the 2022 list: {missing}"

    new = []
    for spec in NAMED_NEW_2022:
        q = dict(spec)
        q["planned"] = cents(q.pop("planned_yuan"))
        q["reached"] = {"start"} if q["started"] else set()
        new.append(q)

    def count(ms, group):
        return sum(1 for q in group if q["plan_ms"] and ms in q["plan_ms"])

    # Illustrative new projects: enough to reach 291, of which exactly the number of starts
    # still missing; the others were already under way (started in 2021) when listed.
    n_generic_new = PROJECTS_2022 - len(carried) - len(new)
    n_generic_start = STARTS_2022 - count("start", carried) - count("start", new)
    assert 0 <= n_generic_start <= n_generic_new, (n_generic_new, n_generic_start)
    d_no, c_no = 200, 100
    for i in range(n_generic_new):
        level = "city" if rng.random() < 0.08 else "district"
        if level == "city":
            c_no += 1
            q = generic_project(rng, level, c_no, f"example-city-{c_no:03d}", f"市重点项目（示例）第{c_no:03d}号")
        else:
            d_no += 1
            q = generic_project(rng, level, d_no, f"example-district-{d_no:03d}",
                                f"区重点项目（示例）第{d_no:03d}号")
        if i < n_generic_start:
            q["type"] = "新建"
            q["plan_ms"] = ["start", "complete"] if rng.random() < 0.12 else ["start"]
            q["reached"] = set()
        else:
            q["type"] = "续建"
            q["started"] = rand_date(rng, 2021, rng.randint(2, 12)).isoformat()
            q["plan_ms"] = None
            q["reached"] = {"start"}
        new.append(q)

    everything = carried + new
    # Illustrative continuing projects: fill "operate" (and "complete" before it) up to 62,
    # and let a few more aim for "complete" only.
    undecided = [q for q in everything if q["plan_ms"] is None]
    rng.shuffle(undecided)
    n_operate = OPERATES_2022 - count("operate", everything)
    assert 0 <= n_operate <= len(undecided)
    for i, q in enumerate(undecided):
        if i < n_operate:
            q["plan_ms"] = ["complete", "operate"]
        elif i < n_operate + 15:
            q["plan_ms"] = ["complete"]
        else:
            q["plan_ms"] = []

    # Planned investment 2022: named new projects fixed, the rest share what is left.
    fixed = [q for q in everything if "planned" in q]
    free = [q for q in everything if "planned" not in q]
    weights = []
    for q in free:
        if "prev_planned" in q:
            w = q["prev_planned"] * rng.uniform(0.55, 1.15)
            if "complete" in q["plan_ms"]:
                w *= 0.6
        else:
            w = 110 * rng.lognormvariate(0, 0.8) * (4 if q["level"] == "city" else 1)
        weights.append(w)
    for q, c in zip(free, allocate(PLANNED_2022 - sum(q["planned"] for q in fixed), weights, 30)):
        q["planned"] = c
    return everything


def assign_total_investment(rng: random.Random, p21: list[dict], p22: list[dict]) -> None:
    """Whole-life investment (illustrative), the same for a project in both plan files and never
    below what the files themselves account for."""
    in22 = {q["id"]: q for q in p22}
    in21 = {p["id"]: p for p in p21}
    for pid in list(in21) + [q for q in in22 if q not in in21]:
        p, q = in21.get(pid), in22.get(pid)
        first = p or q
        prior = 0
        if first["started"]:    # spent before the first listed year
            prior = int(first["planned"] * rng.uniform(0.4, 2.0))
        spent = prior + (p["completed"] if p else 0) + (q["planned"] if q else 0)
        finishes = (p and "complete" in p["done"]) or (q and "complete" in q["plan_ms"])
        future = 0 if finishes else int((q or p)["planned"] * rng.uniform(0.3, 2.5))
        if first["type"] == "前期":     # only preparatory spending this year; the build is ahead
            future = int(first["planned"] * rng.uniform(8, 15))
        floor = max([spent + future] + [x["planned"] for x in (p, q) if x])
        total = -(-floor // 10) * 10     # round up to 0.1 亿元
        for x in (p, q):
            if x:
                x["total"] = total


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def indicator_toml(ind) -> list[str]:
    iid, name, unit, measure, comparison, approx, nature, target, dept = ind[:9]
    out = ["[[indicators]]", f"id = {toml_str(iid)}", f"name = {toml_str(name)}",
           f"unit = {toml_str(unit)}", f"measure = {toml_str(measure)}",
           f"comparison = {toml_str(comparison)}"]
    if approx:
        out.append("approximate = true")
    out += [f"nature = {toml_str(nature)}", f"target = {toml_str(target)}",
            f"department = {toml_str(dept)}", ""]
    return out


def project_toml(p: dict) -> list[str]:
    out = ["[[projects]]", f"id = {toml_str(p['id'])}", f"name = {toml_str(p['name'])}",
           f"level = {toml_str(p['level'])}", f"department = {toml_str(p['department'])}",
           f"planned_investment = {toml_str(money(p['planned']))}",
           f"total_investment = {toml_str(money(p['total']))}"]
    if p["plan_ms"]:
        out.append("planned_milestones = [" + ", ".join(toml_str(m) for m in p["plan_ms"]) + "]")
    if p["started"]:
        out.append(f"started = {toml_str(p['started'])}")
    dims = [("block", p["block"]), ("type", p["type"]), ("sector", p["sector"])]
    if p.get("program"):
        dims.append(("program", p["program"]))
    out.append("dimensions = { " + ", ".join(f"{k} = {toml_str(v)}" for k, v in dims) + " }")
    out.append("")
    return out


HEADER = """\
# Generated by generate.py -- do not edit by hand; change the script and re-run it.
# Source: 关于郑州市管城回族区2021年国民经济和社会发展规划执行情况与2022年国民经济和社会发展规划(草案)的报告.
# Totals are the report's; per-project figures, dates and {what} are ILLUSTRATIVE (see README.md).
"""


def write_plan_2021(projects: list[dict]) -> None:
    out = [HEADER.format(what="the 2021 indicator targets"), "[plan]", 'id = "guancheng-2021"',
           "year = 2021", 'title = "管城回族区2021年国民经济和社会发展计划"',
           'jurisdiction = "郑州市管城回族区"', ""]
    for did, name, coord in DEPARTMENTS:
        out += ["[[departments]]", f"id = {toml_str(did)}", f"name = {toml_str(name)}"]
        if coord:
            out.append("coordinator = true")
        out.append("")
    for ind in INDICATORS_2021:
        out += indicator_toml(ind)
    for p in projects:
        out += project_toml(p)
    PLAN_2021.write_text("\n".join(out).rstrip("\n") + "\n", encoding="utf-8")


def write_plan_2022(projects: list[dict]) -> None:
    out = [HEADER.format(what="milestone choices beyond those the report names"),
           "# Departments are those of plan-2021.toml (they persist in the store).", "",
           "[plan]", 'id = "guancheng-2022"', "year = 2022",
           'title = "管城回族区2022年国民经济和社会发展计划"', 'jurisdiction = "郑州市管城回族区"', ""]
    for ind in INDICATORS_2022:
        out += indicator_toml(ind)
    for p in projects:
        out += project_toml(p)
    PLAN_2022.write_text("\n".join(out).rstrip("\n") + "\n", encoding="utf-8")


def write_events(lines: list[dict]) -> None:
    text = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in lines)
    EVENTS_2021.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Self-check: re-read the written files and verify the report's figures and the event rules.
# ---------------------------------------------------------------------------------------------
def self_check() -> list[str]:
    plan21 = tomllib.loads(PLAN_2021.read_text(encoding="utf-8"))
    plan22 = tomllib.loads(PLAN_2022.read_text(encoding="utf-8"))
    events = [json.loads(line) for line in EVENTS_2021.read_text(encoding="utf-8").splitlines()]
    report = []

    depts = {d["id"] for d in plan21["departments"]} | {d["id"] for d in plan22.get("departments", [])}
    assert [d["id"] for d in plan21["departments"] if d.get("coordinator")] == ["drc"]
    for plan in (plan21, plan22):
        ids = [p["id"] for p in plan["projects"]] + [i["id"] for i in plan["indicators"]]
        assert len({p["id"] for p in plan["projects"]}) == len(plan["projects"]), "duplicate project id"
        assert len({i["id"] for i in plan["indicators"]}) == len(plan["indicators"]), "dup indicator"
        for x in ids + list(depts):
            assert ID_RE.match(x), f"bad id {x!r}"
        for i in plan["indicators"]:
            assert i["department"] in depts and i["measure"] in ("rate", "amount")
            assert i["comparison"] in ("at-least", "at-most") and i["nature"] in ("expected", "binding")
            assert isinstance(i["target"], str)
            Decimal(i["target"])
        for p in plan["projects"]:
            assert p["department"] in depts, p["id"]
            assert p["level"] in ("province", "city", "district")
            assert cents(p["planned_investment"]) >= 0
            assert cents(p["total_investment"]) >= cents(p["planned_investment"])
            assert set(p.get("planned_milestones", [])) <= set(MILESTONES)
            assert len(set(p.get("planned_milestones", []))) == len(p.get("planned_milestones", []))
            if "started" in p:
                assert dt.date.fromisoformat(p["started"]) < dt.date(plan["plan"]["year"], 1, 1)
                assert "start" not in p.get("planned_milestones", [])

    # --- plan 2021 ---
    projects21 = {p["id"]: p for p in plan21["projects"]}
    assert len(projects21) == PROJECTS_2021
    levels = [p["level"] for p in plan21["projects"]]
    assert levels.count("province") == PROVINCE_2021 and levels.count("city") == CITY_2021
    planned = {pid: cents(p["planned_investment"]) for pid, p in projects21.items()}
    pc = {pid for pid, p in projects21.items() if p["level"] in ("province", "city")}
    assert sum(planned.values()) == PLANNED_2021
    assert sum(planned[x] for x in pc) == PROV_CITY_PLANNED_2021

    # --- events 2021 ---
    assert len({e["id"] for e in events}) == len(events), "duplicate event id"
    completed = {pid: 0 for pid in projects21}
    seen_months = set()
    reached: dict[str, dict[str, dt.date]] = {pid: {} for pid in projects21}
    last_month = 0
    indicators21 = {i["id"] for i in plan21["indicators"]}
    actual_seen = False
    actuals = {}
    for n, e in enumerate(events, 1):
        where = f"events line {n}"
        if e["type"] == "investment":
            assert not actual_seen, where
            assert set(e) == {"id", "type", "project", "period", "amount"}, where
            assert e["project"] in projects21, where
            assert re.fullmatch(r"2021-(0[1-9]|1[0-2])", e["period"]), where
            assert re.fullmatch(r"\d+(\.\d{1,2})?", e["amount"]), where
            key = (e["project"], e["period"])
            assert key not in seen_months, f"{where}: second investment line for {key}"
            seen_months.add(key)
            month = int(e["period"][5:])
            assert month >= last_month, f"{where}: out of order"
            last_month = month
            completed[e["project"]] += cents(e["amount"])
            assert e["id"] == event_id(f"guancheng/2021/investment/{e['project']}/{e['period']}")
        elif e["type"] == "milestone":
            assert not actual_seen, where
            assert set(e) == {"id", "type", "project", "milestone", "date"}, where
            p, ms = projects21[e["project"]], e["milestone"]
            date = dt.date.fromisoformat(e["date"])
            assert YEAR_START <= date <= YEAR_END, where
            assert date.month >= last_month, f"{where}: out of order"
            last_month = date.month
            r = reached[e["project"]]
            assert ms in MILESTONES and ms not in r, f"{where}: repeated {ms}"
            if ms == "start":
                assert "started" not in p, f"{where}: start for a project opened as started"
            elif ms == "complete":
                assert "started" in p or ("start" in r and r["start"] < date), where
            else:
                assert "complete" in r and r["complete"] <= date, where
            r[ms] = date
            assert e["id"] == event_id(f"guancheng/2021/milestone/{e['project']}/{ms}")
        elif e["type"] == "actual":
            actual_seen = True
            assert set(e) == {"id", "type", "indicator", "period", "value", "basis"}, where
            assert e["indicator"] in indicators21 and e["period"] == "2021", where
            assert e["basis"] in ("estimate", "preliminary", "final"), where
            Decimal(e["value"])
            actuals.setdefault(e["indicator"], []).append(e["basis"])
        else:
            raise AssertionError(f"{where}: unknown type {e['type']}")
    assert actuals["retail-growth"] == ["preliminary", "final"]
    assert all(v == ["final"] for k, v in actuals.items() if k != "retail-growth")
    assert set(actuals) == indicators21

    total = sum(completed.values())
    total_pc = sum(completed[x] for x in pc)
    assert total == COMPLETED_2021 and total_pc == PROV_CITY_COMPLETED_2021
    assert pct(total, PLANNED_2021) == Decimal("111.5")
    assert pct(total_pc, PROV_CITY_PLANNED_2021) == Decimal("112.4")
    ratios = sorted(completed[x] / planned[x] for x in projects21)
    under = sum(1 for r in ratios if r < 1)
    starts = sum(1 for r in reached.values() if "start" in r)
    planned_starts = sum(1 for p in projects21.values() if "start" in p.get("planned_milestones", []))
    report.append(f"plan-2021: {len(projects21)} projects ({levels.count('province')} province, "
                  f"{levels.count('city')} city, {levels.count('district')} district); planned "
                  f"{money(PLANNED_2021)} (province+city {money(sum(planned[x] for x in pc))})")
    report.append(f"events-2021: {len(events)} lines; completed {money(total)} = "
                  f"{pct(total, PLANNED_2021)} %; province+city {money(total_pc)} = "
                  f"{pct(total_pc, PROV_CITY_PLANNED_2021)} %; district "
                  f"{money(total - total_pc)} of {money(PLANNED_2021 - PROV_CITY_PLANNED_2021)}")
    report.append(f"  per-project completion {ratios[0]:.2f}..{ratios[-1]:.2f}, {under} under 100 %; "
                  f"starts {starts}/{planned_starts} planned; "
                  + ", ".join(f"{ms} {sum(1 for r in reached.values() if ms in r)}/"
                              f"{sum(1 for p in projects21.values() if ms in p.get('planned_milestones', []))}"
                              for ms in ("complete", "operate")))

    # --- plan 2022 ---
    projects22 = {p["id"]: p for p in plan22["projects"]}
    assert len(projects22) == PROJECTS_2022
    assert sum(cents(p["planned_investment"]) for p in projects22.values()) == PLANNED_2022
    ms22 = [m for p in projects22.values() for m in p.get("planned_milestones", [])]
    assert ms22.count("start") == STARTS_2022 and ms22.count("operate") == OPERATES_2022
    for pid, p in projects22.items():
        plan_ms = p.get("planned_milestones", [])
        if pid in projects21:
            assert "started" not in p, f"{pid}: in plan-2021, must not repeat an opening state"
            before = set(reached[pid]) | ({"start"} if "started" in projects21[pid] else set())
            assert p["total_investment"] == projects21[pid]["total_investment"], pid
        else:
            before = {"start"} if "started" in p else set()
        for ms in plan_ms:
            assert ms not in before, f"{pid}: plans {ms} already reached"
        if "complete" in plan_ms:
            assert "start" in before or "start" in plan_ms, pid
        if "operate" in plan_ms:
            assert "complete" in before or "complete" in plan_ms, pid
    carried = sum(1 for pid in projects22 if pid in projects21)
    levels22 = [p["level"] for p in projects22.values()]
    report.append(f"plan-2022: {len(projects22)} projects ({carried} carried from 2021, "
                  f"{len(projects22) - carried} new; {levels22.count('province')} province, "
                  f"{levels22.count('city')} city, {levels22.count('district')} district); planned "
                  f"{money(PLANNED_2022)}; start {ms22.count('start')}, complete "
                  f"{ms22.count('complete')}, operate {ms22.count('operate')}; "
                  f"{len(plan22['indicators'])} indicators")
    return report


def main() -> int:
    rng = random.Random(2021)
    projects21 = build_2021(rng)
    projects22 = build_2022(random.Random(2022), projects21)
    assign_total_investment(random.Random(2023), projects21, projects22)
    for p in projects21 + projects22:
        assert ID_RE.match(p["id"]) and p["department"] in DEPARTMENT_IDS, p["id"]
    write_plan_2021(projects21)
    write_events(events_2021(projects21))
    write_plan_2022(projects22)
    for line in self_check():
        print(line)
    print("self-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
