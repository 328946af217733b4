import pytest
from cryptography.fernet import Fernet
from marshmallow import ValidationError

from services.intake.personal_data import Vault, mask, normalize_phone, resident_id_problem
from services.intake.schemas import PetitionerSchema


@pytest.mark.parametrize("value", ["110101199003074514", "44052419500101001x", "150102198506123313"])
def test_valid_resident_ids(value):
    assert resident_id_problem(value) is None


@pytest.mark.parametrize("value, problem", [
    ("110101199003074515", "check digit"),
    ("11010119900307451", "18 characters"),
    ("110101199002304516", "date of birth"),     # 30 February
    ("11010119900307451Y", "18 characters"),
])
def test_invalid_resident_ids(value, problem):
    assert problem in resident_id_problem(value)


@pytest.mark.parametrize("raw, normal", [
    ("13800138000", "13800138000"), ("+86 138-0013 8000".replace("-", ""), "13800138000"),
    ("010-12345678", "01012345678"), ("0471-1234567", "04711234567"),
])
def test_mainland_phones_are_normalised(raw, normal):
    assert normalize_phone(raw) == normal


@pytest.mark.parametrize("raw", ["12800138000", "1380013800", "+1 415 555 0100", "abc"])
def test_other_numbers_are_refused(raw):
    assert normalize_phone(raw) is None


def test_the_schema_names_the_bad_field():
    with pytest.raises(ValidationError) as err:
        PetitionerSchema().load({"name": "王", "id_number": "110101199003074515", "phone": "123", "age": 40})
    assert set(err.value.messages) == {"id_number", "phone", "age"}


def test_mask_shows_the_last_four():
    assert mask("13800138000") == "****8000" and mask(None) is None


def test_the_vault_seals_finds_again_and_survives_key_rotation():
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    before = Vault([old_key], "hash-key")
    sealed = before.encrypt("110101199003074514")
    assert "110101199003074514" not in sealed
    after = Vault([new_key, old_key], "hash-key")  # rotated: the new key first
    assert after.decrypt(sealed) == "110101199003074514"
    assert after.decrypt(after.encrypt("x")) == "x"
    assert after.fingerprint("id", "44052419500101001x") == before.fingerprint("id", "44052419500101001X")
    assert Vault([new_key], "another-hash-key").fingerprint("id", "1") != before.fingerprint("id", "1")
    with pytest.raises(ValueError):
        Vault([new_key], "hash-key").decrypt(sealed)  # the old key dropped too early
