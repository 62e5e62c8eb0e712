"""Passwords: argon2 with strong parameters in production, the cheapest under the test setting."""

from engine.directory.passwords import check_password, set_password
from engine.models import User


def test_production_hashes_strongly_and_any_hash_verifies_under_either_setting(monkeypatch):
    monkeypatch.delenv("ACCESSFLOW_PASSWORD_HASH", raising=False)
    strong = User(username="sam")
    set_password(strong, "sam-pw")
    assert "m=65536,t=3,p=4" in strong.password_hash

    monkeypatch.setenv("ACCESSFLOW_PASSWORD_HASH", "fast")
    cheap = User(username="tim")
    set_password(cheap, "tim-pw")
    assert "m=8,t=1,p=1" in cheap.password_hash
    assert check_password(strong, "sam-pw") and not check_password(strong, "tim-pw")

    monkeypatch.delenv("ACCESSFLOW_PASSWORD_HASH")
    assert check_password(cheap, "tim-pw") and not check_password(cheap, "sam-pw")
