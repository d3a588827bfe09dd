// The official `openai` npm client against a real Embargo gateway. The gateway, the SAMPLE model and a scripted upstream
// are started by tests/Embargo.Gateway.Tests/NodeClientTests.cs, which passes their coordinates in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.GATEWAY_URL;
const key = process.env.GATEWAY_KEY;
if (!baseURL || !key) throw new Error('GATEWAY_URL and GATEWAY_KEY must be set (NodeClientTests sets them)');
const client = new OpenAI({ baseURL, apiKey: key, maxRetries: 0 });
const question = [{ role: 'user', content: 'phish-007: which option is right?' }];

test('an allowed call returns the upstream answer', async () => {
  const answer = await client.chat.completions.create({ model: 'camelid-7b', messages: question });
  assert.equal(answer.choices[0].message.content, 'ANSWER: B');
  assert.equal(answer.choices[0].finish_reason, 'stop');
});

test('a streamed call delivers the whole answer', async () => {
  const stream = await client.chat.completions.create({ model: 'camelid-7b', messages: question, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, 'ANSWER: B');
  assert.equal(finish, 'stop');
});

test('a blocked phrase split across streamed chunks never arrives, not even in part', async () => {
  const stream = await client.chat.completions.create({ model: 'scripted', messages: question, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'content_filter');
  assert.ok(process.env.PREAMBLE.startsWith(text), `only text before the phrase may arrive, got: ${text}`);
  assert.ok(!text.toLowerCase().includes('cred'));
});

test('an unknown key is refused with 401 invalid_api_key', async () => {
  const stranger = new OpenAI({ baseURL, apiKey: 'sk-nobody', maxRetries: 0 });
  await assert.rejects(
    stranger.chat.completions.create({ model: 'camelid-7b', messages: question }),
    (e) => e.status === 401 && e.code === 'invalid_api_key');
});
