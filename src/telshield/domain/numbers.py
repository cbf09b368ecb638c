"""Telephone numbers: normalisation to E.164 digits, classification against a prefix plan,
display masking and keyed hashing of identities.

Canonical form: E.164 digits without '+', 3 to 15 of them, never starting with 0 —
``8613812345678`` (mobile), ``862584001234`` (Nanjing fixed line 025-8400-1234),
``8695588`` (service number 95588), ``85291234567`` (Hong Kong).

The numbering plan itself (which prefixes are which operator, kind and region) is data compiled
from the ``phonenumbers`` metadata by ``telshield.reference.numbering``; this module holds the laws
that read it, so that a single number (screening, API) and a batch (detectors, in SQL) are
classified by the same rule: the longest prefix whose row also admits the number's length.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from telshield.domain.errors import InvalidInput

MIN_DIGITS = 3
MAX_DIGITS = 15
CHINA = "86"
# The canonical shape as a regular expression, for engines that check a column at once (SQL:
# feed validation, detection); ``is_canonical`` is the same law for one number.
CANONICAL_DIGITS = rf"[1-9][0-9]{{{MIN_DIGITS - 1},{MAX_DIGITS - 1}}}"
CANONICAL_PATTERN = f"^{CANONICAL_DIGITS}$"


class NumberKind(StrEnum):
    """What a number is."""

    MOBILE = "mobile"
    FIXED = "fixed"
    SERVICE = "service"
    INTERNATIONAL = "international"
    INVALID = "invalid"


class Operator(StrEnum):
    """The Chinese operator a number segment is allocated to."""

    CHINA_MOBILE = "china_mobile"
    CHINA_UNICOM = "china_unicom"
    CHINA_TELECOM = "china_telecom"
    CHINA_BROADNET = "china_broadnet"
    UNKNOWN = "unknown"


# Virtual-operator (MVNO) segments: the metadata names only the parent operator, so the
# flag comes from this list (MIIT allocations). 162 and 165 are missing from the carrier
# metadata and are added to the plan from here.
VIRTUAL_SEGMENTS: Mapping[str, Operator] = MappingProxyType(
    {
        "162": Operator.CHINA_TELECOM,
        "165": Operator.CHINA_MOBILE,
        "167": Operator.CHINA_UNICOM,
        "1700": Operator.CHINA_TELECOM,
        "1701": Operator.CHINA_TELECOM,
        "1702": Operator.CHINA_TELECOM,
        "1703": Operator.CHINA_MOBILE,
        "1704": Operator.CHINA_UNICOM,
        "1705": Operator.CHINA_MOBILE,
        "1706": Operator.CHINA_MOBILE,
        "1707": Operator.CHINA_UNICOM,
        "1708": Operator.CHINA_UNICOM,
        "1709": Operator.CHINA_UNICOM,
        "171": Operator.CHINA_UNICOM,
    }
)

# Named national service numbers (digits after 86) and what they are.
SERVICE_NUMBERS: Mapping[str, str] = MappingProxyType(
    {
        "110": "police",
        "119": "fire",
        "120": "ambulance",
        "122": "traffic accidents",
        "112": "line faults",
        "114": "directory enquiries",
        "12110": "police by SMS",
        "12381": "anti-fraud warning (MIIT)",
        "96110": "anti-fraud warning (police)",
        "12315": "consumer complaints",
        "12345": "government hotline",
        "12321": "spam and fraud reports",
        "12300": "telecom complaints (MIIT)",
        "12306": "China Railway",
        "12333": "social security",
        "12366": "tax",
        "12368": "courts",
        "12388": "discipline inspection",
        "10086": "China Mobile",
        "10010": "China Unicom",
        "10000": "China Telecom",
        "10099": "China Broadnet",
        "95588": "ICBC",
        "95533": "China Construction Bank",
        "95599": "Agricultural Bank of China",
        "95566": "Bank of China",
        "95559": "Bank of Communications",
        "95555": "China Merchants Bank",
        "95580": "Postal Savings Bank",
        "95561": "Industrial Bank",
        "95568": "China Minsheng Bank",
        "95528": "SPD Bank",
        "95558": "China CITIC Bank",
        "95595": "China Everbright Bank",
        "95511": "Ping An",
        "95518": "PICC",
        "95519": "China Life",
        "95500": "Pacific Insurance",
        "95188": "Alipay",
        "95017": "WeChat Pay / Tenpay",
        "95338": "SF Express",
        "95311": "ZTO Express",
    }
)

# Service ranges: digits after 86, the national lengths they take, and what they are.
# 106... SMS ports leave out length 10 (12 digits with 86): in E.164 they are the same digits
# as Beijing's 010-6xxx-xxxx fixed lines, which win.
SERVICE_RANGES: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("11", (3,), "short service number"),
    ("12", (3, 5), "public service hotline"),
    ("100", (5,), "operator service line"),
    ("95", (5, 6, 7, 8), "national service line (banks, insurers, utilities)"),
    ("96", (5, 6), "public service line"),
    ("400", (10,), "enterprise line (400)"),
    ("800", (10,), "toll-free line (800)"),
    ("106", (8, 9, 11, 12, 13), "SMS port (106)"),
)
OPERATOR_SERVICE: Mapping[str, Operator] = MappingProxyType(
    {
        "10086": Operator.CHINA_MOBILE,
        "10010": Operator.CHINA_UNICOM,
        "10000": Operator.CHINA_TELECOM,
        "10099": Operator.CHINA_BROADNET,
    }
)
# Service numbers dialled after an area code (025-12345, 025-96xxx): local prefixes and lengths.
LOCAL_SERVICE_RANGES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("1", (3, 5)),
    ("95", (5, 6)),
    ("96", (5, 6)),
)


@dataclass(frozen=True)
class PlanRow:
    """One row of the numbering plan: numbers of ``length`` digits starting with ``prefix``."""

    prefix: str
    length: int
    kind: NumberKind
    operator: Operator = Operator.UNKNOWN
    province: str | None = None
    city: str | None = None
    country: str | None = None
    virtual: bool = False
    label: str | None = None


@dataclass(frozen=True)
class NumberInfo:
    """What the plan says about one number."""

    number: str
    kind: NumberKind
    operator: Operator = Operator.UNKNOWN
    province: str | None = None
    city: str | None = None
    country: str | None = None
    virtual: bool = False
    label: str | None = None

    @property
    def is_domestic(self) -> bool:
        """Whether this is a valid Chinese (+86) number."""
        return self.kind in (NumberKind.MOBILE, NumberKind.FIXED, NumberKind.SERVICE)


class NumberingPlan:
    """Prefix rows keyed by (prefix, number length), for longest-prefix lookups."""

    def __init__(self, rows: Iterable[PlanRow]) -> None:
        self._rows: dict[tuple[str, int], PlanRow] = {}
        for row in rows:
            self._rows[(row.prefix, row.length)] = row
        self.prefix_lengths: tuple[int, ...] = tuple(
            sorted({len(p) for p, _ in self._rows}, reverse=True)
        )

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[PlanRow]:
        """Every row of the plan, in (prefix, length) order."""
        return [self._rows[k] for k in sorted(self._rows)]

    def lookup(self, number: str) -> PlanRow | None:
        """The row of the longest prefix of ``number`` that admits its length, if any."""
        n = len(number)
        for width in self.prefix_lengths:
            if width <= n:
                row = self._rows.get((number[:width], n))
                if row is not None:
                    return row
        return None


def classify(number: str, plan: NumberingPlan) -> NumberInfo:
    """Classify one canonical number (E.164 digits); anything else is ``invalid``."""
    if not is_canonical(number):
        return NumberInfo(number=number, kind=NumberKind.INVALID)
    row = plan.lookup(number)
    if row is None:
        return NumberInfo(number=number, kind=NumberKind.INVALID)
    return NumberInfo(
        number=number,
        kind=row.kind,
        operator=row.operator,
        province=row.province,
        city=row.city,
        country=row.country,
        virtual=row.virtual,
        label=row.label,
    )


def is_canonical(number: str) -> bool:
    """Whether ``number`` has the canonical shape: 3-15 ASCII digits, no leading 0 (the one
    statement of the law: screening, feeds and detection (``CANONICAL_PATTERN``) all use it)."""
    return (
        MIN_DIGITS <= len(number) <= MAX_DIGITS
        and number.isascii()
        and number.isdigit()
        and number[0] != "0"
    )


_SEPARATORS = re.compile(r"[\s\-./()\u00a0\u3000]+")


def is_canonical_prefix(prefix: str) -> bool:
    """Whether ``prefix`` can begin a canonical number: 1-15 ASCII digits, no leading 0."""
    return (
        1 <= len(prefix) <= MAX_DIGITS and prefix.isascii() and prefix.isdigit()
        and prefix[0] != "0"
    )


def require_canonical(value: str, *, what: str = "number", prefix: bool = False) -> str:
    """``value`` itself if it is canonical (a canonical prefix with ``prefix``); otherwise
    InvalidInput saying the canonical form. Nothing is converted silently: where numbers are
    written down (lists, bulk disposal) two spellings of one number must never coexist."""
    if is_canonical_prefix(value) if prefix else is_canonical(value):
        return value
    hint = _canonical_hint(value)
    raise InvalidInput(
        f"{what} {value!r} is not in canonical form: E.164 ASCII digits without '+', spaces or "
        "a leading 0 (the country code, 86 for China, instead of a trunk 0 or 00), e.g. "
        "8613812345678" + (f"; write {hint}" if hint and hint != value else "")
    )


def _canonical_hint(value: str) -> str:
    # The same digits in canonical form, when only the spelling is wrong ('+', spaces,
    # full-width or other Unicode decimal digits); nothing when the digits themselves are.
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).removeprefix("+")
    digits = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    return digits if is_canonical_prefix(digits) else ""


def is_national_service(digits: str) -> bool:
    """Whether national digits (no 86, no trunk 0) are a service number: 110, 95588, 400..."""
    if digits in SERVICE_NUMBERS:
        return True
    return any(digits.startswith(p) and len(digits) in lens for p, lens, _ in SERVICE_RANGES)


def is_local_service(local: str) -> bool:
    """Whether digits dialled after an area code are a local service number (025-12345)."""
    return any(local.startswith(p) and len(local) in lens for p, lens in LOCAL_SERVICE_RANGES)


def normalise(raw: str) -> str | None:
    """Canonical E.164 digits for a number as people and switches write it; None for garbage.

    Accepted: '+86 138-1234-5678', '008613812345678', '013812345678', '13812345678',
    '025-84001234', '+86 (0)25 8400 1234', '95588', '110', '+852 9123 4567', '00852...',
    and E.164 digits without '+'. Full-width digits are read as digits. A local number
    without its area code cannot be placed and is read as E.164 digits.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        digits = text[1:]
        international = True
    else:
        digits = text
        international = False
    if not (digits.isascii() and digits.isdigit()):
        return None
    if international:
        if digits.startswith("0"):
            return None
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif digits.startswith("0"):
        number = CHINA + digits[1:]
    elif (len(digits) == 11 and digits.startswith("1")) or is_national_service(digits):
        number = CHINA + digits
    else:
        number = digits
    # '+86 (0)25 ...' and '0086 025 ...': drop the trunk 0 written after the country code.
    if number.startswith(CHINA + "0"):
        number = CHINA + number[3:]
    return number if is_canonical(number) else None


