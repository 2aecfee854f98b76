"""Red-flag rules for Simplified Chinese: the same categories and the same discriminators as
``rules.py`` (the NHS "call 999 / go to A&E" lists, the Manchester Triage System's general
discriminators, ESI levels 1-2), in the words Chinese-speaking patients and clinicians use
(胸口压榨感、口角歪斜、言语不清、想自杀、吞了很多药、呕血、黑便、抽搐 ...). Torch-free.

Chinese has no spaces between words, so patterns are plain substrings and short gaps
(``.{0,4}`` inside a clause) rather than word lists. Negation is scoped to the clause: a
clause ends at Chinese or Western punctuation (，。；！？：) or a contrast word
(但/但是/可是/不过/然而/却); the enumeration comma 、 does not end it, so
"否认胸痛、呼吸困难" negates both.

- 没有/没/无/否认/未/并无/从未 negate a finding anywhere earlier in its clause ("没有胸痛",
  "否认有呕血、黑便"); 无法/无力/无尿/无反应/无意识 are findings, not negations.
- 不 negates only when it stands right before the finding ("不发烧", "不想自杀"): elsewhere it
  belongs to the finding itself (不能呼吸、止不住、不省人事、叫不醒).
- A finding said to be in the past (以前/曾经/去年/既往 before it, 病史/…年前 after it) is not
  today's emergency.

This module only describes the rules; ``rules.py`` runs them beside the English ones.
"""

from __future__ import annotations

import re

# --- clauses, negation, past --------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
CLAUSE_BOUNDARY = re.compile(
    r"[，,。；;！!？?：:\n]|(?<!\d)\.|\.(?!\d)|但是|但|可是|不过|然而|却|现在|今天"
)
# Cues that negate anything after them in the clause.
NEGATION = re.compile(
    r"没有|没(?!法|办法)|无(?!法|力|尿|反应|意识|知觉|明显诱因)|否认|未(?!来)|并无|从未|从没|排除"
)
# 不 negates only right before the finding (at most one word in between: 不太、不怎么、不是).
NEGATION_ADJACENT = re.compile(r"不(?:太|怎么|是|再|会|觉得)?$")
PAST_BEFORE = re.compile(r"以前|曾经|去年|前年|几年前|多年前|\d+年前|小时候|既往|过去")
PAST_AFTER = re.compile(r"^.{0,6}?(?:病史|史(?![无前例])|\d+年前|几年前|多年前|去年|以前)")


def _clause_span(text: str, start: int, end: int) -> tuple[int, int]:
    clause_start = 0
    for boundary in CLAUSE_BOUNDARY.finditer(text, 0, start):
        clause_start = boundary.end()
    after = CLAUSE_BOUNDARY.search(text, end)
    return clause_start, (after.start() if after is not None else len(text))


def is_negated(text: str, start: int) -> bool:
    """Whether a negation cue precedes ``text[start]`` in its clause."""
    clause_start, _ = _clause_span(text, start, start)
    before = text[clause_start:start]
    return NEGATION.search(before) is not None or NEGATION_ADJACENT.search(before) is not None


def is_past(text: str, start: int, end: int) -> bool:
    """Whether the finding at ``text[start:end]`` is said to be in the past."""
    clause_start, clause_end = _clause_span(text, start, end)
    return (
        PAST_BEFORE.search(text, clause_start, start) is not None
        or PAST_AFTER.search(text[end:clause_end]) is not None
    )


def _p(*alternatives: str) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(alternatives) + ")")


# --- patterns -----------------------------------------------------------------------------------

FEVER = _p(
    r"发烧|发热|高烧|高热|烧到|体温.{0,3}(?:3[89]|4[01])",
    r"(?:3[89]|4[01])(?:\.\d)?\s*(?:度|℃|°C)",
    r"身上很烫|浑身发烫|摸着很烫",
)
PREGNANT = _p(
    r"怀孕|妊娠|孕\d+周|孕早期|怀了|停经|月经.{0,3}(?:推迟|没来|晚了|过期)|验孕.{0,3}阳性|两条杠",
)
CHILD = _p(
    r"宝宝|婴儿|婴幼儿|新生儿|孩子|儿童|小孩|幼儿|儿子|女儿|\d+岁(?:的)?(?:男孩|女孩|孩)",
    r"\d+个?(?:月|周|星期|天)大",
)

