async def test_lifecycle_smoke(factory):
    shop = await factory.merchant()
    payment = await shop.authorized()
    assert payment["status"] == "authorized"
    response = await shop.command(payment["id"], "capture", {"amount": "100000"})
    print(response.json())
    assert response.json()["status"] == "captured"
