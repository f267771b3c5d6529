"""The answers of headon's demo, keyed by the index of their question in
`demo_asks.QUESTIONS`: written, approved and published for yesterday, and
at every stage for today, so a visitor sees the whole flow."""

from __future__ import annotations

from typing import Any

TAGS = [
    ("delivery", "Delivery", "交付"),
    ("battery", "Battery", "电池"),
    ("price", "Price", "价格"),
    ("factory", "Factory", "工厂"),
    ("charging", "Charging", "充电"),
]

ANSWERS: dict[int, dict[str, Any]] = {
    0: {
        "tags": ["delivery"],
        "question_en": "When do deliveries start?",
        "question_zh": "什么时候开始交付？",
        "body_en": (
            "Deliveries start on **1 December** in every city at the same time.\n\n"
            "- Orders placed on launch day are delivered first, in order of payment.\n"
            "- Your delivery centre will call you **7 days** before your car is ready."
        ),
        "body_zh": (
            "**12月1日**起全国各城市同时开始交付。\n\n"
            "- 发布会当天的订单按付款顺序优先交付。\n"
            "- 车辆到店前 **7 天**，交付中心会致电与您确认。"
        ),
    },
    1: {
        "tags": ["battery"],
        "question_en": "What is the real-world range?",
        "question_zh": "实际续航有多少公里？",
        "body_en": (
            "The rated range is 700 km (CLTC). In our own tests the real-world range was "
            "**about 560 km** at mixed speeds and 20 °C, and **about 430 km** on the motorway "
            "at 120 km/h or at −10 °C. We will publish the full test report next week."
        ),
        "body_zh": (
            "标称续航为 700 公里（CLTC）。我们自测的实际续航：20°C 综合路况约 **560 公里**，"
            "高速 120 公里/小时或 −10°C 时约 **430 公里**。完整测试报告将于下周公布。"
        ),
    },
    2: {
        "tags": ["battery"],
        "question_en": "Are the batteries second-hand or refurbished?",
        "question_zh": "电池是二手或翻新的吗？",
        "claim_en": "The cars are built with second-hand or refurbished battery cells.",
        "claim_zh": "车辆使用二手或翻新电芯。",
        "verdict": "false",
        "evidence_en": (
            "Every pack carries a production date and a serial number that you can check in "
            "the app; the cell supplier's delivery notes for the launch batch are published "
            "on our site."
        ),
        "evidence_zh": "每个电池包都有生产日期和序列号，可在 App 中查询；首批电芯的供货单已在官网公布。",
        "body_en": (
            "**This is false.** Every car is built with new cells, made no more than three "
            "months before assembly. The pictures going round show a recycling line at "
            "another company's plant."
        ),
        "body_zh": "**这是谣言**。每台车使用的都是全新电芯，生产日期距装车不超过三个月。网传图片是另一家公司工厂的回收产线。",
    },
    3: {
        "tags": ["price"],
        "question_en": "How much does it cost on the road?",
        "question_zh": "落地价多少钱？",
        "body_en": (
            "The price is 229,800 yuan. With the purchase-tax exemption, insurance and "
            "registration, most buyers pay **between 236,000 and 241,000 yuan** on the road, "
            "depending on the city."
        ),
        "body_zh": "售价 229,800 元。免征购置税，加上保险和上牌，大多数城市落地价在 **23.6 万至 24.1 万元** 之间。",
    },
    4: {
        "tags": ["battery"],
        "question_en": "How long is the warranty?",
        "question_zh": "质保多久？",
        "body_en": (
            "The car has a 5-year or 150,000 km warranty. The battery, motor and "
            "electronic control unit have **8 years or 160,000 km**, and the first owner "
            "keeps the battery warranty for life."
        ),
        "body_zh": "整车质保 5 年或 15 万公里；电池、电机、电控质保 **8 年或 16 万公里**，首任车主电池终身质保。",
    },
    5: {
        "tags": ["factory"],
        "question_en": "Is the factory shutting down?",
        "question_zh": "工厂要停产了吗？",
        "claim_en": "The factory has stopped production.",
        "claim_zh": "工厂已经停产。",
        "verdict": "false",
        "evidence_en": (
            "The line stopped for two days of planned maintenance on 18–19 November, "
            "announced in October. It has been running two shifts since 20 November."
        ),
        "evidence_zh": "11月18日至19日为10月已公告的计划检修，20日起恢复两班生产。",
        "body_en": (
            "**No.** The factory is building cars on two shifts. You can see it for "
            "yourself: we run open factory days, and applications are open now."
        ),
        "body_zh": "**没有停产**。工厂目前两班生产。欢迎亲自来看：工厂开放日正在接受报名。",
    },
    6: {
        "tags": ["charging"],
        "question_en": "Does it come with a home charger?",
        "question_zh": "送家用充电桩吗？",
        "body_en": (
            "Yes: a 7 kW home charger **and its installation** (up to 30 m of cable) are "
            "included for orders placed before 31 December."
        ),
        "body_zh": "送。12月31日前下单，赠送 7kW 家用充电桩 **及安装**（含 30 米以内线缆）。",
    },
    7: {
        "tags": ["factory"],
        "question_en": "Can I visit the factory?",
        "question_zh": "可以去工厂参观吗？",
        "body_en": (
            "Yes. Open factory days run on Monday and Saturday mornings and during the "
            "Lunar New Year holiday. Seats are drawn by a public lottery; apply on the "
            "*Factory visits* page."
        ),
        "body_zh": "可以。工厂开放日安排在周一、周六上午和春节期间，名额通过公开抽签分配，请在“工厂参观”页面报名。",
    },
    9: {
        "tags": [],
        "question_en": "What colours are available?",
        "question_zh": "有哪些颜色？",
        "body_en": "Six: glacier white, night black, graphite grey, lake blue, forest green and sunset orange.",
        "body_zh": "共六种：冰川白、夜空黑、石墨灰、湖光蓝、森林绿、落日橙。",
    },
    12: {
        "tags": ["price"],
        "question_en": "Is the deposit refundable?",
        "question_zh": "订金可以退吗？",
        "body_en": "Yes, in full, until you confirm your configuration. After that, the deposit is not refundable.",
        "body_zh": "可以。确认配置之前可全额退还；确认配置后订金不予退还。",
    },
}

# Today's work in progress: (question index, the stage it reached).
TODAY = {
    8: "review",
    10: "approved",
    11: "draft",
}

TODAY_ANSWERS: dict[int, dict[str, Any]] = {
    8: {
        "tags": [],
        "question_en": "Is driver assistance a paid subscription?",
        "question_zh": "智能驾驶需要额外付费吗？",
        "body_en": "No. Driver assistance is included; there is no subscription.",
        "body_zh": "不需要。智能驾驶辅助为标配，没有订阅费用。",
    },
    10: {
        "tags": [],
        "question_en": "Does it support Apple CarPlay?",
        "question_zh": "车机支持 CarPlay 吗？",
        "body_en": "Wireless CarPlay and Android Auto arrive with the over-the-air update in January.",
        "body_zh": "无线 CarPlay 和 Android Auto 将随明年1月的 OTA 升级推送。",
    },
    11: {
        "tags": [],
        "question_en": "How much room is there in the back?",
        "question_zh": "后排空间怎么样？",
        "body_en": "",
        "body_zh": "后排腿部空间 980 毫米，中间地板纯平，",
    },
}