CHEST_ANY = _p(
    r"胸(?:口|部|前|骨后)?(?:痛|疼|闷|憋|发紧|压迫感|不适|像被压)",
    r"心口(?:痛|疼|闷)",
    r"心前区(?:痛|疼|不适)",
    r"心绞痛",
)
CHEST_CHARACTER = _p(
    r"压榨|紧缩|撕裂|大石头|石头压|被勒住|剧烈|剧痛|持续不缓解|休息(?:时|也|后)?(?:不缓解|还痛|还疼|也痛|也疼)",
    r"心梗|心肌梗|心脏病发作",
)
CHEST_COMPANION = _p(
    r"放射|蔓延|传到|窜到|延伸到|牵扯到",
    r"左(?:臂|肩|胳膊|手臂|上肢)|下巴|下颌|后背",
    r"出汗|大汗|冷汗|出虚汗",
    r"呼吸困难|气短|喘不上气|喘不过气|气促|憋气",
    r"恶心|呕吐|想吐",
    r"头晕|晕厥|晕倒|眼前发黑",
    r"面色(?:苍白|发灰|灰白)|脸色(?:苍白|发白|发灰)",
    r"活动后|运动(?:时|后)|爬楼|走路(?:时|快)",
)
# The issue's own red-flag words: a crushing chest, a stone on the chest.
CHEST_SEVERE = _p(
    r"胸(?:口|部)?(?:有)?压榨(?:感|样)",
    r"压榨(?:样|性)(?:的)?胸(?:痛|疼)",
    r"胸(?:口|部)?(?:像|好像|仿佛)(?:被)?(?:压|压着|压了)(?:一块)?(?:大)?石头",
    r"胸(?:口|部)?(?:撕裂样|刀割样)(?:的)?(?:痛|疼)",
)

STROKE = _p(
    r"口角歪斜|口眼歪斜|嘴(?:巴)?(?:角)?歪|脸歪|面部歪斜|面瘫|口角下垂|嘴角下垂",
    r"一(?:侧|边)(?:面部|脸)(?:麻木|下垂|无力|歪)",
    r"言语不清|说话不清|口齿不清|说话含糊|吐字不清|讲话不清|说话大舌头|讲不出话|说不出话|失语",
    r"听不懂(?:别人|人家|我们)?(?:说的)?话",
    r"一(?:侧|边)(?:的)?(?:肢体|手臂|胳膊|手|腿|身体)(?:突然)?(?:无力|麻木|瘫|不能动|动不了|没劲|抬不起来)",
    r"(?:左|右)(?:侧|边)?(?:的)?(?:手|胳膊|手臂|腿|肢体|半身|上肢|下肢)(?:突然)?(?:无力|麻木|瘫|抬不起来|不能动|动不了|没劲)",
    r"半身不遂|偏瘫|中风|脑卒中|卒中|脑梗|脑出血|脑溢血",
)

THUNDERCLAP = _p(
    r"霹雳样头痛|雷击样头痛|爆炸样头痛|炸裂样头痛",
    r"(?:突然|突发|一下子)(?:的)?(?:剧烈|严重|爆炸样|炸裂样|难以忍受)(?:的)?头(?:痛|疼)",
    r"(?:一生中|这辈子|有生以来)最(?:严重|剧烈|厉害|痛|疼)的头(?:痛|疼)",
    r"头(?:痛|疼).{0,4}从(?:来)?(?:没|未)(?:有)?(?:这么|这样)(?:厉害|严重|剧烈|痛|疼)过",
    r"像被(?:人)?(?:打|重击|锤)了一下(?:的)?头(?:痛|疼)",
)

MENINGITIS_RASH = _p(
    r"(?:皮疹|疹子|红点|紫点|斑点|出血点|红斑|(?:紫|红|暗红|紫红)色的?小?(?:点|斑|疹)).{0,8}(?:按压|压|按|玻璃杯).{0,4}不(?:褪|退|消)",
    r"压之不褪色|按压不褪色|不褪色的(?:皮疹|疹子|斑点)",
    r"瘀点|瘀斑|淤点|淤斑|紫癜",
    r"囟门(?:鼓起|隆起|膨隆)",
)
STIFF_NECK = _p(
    r"颈(?:部|项)?(?:僵硬|强直|发硬|抵抗)",
    r"脖子(?:僵硬|发硬|很硬|硬|转不动|不能弯|低不下)",
    r"下巴(?:碰|贴)不到胸",
    r"脑膜刺激征",
)
LIGHT = _p(r"怕光|畏光|见光(?:就)?(?:难受|头痛|疼)")

