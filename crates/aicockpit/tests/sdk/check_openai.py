"""The official OpenAI Python SDK against the AiCockpit gateway.

usage: check_openai.py BASE_URL TOKEN MODEL  (BASE_URL ends in /v1)
Prints one line per check and exits non-zero on the first failure.
"""
import sys

from openai import OpenAI

base, token, model = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base, api_key=token, max_retries=0, timeout=60)

ids = [m.id for m in client.models.list().data]
assert model in ids, ids
print("python models ok", flush=True)

r = client.chat.completions.create(model=model, max_tokens=8, messages=[{"role": "user", "content": "Say hi."}])
assert r.choices[0].message.content, r
assert r.usage and r.usage.completion_tokens > 0, r
print("python chat ok", flush=True)

parts = []
for chunk in client.chat.completions.create(
    model=model, max_tokens=8, stream=True, messages=[{"role": "user", "content": "Count."}]
):
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
assert "".join(parts), parts
print("python stream ok", flush=True)

c = client.completions.create(model=model, prompt="1, 2, 3,", max_tokens=4)
assert c.choices[0].text is not None, c
print("python completions ok", flush=True)

try:
    OpenAI(base_url=base, api_key="acp_wrong", max_retries=0).models.list()
    raise SystemExit("a wrong token was accepted")
except Exception as e:  # the SDK's AuthenticationError
    assert type(e).__name__ == "AuthenticationError", type(e)
print("python auth ok", flush=True)
