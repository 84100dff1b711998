def test_create_then_list(opp, unchanged):
    deal = opp.json("create", "Deal", "--org", "Initech", "--value", "1000")
    assert deal["forecast"] == 150
    check = unchanged()
    assert "skips" in opp.fails(4, "stage", "negotiation", deal["id"])
    check()