ANAPHYLAXIS = _p(
    r"喉咙(?:肿|发紧|堵|收紧|像被掐住)|喉头水肿|嗓子(?:肿|发紧|堵)",
    r"舌头(?:肿|肿大|变大|发麻肿)",
    r"过敏性休克|严重过敏反应",
    r"(?:用|打)了(?:肾上腺素|过敏急救笔)",
)
ALLERGIC_SWELLING = _p(
    r"(?:嘴唇|脸|面部|眼皮|眼睛)(?:突然)?(?:肿|肿胀|肿起来)",
    r"荨麻疹|风团|全身(?:起|出)(?:疹|红疹|风团)",
)
ANAPHYLAXIS_COMPANION = _p(
    r"呼吸困难|喘不上气|喘不过气|气喘|喘鸣|憋气|气促",
    r"头晕|晕倒|昏倒|晕过去|要晕",
)

OVERDOSE = _p(
    r"(?:吞|吃|服|喝)(?:了|下|掉)*(?:很多|大量|一整瓶|一瓶|一整盒|一盒|一把|一大把|好多|几十|\d{2,}|二十|三十|四十|五十|一整板|全部)(?:片|粒|颗)?(?:的)?.{0,4}(?:药|片|安眠药|扑热息痛|对乙酰氨基酚|布洛芬|降压药|胰岛素)",
    r"服药过量|药物过量|过量服(?:用|药)|吃药过量|(?:故意|一次性)(?:吃|吞|服)了.{0,6}药",
    r"(?:喝|吞|吃|误服)(?:了|下)?.{0,4}(?:农药|百草枯|敌敌畏|消毒液|84|漂白剂|防冻液|老鼠药|鼠药|杀虫剂|甲醇|工业酒精)",
    r"(?<!食物)中毒",
    r"一氧化碳|煤气(?:泄漏)?.{0,4}(?:头痛|头晕|昏|中毒)",
)

SUICIDAL = _p(
    r"(?:想|要|打算|准备|计划)?自杀",
    r"想死|不想活|活不下去|活着没(?:有)?意思|轻生|寻死|了结(?:自己|生命)|结束(?:自己的)?生命",
    r"(?:想|要|准备|打算)(?:去)?(?:跳楼|跳河|上吊|卧轨|割腕)",
    r"(?:写|留)(?:好|了)?遗书",
    r"(?:攒|存|囤)(?:了)?.{0,4}(?:药|安眠药)",
)
SELF_HARM = _p(
    r"自残|自伤|自我伤害",
    r"(?:割|划|烫|烧|咬|打)(?:伤)?(?:自己|手腕|腕部)",
    r"故意(?:伤害|割|划|烫|烧|弄伤)(?:自己)?",
    r"用(?:刀|刀片|烟头)(?:片)?.{0,3}(?:划|割|烫)(?:自己|手臂|胳膊|手腕|大腿)",
)

SEVERE_BLEEDING = _p(
    r"呕血|吐血|咯血|咳血|大咯血|大出血",
    r"血流不止|出血不止|流血不止|止不住(?:血)?|血止不住|(?:血|出血).{0,3}(?:喷|涌)出",
    r"黑便|柏油(?:样)?便|(?:大便|粪便|便便)(?:发黑|是黑色|黑色|黑乎乎|像柏油)|拉(?:的)?黑(?:色)?(?:的)?(?:大便|屎|便)",
    r"咖啡(?:渣|色)(?:样)?(?:的)?(?:呕吐物|东西|液体)?",
    r"(?:大量|很多|一大口)(?:的)?(?:出血|便血|流血|鲜血|血)",
)
PREGNANCY_BLEEDING = _p(r"阴道(?:出血|流血)|出血|流血|见红")

