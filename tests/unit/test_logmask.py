"""Personal data never reaches a log (fengqiao/logmask.py)."""
import logging

from fengqiao.logmask import MaskPersonalData, mask_personal_data


def test_ids_and_phones_are_masked_and_nothing_else():
    line = ('GET /cases/13800138000 404; Key (id_number)=(44052419500101001X) exists; call +86 13912345678,'
            ' 0371-66123456 or 010 12345678')
    masked = mask_personal_data(line)
    assert masked == ('GET /cases/****8000 404; Key (id_number)=(****001X) exists; call ****5678,'
                      ' ****3456 or ****5678')
    spaced = mask_personal_data("138 0013 8000, 138-0013-8000, +86 138 0013 8000, (0571)88888888, 440524500101001")
    assert spaced == "****8000, ****8000, ****8000, ****8888, ****1001"
    untouched = ("2026-12-01 16:11:50,981 took 0.002274 s; case QS-2026-000001, event 3f2a…, seq 1234567890123,"
                 " port 18001, uuid 0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10")
    assert mask_personal_data(untouched) == untouched


def test_the_filter_masks_messages_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("test.logmask")
    caplog.handler.addFilter(MaskPersonalData())
    try:
        raise ValueError("duplicate phone 13800138000")
    except ValueError:
        logger.exception("registration of %s failed", "44052419500101001X")
    text = caplog.text
    assert "****001X" in text and "****8000" in text
    assert "13800138000" not in text and "44052419500101001X" not in text