def mask(number: str) -> str:
    """A display form that hides the middle digits: '8613812345678' -> '138****5678'.

    Mobiles keep their segment (3 digits) and last 4; fixed lines keep trunk 0, the area code
    and the local number's digits after its first 4 (last 4, or last 3 of a 7-digit one);
    international numbers keep '+', the first 3 digits and the last 4. Service numbers (up to 6
    national digits, 95xxx, 400/800 lines, local ones like 025-12345) are public: shown whole.
    Anything that is not canonical digits is shown as '****'.
    """
    if not is_canonical(number):
        return "****"
    if number.startswith(CHINA):
        rest = number[2:]
        if len(rest) <= 6 or is_national_service(rest):
            return rest
        if rest.startswith("1") and len(rest) == 11:
            return rest[:3] + "****" + rest[-4:]
        area = 2 if rest[0] in "12" else 3
        local = rest[area:]
        if is_local_service(local):
            return "0" + rest
        if len(local) >= 7:
            hidden = max(4, len(local) - 4)
            return "0" + rest[:area] + "*" * hidden + local[hidden:]
        return _hide_middle(rest)
    if len(number) >= 11:
        return "+" + number[:3] + "*" * (len(number) - 7) + number[-4:]
    return "+" + _hide_middle(number)


def _hide_middle(digits: str) -> str:
    # Short or odd numbers: show at most a quarter of the digits at each end, hide at least half.
    keep = len(digits) // 4
    head, tail = digits[:keep], digits[len(digits) - keep :] if keep else ""
    return head + "*" * (len(digits) - 2 * keep) + tail


def normalise_identity(value: str) -> str:
    """The form an identity or address is hashed in: NFKC, no whitespace, upper case."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(text.split()).upper()


def keyed_hash(secret: bytes | str, value: str) -> str:
    """HMAC-SHA256 hex of a normalised identity number or address, keyed per installation.

    The value is normalised first (``normalise_identity``: NFKC so full-width characters become
    ASCII, every whitespace character removed, upper case so an ID's final 'x' equals 'X'),
    so the same ID always gives the same hash.
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise InvalidInput("the hashing secret is empty: set TELSHIELD_SECRET per installation")
    text = normalise_identity(value)
    if not text:
        raise InvalidInput("cannot hash an empty identity or address: pass the value to hash")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