SEPSIS = _p(
    r"败血症|脓毒(?:症|血症)|感染性休克",
    r"皮肤(?:发花|花斑|斑驳|发紫|发青)",
    r"(?:一整天|一天|整天|12小时|十二小时|大半天).{0,3}没(?:有)?(?:小便|尿|排尿|尿尿)|无尿",
    r"(?:剧烈|止不住|不停地)(?:寒战|发抖|打冷战)|寒战不止",
    r"感觉(?:自己)?(?:快|要)死了",
    r"(?:哭声|哭)(?:很)?(?:微弱|尖|尖锐)",
)
SEPSIS_FEVER_SIGN = _p(
    r"意识模糊|神志不清|糊涂|说胡话",
    r"呼吸(?:很|非常)?(?:急促|快)|心跳(?:很|非常)?快|心率(?:很)?快",
    r"嗜睡|叫不醒|精神(?:很|非常)?差|蔫|软绵绵|四肢无力",
    r"血压(?:很)?低|低血压",
)

SEVERE_BREATHING = _p(
    r"呼吸困难|喘不上气|喘不过气|透不过气|上不来气|无法呼吸|不能呼吸|没法呼吸|没办法呼吸|快窒息|窒息",
    r"(?:憋|喘)得说不出话|说不(?:出|了)完整的(?:句子|话)|说话(?:说)?不成句",
    r"(?:嘴唇|口唇|脸|手指)(?:发紫|发青|青紫|发绀|发灰)|紫绀|发绀",
    r"喉鸣|吸气(?:时)?有(?:尖锐的|很响的)?(?:响声|哨音|怪声)|三凹征|肋骨(?:之间)?(?:往里)?(?:凹陷|吸进去)",
    r"(?:哮喘|喘).{0,8}(?:喷雾|吸入器|喷剂|药).{0,6}(?:没用|不管用|无效|不起作用|没效果)",
    r"呼吸(?:停止|暂停)|不喘气了",
)
DROOLING = _p(r"流口水|流涎")
DROOLING_COMPANION = _p(r"吞咽困难|咽不下|不能吞咽|发烧|发热|呼吸(?:困难|很响)|前倾")

ALTERED_CONSCIOUSNESS = _p(
    r"昏迷|昏倒|晕倒|晕过去|晕厥|失去意识|意识丧失|不省人事|叫不醒|喊不醒|没(?:有)?反应|无反应|没有知觉",
    r"神志不清|意识模糊|意识不清|突然(?:变得)?(?:糊涂|神志不清|不认识人)|胡言乱语|不认识(?:家人|人|自己的家人)",
    r"昏睡|(?:很|非常|特别)嗜睡|倒地",
)
SEIZURE = _p(
    r"抽搐|抽风|惊厥|癫痫(?:大)?发作|羊角风|羊癫疯",
    r"四肢(?:抽动|抖动|僵直)|口吐白沫|翻白眼",
)
HEAD_INJURY = _p(
    r"头(?:部)?(?:外伤|受伤|撞伤|摔伤)",
    r"(?:撞|磕|碰|摔|打|砸)(?:到|了|伤)?(?:了)?(?:他的|她的|我的)?(?:头|脑袋|后脑勺)",
    r"头(?:被|撞|磕)(?:撞|磕|碰|砸|打)?(?:到|了|伤)",
)
HEAD_INJURY_WARNING = _p(
    r"呕吐|吐了|想吐",
    r"嗜睡|昏迷|意识|晕过去|昏过去|糊涂|迷糊",
    r"记不起|想不起|失忆",
    r"(?:耳朵|鼻子)(?:流|出)(?:血|清水|液体)",
    r"抗凝|华法林|阿哌沙班|利伐沙班|阿司匹林",
    r"抽搐|头痛(?:越来越)?(?:加重|厉害)|视力模糊|看东西重影",
)

DIABETES = _p(r"糖尿病|胰岛素|血糖|糖友|1型|一型|2型|二型")
DIABETIC_EMERGENCY = _p(
    r"酮症(?:酸中毒)?|酮体(?:很)?高|尿酮|烂苹果味|呼吸有(?:一股)?(?:烂)?(?:苹果|水果)味",
    r"低血糖.{0,6}(?:昏迷|意识|叫不醒|糊涂|抽搐|不省人事|说胡话)",
    r"血糖.{0,4}(?:很低|太低|特别低|测不出|HI|(?<!\d)(?:[0-2](?:\.\d)?|3\.[0-4])(?!\d|\.\d|年|天|个|周|小时|次))",
    r"深大呼吸|库斯莫尔",
)

