"""Personal data never reaches a log (SPEC 2.3): every line a service writes passes through this
filter, which masks anything shaped like a resident ID number or a phone number to its last 4
characters — in messages, their arguments and tracebacks alike (a database error may quote the
row it refused; an access log line quotes the path asked)."""
import logging
import re

_PERSONAL = re.compile(
    r"(?<![\dA-Za-z])(?:\d{17}[\dXx]|\d{15}"                 # resident ID number (18 digits; 15 of old)
    r"|(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"           # mobile: 13800138000, 138-0013-8000 …
    r"|(?:\(0\d{2,3}\)|0\d{2,3})[- ]?\d{7,8})(?![\dA-Za-z])")  # landline: 0371-66123456, (0571)88888888


# A token sent as a query parameter (Open311's api_key) shows in access lines: it is a credential.
_API_KEY = re.compile(r"(api_key=)[^&\s\"']+")


def mask_credentials(text):
    return _API_KEY.sub(r"\1****", text)


def mask_personal_data(text):
    return mask_credentials(_PERSONAL.sub(lambda m: "****" + m.group(0)[-4:], text))


class MaskPersonalData(logging.Filter):
    _formatter = logging.Formatter()

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call: leave it to logging's own error handling
            return True
        record.msg, record.args = mask_personal_data(message), ()
        if record.exc_info:
            record.exc_text = mask_personal_data(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return True


def install():
    """Mask every record every handler of the root logger writes (call after configuring them)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskPersonalData())
