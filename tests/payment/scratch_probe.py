from tests.payment.helpers import post_create


async def test_probe(factory):
    shop = await factory.merchant()
    out = []
    for content in [b"[" * 30000 + b"]" * 30000, b'{"a":' * 10000 + b"1" + b"}" * 10000]:
        r = await post_create(shop, content=content)
        out.append((r.status_code, r.text[:300]))
    with open("/tmp/probe.txt", "w") as f:
        for o in out:
            f.write(repr(o) + "\n")