CAUDA_EQUINA = _p(
    r"马鞍区(?:麻木)?|会阴(?:部)?(?:麻木|没感觉)|肛门(?:周围)?(?:麻木|没感觉)|屁股(?:周围)?(?:麻木|没感觉)",
    r"大小便失禁|小便失禁|大便失禁|尿不出(?:来)?|排不出尿|尿潴留|控制不住(?:大小便|小便|大便)",
    r"擦屁股.{0,3}(?:没有感觉|没感觉|感觉不到)",
)
BACK_PAIN = _p(r"腰(?:痛|疼)|背(?:痛|疼)|腰背(?:痛|疼)|坐骨神经痛|腰椎间盘|腰突")

ECTOPIC_PAIN = _p(
    r"腹痛|肚子(?:痛|疼)|下腹(?:部)?(?:痛|疼)|小腹(?:痛|疼)|一侧(?:腹|肚子|小腹)",
    r"肩(?:膀)?尖(?:痛|疼)",
    r"头晕|晕倒|昏倒|晕过去",
)

TESTICULAR = _p(
    r"睾丸.{0,4}(?:突然|剧烈|剧痛|很痛|很疼|疼得厉害|痛得厉害|肿痛)",
    r"(?:突然|剧烈)(?:的)?.{0,2}(?:睾丸|阴囊|蛋蛋)(?:痛|疼|肿)",
    r"阴囊.{0,2}(?:剧痛|突然(?:痛|疼|肿))",
    r"睾丸扭转",
    r"蛋蛋.{0,2}(?:剧痛|疼得厉害|突然疼)",
)

SEVERE_ABDOMINAL = _p(
    r"(?:剧烈|严重|难以忍受|刀割样|撕裂样|钻心)(?:的)?.{0,3}(?:腹痛|肚子(?:痛|疼)|胃(?:痛|疼)|腰腹痛)",
    r"(?:腹痛|肚子(?:疼|痛)|胃(?:痛|疼)).{0,4}(?:剧烈|得厉害|难以忍受|受不了|打滚)",
    r"疼得(?:直不起腰|打滚|满地打滚)|痛得(?:直不起腰|打滚|满地打滚)",
    r"肚子(?:硬得像木板|很硬|硬邦邦)|板状腹|腹肌紧张|反跳痛",
    r"转移性右下腹痛|(?:转移|转)到(?:了)?右下腹",
)

BABY = _p(
    r"(?:\d|1[0-2]|[一二两三四五六七八九十]|十[一二])(?:个)?(?:周|星期|礼拜)(?:大)?",
    r"(?:1|2|一|两|二)个(?:多)?月(?:大)?(?:的)?(?:宝宝|婴儿|孩子|女儿|儿子)",
    r"新生儿|刚出生|满月",
    r"\d+天(?:大)?的(?:宝宝|婴儿|孩子)",
)
INFANT_FEVER = _p(
    r"发烧|发热|高烧|体温.{0,3}(?:3[89]|4[01])|(?:3[89]|4[01])(?:\.\d)?\s*(?:度|℃)|很烫|发烫"
)

SEVERE_BURN = _p(
    r"大面积(?:烧伤|烫伤)|(?:烧伤|烫伤).{0,6}(?:比手掌大|一大片|整个|大面积)",
    r"化学(?:品)?(?:烧伤|灼伤)|电击伤|(?:被电(?:击|到)|触电)",
    r"(?:皮肤|伤口|烧伤处)(?:发白|焦黑|炭化|变黑)",
    r"吸入(?:了)?(?:大量)?(?:浓)?烟|火灾.{0,6}(?:吸入|呛)",
    r"(?:脸|面部|眼睛|生殖器|会阴).{0,2}(?:烧伤|烫伤|灼伤)",
    r"(?:开水|热油|沸水).{0,4}(?:烫|浇).{0,6}(?:胸|背|腿|手臂|全身|肚子)",
    r"(?:强酸|强碱|漂白剂|化学品|石灰).{0,4}(?:溅|进)(?:到|入)?(?:了)?眼(?:睛)?",
)

VISION_LOSS = _p(
    r"突然(?:看不见|看不到|失明|视力(?:下降|丧失|消失)|眼前(?:一片)?(?:发黑|黑了))",
    r"一(?:只|侧|边)眼(?:睛)?(?:突然)?(?:看不见|看不到|失明)",
    r"眼(?:睛)?前(?:面)?(?:好)?(?:像)?(?:有|出现)(?:一(?:层|片|道))?(?:黑幕|帘子|阴影|窗帘)",
    r"视野缺损",
)

