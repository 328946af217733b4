"""Personal data (个人信息) of petitioners: checked at the door, encrypted at rest, findable
again through a keyed hash without decrypting, and masked to the last 4 digits everywhere
outside intake."""
import hashlib
import hmac
import re
from datetime import date

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# GB 11643: weights of the first 17 digits and the check character for each sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


def resident_id_problem(value):
    """Why `value` is not a valid 18-digit resident ID number (居民身份证号码), or None."""
    if not re.fullmatch(r"\d{17}[\dXx]", value or ""):
        return "must be 18 characters: 17 digits and a digit or X"
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "holds no valid date of birth"
    if born > date.today() or born.year < 1900:
        return "holds no plausible date of birth"
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS)) % 11]
    if value[17].upper() != check:
        return "check digit does not match"
    return None


def normalize_phone(value):
    """A mainland mobile (11 digits) or landline (area code + number) without +86 or spaces;
    None when it is neither."""
    digits = re.sub(r"[\s()]", "", value or "")
    digits = re.sub(r"^(\+86|0086)", "", digits)
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits.replace("-", "")
    return None


def mask(value):
    """What anyone outside intake sees: the last 4 characters."""
    return None if value is None else "****" + value[-4:]


class Vault:
    """Encrypts with the first of `keys` and decrypts with any of them, so keys can rotate:
    add a new key in front, re-encrypt at leisure, then drop the old one."""

    def __init__(self, keys, hash_key):
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._hash_key = hash_key.encode() if isinstance(hash_key, str) else hash_key

    def encrypt(self, text):
        return None if text is None else self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token):
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("personal data cannot be decrypted with the configured keys") from exc

    def fingerprint(self, kind, value):
        """The same person's ID number or phone always gives the same keyed hash."""
        if value is None:
            return None
        return hmac.new(self._hash_key, f"{kind}:{value.upper()}".encode(), hashlib.sha256).hexdigest()
