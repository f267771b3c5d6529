"""A day of asks after a car launch, written for headon's demo.

Each entry is one distinct question, asked in several wordings in Chinese
and English; `weight` is how often people ask it. The demo samples wordings,
adds what real comments carry (emoji, @mentions, traditional characters,
typos, full-width letters) and spreads them over the day and the channels.
"""

from __future__ import annotations

from typing import Any

QUESTIONS: list[dict[str, Any]] = [
    {
        "weight": 30,
        "wordings": [
            "什么时候开始交付？",
            "订了车什么时候能提？",
            "交付时间是什么时候",
            "请问几号开始交车",
            "When do deliveries start?",
            "When will I get my car? I ordered on launch day",
            "what is the delivery date",
        ],
    },
    {
        "weight": 24,
        "wordings": [
            "实际续航到底有多少公里？",
            "冬天续航能有多少",
            "续航真的有700公里吗",
            "高速上续航打几折？",
            "What's the real-world range?",
            "Is the 700 km range real or just CLTC?",
            "how far does it go in winter",
        ],
    },
    {
        "weight": 20,
        "rumour": True,
        "wordings": [
            "听说电池是二手的，是真的吗？",
            "网上说用的是翻新电池？",
            "电池是不是拆车件",
            "Is it true the batteries are refurbished?",
            "I heard they use second-hand battery cells",
        ],
    },
    {
        "weight": 18,
        "wordings": [
            "落地价多少钱？",
            "顶配多少钱",
            "有没有优惠，价格会降吗",
            "How much is it on the road?",
            "Will the price drop after launch?",
        ],
    },
    {
        "weight": 15,
        "wordings": [
            "质保几年？电池质保多久",
            "三电终身质保吗",
            "How long is the warranty?",
            "Is the battery warranty lifetime?",
        ],
    },
    {
        "weight": 14,
        "rumour": True,
        "wordings": [
            "工厂是不是要停产了？",
            "听说工厂停工了",
            "Is the factory shutting down?",
            "Heard the plant stopped production, true?",
        ],
    },
    {
        "weight": 12,
        "wordings": [
            "充电桩送不送？",
            "买车送家用充电桩吗",
            "Does it come with a home charger?",
            "Is the wall box included?",
        ],
    },
    {
        "weight": 11,
        "wordings": [
            "可以去工厂参观吗？",
            "工厂开放日怎么报名",
            "Can I visit the factory?",
            "How do I sign up for the open factory day?",
        ],
    },
    {
        "weight": 10,
        "wordings": [
            "智能驾驶需要额外付费吗",
            "辅助驾驶要买断还是订阅",
            "Is the driver assist a subscription?",
            "Do I have to pay extra for autopilot?",
        ],
    },
    {
        "weight": 9,
        "wordings": [
            "有哪些颜色可选？",
            "新配色什么时候出",
            "What colours are available?",
            "Will there be a green colour?",
        ],
    },
    {
        "weight": 8,
        "wordings": [
            "车机支持CarPlay吗",
            "能不能用苹果CarPlay",
            "Does it support Apple CarPlay?",
            "carplay / android auto support?",
        ],
    },
    {
        "weight": 7,
        "wordings": [
            "后排空间怎么样，坐三个人挤吗",
            "后备箱多大",
            "How big is the boot?",
            "Is the back seat OK for three adults?",
        ],
    },
    {
        "weight": 6,
        "wordings": [
            "可以退订金吗？",
            "定金能退吗",
            "Is the deposit refundable?",
            "can I cancel my reservation and get the deposit back",
        ],
    },
    {
        "weight": 5,
        "wordings": [
            "海外会卖吗？",
            "什么时候出口欧洲",
            "Will it be sold in Europe?",
            "Any plans for the UK market?",
        ],
    },
    {
        "weight": 4,
        "rumour": True,
        "wordings": [
            "发布会上的车是不是道具车？",
            "听说发布会展车是模型",
            "Were the launch cars just props?",
        ],
    },
    {
        "weight": 4,
        "wordings": [
            "售后服务网点有多少",
            "我们城市有没有服务中心",
            "Is there a service centre near me?",
        ],
    },
    {
        "weight": 3,
        "wordings": [
            "OTA多久升级一次",
            "软件会远程升级吗",
            "How often are the over-the-air updates?",
        ],
    },
    {
        "weight": 2,
        "wordings": ["安全气囊有几个", "How many airbags does it have?"],
    },
    {
        "weight": 2,
        "wordings": ["试驾怎么预约？", "How do I book a test drive?"],
    },
    {
        "weight": 1,
        "wordings": ["车钥匙可以用手机吗", "Can I use my phone as the key?"],
    },
]

# Traditional forms of characters the wordings use, for a share of the asks
# (Hong Kong and Taiwan readers): the merge engine must see through them.
TRADITIONAL = str.maketrans(
    {
        "么": "麼",
        "时": "時",
        "开": "開",
        "始": "始",
        "续": "續",
        "实": "實",
        "际": "際",
        "里": "裡",
        "电": "電",
        "池": "池",
        "说": "說",
        "是": "是",
        "价": "價",
        "钱": "錢",
        "厂": "廠",
        "产": "產",
        "车": "車",
        "参": "參",
        "观": "觀",
        "报": "報",
        "驾": "駕",
        "驶": "駛",
        "费": "費",
        "颜": "顏",
        "质": "質",
        "终": "終",
        "吗": "嗎",
        "听": "聽",
        "网": "網",
        "这": "這",
    }
)

EMOJI = ["😂", "🙏", "👍", "😭", "🚗", "⚡", "❓", "🤔", "😅", "🔥"]
MENTIONS = ["@官方客服", "@HeadonMotors", "@小编", "@CEO"]
FILLERS_ZH = ["", "", "", "求回复！", "急急急", "在线等", "有人知道吗", "问了客服也没说清楚"]
FILLERS_EN = ["", "", "", "pls answer", "anyone know?", "asking for a friend", "!!!"]