INGESTION = _p(
    r"(?:吞|吃|咽|误吞)(?:下|进|了)*.{0,4}(?:纽扣|扣式|钮扣|硬币)电池",
    r"(?:吞|吃|咽|误吞)(?:下|进|了)*.{0,4}(?:磁铁|磁珠|吸铁石)",
    r"(?:喝|误服|吞|吃)(?:了|下)?.{0,4}(?:强酸|强碱|通渠剂|管道疏通剂|洗碗机(?:片|块)|洗衣(?:凝珠|球)|烧碱|硫酸|盐酸)",
)

LOW_OXYGEN = _p(r"(?:血氧|氧饱和度)(?:饱和度)?.{0,4}?(?<!\d)(?:[5-8]\d|9[0-2])\s*%")
LOW_BLOOD_PRESSURE = _p(r"血压.{0,3}?(?<!\d)(?:[4-8]\d|90)\s*/\s*\d{2,3}")
FAST_PULSE = _p(r"(?:心率|心跳|脉搏).{0,4}?(?<!\d)(?:13[1-9]|1[4-9]\d|2\d\d)(?!\d)")

# Severe pain (MTS "severe pain" 7-10/10, ESI level 2), as in ``rules.py``: new pain in the
# strongest words or scored 7 or more; not chronic, usual or settled pain, toothache or period
# pain. "7分钟" is seven minutes, not a score.
SEVERE_PAIN = _p(
    r"(?:疼|痛)得(?:受不了|要命|要死|打滚|满地打滚|直叫|大叫|大哭|哭喊|喊叫|动不了|不敢动)",
    r"剧痛|剧烈(?:的)?(?:疼|痛)|难以忍受的(?:疼|痛)|(?:疼|痛)得?难以忍受",
    r"(?:疼痛|疼|痛)(?:评分|程度)?.{0,3}?(?<!\d)(?:[7-9]|10)\s*分(?!钟)",
    r"(?<!\d)(?:[7-9]|10)\s*分(?:的)?(?:疼|痛)",
    r"(?:从来没有|从没|从来没)这么(?:疼|痛)过|这辈子最(?:疼|痛)|最(?:疼|痛)的一次",
)
PAIN_NOT_ACUTE = _p(
    r"老毛病|慢性|一直|每次|每个月|每月|和以前一样|跟(?:以前|平时|往常)一样|好几年|几年了|多年|反复",
    r"痛经|牙",
    r"止痛药.{0,4}(?:有效|管用)|布洛芬.{0,2}(?:有效|管用)|(?:已经)?(?:好了|缓解了|不疼了|不痛了)",
)

# A risk of harming others, as in ``rules.py``.
HARM_TO_OTHERS = _p(
    r"(?:要|想|打算|准备)(?:去)?(?:杀|砍|捅)(?:了|死)?(?:人|他|她|他们|邻居|老婆|老公|孩子)",
    r"(?:有)?(?:声音|幻听).{0,4}(?:叫|让|命令|要)(?:我|他|她)(?:去)?(?:杀|伤害|砍|捅|打)",
)

# Serious injuries and pregnancy warning signs, as in ``rules.py``.
SERIOUS_INJURY = _p(
    r"骨头.{0,2}(?:露|戳|刺|穿)(?:了)?出(?:来)?|开放性骨折",
    r"(?:胳膊|手臂|前臂|腿|手腕|脚踝|手指|肘|膝盖).{0,4}(?:变形|弯成.{0,3}(?:角度|形状)|歪向一边|明显畸形)",
    r"(?:手指|脚趾|手|耳朵)(?:被)?.{0,3}(?:切|砍|轧|锯)(?:断|掉)(?:了)?|断指|断肢",
    r"(?:被)?(?:刀)?(?:捅|刺)伤|被(?:人)?捅了|枪伤|中枪",
    r"被(?:汽车|小车|货车|卡车|摩托车|公交车|车)撞(?:了|倒|飞)?",
    r"(?:铁屑|金属|玻璃|木屑|东西|碎片).{0,4}(?:飞|崩|扎|溅)(?:进|到|入)(?:了)?眼(?:睛)?",
    r"(?:摔倒|跌倒|摔了一跤|摔在地上).{0,6}(?:起不来|站不起来|爬不起来)",
    r"腿.{0,3}(?:变短|缩短).{0,3}(?:外旋|向外)?",
    r"从(?:楼上|屋顶|房顶|梯子|高处|脚手架|阳台|树上|马上).{0,4}(?:摔|掉|跌|坠)(?:了)?下(?:来)?.{0,12}(?:脖子|颈|腰|背)(?:部)?(?:痛|疼)",
)
PREGNANCY_WARNING = _p(
    r"胎动.{0,3}(?:减少|少了|变少|没有了|消失|停止|停了)|感觉不到胎动|没有胎动|胎动不明显",
)
WATERS_BROKEN = _p(r"破水|羊水破了|流羊水|羊水流出")
PRETERM = _p(r"(?<!\d)(?:[1-9]|[12]\d|3[0-6])\s*(?:周|星期)(?!大)")
PRE_ECLAMPSIA = _p(
    r"剧烈头痛|头痛得厉害|头疼得厉害|视物模糊|看东西模糊|眼前(?:发花|闪光|冒金星)",
    r"(?:脸|面部|手|脚|手脚)(?:和手)?(?:突然)?(?:浮)?肿(?:了|起来)?",
    r"血压.{0,3}?(?<!\d)(?:1[6-9]\d|2\d\d)\s*/\s*\d{2,3}",
)

