"""The demo's terms of service and privacy policy (version 1 of each, in Chinese), and every
demo person's agreement to them, so that the demo runs with consent asked as production does."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts import consents, legal_documents
from accounts.models import Consent, LegalDocument, User

TERMS_TITLE = "书院用户协议"
TERMS = "\n".join(
    [
        (
            "欢迎使用书院。本协议是你与书院运营方之间关于使用书院网站、应用和相关服务的约"
            "定。注册或使用书院即表示你已阅读并同意本协议。"
        ),
        "",
        "一、账号",
        (
            "1. 你可以用邮箱、手机号或微信注册。注册时请提供真实、准确的信息，并妥善保"
            "管密码和验证码。"
        ),
        ("2. 书院仅向年满 14 周岁的用户提供服务。未满 14 周岁的未成年人请勿注册。"),
        "3. 一个账号仅供一人使用，不得转让、出借或出售。",
        "",
        "二、会员与付款",
        "1. 年度会员按每期开放的名额销售，有效期自付款成功时起算 365 天。",
        "2. 会员开通后 7 天内可申请全额退款，会员资格随之结束。",
        "3. 小店商品的价格、库存和发货时间以商品页面为准；限量商品售完即止。",
        (
            "4. 付款可使用微信支付、支付宝或银行卡。银行卡付款经由境外支付服务商 St"
            "ripe 完成，付款前会单独征求你的同意。"
        ),
        "",
        "三、社区规则",
        (
            "1. 请在会员社区友善发言，不得发布违法、侵权、骚扰、广告或其他违反法律法规"
            "和公序良俗的内容。"
        ),
        ("2. 书院对发布的内容进行审核，可能隐藏、删除违规内容，或限制违规账号的发言。"),
        ("3. 你发布的内容著作权归你所有；你授权书院在提供服务所需的范围内展示这些内容。"),
        "",
        "四、内容与知识产权",
        (
            "书院提供的文章、语音、播客等内容受著作权法保护，仅供你个人学习使用，未经许可"
            "不得复制、转载或用于商业用途。"
        ),
        "",
        "五、服务的变更与终止",
        (
            "1. 我们可能调整服务内容。本协议更新时，我们会发布新版本，并在你下次使用时"
            "请你重新阅读和同意。"
        ),
        (
            "2. 你可以随时在“账号”页面注销账号。注销后，你的个人信息将按《隐私政策》"
            "删除或匿名化处理。"
        ),
        "",
        "六、其他",
        (
            "本协议适用中华人民共和国法律。因本协议产生的争议，双方应友好协商；协商不成的"
            "，可向运营方所在地有管辖权的人民法院提起诉讼。"
        ),
        ("如有疑问，请通过页面底部的“联系我们”或发邮件至 help@shuyuan.test 联系我们。"),
    ]
)

PRIVACY_TITLE = "书院隐私政策"
PRIVACY = "\n".join(
    [
        (
            "书院重视你的个人信息保护。本政策依据《中华人民共和国个人信息保护法》等法律法"
            "规制定，说明我们收集哪些个人信息、为什么收集、如何使用和保护，以及你享有的权"
            "利。"
        ),
        "",
        "一、我们收集的信息",
        ("1. 注册与登录：邮箱、密码（仅保存不可逆的摘要）、手机号、微信 openid 与昵称。"),
        ("2. 个人资料：昵称、头像、个人简介，以及你发帖时的 IP 属地（仅展示省份或国家）。"),
        ("3. 交易信息：订单、收货地址、发票抬头、付款记录。我们不接触也不保存你的银行卡号。"),
        ("4. 使用记录：登录的设备与会话、阅读和收听记录（用于统计）、你在社区发布的内容和举报。"),
        "",
        "二、我们如何使用",
        (
            "用于提供和改进服务：开通会员、发货、开具发票、处理退款、内容审核、账号安全、"
            "客服沟通。未经你单独同意，我们不会向你发送营销邮件。"
        ),
        "",
        "三、共享与跨境提供",
        (
            "1. 支付：微信支付、支付宝在中国大陆境内处理你的付款。银行卡付款由境外的 "
            "Stripe 处理，付款前我们会单独告知接收方、提供的信息和目的，并征得你的"
            "单独同意。"
        ),
        "2. 物流：为发货向快递公司提供收件人、电话和地址。",
        "3. 除法律法规要求外，我们不会向其他第三方出售或提供你的个人信息。",
        "",
        "四、保存期限",
        (
            "账号存续期间保存你的信息。注销账号后，个人信息将在冷静期结束后删除或匿名化；"
            "依据《电子商务法》，订单和付款记录在与你的身份脱钩后保存三年。"
        ),
        "",
        "五、你的权利",
        "1. 查阅与复制：你可以在“你的数据”页面下载书院保存的你的全部个人信息。",
        "2. 更正：你可以随时修改个人资料。",
        (
            "3. 撤回同意：营销邮件、银行卡跨境付款等可选用途，可以在“同意管理”页面随"
            "时撤回，撤回与同意一样方便。"
        ),
        "4. 注销：你可以在线注销账号，无需额外条件。",
        "",
        "六、未成年人",
        "书院仅向年满 14 周岁的用户提供服务。",
        "",
        "七、联系我们",
        (
            "如对本政策有任何疑问，或需行使上述权利，请通过“联系我们”或发邮件至 pri"
            "vacy@shuyuan.test 联系我们，我们将在 15 个工作日内答复"
            "。"
        ),
    ]
)


async def load(admin: User) -> bool:
    """Publish version 1 of both documents (once), and record every demo person's agreement
    and age statement; False if they were published already."""
    if await LegalDocument.exists():
        return False
    now = datetime.now(UTC)
    await legal_documents.publish("terms", TERMS_TITLE, TERMS, by=admin, now=now)
    await legal_documents.publish("privacy", PRIVACY_TITLE, PRIVACY, by=admin, now=now)
    people = await User.all().only("id", "locale")
    await Consent.bulk_create(
        [
            Consent(
                user_id=person.id,
                purpose=purpose,
                version=version,
                granted=True,
                source="sign_up_page",
                wording=wording,
                at=now,
            )
            for person in people
            for purpose, version, wording in (
                (
                    "terms",
                    1,
                    consents.statement(legal_documents.Document.TERMS, TERMS_TITLE, 1, "zh_CN"),
                ),
                (
                    "privacy",
                    1,
                    consents.statement(legal_documents.Document.PRIVACY, PRIVACY_TITLE, 1, "zh_CN"),
                ),
                (consents.AGE_14, None, consents.age_statement("zh_CN")),
            )
        ]
    )
    await User.all().update(agreed_terms=1, agreed_privacy=1)
    return True