# (category, pattern, companion that must also be affirmed or None, pattern that switches the
# rule off or None); the same discriminators as the English ``RULES``.
RULE_SPECS: tuple[
    tuple[str, re.Pattern[str], re.Pattern[str] | None, re.Pattern[str] | None], ...
] = (
    ("chest_pain", CHEST_SEVERE, None, None),
    ("chest_pain", CHEST_ANY, CHEST_CHARACTER, None),
    ("chest_pain", CHEST_ANY, CHEST_COMPANION, None),
    ("stroke", STROKE, None, None),
    ("thunderclap_headache", THUNDERCLAP, None, None),
    ("meningitis", MENINGITIS_RASH, None, None),
    ("meningitis", STIFF_NECK, FEVER, None),
    ("meningitis", STIFF_NECK, LIGHT, None),
    ("anaphylaxis", ANAPHYLAXIS, None, None),
    ("anaphylaxis", ALLERGIC_SWELLING, ANAPHYLAXIS_COMPANION, None),
    ("overdose_poisoning", OVERDOSE, None, None),
    ("suicidal", SUICIDAL, None, None),
    ("self_harm", SELF_HARM, None, None),
    ("severe_bleeding", SEVERE_BLEEDING, None, None),
    ("severe_bleeding", PREGNANCY_BLEEDING, PREGNANT, None),
    ("sepsis", SEPSIS, None, None),
    ("sepsis", SEPSIS_FEVER_SIGN, FEVER, None),
    ("breathing", SEVERE_BREATHING, None, None),
    ("breathing", DROOLING, DROOLING_COMPANION, None),
    ("altered_consciousness", ALTERED_CONSCIOUSNESS, None, None),
    ("seizure", SEIZURE, None, None),
    ("head_injury", HEAD_INJURY, HEAD_INJURY_WARNING, None),
    ("diabetic_emergency", DIABETIC_EMERGENCY, DIABETES, None),
    ("cauda_equina", CAUDA_EQUINA, BACK_PAIN, None),
    ("ectopic_pregnancy", ECTOPIC_PAIN, PREGNANT, None),
    ("testicular_torsion", TESTICULAR, None, None),
    ("severe_abdominal_pain", SEVERE_ABDOMINAL, None, None),
    ("infant_fever", INFANT_FEVER, BABY, None),
    ("severe_burn", SEVERE_BURN, None, None),
    ("vision_loss", VISION_LOSS, None, None),
    ("ingestion", INGESTION, None, None),
    ("vital_signs", LOW_OXYGEN, None, None),
    ("vital_signs", LOW_BLOOD_PRESSURE, None, None),
    ("vital_signs", FAST_PULSE, None, CHILD),
    ("harm_to_others", HARM_TO_OTHERS, None, None),
    ("serious_injury", SERIOUS_INJURY, None, None),
    ("pregnancy_warning", PREGNANCY_WARNING, None, None),
    ("pregnancy_warning", WATERS_BROKEN, PRETERM, None),
    ("pregnancy_warning", PRE_ECLAMPSIA, PREGNANT, None),
    ("severe_pain", SEVERE_PAIN, None, PAIN_NOT_ACUTE),
)
